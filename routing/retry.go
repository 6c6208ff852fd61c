package routing

import (
	"math"
	"math/rand/v2"
	"time"
)

// RetryPolicy is the persistent retry schedule of DESIGN §4: exponential backoff
// with jitter, capped by attempts and by the age of the submission.
type RetryPolicy struct {
	Initial     time.Duration
	Max         time.Duration
	Multiplier  float64
	Jitter      float64 // 0..1: the delay is scaled by a factor in [1-Jitter, 1+Jitter]
	MaxAttempts int
	MaxAge      time.Duration
	// Rand returns a number in [0,1); nil uses math/rand/v2. Tests inject it.
	Rand func() float64
}

// DefaultRetryPolicy is used when a field is left zero.
var DefaultRetryPolicy = RetryPolicy{
	Initial: 10 * time.Second, Max: time.Hour, Multiplier: 2, Jitter: 0.2, MaxAttempts: 20, MaxAge: 72 * time.Hour,
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy
	if p.Initial <= 0 {
		p.Initial = d.Initial
	}
	if p.Max <= 0 {
		p.Max = d.Max
	}
	if p.Multiplier < 1 {
		p.Multiplier = d.Multiplier
	}
	if p.Jitter < 0 || p.Jitter > 1 {
		p.Jitter = d.Jitter
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.MaxAge <= 0 {
		p.MaxAge = d.MaxAge
	}
	return p
}

// Delay returns the wait after the given failed attempt (1-based). A peer's
// Retry-After hint is honoured when it is longer, but never beyond Max.
func (p RetryPolicy) Delay(attempt int, hint time.Duration) time.Duration {
	p = p.withDefaults()
	if attempt < 1 {
		attempt = 1
	}
	base := float64(p.Initial) * math.Pow(p.Multiplier, float64(attempt-1))
	if base > float64(p.Max) {
		base = float64(p.Max)
	}
	r := rand.Float64
	if p.Rand != nil {
		r = p.Rand
	}
	d := time.Duration(base * (1 - p.Jitter + 2*p.Jitter*r()))
	if hint > d {
		d = hint
	}
	if d > p.Max {
		d = p.Max
	}
	return d
}

// Exhausted reports whether no further attempt may be made after attempt
// number `attempts` for a submission received at `received`.
func (p RetryPolicy) Exhausted(attempts int, received, now time.Time) bool {
	p = p.withDefaults()
	return attempts >= p.MaxAttempts || now.Sub(received) >= p.MaxAge
}
