package dvdv

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dxhub/dxhub/routing"
)

// ErrUnavailable is matched (errors.Is) by every error that means "no DVDV
// server gave a usable answer": transport errors, 5xx and malformed bodies on
// all servers. Such errors are transient; the cache serves its last good
// answer while they last.
var ErrUnavailable = errors.New("dvdv unavailable")

// InvalidEntryError says that DVDV knows the pair but only with an invalid
// (expired or not yet valid) service: findservicedescription answered 204
// with a dvdv-warning-msg header. It matches routing.ErrNotFound.
type InvalidEntryError struct {
	ReaderKey, ServiceURI string
	// Warning is the decoded dvdv-warning-msg text.
	Warning string
}

func (e *InvalidEntryError) Error() string {
	return fmt.Sprintf("dvdv: only an invalid entry exists for organisation %q and service %q: %s", e.ReaderKey, e.ServiceURI, e.Warning)
}

// Is makes errors.Is(err, routing.ErrNotFound) hold.
func (e *InvalidEntryError) Is(target error) bool { return target == routing.ErrNotFound }

// NoEntryError says that a lookup other than findservicedescription found
// nothing (204 or a 404 problem). It matches routing.ErrNotFound.
type NoEntryError struct {
	Op    string
	Query string // the request_json sent
}

func (e *NoEntryError) Error() string {
	return fmt.Sprintf("dvdv: %s found nothing for %s", e.Op, e.Query)
}

// Is makes errors.Is(err, routing.ErrNotFound) hold.
func (e *NoEntryError) Is(target error) bool { return target == routing.ErrNotFound }

// ProblemError is a DVDV answer with an unexpected HTTP status, usually with
// an application/problem+json body. 4xx answers are final: no other server is
// asked. 5xx answers make the client fail over and end up inside an
// *UnavailableError.
type ProblemError struct {
	Op         string
	Server     string
	HTTPStatus int
	// Problem is the decoded problem+json body; zero if there was none.
	Problem Problem
	// Body is an excerpt of a body that was not problem+json.
	Body string
}

func (e *ProblemError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dvdv: %s at %s: HTTP %d", e.Op, e.Server, e.HTTPStatus)
	if e.Problem.Title != "" {
		b.WriteString(": " + e.Problem.Title)
	}
	if e.Problem.Detail != "" {
		b.WriteString(": " + e.Problem.Detail)
	}
	if e.Problem.Type != "" {
		b.WriteString(" (" + e.Problem.Type + ")")
	}
	if e.Problem == (Problem{}) && e.Body != "" {
		b.WriteString(": " + e.Body)
	}
	return b.String()
}

// Temporary reports whether the status is a server fault (5xx, 429).
func (e *ProblemError) Temporary() bool { return e.HTTPStatus >= 500 || e.HTTPStatus == 429 }

// ServerFailure is what one server did wrong within an *UnavailableError.
type ServerFailure struct {
	Server string
	Err    error
}

// UnavailableError says that no server gave a usable answer. It matches
// ErrUnavailable and unwraps to every server's error.
type UnavailableError struct {
	Op       string
	Failures []ServerFailure
}

func (e *UnavailableError) Error() string {
	parts := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		parts[i] = f.Server + ": " + f.Err.Error()
	}
	return fmt.Sprintf("dvdv: %s: no DVDV server answered (%s)", e.Op, strings.Join(parts, "; "))
}

// Unwrap returns every server's error.
func (e *UnavailableError) Unwrap() []error {
	out := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		out[i] = f.Err
	}
	return out
}

// Is makes errors.Is(err, ErrUnavailable) hold.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// RouteError says that DVDV's answer cannot be turned into a route: no usable
// service element, a missing, unparsable or expired certificate. It names the
// service so an operator can tell the directory's operator what is wrong.
type RouteError struct {
	ReaderKey, ServiceURI string
	Reason                string
	Err                   error
}

func (e *RouteError) Error() string {
	s := fmt.Sprintf("dvdv: unusable entry for organisation %q and service %q: %s", e.ReaderKey, e.ServiceURI, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *RouteError) Unwrap() error { return e.Err }

// isDefinitive reports whether err is a final answer from DVDV (not found, a
// 4xx problem) rather than a failure to get one.
func isDefinitive(err error) bool {
	if errors.Is(err, routing.ErrNotFound) {
		return true
	}
	var pe *ProblemError
	return errors.As(err, &pe) && !pe.Temporary()
}
