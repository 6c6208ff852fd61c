package portal

import (
	"math"
	"sync"
	"time"
)

// RateLimit bounds a portal's requests: PerSecond on average with bursts of
// up to Burst. The zero value means unlimited.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// bucket is a token bucket for one portal, refilled lazily on each request
// from the handler's clock (tests inject one).
type bucket struct {
	mu     sync.Mutex
	limit  RateLimit
	tokens float64
	last   time.Time
}

func newBucket(l RateLimit) *bucket {
	if l.PerSecond <= 0 {
		return nil
	}
	if l.Burst < 1 {
		l.Burst = max(1, int(math.Ceil(l.PerSecond)))
	}
	return &bucket{limit: l, tokens: float64(l.Burst)}
}

// take consumes one token; if none is left it returns false and how long
// until one is.
func (b *bucket) take(now time.Time) (bool, time.Duration) {
	if b == nil {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(float64(b.limit.Burst), b.tokens+now.Sub(b.last).Seconds()*b.limit.PerSecond)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / b.limit.PerSecond * float64(time.Second))
	return false, wait
}
