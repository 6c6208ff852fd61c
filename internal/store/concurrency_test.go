package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// The tests below run two Store instances on one database: two hub
// processes sharing it (on SQLite through one file, on PostgreSQL through
// one server).

// TestConcurrentClaimsTwoProcesses: workers of two processes claim the same
// queue at once; every job is claimed exactly once.
func TestConcurrentClaimsTwoProcesses(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		a, b := db.open(t), db.open(t)
		const jobs = 120
		for i := range jobs {
			ns := newSub(fmt.Sprintf("job-%03d", i))
			ns.ReceivedAt = t0.Add(time.Duration(i) * time.Microsecond)
			if _, _, err := a.CreateSubmission(ctx, ns); err != nil {
				t.Fatal(err)
			}
		}
		var (
			mu      sync.Mutex
			owners  = map[string]string{}
			dupes   []string
			perProc = map[*Store]int{}
			wg      sync.WaitGroup
			errs    = make(chan error, 16)
		)
		now := t0.Add(time.Second)
		for p, st := range []*Store{a, b} {
			for w := range 4 {
				owner := fmt.Sprintf("proc%d-worker%d", p, w)
				wg.Go(func() {
					for {
						ids, err := st.ClaimJobs(ctx, owner, now, time.Hour, 3)
						if err != nil {
							errs <- fmt.Errorf("%s: %w", owner, err)
							return
						}
						if len(ids) == 0 {
							return
						}
						mu.Lock()
						for _, id := range ids {
							if prev, ok := owners[id]; ok {
								dupes = append(dupes, fmt.Sprintf("%s claimed by %s and %s", id, prev, owner))
							}
							owners[id] = owner
							perProc[st]++
						}
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if len(dupes) > 0 {
			t.Fatalf("jobs claimed twice: %v", dupes)
		}
		if len(owners) != jobs {
			t.Fatalf("claimed %d distinct jobs, want %d", len(owners), jobs)
		}
		t.Logf("claims: process A %d, process B %d", perProc[a], perProc[b])
		// Leased to their claimers: nothing is due for anyone else.
		if ids, err := b.ClaimJobs(ctx, "late", now, time.Hour, jobs); err != nil || len(ids) != 0 {
			t.Fatalf("claim after all leased = %v, %v", ids, err)
		}
	})
}

// TestIdempotencyRaceTwoProcesses: the same portal request (idempotency key
// and body) arrives at both processes many times at once: one submission is
// created, every other call gets it back; a different body under the key is
// a conflict.
func TestIdempotencyRaceTwoProcesses(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		a, b := db.open(t), db.open(t)
		for round := range 5 {
			key := fmt.Sprintf("key-%d", round)
			const callers = 12
			type result struct {
				sub     routing.Submission
				created bool
				err     error
				hash    string
			}
			results := make([]result, callers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range callers {
				st := a
				if i%2 == 1 {
					st = b
				}
				hash := "h"
				if i == callers-1 {
					hash = "different"
				}
				wg.Go(func() {
					ns := newSub(fmt.Sprintf("r%d-c%d", round, i))
					ns.IdempotencyKey, ns.BodyHash = key, hash
					<-start
					sub, created, err := st.CreateSubmission(ctx, ns)
					results[i] = result{sub, created, err, hash}
				})
			}
			close(start)
			wg.Wait()
			winner := ""
			for i, r := range results {
				if r.created {
					if winner != "" {
						t.Fatalf("round %d: created twice: %s and %s", round, winner, r.sub.ID)
					}
					winner = r.sub.ID
				}
				if r.err != nil && !(errors.Is(r.err, routing.ErrIdempotencyConflict) && !r.created) {
					t.Fatalf("round %d caller %d: %v", round, i, r.err)
				}
			}
			if winner == "" {
				t.Fatalf("round %d: no caller created the submission", round)
			}
			winnerHash := ""
			for _, r := range results {
				if r.created {
					winnerHash = r.hash
				}
			}
			for i, r := range results {
				switch {
				case r.created:
				case r.hash == winnerHash:
					if r.err != nil || r.sub.ID != winner {
						t.Fatalf("round %d caller %d: got %q, %v; want the original %s", round, i, r.sub.ID, r.err, winner)
					}
				default:
					if !errors.Is(r.err, routing.ErrIdempotencyConflict) {
						t.Fatalf("round %d caller %d (other body): err = %v, want conflict", round, i, r.err)
					}
				}
			}
			var n int
			if err := a.db.QueryRowContext(ctx, `SELECT count(*) FROM submissions WHERE idempotency_key = ?`, key).Scan(&n); err != nil || n != 1 {
				t.Fatalf("round %d: %d submissions stored under the key (%v)", round, n, err)
			}
			if err := a.db.QueryRowContext(ctx, `SELECT count(*) FROM jobs WHERE submission_id = ?`, winner).Scan(&n); err != nil || n != 1 {
				t.Fatalf("round %d: %d jobs for the winner (%v)", round, n, err)
			}
		}
	})
}

// TestStatusAdvanceRaceTwoProcesses: status events for one submission
// recorded at once by both processes leave the submission at the furthest
// status (the read-modify-write of insertEvent locks the submission row).
func TestStatusAdvanceRaceTwoProcesses(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		a, b := db.open(t), db.open(t)
		steps := []routing.Status{routing.StatusValidated, routing.StatusRouted, routing.StatusSent, routing.StatusDelivered,
			routing.StatusFetched, routing.StatusAcknowledged}
		for round := range 8 {
			id := fmt.Sprintf("adv-%d", round)
			if _, _, err := a.CreateSubmission(ctx, newSub(id)); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, len(steps))
			for i, st := range steps {
				s := a
				if (i+round)%2 == 1 {
					s = b
				}
				wg.Go(func() {
					<-start
					errs[i] = s.AppendEvent(ctx, id, routing.StatusEvent{Status: st, Time: t0.Add(time.Minute),
						Source: routing.SourceHub})
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("round %d: append %s: %v", round, steps[i], err)
				}
			}
			sub, err := b.GetSubmission(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if sub.Status != routing.StatusAcknowledged {
				t.Fatalf("round %d: status = %s, want %s", round, sub.Status, routing.StatusAcknowledged)
			}
			evs, err := a.Events(ctx, id)
			if err != nil || len(evs) != len(steps)+1 {
				t.Fatalf("round %d: %d events (%v), want %d", round, len(evs), err, len(steps)+1)
			}
		}
	})
}

// TestReplayRacesMailboxCloseTwoProcesses: an operator replays a delivered
// message (process A) while its reader closes it (process B). Either order
// is fine — the close wins and the replay follows, or the replay wins and the
// close finds nothing — but neither fails otherwise (no deadlock: both lock
// the submission first).
func TestReplayRacesMailboxCloseTwoProcesses(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		a, b := db.open(t), db.open(t)
		for round := range 10 {
			id := fmt.Sprintf("rc-%d", round)
			if _, _, err := a.CreateSubmission(ctx, newSub(id)); err != nil {
				t.Fatal(err)
			}
			d := deliverToMailbox(t, a, id)
			msg := routing.Message{SubmissionID: id, UUID: "replayed-" + id, Standard: "XBau-Kernmodul", Version: "1.3.0",
				TypeCode: "1200", RootElement: "universellerAntrag.antrag.1200", Namespace: "ns", Service: "urn:s", XML: []byte("<y/>")}
			var replayErr, closeErr error
			var wg sync.WaitGroup
			start := make(chan struct{})
			wg.Go(func() {
				<-start
				_, replayErr = a.Replay(ctx, ReplayRequest{SubmissionID: id, Seq: 1, Message: msg, Reason: "fix", Operator: "op",
					Now: t0.Add(time.Hour)})
			})
			wg.Go(func() {
				<-start
				_, closeErr = b.MailboxClose(ctx, "ags:05315000", d.TransportID, t0.Add(time.Hour))
			})
			close(start)
			wg.Wait()
			if replayErr != nil {
				t.Fatalf("round %d: replay: %v", round, replayErr)
			}
			if closeErr != nil && !errors.Is(closeErr, routing.ErrNotFound) {
				t.Fatalf("round %d: close: %v", round, closeErr)
			}
			if m, err := a.OutboundMessage(ctx, id); err != nil || m.UUID != msg.UUID {
				t.Fatalf("round %d: outbound after replay = %q %v", round, m.UUID, err)
			}
		}
	})
}
