package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

const secret = "portal-shared-secret-0123456789"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// receiver is a portal endpoint that verifies each call independently with
// `openssl dgst -sha512 -hmac` and can be told to fail the next calls.
type receiver struct {
	t        *testing.T
	mu       sync.Mutex
	fail     int
	received []Payload
	ids      []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	ts := req.Header.Get(HeaderTimestamp)
	sig := strings.TrimPrefix(req.Header.Get(HeaderSignature), "sha512=")
	cmd := exec.Command("openssl", "dgst", "-sha512", "-hmac", secret)
	cmd.Stdin = strings.NewReader(ts + "." + string(body))
	out, err := cmd.Output()
	if err != nil {
		r.t.Errorf("openssl: %v", err)
		w.WriteHeader(500)
		return
	}
	fields := strings.Fields(string(out))
	if len(fields) == 0 || fields[len(fields)-1] != sig {
		r.t.Errorf("openssl computes %q, header says %q", out, sig)
		w.WriteHeader(401)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil {
		r.t.Errorf("body: %v", err)
	}
	r.received = append(r.received, p)
	r.ids = append(r.ids, req.Header.Get(HeaderEventID))
	w.WriteHeader(http.StatusNoContent)
}

func setup(t *testing.T) (*store.Store, *clock, *receiver, *Dispatcher) {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"), store.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	for _, id := range []string{"a", "b"} {
		st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: id, PortalID: "p1", Tenant: "05315000",
			Service: "s", Reference: "ref-" + id, Applicant: routing.Applicant{Name: "x"}, Form: []byte(`{}`), ReceivedAt: c.Now()}})
	}
	// Another portal's submission without a webhook is never sent anywhere.
	st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: "other", PortalID: "p2", Tenant: "05315000",
		Service: "s", Reference: "r", Applicant: routing.Applicant{Name: "x"}, Form: []byte(`{}`), ReceivedAt: c.Now()}})
	st.AppendEvent(ctx, "a", routing.StatusEvent{Status: routing.StatusValidated, Time: c.Now(), Source: routing.SourceHub})
	rcv := &receiver{t: t}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	d := &Dispatcher{Store: st, Targets: map[string]Target{"p1": {URL: srv.URL, Secret: secret}}, Clock: c,
		Retry: routing.RetryPolicy{Initial: time.Second, Max: time.Minute, Multiplier: 2, Jitter: 0}}
	return st, c, rcv, d
}

func TestDispatchSignedInOrder(t *testing.T) {
	ctx := context.Background()
	_, _, rcv, d := setup(t)
	n, err := d.RunOnce(ctx)
	if err != nil || n != 3 {
		t.Fatalf("calls = %d, %v", n, err)
	}
	var got []string
	for _, p := range rcv.received {
		got = append(got, p.SubmissionID+":"+string(p.Status))
	}
	// a's received precedes a's validated; b's received in between is fine.
	if fmt.Sprint(got) != "[a:received b:received a:validated]" {
		t.Fatalf("received %v", got)
	}
	if n, _ := d.RunOnce(ctx); n != 0 {
		t.Fatalf("acknowledged events sent again: %d", n)
	}
}

func TestRetryKeepsOrder(t *testing.T) {
	ctx := context.Background()
	st, c, rcv, d := setup(t)
	rcv.fail = 2 // the first two calls get 503 + Retry-After: 30
	d.RunOnce(ctx)
	if len(rcv.received) != 0 {
		t.Fatalf("received %d while failing", len(rcv.received))
	}
	// Both submissions' first events failed; a's second event must wait.
	if n, _ := d.RunOnce(ctx); n != 0 {
		t.Fatalf("%d calls before the backoff ended", n)
	}
	c.Advance(30 * time.Second)
	d.RunOnce(ctx)
	var got []string
	for _, p := range rcv.received {
		got = append(got, p.SubmissionID+":"+string(p.Status))
	}
	if fmt.Sprint(got) != "[a:received b:received a:validated]" {
		t.Fatalf("received %v", got)
	}
	pending, _ := st.PendingWebhooks(ctx, []string{"p1"}, c.Now().Add(time.Hour), 10)
	if len(pending) != 0 {
		t.Fatalf("pending = %+v", pending)
	}
	if rcv.ids[0] != strconv.FormatInt(rcv.received[0].EventID, 10) {
		t.Fatalf("event id header %q vs body %d", rcv.ids[0], rcv.received[0].EventID)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"eventId":1}`)
	sig := "sha512=" + Sign(secret, now.Unix(), body)
	ts := strconv.FormatInt(now.Unix(), 10)
	tests := []struct {
		name            string
		secret, ts, sig string
		body            []byte
		at              time.Time
		want            error
	}{
		{"valid", secret, ts, sig, body, now, nil},
		{"tampered body", secret, ts, sig, []byte(`{"eventId":2}`), now, ErrBadSignature},
		{"wrong secret", "other-secret-0123456789", ts, sig, body, now, ErrBadSignature},
		{"no prefix", secret, ts, strings.TrimPrefix(sig, "sha512="), body, now, ErrBadSignature},
		{"stale", secret, ts, sig, body, now.Add(10 * time.Minute), ErrStale},
		{"future", secret, ts, sig, body, now.Add(-10 * time.Minute), ErrStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.ts, tt.sig, tt.body, tt.at, 5*time.Minute)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if err := Verify(secret, "yesterday", sig, body, now, time.Minute); err == nil {
		t.Fatal("bad timestamp accepted")
	}
}

// TestPageMarksDeliveredDespiteFailure: a page's 2xx are recorded together
// after the page, also when another call of the page failed; the failed
// event alone stays pending, with its attempt counted.
func TestPageMarksDeliveredDespiteFailure(t *testing.T) {
	ctx := context.Background()
	st, c, rcv, d := setup(t)
	rcv.fail = 1 // the page's first call (a:received) gets 503
	if n, err := d.RunOnce(ctx); err != nil || n != 2 {
		t.Fatalf("calls = %d, %v", n, err)
	}
	pending, err := st.PendingWebhooks(ctx, []string{"p1"}, c.Now().Add(time.Hour), 10)
	if err != nil || len(pending) != 1 || pending[0].Event.SubmissionID != "a" || pending[0].Event.Status != routing.StatusReceived ||
		pending[0].Attempts != 1 {
		t.Fatalf("pending = %+v, %v; want only a:received after one attempt", pending, err)
	}
	c.Advance(30 * time.Second)
	d.RunOnce(ctx)
	var got []string
	for _, p := range rcv.received {
		got = append(got, p.SubmissionID+":"+string(p.Status))
	}
	if fmt.Sprint(got) != "[b:received a:received a:validated]" {
		t.Fatalf("received %v", got)
	}
}
