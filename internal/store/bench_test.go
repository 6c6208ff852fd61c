package store

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/routing"
)

// benchBackends runs a benchmark per backend of DXHUB_TEST_BACKENDS. The
// PostgreSQL test cluster runs with fsync off, SQLite with synchronous=FULL:
// the figures compare the SQL paths, not the disks' durability cost.
func benchBackends(b *testing.B, fn func(b *testing.B, s *Store)) {
	backends, err := testenv.Backends()
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range backends {
		b.Run(name, func(b *testing.B) { fn(b, newTestDB(b, name).open(b)) })
	}
}

// BenchmarkCreateSubmission: concurrent intake (submission, attachment,
// event and job in one transaction each), 8 goroutines per CPU.
func BenchmarkCreateSubmission(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		var n atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ns := newSub(fmt.Sprintf("b%d", n.Add(1)))
				ns.IdempotencyKey, ns.BodyHash = ns.ID, "h"
				if _, _, err := s.CreateSubmission(ctx, ns); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkClaimRelease: workers claim one due job and release it again
// (the queue's hot path), 8 goroutines per CPU over 256 jobs.
func BenchmarkClaimRelease(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		for i := range 256 {
			if _, _, err := s.CreateSubmission(ctx, newSub(fmt.Sprintf("q%d", i))); err != nil {
				b.Fatal(err)
			}
		}
		now := t0.Add(time.Hour)
		var w atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			owner := fmt.Sprintf("w%d", w.Add(1))
			for pb.Next() {
				ids, err := s.ClaimJobs(ctx, owner, now, time.Minute, 1)
				if err != nil {
					b.Error(err)
					return
				}
				for _, id := range ids {
					if err := s.ReleaseJob(ctx, id, owner, t0); err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
	})
}

// BenchmarkGetSubmission: the pipeline's read of a submission with a 10 KB
// form, with the form (mapping) and without it (every later step).
func BenchmarkGetSubmission(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		ns := newSub("g1")
		ns.Form = []byte(`{"text":"` + strings.Repeat("x", 10<<10) + `"}`)
		if _, _, err := s.CreateSubmission(ctx, ns); err != nil {
			b.Fatal(err)
		}
		for _, c := range []struct {
			name string
			get  func(context.Context, string) (routing.Submission, error)
		}{{"full", s.GetSubmission}, {"head", s.GetSubmissionHead}} {
			b.Run(c.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := c.get(ctx, "g1"); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}
