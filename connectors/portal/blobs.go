package portal

import (
	"context"
	"io"
	"log/slog"
	"sync"

	"github.com/dxhub/dxhub/internal/blob"
)

// blobTracker knows which blob keys unfinished requests of this process hold and
// whether an upload is in progress, so that the cleanup of a failed request never
// deletes a content-addressed blob another request is about to commit.
//
// The invariant: a blob is deleted only under mu, when no request holds its key,
// no Put is running (a running Put may be renaming the same content into place)
// and the store reports no committed reference. Requests release their keys only
// after their commit, so a committed reference is visible by then.
type blobTracker struct {
	mu      sync.Mutex
	putting int
	held    map[string]int
}

func newBlobTracker() *blobTracker { return &blobTracker{held: map[string]int{}} }

// put streams r into blobs and holds the resulting key until release.
func (t *blobTracker) put(ctx context.Context, blobs Blobs, r io.Reader, limit int64) (blob.Ref, error) {
	t.mu.Lock()
	t.putting++
	t.mu.Unlock()
	ref, err := blobs.Put(ctx, r, limit)
	t.mu.Lock()
	t.putting--
	if err == nil {
		t.held[ref.Key]++
	}
	t.mu.Unlock()
	return ref, err
}

// release drops the request's hold on keys. With tryDelete (the request did not
// commit) it deletes every key that nothing else uses; a key in doubt is kept.
func (t *blobTracker) release(ctx context.Context, store Store, blobs Blobs, log *slog.Logger, keys []string, tryDelete bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		if t.held[k]--; t.held[k] <= 0 {
			delete(t.held, k)
		}
	}
	if !tryDelete {
		return
	}
	done := map[string]bool{}
	for _, k := range keys {
		if done[k] || t.held[k] > 0 || t.putting > 0 {
			continue
		}
		done[k] = true
		used, err := store.BlobReferenced(ctx, k)
		if err != nil {
			log.WarnContext(ctx, "portal: cannot check blob use; keeping it", "blob", k, "error", err)
			continue
		}
		if used {
			continue
		}
		if err := blobs.Delete(k); err != nil {
			log.WarnContext(ctx, "portal: deleting an orphaned blob failed", "blob", k, "error", err)
		}
	}
}

// heldKeys reports how many keys are held; for tests.
func (t *blobTracker) heldKeys() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.held)
}
