package portal

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// A portal beyond its rate limit gets 429 problem+json with Retry-After;
// tokens come back with (injected) time; other portals are not affected.
func TestRateLimitPerPortal(t *testing.T) {
	var mu sync.Mutex
	now := testNow
	e := newEnv(t, func(o *Options) {
		o.Portals[0].RateLimit = RateLimit{PerSecond: 0.5, Burst: 2}
		o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	post := func(key string) *http.Response { return e.postJSON(key, mustJSON(t, validDoc()), nil) }

	for i := range 2 { // the burst
		if resp := post(keyA); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, readAll(t, resp))
		}
	}
	resp := post(keyA)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("beyond the burst: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	p := decodeProblem(t, resp)
	if p.Code != CodeRateLimited || !strings.Contains(p.Detail, "portal portal-a exceeds its rate limit of 0.5 requests/s (burst 2); retry after 2 s") {
		t.Fatalf("problem = %+v", p)
	}
	// Another portal is not limited by portal-a's traffic.
	if resp := post(keyB); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("portal-b: %d", resp.StatusCode)
	}
	// Status reads count too (every API request of the portal).
	if _, resp := e.get(keyA, "id-0001"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("GET beyond the limit: %d", resp.StatusCode)
	}
	advance(2 * time.Second) // one token back
	if resp := post(keyA); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("after 2 s: %d %s", resp.StatusCode, readAll(t, resp))
	}
	if resp := post(keyA); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("token used again: %d", resp.StatusCode)
	}
}
