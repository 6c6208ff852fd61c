package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dxhub/dxhub/routing"
)

var _ routing.StepCommitter = (*Store)(nil)

// errStepsDone rolls back a CommitSteps whose first step was committed before.
var errStepsDone = errors.New("store: first step committed before")

// CommitSteps commits consecutive pipeline steps (mapping, routing, an
// attempt) in one transaction, each with its own status event, exactly as
// SaveMapped, SaveRoute and RecordAttempt would one after another: the
// pipeline pays one write transaction for them instead of one each. If the
// first step was committed before, nothing is written and Applied is false;
// if a later step finds its row there already (the state changed under the
// worker), the whole commit is rolled back with Applied false as well, so
// the caller reads the state again.
func (s *Store) CommitSteps(ctx context.Context, st routing.Steps) (routing.StepsCommitted, error) {
	var subID string
	switch {
	case st.Message != nil:
		subID = st.Message.SubmissionID
	case st.Delivery != nil:
		subID = st.Delivery.SubmissionID
	case st.Attempt != nil:
		subID = st.Attempt.Delivery.SubmissionID
	default:
		return routing.StepsCommitted{}, errors.New("store: commit steps: no step given")
	}
	if (st.Delivery != nil && st.Delivery.SubmissionID != subID) ||
		(st.Attempt != nil && st.Attempt.Delivery.SubmissionID != subID) {
		return routing.StepsCommitted{}, fmt.Errorf("store: commit steps: steps of different submissions (%s)", subID)
	}
	var out routing.StepsCommitted
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = routing.StepsCommitted{}
		// The submission first: the lock order of every status-writing
		// transaction (PostgreSQL; a no-op on SQLite).
		if err := s.lockSubmission(ctx, tx, subID); err != nil {
			return err
		}
		if st.Message != nil {
			saved, err := s.insertMapped(ctx, tx, *st.Message, st.Validated)
			if err != nil {
				return err
			}
			if !saved {
				return errStepsDone
			}
		}
		if st.Delivery != nil {
			id, err := s.saveRoute(ctx, tx, *st.Delivery, st.Routed)
			if err != nil {
				return err
			}
			if id == 0 {
				return errStepsDone
			}
			out.Delivery = *st.Delivery
			out.Delivery.ID, out.Delivery.Attempts = id, 0
			out.Delivery.NextAttemptAt = fromMicros(micros(st.Delivery.NextAttemptAt))
			out.Delivery.CreatedAt = fromMicros(micros(st.Delivery.CreatedAt))
		}
		if st.Attempt != nil {
			r := *st.Attempt
			if st.Delivery != nil {
				r.Delivery.ID = out.Delivery.ID
			}
			if err := s.recordAttempt(ctx, tx, r); err != nil {
				return err
			}
		}
		out.Applied = true
		return nil
	})
	if errors.Is(err, errStepsDone) {
		return routing.StepsCommitted{}, nil
	}
	if err != nil {
		if errors.Is(err, routing.ErrStale) {
			return routing.StepsCommitted{}, err
		}
		return routing.StepsCommitted{}, fmt.Errorf("store: commit steps of %s: %w", subID, err)
	}
	return out, nil
}
