package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/routing"
)

// BenchmarkPurge: the retention purge of finished submissions, each with a
// form, one attachment blob of its own and a terminal status; reported per
// purged submission (200 per run in batches of 50 per transaction, blob
// files deleted).
func BenchmarkPurge(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		bs, err := blob.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		const perRun = 200
		n := 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			for j := 0; j < perRun; j++ {
				n++
				ref, err := bs.Put(ctx, strings.NewReader(fmt.Sprintf("%%PDF-1.7 Anlage %d", n)), 1<<20)
				if err != nil {
					b.Fatal(err)
				}
				id := fmt.Sprintf("p%d", n)
				ns := newSub(id)
				ns.Attachments[0].ID, ns.Attachments[0].BlobKey, ns.Attachments[0].Size = id+"-a", ref.Key, ref.Size
				if _, _, err := s.CreateSubmission(ctx, ns); err != nil {
					b.Fatal(err)
				}
				if err := s.Terminate(ctx, id, routing.StatusEvent{Status: routing.StatusRejected, Time: t0, Source: routing.SourceHub}, ""); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			rep, err := s.Purge(ctx, RetentionPolicy{Now: t0.Add(48 * time.Hour), Before: t0.Add(time.Hour)}, bs)
			if err != nil || rep.Submissions != perRun || rep.BlobsDeleted != perRun {
				b.Fatalf("%+v %v", rep, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*perRun), "µs/submission")
	})
}
