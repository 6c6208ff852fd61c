package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dxhub/dxhub/internal/loop"
)

// JobState is where a submission's pipeline job stands.
type JobState struct {
	Exists bool // false: the pipeline has finished with the submission
	// Held: the job belongs to the ordered work source (a Kafka work topic
	// partition) and is never claimed by the database queue's workers.
	Held       bool
	Owner      string    // lease owner, "" if none
	LeaseUntil time.Time // zero if not leased
	NextAt     time.Time // when the database queue runs it; zero while held
}

// WorkStore is what ordered processing needs from the store besides Store:
// jobs held for an ordered work source, taken one at a time under a lease.
type WorkStore interface {
	// ClaimHeldJob leases a held job to owner unless another owner's lease
	// is still running; it reports whether owner holds it and its state.
	ClaimHeldJob(ctx context.Context, submissionID, owner string, now time.Time, lease time.Duration) (bool, JobState, error)
	JobState(ctx context.Context, submissionID string) (JobState, error)
	// HoldJob takes back a job the pipeline released for an attempt at
	// nextAt; false if someone else changed it first.
	HoldJob(ctx context.Context, submissionID, owner string, nextAt, leaseUntil time.Time) (bool, error)
	// UnleaseHeldJob gives up owner's lease; the job stays held.
	UnleaseHeldJob(ctx context.Context, submissionID, owner string) error
}

// WorkResult is the durable outcome of one ordered work item.
type WorkResult int

// Work results. Every one of them is durable, so the work source may move
// past the item (commit the Kafka offset).
const (
	// WorkDone: the pipeline finished the submission (delivered or sent,
	// rejected, or failed and dead-lettered).
	WorkDone WorkResult = iota + 1
	// WorkDuplicate: there was nothing to do (a redelivered record of a
	// submission the pipeline has already finished).
	WorkDuplicate
	// WorkParked: a transient failure needs a retry later than MaxBlock
	// allows the recipient's queue to wait; the job went to the database
	// retry queue, and its order relative to the recipient's later
	// submissions is given up.
	WorkParked
	// WorkReleased: the job is not (or no longer) held for the ordered
	// source: the database queue runs it (parked before, re-queued by an
	// operator, or claimed by a database worker in the instant it was free).
	WorkReleased
	// WorkTakenOver: another owner holds the job now (this process lost its
	// lease while working and the source's partition moved on).
	WorkTakenOver
)

func (r WorkResult) String() string {
	switch r {
	case WorkDone:
		return "done"
	case WorkDuplicate:
		return "duplicate"
	case WorkParked:
		return "parked"
	case WorkReleased:
		return "released"
	case WorkTakenOver:
		return "taken-over"
	}
	return fmt.Sprintf("work-result(%d)", int(r))
}

// OrderedConfig configures an OrderedWorker.
type OrderedConfig struct {
	Pipeline *Pipeline
	Store    WorkStore
	// Owner names this process's lease (the pipeline's Store methods see it
	// as the job's owner, so fenced commits protect the steps).
	Owner string
	Lease time.Duration // default the pipeline's lease
	// MaxBlock bounds how long one submission may hold up its recipient's
	// queue with retries, counted from the start of its handling (default 1
	// minute). A retry due later parks the submission in the database retry
	// queue.
	MaxBlock time.Duration
	// BusyPoll is how often a job leased by another owner is looked at again
	// (default 200 ms).
	BusyPoll time.Duration
	Clock    Clock
	Logger   *slog.Logger
	// Wait waits d or until ctx ends (default a timer); tests replace it.
	Wait func(ctx context.Context, d time.Duration) error
}

// OrderedWorker processes submissions handed to it in order, one at a time
// per caller, by an ordered work source (a Kafka work topic partition keyed
// by recipient). Each call returns only when the submission reached a
// durable outcome: finished, parked in the database retry queue, or found to
// be someone else's. Retries within MaxBlock keep the caller waiting, so the
// recipient's later submissions stay behind this one.
type OrderedWorker struct{ cfg OrderedConfig }

// NewOrderedWorker checks the configuration and returns a worker.
func NewOrderedWorker(cfg OrderedConfig) (*OrderedWorker, error) {
	if cfg.Pipeline == nil || cfg.Store == nil {
		return nil, errors.New("routing: ordered worker needs a pipeline and a work store")
	}
	if cfg.Owner == "" {
		return nil, errors.New("routing: ordered worker needs an owner name")
	}
	if cfg.Lease <= 0 {
		cfg.Lease = cfg.Pipeline.cfg.Lease
	}
	if cfg.MaxBlock <= 0 {
		cfg.MaxBlock = time.Minute
	}
	if cfg.BusyPoll <= 0 {
		cfg.BusyPoll = 200 * time.Millisecond
	}
	if cfg.Clock == nil {
		cfg.Clock = cfg.Pipeline.cfg.Clock
	}
	if cfg.Logger == nil {
		cfg.Logger = cfg.Pipeline.log
	}
	if cfg.Wait == nil {
		cfg.Wait = loop.Sleep
	}
	return &OrderedWorker{cfg: cfg}, nil
}

