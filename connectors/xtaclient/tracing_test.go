package xtaclient_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/dxhub/dxhub/connectors/xtaclient"
	"github.com/dxhub/dxhub/internal/tracing"
	"github.com/dxhub/dxhub/routing"
)

// seenRequests records the outbound requests as they reach the network.
type seenRequests struct {
	mu   sync.Mutex
	next http.RoundTripper
	reqs []struct {
		header http.Header
		body   []byte
	}
}

func (s *seenRequests) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, struct {
		header http.Header
		body   []byte
	}{r.Header.Clone(), body})
	s.mu.Unlock()
	return s.next.RoundTrip(r)
}

// With the tracing transport wrapped in, every SOAP request of a delivery
// carries the delivery span's traceparent as an HTTP header, never in the
// SOAP body.
func TestDeliverPropagatesTraceContext(t *testing.T) {
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	f := newFixture(t)
	r := startRemote(t, false)
	seen := &seenRequests{}
	a := f.adapter(t, xtaclient.Options{WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
		seen.next = rt
		return tracing.Transport(seen)
	}})
	sc := tracing.ParseTraceParent("00-" + traceID + "-00f067aa0ba902b7-01")
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	if out := a.Deliver(ctx, f.delivery(r.url, ""), f.msg, f.sub); out.Kind != routing.Delivered {
		t.Fatalf("outcome %+v", out)
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	if len(seen.reqs) == 0 {
		t.Fatal("no requests seen")
	}
	for i, req := range seen.reqs {
		if got := req.header.Get("Traceparent"); got != "00-"+traceID+"-00f067aa0ba902b7-01" {
			t.Errorf("request %d (%s): traceparent %q", i, req.header.Get("Content-Type"), got)
		}
		if strings.Contains(string(req.body), traceID) {
			t.Errorf("request %d carries the trace ID in its body", i)
		}
	}
}
