package xtatest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"

	"github.com/dxhub/dxhub/xta"
)

// FaultKind is a failure the fake remote server injects.
type FaultKind int

// Injectable faults (DESIGN §7).
const (
	// Refuse drops the connection without reading the request.
	Refuse FaultKind = iota + 1
	// Unavailable answers 503 with Retry-After and a non-SOAP body.
	Unavailable
	// TimeoutAfterReceipt processes the request completely (a sendMessage is
	// stored), then never answers until the client gives up.
	TimeoutAfterReceipt
	// SOAPFault answers with the XTA fault Code.
	SOAPFault
	// Corrupt answers 200 with a truncated SOAP envelope.
	Corrupt
)

// Fault is one injected failure.
type Fault struct {
	Kind       FaultKind
	Code       int // SOAPFault: the Fehlernummer
	RetryAfter int // Unavailable: seconds in Retry-After
}

// Faults is an http.Handler middleware in front of an XTA server that
// injects queued faults per SOAP action, in order, one per request.
type Faults struct {
	Next http.Handler

	mu     sync.Mutex
	queue  map[string][]Fault
	counts map[string]int
	ctypes map[string]string
}

// ContentType returns the Content-Type of the last request with action.
func (f *Faults) ContentType(action string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ctypes[action]
}

// Inject queues faults for the next requests with action.
func (f *Faults) Inject(action string, faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.queue == nil {
		f.queue = map[string][]Fault{}
	}
	f.queue[action] = append(f.queue[action], faults...)
}

// Requests returns how many POST requests with action arrived.
func (f *Faults) Requests(action string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[action]
}

func actionOf(r *http.Request) string {
	if a := strings.Trim(strings.TrimSpace(r.Header.Get("SOAPAction")), `"`); a != "" {
		return a
	}
	ct := r.Header.Get("Content-Type")
	if i := strings.Index(ct, `action=`); i >= 0 {
		a := ct[i+len("action="):]
		a = strings.TrimLeft(a, `"\`)
		if j := strings.IndexAny(a, `"\;`); j >= 0 {
			a = a[:j]
		}
		return a
	}
	return ""
}

func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		f.Next.ServeHTTP(w, r)
		return
	}
	action := actionOf(r)
	f.mu.Lock()
	if f.counts == nil {
		f.counts = map[string]int{}
	}
	f.counts[action]++
	if f.ctypes == nil {
		f.ctypes = map[string]string{}
	}
	f.ctypes[action] = r.Header.Get("Content-Type")
	var fault *Fault
	if q := f.queue[action]; len(q) > 0 {
		fault, f.queue[action] = &q[0], q[1:]
	}
	f.mu.Unlock()
	if fault == nil {
		f.Next.ServeHTTP(w, r)
		return
	}
	switch fault.Kind {
	case Refuse:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case Unavailable:
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Retry-After", strconv.Itoa(fault.RetryAfter))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "maintenance")
	case TimeoutAfterReceipt:
		rec := httptest.NewRecorder()
		f.Next.ServeHTTP(rec, r)
		<-r.Context().Done() // the client times out and closes the connection
	case SOAPFault:
		_, _ = io.Copy(io.Discard, r.Body)
		var buf bytes.Buffer
		x := xta.NewWriter(&buf)
		x.StartEnvelope(xta.Addressing{Action: action, To: xta.AnonymousAddress}, nil)
		flt := xta.NewFault(fault.Code, "")
		x.WriteFault(flt)
		x.EndEnvelope()
		_ = x.Flush()
		w.Header().Set("Content-Type", xta.ContentTypeSOAP12)
		status := http.StatusBadRequest
		if flt.SOAPCode != "Sender" {
			status = http.StatusInternalServerError
		}
		w.WriteHeader(status)
		_, _ = w.Write(buf.Bytes())
	case Corrupt:
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", xta.ContentTypeSOAP12)
		_, _ = io.WriteString(w, `<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><broken`)
	}
}
