package routing_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/dxhub/dxhub/internal/blob"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/connectors/xtaclient"
	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

// The fault matrix (issue 7): for each transport, each injected fault must
// end in the expected outcomes, number of attempts and final status, driven
// through the real pipeline (store, retry policy, breakers) and the real
// transport adapter against the protocol's test server, with an injected
// clock for the pipeline's schedule. Rows are transport-neutral: a transport
// joins the matrix by adding a faultTarget constructor to faultTargets (XTA
// against xta/xtatest, OSCI against osci/oscitest in fault_matrix_osci_test.go).

// fault is a transport-neutral failure the target injects.
type fault int

const (
	// faultRefuseOnce drops the first connection without reading it.
	faultRefuseOnce fault = iota + 1
	// faultDown: nothing listens at the endpoint, for good.
	faultDown
	// fault503 answers the send with 503 and Retry-After: 600.
	fault503
	// faultTimeoutAfterReceipt stores the message, then never answers.
	faultTimeoutAfterReceipt
	// faultRetryable answers the send with a retryable protocol fault
	// (XTA SOAP fault 9030 internal error; OSCI Feedback 9809 not delivered).
	faultRetryable
	// faultPermanent answers the send with a permanent protocol fault
	// (XTA SOAP fault 9050 message not schema-valid; OSCI Feedback 9300
	// invalid order).
	faultPermanent
	// faultCorrupt answers the send with a truncated envelope.
	faultCorrupt
	// faultSlow holds the send's answer until the client has waited on it,
	// within the client's timeout.
	faultSlow
	// faultSlowBeyondTimeout holds the send's answer (without processing
	// it) until the client gives up.
	faultSlowBeyondTimeout
)

// faultTarget is one transport's test server with fault injection.
type faultTarget interface {
	// Entry is the directory entry naming the target for the reader
	// (ReaderKey, ServiceURI and Transport are filled in by the matrix).
	Entry() dvdv.Entry
	// Success is the final status of a delivered message once Finalize
	// ran (XTA: delivered by the transport report; OSCI: fetched by the
	// Laufzettel's Reception).
	Success() routing.Status
	// Inject arms the fault for the next delivery.
	Inject(f fault)
	// Received counts the messages the receiving side holds.
	Received() int
	// Held counts the answers a slow fault held back.
	Held() int
	// Finalize lets a sent message's transport report become final
	// (XTA getTransportReport; OSCI: the addressee fetches, then the
	// Laufzettel is polled) and returns how many reports it applied.
	Finalize(ctx context.Context) (int, error)
}

type targetCtor func(t *testing.T, env *env) (faultTarget, routing.Transport)

var faultTargets = map[routing.TransportKind]targetCtor{
	routing.TransportXTA:  newXTATarget,
	routing.TransportOSCI: newOSCITarget,
}

const (
	matrixHubKey    = "dvdv:dxhub"
	matrixReaderKey = "ags:05315000"
)

// xtaTarget is an xtatest server behind xtatest.Faults and a hold gate, and
// the connectors/xtaclient adapter that delivers to it.
type xtaTarget struct {
	t       *testing.T
	url     string
	backend *xtatest.MemoryBackend
	faults  *xtatest.Faults
	adapter *xtaclient.Adapter
	down    bool

	mu   sync.Mutex
	hold string // "", "slow", "beyond": how the next sendMessage is answered
	held int
}

func newXTATarget(t *testing.T, e *env) (faultTarget, routing.Transport) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	b := xtatest.NewMemoryBackend(matrixHubKey, matrixReaderKey)
	srv, err := xta.NewServer(b, xta.Config{WSDLDir: filepath.Join(testenv.MustStandardsDir(t), "xta2-v3"), BaseURL: base,
		SpoolDir: t.TempDir(), ServerIdentity: "xtatest"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux)
	x := &xtaTarget{t: t, url: base, backend: b, faults: &xtatest.Faults{Next: mux}}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(x.serve)}}
	ts.Start()
	t.Cleanup(ts.Close)
	x.adapter, err = xtaclient.New(e.store, noBlobs{}, xtaclient.Options{AuthorKey: matrixHubKey, RetryMax: -1,
		Timeout: 2 * time.Second, Clock: e.clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return x, x.adapter
}

// serve delays a sendMessage when a slow fault is armed: "slow" answers
// after slowHold (well within the client's timeout), "beyond" never answers
// and never processes the request, until the client hangs up.
func (x *xtaTarget) serve(w http.ResponseWriter, r *http.Request) {
	x.mu.Lock()
	hold := x.hold
	isSend := r.Method == http.MethodPost && strings.Contains(r.Header.Get("Content-Type")+r.Header.Get("SOAPAction"), xta.ActionSendMessage)
	if isSend && hold != "" {
		x.hold = ""
		x.held++
	}
	x.mu.Unlock()
	if isSend && hold != "" {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if hold == "beyond" {
			<-r.Context().Done()
			return
		}
		// The slowness is the injected fault itself (the peer takes its
		// time); the pipeline's schedule runs on the injected clock.
		timer := time.NewTimer(slowHold)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			return
		}
	}
	x.faults.ServeHTTP(w, r)
}

