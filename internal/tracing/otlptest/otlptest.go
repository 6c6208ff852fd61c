// Package otlptest is an OTLP/HTTP trace receiver for tests: it decodes the
// protobuf export requests itself (go.opentelemetry.io/proto/otlp), an
// independent check that what dxhub exports is real OTLP.
package otlptest

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// Path is the OTLP/HTTP traces path.
const Path = "/v1/traces"

// Span is one received span, flattened.
type Span struct {
	Service      string // resource attribute service.name
	Scope        string
	TraceID      string
	SpanID       string
	ParentSpanID string
	Name         string
	Kind         string
	StatusCode   string // STATUS_CODE_OK, STATUS_CODE_ERROR, STATUS_CODE_UNSET
	StatusMsg    string
	Attributes   map[string]string
	Links        []string // trace IDs of linked spans
}

// Receiver accepts OTLP/HTTP protobuf export requests on 127.0.0.1.
type Receiver struct {
	*httptest.Server
	mu       sync.Mutex
	spans    []Span
	headers  []http.Header
	problems []string
}

// New starts a plain-HTTP receiver; use NewUnstarted for TLS.
func New() *Receiver {
	r := NewUnstarted()
	r.Start()
	return r
}

// NewUnstarted returns a receiver whose server is not started yet (set
// r.TLS and call StartTLS for HTTPS).
func NewUnstarted() *Receiver {
	r := &Receiver{}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(r.handle))
	return r
}

// Endpoint returns the traces endpoint URL.
func (r *Receiver) Endpoint() string { return r.Server.URL + Path }

func (r *Receiver) fail(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.problems = append(r.problems, msg)
	r.mu.Unlock()
	http.Error(w, msg, status)
}

func (r *Receiver) handle(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != Path {
		r.fail(w, http.StatusNotFound, "unexpected %s %s", req.Method, req.URL.Path)
		return
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		r.fail(w, http.StatusUnsupportedMediaType, "Content-Type %q, want application/x-protobuf", ct)
		return
	}
	var body io.Reader = req.Body
	switch enc := req.Header.Get("Content-Encoding"); enc {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			r.fail(w, http.StatusBadRequest, "gzip: %v", err)
			return
		}
		body = zr
	default:
		r.fail(w, http.StatusBadRequest, "Content-Encoding %q", enc)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(body, 32<<20))
	if err != nil {
		r.fail(w, http.StatusBadRequest, "read: %v", err)
		return
	}
	var ex coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &ex); err != nil {
		r.fail(w, http.StatusBadRequest, "not an ExportTraceServiceRequest: %v", err)
		return
	}
	var got []Span
	for _, rs := range ex.GetResourceSpans() {
		service := attrs(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				sp := Span{Service: service, Scope: ss.GetScope().GetName(), TraceID: hex.EncodeToString(s.GetTraceId()),
					SpanID: hex.EncodeToString(s.GetSpanId()), Name: s.GetName(), Kind: s.GetKind().String(),
					StatusCode: s.GetStatus().GetCode().String(), StatusMsg: s.GetStatus().GetMessage(),
					Attributes: attrs(s.GetAttributes())}
				if p := s.GetParentSpanId(); len(p) > 0 {
					sp.ParentSpanID = hex.EncodeToString(p)
				}
				for _, l := range s.GetLinks() {
					sp.Links = append(sp.Links, hex.EncodeToString(l.GetTraceId()))
				}
				got = append(got, sp)
			}
		}
	}
	r.mu.Lock()
	r.spans = append(r.spans, got...)
	r.headers = append(r.headers, req.Header.Clone())
	r.mu.Unlock()
	resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(resp)
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		v := kv.GetValue()
		switch {
		case v.GetStringValue() != "":
			m[kv.GetKey()] = v.GetStringValue()
		default:
			switch x := v.GetValue().(type) {
			case *commonpb.AnyValue_IntValue:
				m[kv.GetKey()] = fmt.Sprint(x.IntValue)
			case *commonpb.AnyValue_BoolValue:
				m[kv.GetKey()] = fmt.Sprint(x.BoolValue)
			case *commonpb.AnyValue_DoubleValue:
				m[kv.GetKey()] = fmt.Sprint(x.DoubleValue)
			default:
				m[kv.GetKey()] = ""
			}
		}
	}
	return m
}

// Spans returns the spans received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Headers returns the headers of every accepted export request.
func (r *Receiver) Headers() []http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]http.Header(nil), r.headers...)
}

// Problems lists the requests the receiver refused (and why).
func (r *Receiver) Problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.problems...)
}
