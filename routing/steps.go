package routing

import "context"

// StepCommitter is an optional extension of Store: it commits consecutive
// pipeline steps in one transaction. Every step keeps its own status event
// (validated, routed, the attempt's event) in its own order, so the history
// reads exactly as if each step had committed alone; the pipeline just pays
// one write transaction instead of one per step, and carries what it
// committed on in memory instead of reading it back.
type StepCommitter interface {
	// CommitSteps commits the steps that are set, in order, all or nothing.
	// Applied is false, and nothing is written, when the first step was
	// committed before (by another worker whose lease ran out, or before a
	// crash): the pipeline then reads the submission's state again. An
	// attempt that fails its fence yields ErrStale like RecordAttempt.
	CommitSteps(ctx context.Context, s Steps) (StepsCommitted, error)
}

// Steps are consecutive pipeline steps of one submission. At least one is
// set; the set ones must follow each other (mapping, routing, attempt).
type Steps struct {
	// Message and Validated: the mapping step (SaveMapped).
	Message   *Message
	Validated StatusEvent
	// Delivery and Routed: the routing step (SaveRoute). Its ID is assigned
	// by the commit.
	Delivery *Delivery
	Routed   StatusEvent
	// Attempt: an attempt at the delivery (RecordAttempt). With Delivery set
	// it is the new delivery's first attempt, and its Delivery.ID is ignored.
	Attempt *AttemptResult
}

// StepsCommitted is what CommitSteps reports.
type StepsCommitted struct {
	Applied bool
	// Delivery is the new delivery when Steps.Delivery was set: its ID
	// assigned and its times at the store's precision, as GetDelivery
	// returns them (a transport that puts a time on the wire sends the same
	// one on every attempt). Its route keeps what the resolver returned
	// beyond the stored columns (certificates), so a transport need not
	// resolve it again for the first attempt.
	Delivery Delivery
}

// CommittedDelivery is an optional extension of Transport for a transport
// whose Deliver has no effect of its own: the delivery takes effect only
// when the store commits the attempt (the built-in XTA mailbox makes a
// message visible to its reader in the transaction that records the
// delivered attempt). Nothing leaves the hub before that commit, so the
// pipeline may run Deliver before the route is committed and commit mapping,
// routing and the attempt together; the transport ID is durable no later
// than the delivery itself. Deliver then sees the delivery without its ID
// (zero).
type CommittedDelivery interface {
	Transport
	// DeliveredByCommit reports whether Deliver has no effect outside the
	// attempt's commit (a wrapper forwards its inner transport's answer).
	DeliveredByCommit() bool
}

func deliveredByCommit(t Transport) bool {
	c, ok := t.(CommittedDelivery)
	return ok && c.DeliveredByCommit()
}
