// Package servicekontotest is a Servicekonto (BundID-style Postfach) test
// server: it records messages and status reports, de-duplicates by
// Idempotency-Key like the real service, requires a client certificate when
// started with TLS, and injects faults.
package servicekontotest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/dxhub/dxhub/connectors/servicekonto"
)

// Server is a running test Postfach.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	messages map[string][]servicekonto.Message
	reports  []servicekonto.StatusReport
	keys     map[string]int // Idempotency-Key → calls seen
	calls    int
	fail     []int // status codes for the next calls
	lose     int   // store the next calls, then drop the connection unanswered
	known    map[string]bool
}

// MaxBody is the largest request the server reads (attachments travel as
// base64 inside the JSON message).
const MaxBody = 64 << 20

// LoseNextResponses makes the server store the next n calls and then drop
// the connection without an answer, as if the response got lost: the
// client retries with the same Idempotency-Key and must not create copies.
func (s *Server) LoseNextResponses(n int) {
	s.mu.Lock()
	s.lose += n
	s.mu.Unlock()
}

// NewTLS starts a server on 127.0.0.1 that requires client certificates
// signed by clientCAs, serving with cert.
func NewTLS(cert tls.Certificate, clientCAs *x509.CertPool) *Server {
	s := newServer()
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: clientCAs,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	s.StartTLS()
	return s
}

// New starts a plain-HTTP server on 127.0.0.1.
func New() *Server {
	s := newServer()
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func newServer() *Server {
	return &Server{messages: map[string][]servicekonto.Message{}, keys: map[string]int{}}
}

// FailNext makes the next calls answer with the given status codes in turn.
func (s *Server) FailNext(codes ...int) {
	s.mu.Lock()
	s.fail = append(s.fail, codes...)
	s.mu.Unlock()
}

// KnownMailboxes restricts the accepted handles; others get 404.
func (s *Server) KnownMailboxes(handles ...string) {
	s.mu.Lock()
	s.known = map[string]bool{}
	for _, h := range handles {
		s.known[h] = true
	}
	s.mu.Unlock()
}

// Messages returns the stored messages of a handle.
func (s *Server) Messages(handle string) []servicekonto.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]servicekonto.Message(nil), s.messages[handle]...)
}

// Reports returns the stored status reports.
func (s *Server) Reports() []servicekonto.StatusReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]servicekonto.StatusReport(nil), s.reports...)
}

// Calls returns how many requests arrived (including failed and repeated ones).
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if len(s.fail) > 0 {
		code := s.fail[0]
		s.fail = s.fail[1:]
		http.Error(w, "injected fault", code)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if r.Method != http.MethodPost || key == "" {
		http.Error(w, "POST with Idempotency-Key required", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > MaxBody {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	if s.keys[key] > 0 {
		s.keys[key]++
		w.WriteHeader(http.StatusOK) // already stored: same answer, no second copy
		return
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/mailboxes/") && strings.HasSuffix(r.URL.Path, "/messages"):
		handle := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/mailboxes/"), "/messages")
		if s.known != nil && !s.known[handle] {
			http.Error(w, "unknown mailbox", http.StatusNotFound)
			return
		}
		var m servicekonto.Message
		if err := json.Unmarshal(body, &m); err != nil || m.Title == "" || m.Content == "" {
			http.Error(w, "message needs title and content", http.StatusBadRequest)
			return
		}
		s.messages[handle] = append(s.messages[handle], m)
	case r.URL.Path == "/status-reports":
		var rep servicekonto.StatusReport
		if err := json.Unmarshal(body, &rep); err != nil || rep.Status == "" {
			http.Error(w, "status report needs a status", http.StatusBadRequest)
			return
		}
		s.reports = append(s.reports, rep)
	default:
		http.NotFound(w, r)
		return
	}
	s.keys[key] = 1
	if s.lose > 0 {
		s.lose--
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	w.WriteHeader(http.StatusCreated)
}
