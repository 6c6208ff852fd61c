package store

import (
	"context"
	"testing"
	"time"
)

// Kafka work distribution on both backends: the intake writes the outbox and
// a held job; the database queue never claims it; held jobs are claimed by
// one owner at a time under a lease; a released job is taken back only if
// nobody changed it; switching off hands held jobs to the queue.
func TestWorkTopicJobs(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		s.SetWorkTopic(true)
		for _, id := range []string{"w1", "w2", "w3"} {
			if _, _, err := s.CreateSubmission(ctx, newSub(id)); err != nil {
				t.Fatal(err)
			}
		}
		s.SetWorkTopic(false)
		if _, _, err := s.CreateSubmission(ctx, newSub("q1")); err != nil {
			t.Fatal(err)
		}
		items, err := s.PendingWork(ctx, 10)
		if err != nil || len(items) != 3 {
			t.Fatalf("pending work = %+v, %v", items, err)
		}
		for i, want := range []string{"w1", "w2", "w3"} {
			if items[i].SubmissionID != want || items[i].Tenant != "05315000" || items[i].Service != "universeller-antrag" ||
				(i > 0 && items[i].ID <= items[i-1].ID) {
				t.Fatalf("item %d = %+v", i, items[i])
			}
		}
		if err := s.WorkPublished(ctx, []int64{items[0].ID, items[1].ID}); err != nil {
			t.Fatal(err)
		}
		if items, _ = s.PendingWork(ctx, 10); len(items) != 1 || items[0].SubmissionID != "w3" {
			t.Fatalf("after publishing two: %+v", items)
		}

		now := t0.Add(time.Hour)
		ids, err := s.ClaimJobs(ctx, "queue", now, time.Minute, 10)
		if err != nil || len(ids) != 1 || ids[0] != "q1" {
			t.Fatalf("database queue claimed %v (%v), want only q1", ids, err)
		}
		// The only job the queue waits for is q1, when its lease ends.
		if next, err := s.NextJobAt(ctx); err != nil || !next.Equal(now.Add(time.Minute)) {
			t.Fatalf("next job at %s (%v), want %s", next, err, now.Add(time.Minute))
		}

		held, st, err := s.ClaimHeldJob(ctx, "w1", "kafka/a", now, time.Minute)
		if err != nil || !held || !st.Held || st.Owner != "kafka/a" || !st.LeaseUntil.Equal(now.Add(time.Minute)) {
			t.Fatalf("claim by a: %v %+v %v", held, st, err)
		}
		if held, st, _ := s.ClaimHeldJob(ctx, "w1", "kafka/b", now.Add(30*time.Second), time.Minute); held || st.Owner != "kafka/a" {
			t.Fatalf("b claimed a's job during a's lease: %+v", st)
		}
		if held, _, _ := s.ClaimHeldJob(ctx, "w1", "kafka/a", now.Add(30*time.Second), time.Minute); !held {
			t.Fatal("a could not renew its own claim")
		}
		if held, st, _ := s.ClaimHeldJob(ctx, "w1", "kafka/b", now.Add(2*time.Minute), time.Minute); !held || st.Owner != "kafka/b" {
			t.Fatalf("b did not take over after a's lease ran out: %+v", st)
		}
		if held, st, _ := s.ClaimHeldJob(ctx, "q1", "kafka/b", now, time.Minute); held || st.Held || !st.Exists {
			t.Fatalf("a queue job was claimed as held: %v %+v", held, st)
		}

		// The pipeline releases w1 for a retry; b takes it back.
		retry := now.Add(5 * time.Minute)
		if err := s.ReleaseJob(ctx, "w1", "kafka/b", retry); err != nil {
			t.Fatal(err)
		}
		st, _ = s.JobState(ctx, "w1")
		if st.Held || st.Owner != "" || !st.NextAt.Equal(retry) {
			t.Fatalf("released job = %+v", st)
		}
		if ok, _ := s.HoldJob(ctx, "w1", "kafka/b", retry.Add(time.Second), now.Add(3*time.Minute)); ok {
			t.Fatal("HoldJob succeeded with the wrong due time")
		}
		if ok, err := s.HoldJob(ctx, "w1", "kafka/b", retry, now.Add(3*time.Minute)); !ok || err != nil {
			t.Fatalf("HoldJob: %v %v", ok, err)
		}
		if err := s.UnleaseHeldJob(ctx, "w1", "kafka/b"); err != nil {
			t.Fatal(err)
		}
		if st, _ = s.JobState(ctx, "w1"); !st.Held || st.Owner != "" {
			t.Fatalf("unleased job = %+v", st)
		}
		if err := s.FinishJob(ctx, "w2"); err != nil {
			t.Fatal(err)
		}
		if st, _ = s.JobState(ctx, "w2"); st.Exists {
			t.Fatalf("finished job = %+v", st)
		}

		// Switched off: held jobs go to the queue, the outbox is emptied.
		n, err := s.ReleaseWorkTopic(ctx, now)
		if err != nil || n != 2 {
			t.Fatalf("released %d (%v), want w1 and w3", n, err)
		}
		if items, _ = s.PendingWork(ctx, 10); len(items) != 0 {
			t.Fatalf("outbox after release: %+v", items)
		}
		ids, err = s.ClaimJobs(ctx, "queue", now, time.Minute, 10)
		if err != nil || len(ids) != 2 {
			t.Fatalf("queue after release claimed %v (%v)", ids, err)
		}
	})
}

// One work outbox publisher at a time: on PostgreSQL the second process does
// not get the lead until the first gives it up; SQLite always leads.
func TestWorkPublisherLead(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		a, b := db.open(t), db.open(t)
		la, err := a.TryLeadWorkPublisher(ctx)
		if err != nil || la == nil {
			t.Fatalf("first: %v %v", la, err)
		}
		if err := la.Alive(ctx); err != nil {
			t.Fatal(err)
		}
		lb, err := b.TryLeadWorkPublisher(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if db.backend == "postgres" && lb != nil {
			t.Fatal("a second process got the lead while the first holds it")
		}
		if db.backend == "sqlite" && lb == nil {
			t.Fatal("SQLite (one process) must always lead")
		}
		la.Release()
		lb, err = b.TryLeadWorkPublisher(ctx)
		if err != nil || lb == nil {
			t.Fatalf("after release: %v %v", lb, err)
		}
		lb.Release()
	})
}
