package routing_test

import (
	"fmt"
	"testing"

	"github.com/dxhub/dxhub/routing"
)

// BenchmarkBreakerAcquireRelease is the per-attempt cost of the breaker and
// concurrency bookkeeping (one mutex), with attempts spread over 16 endpoints.
func BenchmarkBreakerAcquireRelease(b *testing.B) {
	br := routing.NewBreakers(routing.BreakerPolicy{Concurrency: 1 << 20}, routing.SystemClock{})
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = fmt.Sprintf("xta:https://fv%d.example/xta", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			k := keys[i%len(keys)]
			i++
			if ok, _, why := br.Acquire(k); !ok {
				b.Fatal(why)
			}
			br.Release(k, routing.Delivered)
		}
	})
}
