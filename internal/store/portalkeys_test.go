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

func TestPortalKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		k1 := PortalKey{ID: "k1", PortalID: "p1", Prefix: "dxhk_k1", Hash: "h1", Tenants: []string{"05315000", "05111000"},
			CreatedAt: t0, CreatedBy: "operator alice"}
		if err := s.CreatePortalKey(ctx, k1); err != nil {
			t.Fatal(err)
		}
		if err := s.CreatePortalKey(ctx, k1); err == nil {
			t.Fatal("a second key with the same ID was stored")
		}
		got, err := s.PortalKey(ctx, "k1")
		if err != nil || got.Hash != "h1" || len(got.Tenants) != 2 || got.Tenants[1] != "05111000" || !got.CreatedAt.Equal(t0) ||
			got.State(t0) != "active" || !got.ExpiresAt.IsZero() || got.CreatedBy != "operator alice" {
			t.Fatalf("key = %+v, %v", got, err)
		}
		if _, err := s.PortalKey(ctx, "nope"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("unknown key: %v", err)
		}

		// rotate: k2 replaces k1, which stays valid for the grace period
		k2 := PortalKey{ID: "k2", PortalID: "p1", Prefix: "dxhk_k2", Hash: "h2", CreatedAt: t0.Add(time.Hour)}
		if err := s.RotatePortalKey(ctx, "k1", k2, t0.Add(25*time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, _ = s.PortalKey(ctx, "k1")
		if got.ReplacedBy != "k2" || !got.ExpiresAt.Equal(t0.Add(25*time.Hour)) || got.State(t0.Add(24*time.Hour)) != "active" ||
			got.State(t0.Add(25*time.Hour)) != "expired" {
			t.Fatalf("rotated key = %+v", got)
		}
		// rotating a key of another portal into it, or an expired key, fails
		k3 := PortalKey{ID: "k3", PortalID: "p2", Prefix: "x", Hash: "h3", CreatedAt: t0.Add(2 * time.Hour)}
		if err := s.RotatePortalKey(ctx, "k2", k3, t0.Add(3*time.Hour)); err == nil {
			t.Fatal("rotated into another portal's key")
		}
		k3.PortalID = "p1"
		k3.CreatedAt = t0.Add(26 * time.Hour)
		if err := s.RotatePortalKey(ctx, "k1", k3, t0.Add(27*time.Hour)); !errors.Is(err, ErrKeyInactive) {
			t.Fatalf("rotate expired key: %v", err)
		}
		if _, err := s.PortalKey(ctx, "k3"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("a failed rotation left its new key: %v", err)
		}

		if err := s.RevokePortalKey(ctx, "k2", t0.Add(3*time.Hour), "leaked in a ticket"); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokePortalKey(ctx, "k2", t0.Add(4*time.Hour), "again"); !errors.Is(err, ErrKeyInactive) {
			t.Fatalf("second revoke: %v", err)
		}
		if err := s.RevokePortalKey(ctx, "nope", t0, ""); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("revoke unknown: %v", err)
		}
		got, _ = s.PortalKey(ctx, "k2")
		if got.State(t0.Add(3*time.Hour)) != "revoked" || got.RevokedReason != "leaked in a ticket" || !got.RevokedAt.Equal(t0.Add(3*time.Hour)) {
			t.Fatalf("revoked key = %+v", got)
		}

		if err := s.TouchPortalKey(ctx, "k1", t0.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.TouchPortalKey(ctx, "k1", t0.Add(time.Minute)); err != nil { // older: ignored
			t.Fatal(err)
		}
		got, _ = s.PortalKey(ctx, "k1")
		if !got.LastUsedAt.Equal(t0.Add(5 * time.Minute)) {
			t.Fatalf("last used = %v", got.LastUsedAt)
		}

		if err := s.CreatePortalKey(ctx, PortalKey{ID: "k9", PortalID: "p2", Prefix: "x", Hash: "h9", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		all, err := s.PortalKeys(ctx, "")
		if err != nil || len(all) != 3 {
			t.Fatalf("all keys: %d %v", len(all), err)
		}
		p1, err := s.PortalKeys(ctx, "p1")
		if err != nil || len(p1) != 2 || p1[0].ID != "k1" || p1[1].ID != "k2" {
			t.Fatalf("p1 keys: %+v %v", p1, err)
		}
	})
}

func TestAuditRecorderBatchesAndChains(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		if err := s.AppendAudit(ctx, AuditEntry{At: time.Now(), Actor: "operator alice", Action: "replay", SubmissionID: "s0"}); err != nil {
			t.Fatal(err)
		}
		rec := s.NewAuditRecorder(16)
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- rec.Record(ctx, AuditEntry{At: time.Now(), Actor: fmt.Sprintf("portal p%d", i%2),
					Action: "submission.read", SubmissionID: fmt.Sprintf("s%d", i%5)})
			}()
		}
		wg.Wait()
		rec.Close()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := rec.Record(ctx, AuditEntry{Actor: "x", Action: "y"}); !errors.Is(err, ErrClosed) {
			t.Fatalf("record after close: %v", err)
		}
		if n, err := s.VerifyAudit(ctx); err != nil || n != 41 {
			t.Fatalf("verify: %d %v", n, err)
		}
		for _, tc := range []struct {
			q    AuditQuery
			want int
		}{
			{AuditQuery{}, 41},
			{AuditQuery{Actor: "portal p1"}, 20},
			{AuditQuery{Actor: "portal *"}, 40},
			{AuditQuery{Actor: "portal *", SubmissionID: "s3"}, 8},
			{AuditQuery{Action: "submission.*", Limit: 5}, 5},
			{AuditQuery{Action: "replay"}, 1},
			{AuditQuery{Actor: "operator%"}, 0}, // no LIKE wildcards
		} {
			got, err := s.AuditList(ctx, tc.q)
			if err != nil || len(got) != tc.want {
				t.Errorf("%+v: %d entries, %v; want %d", tc.q, len(got), err, tc.want)
			}
			for i := 1; i < len(got); i++ {
				if got[i].ID <= got[i-1].ID {
					t.Errorf("%+v: not oldest first", tc.q)
				}
			}
		}
	})
}

func BenchmarkAuditRecorder(b *testing.B) {
	ctx := context.Background()
	s := newTestDB(b, "sqlite").open(b)
	for _, mode := range []string{"AppendAudit", "Recorder"} {
		b.Run(mode, func(b *testing.B) {
			rec := s.NewAuditRecorder(0)
			defer rec.Close()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					e := AuditEntry{At: time.Now(), Actor: "portal p1", Action: "submission.read", SubmissionID: "s1"}
					var err error
					if mode == "Recorder" {
						err = rec.Record(ctx, e)
					} else {
						err = s.AppendAudit(ctx, e)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkPortalKeyLookup is the per-request cost of a managed key: one
// primary-key read.
func BenchmarkPortalKeyLookup(b *testing.B) {
	ctx := context.Background()
	s := newTestDB(b, "sqlite").open(b)
	for i := range 100 {
		if err := s.CreatePortalKey(ctx, PortalKey{ID: fmt.Sprintf("k%04d", i), PortalID: "p1", Prefix: "x", Hash: "h",
			CreatedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.PortalKey(ctx, fmt.Sprintf("k%04d", i%100)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