// Handle takes the submission's held job under this worker's lease and runs
// the pipeline until a durable outcome. An error means no outcome yet (the
// store failed; the caller retries the same submission, keeping its place).
// When ctx ends (the source's partition was revoked, shutdown) while it
// waits, it gives up its lease so the next owner continues at once, and
// returns ctx's error; a pipeline step in progress is finished first.
func (w *OrderedWorker) Handle(ctx context.Context, submissionID string) (WorkResult, error) {
	c := w.cfg
	start := c.Clock.Now()
	// Store writes are never cancelled half-way by ctx (a revoked
	// partition): a claim that committed although its caller saw the
	// cancellation would leave a lease the next owner has to wait out. A
	// step in progress and its bookkeeping (taking the job back after a
	// failed attempt) are finished too: they commit or fail on their own
	// timeouts, and the next owner finds the job done or held.
	step := context.WithoutCancel(ctx)
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		held, st, err := c.Store.ClaimHeldJob(step, submissionID, c.Owner, c.Clock.Now(), c.Lease)
		if err != nil {
			w.unlease(ctx, submissionID)
			return 0, err
		}
		if held {
			break
		}
		switch {
		case !st.Exists:
			return WorkDuplicate, nil
		case !st.Held:
			return WorkReleased, nil
		}
		// Held under another owner's running lease: the partition's previous
		// owner is still on it (a rebalance), or crashed and its lease runs
		// out. Waiting keeps the recipient's order.
		d := min(max(st.LeaseUntil.Sub(c.Clock.Now()), time.Millisecond), c.BusyPoll)
		if err := c.Wait(ctx, d); err != nil {
			return 0, err
		}
	}
	for {
		if err := c.Pipeline.Process(step, submissionID, c.Owner); err != nil {
			// The caller retries; meanwhile (or if the partition moves on)
			// nobody should have to wait for this lease to run out.
			w.unlease(ctx, submissionID)
			return 0, err
		}
		st, err := c.Store.JobState(step, submissionID)
		if err != nil {
			return 0, err
		}
		switch {
		case !st.Exists:
			return WorkDone, nil
		case st.Held && st.Owner == c.Owner:
			return 0, fmt.Errorf("routing: submission %s is still held after processing", submissionID)
		case st.Held:
			return WorkTakenOver, nil
		case st.Owner != "":
			return WorkReleased, nil
		}
		// Released for a later attempt at st.NextAt.
		if st.NextAt.Sub(start) > c.MaxBlock {
			c.Logger.Warn("ordered work: retry is due after the recipient's queue may wait; parked in the database retry queue, order released",
				"submission", submissionID, "next", st.NextAt, "max_block", c.MaxBlock)
			return WorkParked, nil
		}
		ok, err := c.Store.HoldJob(step, submissionID, c.Owner, st.NextAt, c.Clock.Now().Add(c.Lease))
		if err != nil {
			return 0, err
		}
		if !ok {
			c.Logger.Warn("ordered work: the job changed hands while it waited for its retry; the database queue runs it, order released",
				"submission", submissionID, "next", st.NextAt)
			return WorkReleased, nil
		}
		if err := w.waitHolding(ctx, submissionID, st.NextAt); err != nil {
			w.unlease(ctx, submissionID)
			return 0, err
		}
	}
}

// waitHolding waits until the retry is due, renewing the lease meanwhile.
func (w *OrderedWorker) waitHolding(ctx context.Context, submissionID string, until time.Time) error {
	c := w.cfg
	for {
		left := until.Sub(c.Clock.Now())
		if left <= 0 {
			return nil
		}
		if err := c.Wait(ctx, min(left, c.Lease/2)); err != nil {
			return err
		}
		held, err := c.Pipeline.cfg.Store.RenewLease(ctx, submissionID, c.Owner, c.Clock.Now().Add(c.Lease))
		if err != nil {
			return err
		}
		if !held {
			return fmt.Errorf("routing: lease on held submission %s lost while waiting for its retry", submissionID)
		}
	}
}

func (w *OrderedWorker) unlease(ctx context.Context, submissionID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := w.cfg.Store.UnleaseHeldJob(ctx, submissionID, w.cfg.Owner); err != nil {
		w.cfg.Logger.Warn("ordered work: could not give up the lease; the next owner waits for it to run out",
			"submission", submissionID, "err", err)
	}
}
