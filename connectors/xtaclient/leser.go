package xtaclient

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xta"
)

// Receiver takes back-channel messages (routing.BackChannel).
type Receiver interface {
	Receive(ctx context.Context, in routing.Inbound) (routing.InboundRecord, error)
}

// BlobPutter keeps attachments of replies (*blob.Store).
type BlobPutter interface {
	Put(ctx context.Context, r io.Reader, limit int64) (blob.Ref, error)
}

// Inbox persists the replies the Leser job picks up from remote XTA
// mailboxes: attachments (e.g. a Bescheid) into the blob store, then the
// XÖV message into the back-channel, which stores it, correlates it with its
// submission and records the status event in one transaction. Its Persist
// is the persist step of FetchReplies.
type Inbox struct {
	Receiver Receiver
	Blobs    BlobPutter
	// MaxAttachmentBytes bounds one attachment (0: no bound).
	MaxAttachmentBytes int64
}

// ErrNotXOEV marks a reply that is not an XÖV message: it stays in the
// remote mailbox (not closed) for an operator to look at.
var ErrNotXOEV = errors.New("reply is not an XÖV message")

// Persist implements the persist step. Attachments are kept in the blob
// store and handed to the back-channel with the message, which forwards them
// (e.g. a Bescheid PDF) to the citizen's Postfach with the status event. A
// message the back-channel has seen before (routing.ErrDuplicate, e.g.
// fetched again after a crash between persist and close) counts as
// persisted, so it is closed without a second effect.
func (in Inbox) Persist(ctx context.Context, r Reply) error {
	atts := make([]routing.Attachment, 0, len(r.Attachments))
	for i, a := range r.Attachments {
		rc, err := a.Open()
		if err != nil {
			return fmt.Errorf("attachment %q: %w", a.Filename, err)
		}
		ref, err := in.Blobs.Put(ctx, rc, in.MaxAttachmentBytes)
		rc.Close()
		if err != nil {
			return fmt.Errorf("keep attachment %q: %w", a.Filename, err)
		}
		atts = append(atts, routing.Attachment{ID: a.ID, Filename: attachmentName(a, i), ContentType: a.ContentType,
			Size: ref.Size, SHA256: ref.SHA256, BlobKey: ref.Key})
	}
	_, err := in.Receiver.Receive(ctx, routing.Inbound{
		TransportID: r.Meta.MessageID, Transport: routing.TransportXTA,
		AuthorKey: r.Meta.AuthorKey, ReaderKey: r.Meta.ReaderKey, Payload: r.Message, Attachments: atts,
	})
	switch {
	case errors.Is(err, routing.ErrDuplicate):
		return nil
	case errors.Is(err, routing.ErrMalformedInbound):
		return fmt.Errorf("%w: %w", ErrNotXOEV, err)
	}
	return err
}

// attachmentName is the file name a reply attachment is kept under: the one
// the sender gave, else one derived from its content ID or position.
func attachmentName(c xta.Content, i int) string {
	if c.Filename != "" {
		return c.Filename
	}
	if c.ID != "" {
		return c.ID
	}
	return fmt.Sprintf("attachment-%d", i+1)
}

// fetchPages walks the remote status list: getStatusList, then
// getNextStatusList with the MsgBoxRequestID while ItemsPending says more
// are waiting, fetching and persisting each listed message. A run handles at
// most o.Max messages (the rest wait for the next run) and stops when a page
// brings nothing new, so a server that keeps reporting pending items cannot
// hold the job forever.
func (a *Adapter) fetchPages(ctx context.Context, c *xta.Client, o LeserOptions, persist func(context.Context, Reply) error) (int, error) {
	page, err := c.GetStatusList(ctx, o.Max, nil)
	if err != nil {
		return 0, fmt.Errorf("xtaclient: leser %s: %w", o.Identity, err)
	}
	seen := make(map[string]bool)
	n := 0
	var errs []error
	for pages := 1; ; pages++ {
		fresh := 0
		for _, m := range page.Metas {
			if len(seen) >= o.Max || ctx.Err() != nil {
				break
			}
			if seen[m.MessageID] {
				continue
			}
			seen[m.MessageID] = true
			fresh++
			// A message that cannot be fetched or persisted stays in the
			// remote mailbox (it is not closed) and is tried again on the
			// next run; it does not hold up the messages behind it.
			if err := a.fetchOne(ctx, c, o, m.MessageID, page.RequestID, persist); err != nil {
				a.log.Error("xtaclient: leser: message left in the remote mailbox", "identity", o.Identity, "message_id", m.MessageID, "err", err)
				errs = append(errs, err)
				continue
			}
			n++
		}
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		if fresh == 0 || len(seen) >= o.Max || page.Pending <= 0 || page.RequestID == "" || page.NoMessageReason != "" {
			if page.Pending > 0 && len(seen) >= o.Max {
				a.log.Info("xtaclient: leser: run limit reached, the rest waits for the next run",
					"identity", o.Identity, "max", o.Max, "pending", page.Pending)
			}
			break
		}
		page, err = c.GetNextStatusList(ctx, page.RequestID)
		if err != nil {
			errs = append(errs, fmt.Errorf("xtaclient: leser %s: getNextStatusList (page %d): %w", o.Identity, pages+1, err))
			break
		}
	}
	return n, errors.Join(errs...)
}

// LeserJob is one configured Leser job.
type LeserJob struct {
	LeserOptions
	Schedule string // cron spec, for the caller's scheduler
}

// LeserResult is the outcome of one run of one job.
type LeserResult struct {
	Job    LeserJob
	Closed int   // messages persisted and closed
	Err    error // the job failed (nothing fetched) or messages were left open
}

// RunLeser runs every job once, in order, persisting through in. It never
// stops early for one job's failure; see each result's Err.
func (a *Adapter) RunLeser(ctx context.Context, jobs []LeserJob, in Inbox) []LeserResult {
	out := make([]LeserResult, 0, len(jobs))
	for _, j := range jobs {
		n, err := a.FetchReplies(ctx, j.LeserOptions, in.Persist)
		out = append(out, LeserResult{Job: j, Closed: n, Err: err})
		if err != nil {
			a.log.Error("xtaclient: leser job failed", "endpoint", j.Endpoint, "identity", j.Identity, "closed", n, "err", err)
		} else {
			a.log.Info("xtaclient: leser job done", "endpoint", j.Endpoint, "identity", j.Identity, "closed", n)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return out
}
