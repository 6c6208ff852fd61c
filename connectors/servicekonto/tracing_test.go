package servicekonto_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/dxhub/dxhub/connectors/servicekonto"
	"github.com/dxhub/dxhub/internal/tracing"
	"github.com/dxhub/dxhub/routing"
)

// headerSeen records the traceparent of every request the client sends.
type headerSeen struct {
	mu   sync.Mutex
	next http.RoundTripper
	tps  []string
}

func (h *headerSeen) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.tps = append(h.tps, r.Header.Get("Traceparent"))
	h.mu.Unlock()
	return h.next.RoundTrip(r)
}

// Each Postfach message is a status.postfach span in the submission's trace
// (looked up in the store; a submission not traced at intake gets a new
// trace), and its calls to the Servicekonto (over mTLS) carry that span's
// traceparent.
func TestPostfachTraceContext(t *testing.T) {
	ctx := context.Background()
	srv, cfg := mtlsSetup(t)
	seen := &headerSeen{}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { seen.next = rt; return tracing.Transport(seen) }
	c, err := servicekonto.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t) // s1 with two events, not traced at intake
	const portalTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	if _, _, err := st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: "s2", PortalID: "p",
		Tenant: "05315000", Service: "universeller-antrag", Reference: "KP-2", Applicant: routing.Applicant{Name: "Erika", Mailbox: "mb-erika"},
		Form: []byte(`{}`), ReceivedAt: time.Now(), TraceParent: "00-" + portalTrace + "-00f067aa0ba902b7-01"}}); err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(ctx)
	d := &servicekonto.Dispatcher{Store: st, Sink: c, Texts: servicekonto.DefaultTexts(), Clock: fixed(time.Now()),
		Tracer: tracing.NewTracer(tp, st, nil)}
	if n, err := d.RunOnce(ctx); err != nil || n != 3 {
		t.Fatalf("dispatch: %d %v", n, err)
	}
	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans", len(spans))
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	if len(seen.tps) < 3 {
		t.Fatalf("%d calls seen", len(seen.tps))
	}
	byTP := map[string]bool{}
	for _, tp := range seen.tps {
		byTP[tp] = true
	}
	for _, s := range spans {
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		if s.Name() != string(routing.StagePostfach) || s.Status().Code.String() != "Ok" {
			t.Fatalf("span %s %v %v", s.Name(), attrs, s.Status())
		}
		inPortalTrace := s.SpanContext().TraceID().String() == portalTrace && s.Parent().SpanID().String() == "00f067aa0ba902b7"
		if inPortalTrace != (attrs[tracing.AttrSubmission] == "s2") {
			t.Fatalf("span of %s: trace %s parent %s", attrs[tracing.AttrSubmission], s.SpanContext().TraceID(), s.Parent().SpanID())
		}
		if want := "00-" + s.SpanContext().TraceID().String() + "-" + s.SpanContext().SpanID().String() + "-01"; !byTP[want] {
			t.Fatalf("no call carried %s (seen %v)", want, seen.tps)
		}
	}
	if len(srv.Messages("mb-erika")) != 3 {
		t.Fatalf("messages = %+v", srv.Messages("mb-erika"))
	}
}
