package xtaclient

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/routing"
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

// Persist implements the persist step. A message the back-channel has seen
// before (routing.ErrDuplicate, e.g. fetched again after a crash between
// persist and close) counts as persisted, so it is closed without a second
// effect.
func (in Inbox) Persist(ctx context.Context, r Reply) error {
	for _, a := range r.Attachments {
		rc, err := a.Open()
		if err != nil {
			return fmt.Errorf("attachment %q: %w", a.Filename, err)
		}
		_, err = in.Blobs.Put(ctx, rc, in.MaxAttachmentBytes)
		rc.Close()
		if err != nil {
			return fmt.Errorf("keep attachment %q: %w", a.Filename, err)
		}
	}
	_, err := in.Receiver.Receive(ctx, routing.Inbound{
		TransportID: r.Meta.MessageID, Transport: routing.TransportXTA,
		AuthorKey: r.Meta.AuthorKey, ReaderKey: r.Meta.ReaderKey, Payload: r.Message,
	})
	switch {
	case errors.Is(err, routing.ErrDuplicate):
		return nil
	case errors.Is(err, routing.ErrMalformedInbound):
		return fmt.Errorf("%w: %w", ErrNotXOEV, err)
	}
	return err
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