// slowHold is how long a slow endpoint takes to answer; the adapter's
// timeout in the matrix (2 s) is twenty times longer, so a loaded machine
// does not turn the slow answer into a timeout.
const slowHold = 100 * time.Millisecond

func (x *xtaTarget) Entry() dvdv.Entry {
	if x.down {
		return dvdv.Entry{URL: deadURL(x.t)}
	}
	return dvdv.Entry{URL: x.url}
}

func (x *xtaTarget) Success() routing.Status { return routing.StatusDelivered }

// deadURL is an address nothing listens at.
func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func (x *xtaTarget) Inject(f fault) {
	switch f {
	case faultRefuseOnce:
		x.faults.Inject(xta.ActionCheckAccountActive, xtatest.Fault{Kind: xtatest.Refuse})
	case faultDown:
		x.down = true
	case fault503:
		x.faults.Inject(xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.Unavailable, RetryAfter: 600})
	case faultTimeoutAfterReceipt:
		x.faults.Inject(xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.TimeoutAfterReceipt})
	case faultRetryable:
		x.faults.Inject(xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.SOAPFault, Code: 9030})
	case faultPermanent:
		x.faults.Inject(xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.SOAPFault, Code: 9050})
	case faultCorrupt:
		x.faults.Inject(xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.Corrupt})
	case faultSlow, faultSlowBeyondTimeout:
		x.mu.Lock()
		x.hold = map[fault]string{faultSlow: "slow", faultSlowBeyondTimeout: "beyond"}[f]
		x.mu.Unlock()
	}
}

func (x *xtaTarget) Received() int { return len(x.backend.Received()) }

func (x *xtaTarget) Held() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.held
}

func (x *xtaTarget) Finalize(ctx context.Context) (int, error) {
	res, err := x.adapter.PollReports(ctx, 10)
	return len(res), err
}

type noBlobs struct{}

func (noBlobs) Open(key string) (io.ReadCloser, error) { return nil, fmt.Errorf("no blob %s", key) }
func (noBlobs) Put(context.Context, io.Reader, int64) (blob.Ref, error) {
	return blob.Ref{}, errors.New("the fault matrix keeps no blobs")
}

// faultRow is one line of the matrix.
type faultRow struct {
	name  string
	fault fault
	// outcomes of the attempts in order; waits are the pipeline's delays
	// between them (backoff 1 min doubling, or the peer's Retry-After).
	outcomes []string
	waits    []time.Duration
	status   routing.Status // final status of the submission
	dead     bool           // filed as a dead letter
	received int            // messages the receiving side holds at the end
}

var faultRows = []faultRow{
	{name: "refused connection (once)", fault: faultRefuseOnce, outcomes: []string{"retry", "delivered"},
		waits: []time.Duration{time.Minute}, status: routing.StatusDelivered, received: 1},
	{name: "refused connection (endpoint down)", fault: faultDown, outcomes: []string{"retry", "retry", "retry"},
		waits: []time.Duration{time.Minute, 2 * time.Minute}, status: routing.StatusFailed, dead: true},
	{name: "503 with Retry-After", fault: fault503, outcomes: []string{"retry", "delivered"},
		waits: []time.Duration{10 * time.Minute}, status: routing.StatusDelivered, received: 1},
	{name: "timeout after receipt", fault: faultTimeoutAfterReceipt, outcomes: []string{"ambiguous", "delivered"},
		waits: []time.Duration{time.Minute}, status: routing.StatusDelivered, received: 1},
	{name: "SOAP fault retryable", fault: faultRetryable, outcomes: []string{"retry", "delivered"},
		waits: []time.Duration{time.Minute}, status: routing.StatusDelivered, received: 1},
	{name: "SOAP fault permanent", fault: faultPermanent, outcomes: []string{"permanent"},
		status: routing.StatusFailed, dead: true},
	{name: "corrupt response", fault: faultCorrupt, outcomes: []string{"ambiguous", "delivered"},
		waits: []time.Duration{time.Minute}, status: routing.StatusDelivered, received: 1},
	{name: "slow endpoint (answers within the timeout)", fault: faultSlow, outcomes: []string{"delivered"},
		status: routing.StatusDelivered, received: 1},
	{name: "slow endpoint (beyond the timeout)", fault: faultSlowBeyondTimeout, outcomes: []string{"ambiguous", "delivered"},
		waits: []time.Duration{time.Minute}, status: routing.StatusDelivered, received: 1},
}

