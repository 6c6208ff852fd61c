package routing

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// NewSubmission is what intake hands to the store: a validated submission whose
// attachments are already streamed into the blob store.
type NewSubmission struct {
	Submission
	// IdempotencyKey is the portal's Idempotency-Key header (may be empty); BodyHash
	// is the SHA-256 of the request body, to tell a replay from a conflicting reuse.
	IdempotencyKey string
	BodyHash       string
	// Premapped, if set, is the submission's message mapped at intake
	// (Pipeline.Premap): committed with the submission, which then starts
	// as `validated`.
	Premapped *Premapped
}

// ErrIdempotencyConflict: the Idempotency-Key was used before with another body.
var ErrIdempotencyConflict = errors.New("idempotency key reused with a different request body")

// ErrStale is returned by a store when a worker commits a step that another
// worker has already committed: its lease ran out while it worked (a slow
// transport, a paused process) and the job was claimed again. The commit is
// rolled back, so each step is recorded exactly once.
var ErrStale = errors.New("stale step: another worker already advanced this submission")

// ErrNotFound is returned by stores for unknown IDs.
var ErrNotFound = errors.New("not found")

// MapInput is everything a Mapper needs to build the outbound XÖV message.
type MapInput struct {
	Submission Submission
	ReaderKey  string // DVDV organisation key of the reader, e.g. "ags:05315000"
	ReaderName string
	AuthorKey  string // the hub's (portal operator's) DVDV key, e.g. "kop:0500000001"
	AuthorName string
	Created    time.Time
}

// Mapper turns a submission into its XÖV message (DESIGN §2). An error that wraps
// ErrPermanent (mapping or schema violation) rejects the submission.
type Mapper interface {
	Map(ctx context.Context, in MapInput) (Message, error)
}

// Resolver finds where a reader's messages for a service go (DESIGN §3).
type Resolver interface {
	Resolve(ctx context.Context, readerKey, serviceURI string) (Route, error)
}

// OutcomeKind classifies the end of one transport attempt (DESIGN §4).
type OutcomeKind int

// Outcome kinds.
const (
	Delivered OutcomeKind = iota + 1
	Retry
	Ambiguous
	Permanent
)

func (k OutcomeKind) String() string {
	switch k {
	case Delivered:
		return "delivered"
	case Retry:
		return "retry"
	case Ambiguous:
		return "ambiguous"
	case Permanent:
		return "permanent"
	}
	return fmt.Sprintf("outcome(%d)", int(k))
}

// Outcome is what a Transport reports for one attempt. Only the adapter knows the
// protocol; only routing decides what follows.
type Outcome struct {
	Kind       OutcomeKind
	RetryAfter time.Duration // a hint from the peer (Retry-After), zero if none
	Reason     string
	// Status the submission reaches on Delivered: StatusDelivered when the message
	// sits in the reader's mailbox, StatusSent when a remote server took it and a
	// transport report will follow.
	Status Status
	// Evidence is raw proof (a report ID, a response excerpt) for the history.
	Evidence string
	// RouteStale says the failure points at outdated directory data: the
	// peer's TLS certificate did not verify, or the reader could not decrypt
	// what we encrypted for the certificate the directory named. The pipeline
	// then drops the cached route so the next attempt asks the directory again.
	RouteStale bool
}

// RouteInvalidator is implemented by resolvers that cache routes (DVDV).
type RouteInvalidator interface {
	InvalidateRoute(ctx context.Context, readerKey, serviceURI string) error
}

// Transport delivers one message. The message ID in d.TransportID is fixed before
// the first attempt and is the same on every retry.
type Transport interface {
	Deliver(ctx context.Context, d Delivery, msg Message, sub Submission) Outcome
}

// ErrPermanent marks errors that no retry can fix.
var ErrPermanent = errors.New("permanent")

// PermanentError wraps err so that errors.Is(err, ErrPermanent) holds.
func PermanentError(err error) error { return permanentError{err} }

type permanentError struct{ err error }

func (e permanentError) Error() string        { return e.err.Error() }
func (e permanentError) Unwrap() []error      { return []error{e.err, ErrPermanent} }
func (e permanentError) Is(target error) bool { return target == ErrPermanent }
