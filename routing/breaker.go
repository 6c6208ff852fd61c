package routing

import (
	"strings"
	"sync"
	"time"
)

// BreakerPolicy configures the per-endpoint circuit breakers and concurrency
// limits that keep one dead Fachverfahren from slowing down the others.
type BreakerPolicy struct {
	// Failures is the number of consecutive failed attempts (Retry, Ambiguous)
	// that opens the breaker; 0 disables breaking.
	Failures int
	// Cooldown is how long an open breaker rejects attempts before it lets one
	// probe through (half-open). It doubles after each failed probe, up to
	// MaxCooldown.
	Cooldown    time.Duration
	MaxCooldown time.Duration
	// Concurrency caps simultaneous attempts per endpoint; 0 means no cap.
	Concurrency int
	// Limits overrides Concurrency for single endpoints, keyed by the route's
	// endpoint URL (or, for the built-in mailbox, the reader's DVDV key).
	Limits map[string]int
}

// DefaultBreakerPolicy is used for zero fields.
var DefaultBreakerPolicy = BreakerPolicy{Failures: 5, Cooldown: 30 * time.Second, MaxCooldown: 10 * time.Minute, Concurrency: 4}

type breakerState int

const (
	closed breakerState = iota
	open
	halfOpen
)

func (s breakerState) String() string {
	return [...]string{"closed", "open", "half-open"}[s]
}

type endpointBreaker struct {
	state     breakerState
	failures  int
	openUntil time.Time
	cooldown  time.Duration
	inFlight  int
	probing   bool
}

// Breakers holds one breaker per endpoint key. It lives in memory: after a
// restart every endpoint starts closed, which costs at most Failures attempts.
type Breakers struct {
	mu     sync.Mutex
	policy BreakerPolicy
	clock  Clock
	by     map[string]*endpointBreaker
}

// NewBreakers returns breakers with the policy (zero fields take defaults).
func NewBreakers(p BreakerPolicy, clock Clock) *Breakers {
	d := DefaultBreakerPolicy
	if p.Failures < 0 {
		p.Failures = 0
	} else if p.Failures == 0 {
		p.Failures = d.Failures
	}
	if p.Cooldown <= 0 {
		p.Cooldown = d.Cooldown
	}
	if p.MaxCooldown < p.Cooldown {
		p.MaxCooldown = max(d.MaxCooldown, p.Cooldown)
	}
	if p.Concurrency < 0 {
		p.Concurrency = 0
	}
	if clock == nil {
		clock = SystemClock{}
	}
	return &Breakers{policy: p, clock: clock, by: map[string]*endpointBreaker{}}
}

// Acquire asks to start an attempt on the endpoint. When refused it returns
// the earliest time worth trying again and why; otherwise the caller must call
// Release with the attempt's outcome.
func (b *Breakers) Acquire(endpoint string) (ok bool, retryAt time.Time, why string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.get(endpoint)
	now := b.clock.Now()
	if e.state == open {
		if now.Before(e.openUntil) {
			return false, e.openUntil, "circuit open for " + endpoint
		}
		e.state = halfOpen
	}
	if e.state == halfOpen {
		if e.probing {
			return false, now.Add(e.cooldown / 10), "circuit half-open for " + endpoint + ": probe in flight"
		}
		e.probing = true
	}
	if limit := b.limit(endpoint); limit > 0 && e.inFlight >= limit {
		if e.state == halfOpen {
			e.probing = false
		}
		return false, now.Add(100 * time.Millisecond), "concurrency limit reached for " + endpoint
	}
	e.inFlight++
	return true, time.Time{}, ""
}

// Release ends an attempt started with Acquire.
func (b *Breakers) Release(endpoint string, kind OutcomeKind) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.get(endpoint)
	e.inFlight--
	failed := kind == Retry || kind == Ambiguous
	wasProbe := e.state == halfOpen && e.probing
	if wasProbe {
		e.probing = false
	}
	if !failed {
		// Delivered or Permanent: the endpoint answered; it is alive.
		e.state, e.failures, e.cooldown = closed, 0, 0
		return
	}
	e.failures++
	if b.policy.Failures == 0 {
		return
	}
	switch {
	case wasProbe:
		e.cooldown = min(e.cooldown*2, b.policy.MaxCooldown)
	case e.state == closed && e.failures >= b.policy.Failures:
		e.cooldown = b.policy.Cooldown
	default:
		return
	}
	e.state, e.openUntil = open, b.clock.Now().Add(e.cooldown)
}

// State reports an endpoint's breaker state (for metrics and tests).
func (b *Breakers) State(endpoint string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.get(endpoint)
	if e.state == open && !b.clock.Now().Before(e.openUntil) {
		return halfOpen.String()
	}
	return e.state.String()
}

// States reports the state and attempts in flight of every endpoint the
// breakers have seen (for metrics).
func (b *Breakers) States() map[string]EndpointState {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	out := make(map[string]EndpointState, len(b.by))
	for key, e := range b.by {
		st := e.state
		if st == open && !now.Before(e.openUntil) {
			st = halfOpen
		}
		out[key] = EndpointState{State: st.String(), InFlight: e.inFlight}
	}
	return out
}

// EndpointState is one endpoint's breaker as States reports it.
type EndpointState struct {
	State    string // closed, open, half-open
	InFlight int
}

// InFlight reports the attempts in flight to an endpoint.
func (b *Breakers) InFlight(endpoint string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.get(endpoint).inFlight
}

// limit is the concurrency cap of an endpoint key ("transport:endpoint").
func (b *Breakers) limit(key string) int {
	if _, ep, ok := strings.Cut(key, ":"); ok {
		if n, ok := b.policy.Limits[ep]; ok {
			return n
		}
	}
	return b.policy.Concurrency
}

func (b *Breakers) get(endpoint string) *endpointBreaker {
	e, ok := b.by[endpoint]
	if !ok {
		e = &endpointBreaker{}
		b.by[endpoint] = e
	}
	return e
}

// EndpointKey names the endpoint a delivery goes to (the key of Breakers).
func EndpointKey(r Route) string { return endpointKey(r) }

// endpointKey names the endpoint a delivery goes to.
func endpointKey(r Route) string {
	if r.Endpoint == "" {
		return string(r.Transport) + ":" + r.ReaderKey
	}
	return string(r.Transport) + ":" + r.Endpoint
}