func TestFaultMatrix(t *testing.T) {
	for kind, ctor := range faultTargets {
		for _, row := range faultRows {
			t.Run(string(kind)+"/"+row.name, func(t *testing.T) {
				runFaultRow(t, kind, ctor, row)
			})
		}
	}
}

func runFaultRow(t *testing.T, kind routing.TransportKind, ctor targetCtor, row faultRow) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := newEnv(t, fakeMapper{}, nil)
	target, transport := ctor(t, e)
	target.Inject(row.fault)
	entry := target.Entry()
	entry.ReaderKey, entry.ServiceURI, entry.Transport = matrixReaderKey, "urn:svc", string(kind)
	entries := []dvdv.Entry{entry}
	var err error
	e.pipeline, err = routing.NewPipeline(routing.PipelineConfig{
		Store: e.store, Mapper: fakeMapper{}, Resolver: mustDir(t, entries),
		Transports: map[routing.TransportKind]routing.Transport{kind: transport},
		Tenants:    map[string]routing.Tenant{"05315000": {AGS: "05315000", DVDVKey: matrixReaderKey}},
		Services:   map[string]routing.Service{"universeller-antrag": {ID: "universeller-antrag", ServiceURI: "urn:svc"}},
		AuthorKey:  matrixHubKey,
		Retry: routing.RetryPolicy{Initial: time.Minute, Max: time.Hour, Multiplier: 2, Jitter: 0, MaxAttempts: 3,
			MaxAge: 24 * time.Hour},
		Breakers: routing.BreakerPolicy{Failures: -1},
		Clock:    e.clock, Lease: time.Minute, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.submit(t, "s1")
	for i := range row.outcomes {
		if n, err := e.pipeline.RunOnce(ctx); err != nil || n == 0 {
			t.Fatalf("attempt %d: ran %d jobs (%v)", i+1, n, err)
		}
		if i < len(row.waits) {
			d, err := e.store.GetDelivery(ctx, "s1")
			if err != nil {
				t.Fatal(err)
			}
			if wait := d.NextAttemptAt.Sub(e.clock.Now()); wait != row.waits[i] {
				t.Fatalf("after attempt %d: next attempt in %s, want %s", i+1, wait, row.waits[i])
			}
			// Not due a moment before.
			e.clock.Advance(row.waits[i] - time.Second)
			if n, _ := e.pipeline.RunOnce(ctx); n != 0 {
				t.Fatalf("after attempt %d: retried before the scheduled time", i+1)
			}
			e.clock.Advance(time.Second)
		}
	}
	if n, _ := e.pipeline.RunOnce(ctx); n != 0 {
		t.Fatalf("further work after %d attempts", len(row.outcomes))
	}
	atts, err := e.store.Attempts(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range atts {
		got = append(got, a.Outcome)
	}
	if strings.Join(got, ",") != strings.Join(row.outcomes, ",") {
		t.Fatalf("attempt outcomes %v, want %v (%+v)", got, row.outcomes, atts)
	}
	want := row.status
	if row.status == routing.StatusDelivered {
		// The transport report makes "sent" final.
		if n, err := target.Finalize(ctx); err != nil || n != 1 {
			t.Fatalf("finalize: %d reports (%v)", n, err)
		}
		want = target.Success()
	}
	sub, err := e.store.GetSubmission(ctx, "s1")
	if err != nil || sub.Status != want {
		t.Fatalf("final status %s (%v), want %s; history %v", sub.Status, err, want, e.statuses(t, "s1"))
	}
	dl, err := e.store.DeadLetter(ctx, "s1")
	if isDead := err == nil; isDead != row.dead {
		t.Fatalf("dead letter %+v (%v), want dead=%v", dl, err, row.dead)
	} else if err != nil && !errors.Is(err, routing.ErrNotFound) {
		t.Fatal(err)
	}
	if slow := row.fault == faultSlow || row.fault == faultSlowBeyondTimeout; slow != (target.Held() == 1) {
		t.Fatalf("%d answers held back", target.Held())
	}
	if n := target.Received(); n != row.received {
		t.Fatalf("receiver holds %d messages, want %d", n, row.received)
	}
	t.Logf("%s: %v → %s after %d attempt(s)", row.name, got, sub.Status, len(got))
}
