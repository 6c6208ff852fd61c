package portal

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/dxhub/dxhub/routing"
)

// fakeStore implements Store in memory with the semantics of internal/store:
// one atomic CreateSubmission with per-portal idempotency keys.
type fakeStore struct {
	mu      sync.Mutex
	subs    map[string]routing.Submission
	events  map[string][]routing.StatusEvent
	idem    map[[2]string]idemRecord // (portal, key)
	creates int                      // committed creations
	created []routing.NewSubmission  // what CreateSubmission committed, in order
	fail    error                    // if set, CreateSubmission fails with it
}

type idemRecord struct{ id, hash string }

func newFakeStore() *fakeStore {
	return &fakeStore{
		subs:   map[string]routing.Submission{},
		events: map[string][]routing.StatusEvent{},
		idem:   map[[2]string]idemRecord{},
	}
}

var _ Store = (*fakeStore)(nil)

func (s *fakeStore) CreateSubmission(_ context.Context, ns routing.NewSubmission) (routing.Submission, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ns.IdempotencyKey != "" {
		if rec, ok := s.idem[[2]string{ns.PortalID, ns.IdempotencyKey}]; ok {
			if rec.hash != ns.BodyHash {
				return routing.Submission{}, false, routing.ErrIdempotencyConflict
			}
			return s.subs[rec.id], false, nil
		}
	}
	if s.fail != nil {
		return routing.Submission{}, false, s.fail
	}
	if _, dup := s.subs[ns.ID]; dup {
		return routing.Submission{}, false, fmt.Errorf("duplicate submission id %s", ns.ID)
	}
	sub := ns.Submission
	sub.Status = routing.StatusReceived
	sub.UpdatedAt = sub.ReceivedAt
	s.subs[sub.ID] = sub
	s.created = append(s.created, ns)
	s.events[sub.ID] = []routing.StatusEvent{{
		SubmissionID: sub.ID, Status: routing.StatusReceived, Time: sub.ReceivedAt, Source: routing.SourceHub,
		Detail: "submission accepted from portal " + sub.PortalID, Evidence: sub.Reference,
	}}
	if ns.IdempotencyKey != "" {
		s.idem[[2]string{ns.PortalID, ns.IdempotencyKey}] = idemRecord{sub.ID, ns.BodyHash}
	}
	s.creates++
	return sub, true, nil
}

func (s *fakeStore) GetSubmission(_ context.Context, id string) (routing.Submission, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.subs[id]
	if !ok {
		return routing.Submission{}, fmt.Errorf("submission %s: %w", id, routing.ErrNotFound)
	}
	return sub, nil
}

func (s *fakeStore) Events(_ context.Context, id string) ([]routing.StatusEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]routing.StatusEvent(nil), s.events[id]...), nil
}

func (s *fakeStore) BlobReferenced(_ context.Context, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		for _, a := range sub.Attachments {
			if a.BlobKey == key {
				return true, nil
			}
		}
	}
	return false, nil
}

// addEvent appends a later status event, as the pipeline would.
func (s *fakeStore) addEvent(id string, ev routing.StatusEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.subs[id]
	if !ok {
		return errors.New("unknown submission")
	}
	s.events[id] = append(s.events[id], ev)
	if sub.Status.Advances(ev.Status) {
		sub.Status, sub.UpdatedAt = ev.Status, ev.Time
		s.subs[id] = sub
	}
	return nil
}

func (s *fakeStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}
