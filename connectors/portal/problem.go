package portal

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Problem codes. Each code is stable: clients may switch on it, and the problem
// type URI is ProblemTypePrefix + code.
const (
	CodeUnauthorized          = "unauthorized"
	CodeForbiddenTenant       = "forbidden-tenant"
	CodeUnknownTenant         = "unknown-tenant"
	CodeUnknownService        = "unknown-service"
	CodeMalformedJSON         = "malformed-json"
	CodeMalformedMultipart    = "malformed-multipart"
	CodeMissingField          = "missing-field"
	CodeInvalidField          = "invalid-field"
	CodeInvalidFilename       = "invalid-filename"
	CodeUnknownField          = "unknown-field"
	CodeTooDeep               = "too-deep"
	CodeTooLarge              = "too-large"
	CodeUnsupportedMediaType  = "unsupported-media-type"
	CodeIdempotencyConflict   = "idempotency-conflict"
	CodeInvalidIdempotencyKey = "invalid-idempotency-key"
	CodeNotFound              = "not-found"
	CodeNotReady              = "not-ready"
	CodeInternal              = "internal"
	CodeRateLimited           = "rate-limited"
)

// ProblemTypePrefix starts every problem type URI.
const ProblemTypePrefix = "urn:dxhub:problem:"

const (
	problemContentType         = "application/problem+json"
	wwwAuthenticate            = `Bearer realm="dxhub"`
	wwwAuthenticateInvalidTok  = `Bearer realm="dxhub", error="invalid_token"`
	maxProblemErrorsInResponse = 50
)

// codeInfo gives each code its title and default HTTP status.
var codeInfo = map[string]struct {
	title  string
	status int
}{
	CodeUnauthorized:          {"Missing or invalid API key", http.StatusUnauthorized},
	CodeForbiddenTenant:       {"Portal not allowed for this tenant", http.StatusForbidden},
	CodeUnknownTenant:         {"Unknown tenant", http.StatusUnprocessableEntity},
	CodeUnknownService:        {"Unknown service", http.StatusUnprocessableEntity},
	CodeMalformedJSON:         {"Malformed JSON", http.StatusBadRequest},
	CodeMalformedMultipart:    {"Malformed multipart body", http.StatusBadRequest},
	CodeMissingField:          {"Missing field", http.StatusUnprocessableEntity},
	CodeInvalidField:          {"Invalid field", http.StatusUnprocessableEntity},
	CodeInvalidFilename:       {"Invalid attachment filename", http.StatusBadRequest},
	CodeUnknownField:          {"Unknown field", http.StatusBadRequest},
	CodeTooDeep:               {"JSON nested too deeply", http.StatusBadRequest},
	CodeTooLarge:              {"Request too large", http.StatusRequestEntityTooLarge},
	CodeUnsupportedMediaType:  {"Unsupported media type", http.StatusUnsupportedMediaType},
	CodeIdempotencyConflict:   {"Idempotency key reused with a different request", http.StatusConflict},
	CodeInvalidIdempotencyKey: {"Invalid Idempotency-Key header", http.StatusBadRequest},
	CodeNotFound:              {"Not found", http.StatusNotFound},
	CodeNotReady:              {"Not ready", http.StatusServiceUnavailable},
	CodeInternal:              {"Internal error", http.StatusInternalServerError},
	CodeRateLimited:           {"Too many requests", http.StatusTooManyRequests},
}

// Problem is an RFC 9457 problem detail. It doubles as the error type of the
// intake decoder, so every decoding outcome carries its HTTP status and code.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	// Field is a JSON pointer (RFC 6901) into the submission JSON, "" for the
	// whole document; omitted when the problem concerns no field.
	Field *string `json:"field,omitempty"`
	// Line, Column (1-based, bytes) and Offset (0-based byte offset) locate a
	// JSON syntax error.
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Offset *int64 `json:"offset,omitempty"`
	// Errors lists every field problem when several were found at once.
	Errors []FieldError `json:"errors,omitempty"`

	retryAfter int // seconds, sent as Retry-After (429)
}

// FieldError is one entry of Problem.Errors.
type FieldError struct {
	Field  string `json:"field"` // JSON pointer
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// Error implements error.
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.Code)
	b.WriteString(": ")
	b.WriteString(p.Detail)
	return b.String()
}

// newProblem builds a problem with the code's title and default status.
func newProblem(code, format string, args ...any) *Problem {
	info, ok := codeInfo[code]
	if !ok {
		info = codeInfo[CodeInternal]
	}
	return &Problem{
		Type:   ProblemTypePrefix + code,
		Title:  info.title,
		Status: info.status,
		Detail: fmt.Sprintf(format, args...),
		Code:   code,
	}
}

// fieldProblem is newProblem with a JSON pointer.
func fieldProblem(code, field, format string, args ...any) *Problem {
	p := newProblem(code, format, args...)
	p.Field = &field
	return p
}

// writeProblem sends p as application/problem+json.
func writeProblem(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	h.Set("Content-Type", problemContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if p.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	if p.Status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", wwwAuthenticate)
	}
	if len(p.Errors) > maxProblemErrorsInResponse {
		cp := *p
		cp.Errors = cp.Errors[:maxProblemErrorsInResponse]
		p = &cp
	}
	b, err := json.Marshal(p)
	if err != nil {
		// A Problem holds only strings and numbers; this cannot fail.
		b = []byte(`{"type":"urn:dxhub:problem:internal","title":"Internal error","status":500,"code":"internal"}`)
	}
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n'))
}
