package dvdv

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/dxhub/dxhub/routing"
)

// Entry paths (dvdv-api.yaml, entryPath).
const (
	EntryIntern         = "intern/directory"                  // data-centre internal, no authentication
	EntryStandaloneAuth = "extern/standaloneauth/directory"   // token from the DVDV server (default)
	EntryBundesmaster   = "extern/bundesmasterauth/directory" // IAM of the Bundesmaster (not supported)
)

// WarningHeader carries the RFC 2047 encoded warning of a 204 answer.
const WarningHeader = "dvdv-warning-msg"

// maxBody bounds a DVDV answer (a service carries its WSDL, up to 64 KiB).
const maxBody = 8 << 20

// ClientOptions configures a Client.
type ClientOptions struct {
	// Servers are the base URLs of the DVDV servers up to and including
	// "/dvdv2-backend", e.g. "https://dvdv.example/dvdv2-backend", in order
	// of preference. The client sticks to the last server that answered and
	// moves to the next on transport errors, 5xx and malformed answers.
	Servers []string
	// EntryPath is EntryStandaloneAuth (default) or EntryIntern.
	EntryPath string
	// Certificate and Key are the hub's DVDV client certificate and its RSA
	// key; required for EntryStandaloneAuth.
	Certificate *x509.Certificate
	Key         crypto.Signer
	// Timeout bounds one HTTP attempt (default 10s); CallTimeout bounds one
	// operation including retries and failover (default 30s).
	Timeout     time.Duration
	CallTimeout time.Duration
	// RetryMax is the number of retries on the same server before failing
	// over (default 1; negative means none). Retried are transport errors,
	// 429, 500, 502, 503 and 504; RetryWaitMin/Max bound the exponential
	// backoff between them (defaults 200ms and 2s; Retry-After is honoured).
	RetryMax     int
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
	// TokenRefreshMargin is how long before expiresIn a token is replaced
	// (default 60s, at most half the token's lifetime).
	TokenRefreshMargin time.Duration
	// Transport is the HTTP transport (default: a clone of
	// http.DefaultTransport); set it for custom TLS roots.
	Transport http.RoundTripper
	Clock     routing.Clock
	Logger    *slog.Logger
}

// Client talks to the DVDV2 Directory REST API. It is safe for concurrent use.
type Client struct {
	opts      ClientOptions
	http      *retryablehttp.Client
	servers   []*server
	active    atomic.Int64
	failovers atomic.Int64
	log       *slog.Logger
}

type server struct {
	base string
	mu   sync.Mutex
	tok  string
	// refreshAt is when the token is replaced (expiresIn minus the margin).
	refreshAt time.Time
	tokens    atomic.Int64 // tokens fetched
}

// NewClient checks the options and returns a client.
func NewClient(opts ClientOptions) (*Client, error) {
	if len(opts.Servers) == 0 {
		return nil, errors.New("dvdv: at least one server is needed")
	}
	if opts.EntryPath == "" {
		opts.EntryPath = EntryStandaloneAuth
	}
	switch opts.EntryPath {
	case EntryIntern:
	case EntryStandaloneAuth:
		if opts.Certificate == nil || opts.Key == nil {
			return nil, errors.New("dvdv: standalone authentication needs the client certificate and its key")
		}
		if _, err := SignAssertion(opts.Certificate, opts.Key, "check", time.Now(), time.Minute); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("dvdv: entry path %q is not supported (want %s or %s)", opts.EntryPath, EntryStandaloneAuth, EntryIntern)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 30 * time.Second
	}
	if opts.RetryMax == 0 {
		opts.RetryMax = 1
	} else if opts.RetryMax < 0 {
		opts.RetryMax = 0
	}
	if opts.RetryWaitMin <= 0 {
		opts.RetryWaitMin = 200 * time.Millisecond
	}
	if opts.RetryWaitMax < opts.RetryWaitMin {
		opts.RetryWaitMax = max(2*time.Second, opts.RetryWaitMin)
	}
	if opts.TokenRefreshMargin <= 0 {
		opts.TokenRefreshMargin = time.Minute
	}
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if opts.Clock == nil {
		opts.Clock = routing.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Client{opts: opts, log: opts.Logger}
	for _, s := range opts.Servers {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("dvdv: server %q is not an http(s) URL", s)
		}
		c.servers = append(c.servers, &server{base: strings.TrimRight(s, "/")})
	}
	c.http = &retryablehttp.Client{
		HTTPClient:   &http.Client{Transport: opts.Transport, Timeout: opts.Timeout},
		Logger:       debugLogger{opts.Logger},
		RetryWaitMin: opts.RetryWaitMin,
		RetryWaitMax: opts.RetryWaitMax,
		RetryMax:     opts.RetryMax,
		CheckRetry:   checkRetry,
		Backoff:      retryablehttp.DefaultBackoff,
		// Return the last response (5xx with its problem body) instead of
		// "giving up after n attempts" without it (GO-LIBRARIES §1.6).
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return c, nil
}

// checkRetry is the retry policy on one server: transport errors (except
// certificate errors and cancellation) and 429/500/502/503/504 are retried;
// everything else is an answer.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		var (
			ua x509.UnknownAuthorityError
			ci x509.CertificateInvalidError
			he x509.HostnameError
		)
		if errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &he) {
			return false, err
		}
		return true, nil
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true, nil
	}
	return false, nil
}

// debugLogger adapts slog to retryablehttp's LeveledLogger, at debug level:
// the client reports what matters (failover, unavailability) itself.
type debugLogger struct{ l *slog.Logger }

func (d debugLogger) Error(msg string, kv ...any) { d.l.Debug("dvdv http: "+msg, kv...) }
func (d debugLogger) Info(msg string, kv ...any)  { d.l.Debug("dvdv http: "+msg, kv...) }
func (d debugLogger) Debug(msg string, kv ...any) { d.l.Debug("dvdv http: "+msg, kv...) }
func (d debugLogger) Warn(msg string, kv ...any)  { d.l.Debug("dvdv http: "+msg, kv...) }

// Servers returns the configured server base URLs.
func (c *Client) Servers() []string {
	out := make([]string, len(c.servers))
	for i, s := range c.servers {
		out[i] = s.base
	}
	return out
}

// ActiveServer returns the server the client currently sticks to.
func (c *Client) ActiveServer() string { return c.servers[c.active.Load()].base }

// Failovers returns how often the client moved to another server.
func (c *Client) Failovers() int64 { return c.failovers.Load() }

// TokensFetched returns how many access tokens the client fetched in all.
func (c *Client) TokensFetched() int64 {
	var n int64
	for _, s := range c.servers {
		n += s.tokens.Load()
	}
	return n
}

// answer is one server's HTTP answer.
type answer struct {
	status int
	body   []byte
	header http.Header
	server string
}

// request is one operation's HTTP request.
type request struct {
	op     string // operation name for errors, e.g. "findservicedescription"
	fn     string // path below v2/, e.g. "findservicedescription", "batch/verifycategory"
	query  []byte // request_json for GET
	body   []byte // JSON body for POST (batch)
	decode func(answer) error
}

// call runs req on the servers, starting with the active one, and returns the
// server that answered. decode sees every 200/204/4xx answer; a *DecodeError
// from it counts as a server fault like a 5xx.
func (c *Client) call(ctx context.Context, req request) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	n := len(c.servers)
	start := int(c.active.Load())
	var fails []ServerFailure
	for k := range n {
		i := (start + k) % n
		s := c.servers[i]
		a, err := c.try(ctx, s, req)
		if err == nil && (a.status >= 500 || a.status == http.StatusTooManyRequests) {
			err = problemFrom(req.op, a)
		}
		if err == nil {
			err = req.decode(a)
			var de *DecodeError
			if errors.As(err, &de) {
				de.Server = s.base
			} else {
				c.stick(start, i)
				return s.base, err
			}
		}
		if isDefinitive(err) {
			// 4xx from the token endpoint (e.g. unknown client certificate).
			c.stick(start, i)
			return s.base, err
		}
		fails = append(fails, ServerFailure{s.base, err})
		if ctx.Err() != nil {
			break
		}
		c.log.Warn("dvdv server failed", "op", req.op, "server", s.base, "err", err)
	}
	return "", &UnavailableError{Op: req.op, Failures: fails}
}

// stick makes server i the active one if the call started elsewhere.
func (c *Client) stick(start, i int) {
	if i == start {
		return
	}
	if c.active.CompareAndSwap(int64(start), int64(i)) {
		c.failovers.Add(1)
		c.log.Warn("dvdv failover", "from", c.servers[start].base, "to", c.servers[i].base)
	}
}

// try sends req to one server, with a token if needed, re-fetching the token
// once on 401.
func (c *Client) try(ctx context.Context, s *server, req request) (answer, error) {
	auth := c.opts.EntryPath == EntryStandaloneAuth
	var tok string
	if auth {
		var err error
		if tok, err = c.token(ctx, s, ""); err != nil {
			return answer{}, err
		}
	}
	a, err := c.send(ctx, s, req, tok)
	if err != nil || !auth || a.status != http.StatusUnauthorized {
		return a, err
	}
	c.log.Info("dvdv token rejected; fetching a new one", "server", s.base, "op", req.op)
	if tok, err = c.token(ctx, s, tok); err != nil {
		return answer{}, err
	}
	return c.send(ctx, s, req, tok)
}

func (c *Client) send(ctx context.Context, s *server, req request, tok string) (answer, error) {
	u := s.base + "/" + c.opts.EntryPath + "/v2/" + req.fn
	method := http.MethodGet
	var body any
	if req.body != nil {
		method, body = http.MethodPost, req.body
	} else {
		u += "?request_json=" + url.QueryEscape(string(req.query))
	}
	hr, err := retryablehttp.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return answer{}, err
	}
	hr.Header.Set("Accept", "application/json, application/problem+json")
	if body != nil {
		hr.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if tok != "" {
		hr.Header.Set("Authorization", AuthScheme+" "+tok)
	}
	return c.do(hr, s.base)
}

func (c *Client) do(hr *retryablehttp.Request, base string) (answer, error) {
	resp, err := c.http.Do(hr)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return answer{}, fmt.Errorf("read response: %w", err)
	}
	if len(b) > maxBody {
		return answer{}, fmt.Errorf("response exceeds %d bytes", maxBody)
	}
	return answer{status: resp.StatusCode, body: b, header: resp.Header, server: base}, nil
}

// token returns a valid token for s. rejected is a token the server refused;
// if it is still the cached one, a new one is fetched.
func (c *Client) token(ctx context.Context, s *server, rejected string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := c.opts.Clock.Now()
	if s.tok != "" && s.tok != rejected && now.Before(s.refreshAt) {
		return s.tok, nil
	}
	s.tok = ""
	tokenURL := s.base + "/" + TokenPath
	assertion, err := SignAssertion(c.opts.Certificate, c.opts.Key, tokenURL, now, 5*time.Minute)
	if err != nil {
		return "", err
	}
	form := url.Values{"grant_type": {GrantType}, "client_assertion_type": {ClientAssertionType}, "client_assertion": {assertion}}
	hr, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, tokenURL, []byte(form.Encode()))
	if err != nil {
		return "", err
	}
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hr.Header.Set("Accept", "application/json, application/problem+json")
	a, err := c.do(hr, s.base)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	if a.status != http.StatusOK {
		return "", problemFrom("token", a)
	}
	t, err := DecodeAccessToken(a.body)
	if err != nil {
		return "", err
	}
	life := time.Duration(t.ExpiresIn) * time.Second
	margin := min(c.opts.TokenRefreshMargin, life/2)
	s.tok, s.refreshAt = t.AccessToken, now.Add(life-margin)
	s.tokens.Add(1)
	c.log.Debug("dvdv token fetched", "server", s.base, "expires_in", life)
	return s.tok, nil
}

// problemFrom turns a non-2xx answer into a *ProblemError.
func problemFrom(op string, a answer) *ProblemError {
	e := &ProblemError{Op: op, Server: a.server, HTTPStatus: a.status}
	ct, _, _ := mime.ParseMediaType(a.header.Get("Content-Type"))
	if p, err := DecodeProblem(a.body); err == nil && (ct == "application/problem+json" || p.Status != 0 || p.Title != "") {
		e.Problem = p
	} else {
		e.Body = truncate(strings.TrimSpace(string(a.body)), 200)
	}
	return e
}

// decodeWarning decodes an RFC 2047 header value; undecodable text is
// returned as sent.
func decodeWarning(v string) string {
	d := new(mime.WordDecoder)
	s, err := d.DecodeHeader(v)
	if err != nil {
		return v
	}
	return s
}

// DecodeWarning decodes a dvdv-warning-msg header value (RFC 2047).
func DecodeWarning(v string) (string, error) {
	return new(mime.WordDecoder).DecodeHeader(v)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps and structs of strings are marshalled
	}
	return b
}

// Request is the generic DVDV request object (request_json and batch bodies);
// each operation fills only its fields.
type Request struct {
	FingerPrint             string `json:"fingerPrint,omitempty"`
	Category                string `json:"category,omitempty"`
	OrganizationKey         string `json:"organizationKey,omitempty"`
	ServiceSpecificationURI string `json:"serviceSpecificationUri,omitempty"`
	ServiceElementType      string `json:"serviceElementType,omitempty"`
	ParameterType           string `json:"parameterType,omitempty"`
	ParameterValue          string `json:"parameterValue,omitempty"`
}

// notFound handles the not-found answers common to the lookups: 204 and a 404
// problem. ok is false when a is neither.
func notFound(a answer) (warning string, ok bool) {
	switch a.status {
	case http.StatusNoContent:
		return decodeWarning(a.header.Get(WarningHeader)), true
	case http.StatusNotFound:
		return "", true
	}
	return "", false
}

// FindServiceDescription looks up the currently valid service of an
// organisation for a service specification URI (the core lookup). Not found is
// a *NotFoundError, or an *InvalidEntryError when DVDV warns that only an
// invalid service exists.
func (c *Client) FindServiceDescription(ctx context.Context, orgKey, serviceURI string) (*Service, error) {
	s, _, _, err := c.findServiceDescription(ctx, orgKey, serviceURI)
	return s, err
}

func (c *Client) findServiceDescription(ctx context.Context, orgKey, serviceURI string) (*Service, []byte, string, error) {
	var svc *Service
	var raw []byte
	q := Request{OrganizationKey: orgKey, ServiceSpecificationURI: serviceURI}
	server, err := c.call(ctx, request{op: "findservicedescription", fn: "findservicedescription", query: mustJSON(q),
		decode: func(a answer) error {
			if w, ok := notFound(a); ok {
				if w != "" {
					return &InvalidEntryError{ReaderKey: orgKey, ServiceURI: serviceURI, Warning: w}
				}
				return &NotFoundError{ReaderKey: orgKey, ServiceURI: serviceURI}
			}
			if a.status != http.StatusOK {
				return problemFrom("findservicedescription", a)
			}
			s, err := DecodeService(a.body)
			if err != nil {
				return err
			}
			svc, raw = s, a.body
			return nil
		}})
	return svc, raw, server, err
}

// BatchFindServiceDescription looks up several (organisation key, service
// URI) pairs in one round trip; the result has one entry per query, nil where
// nothing valid was found.
func (c *Client) BatchFindServiceDescription(ctx context.Context, queries []Request) ([]*Service, error) {
	var out []*Service
	err := c.batch(ctx, "findservicedescription", queries, func(b []byte) error {
		l, err := DecodeServices(b)
		out = l
		return orErr(err, checkBatchLen("batch/findservicedescription", len(l), len(queries)))
	})
	return out, err
}

// FindAuthorityDescription looks up an organisation by key and category.
func (c *Client) FindAuthorityDescription(ctx context.Context, category, orgKey string) (*OrganizationDescription, error) {
	var d *OrganizationDescription
	err := c.get(ctx, "findauthoritydescription", Request{Category: category, OrganizationKey: orgKey}, func(b []byte) error {
		var err error
		d, err = DecodeOrganizationDescription(b)
		return err
	})
	return d, err
}

// BatchFindAuthorityDescription is the batch variant of
// FindAuthorityDescription (fields Category and OrganizationKey); nil entries
// were not found.
func (c *Client) BatchFindAuthorityDescription(ctx context.Context, queries []Request) ([]*OrganizationDescription, error) {
	var out []*OrganizationDescription
	err := c.batch(ctx, "findauthoritydescription", queries, func(b []byte) error {
		l, err := DecodeOrganizationDescriptions(b)
		out = l
		return orErr(err, checkBatchLen("batch/findauthoritydescription", len(l), len(queries)))
	})
	return out, err
}

// FindCategories returns the categories of the organisation with the key that
// has the client certificate with the fingerprint (to authorise the sender
// of an inbound message).
func (c *Client) FindCategories(ctx context.Context, fingerprint, orgKey string) ([]string, error) {
	var out []string
	err := c.get(ctx, "findcategories", Request{FingerPrint: NormalizeFingerprint(fingerprint), OrganizationKey: orgKey}, func(b []byte) error {
		l, err := DecodeStrings("findcategories", b)
		out = l
		return err
	})
	return out, err
}

// BatchFindCategories is the batch variant of FindCategories (fields
// FingerPrint and OrganizationKey).
func (c *Client) BatchFindCategories(ctx context.Context, queries []Request) ([][]string, error) {
	var out [][]string
	err := c.batch(ctx, "findcategories", queries, func(b []byte) error {
		l, err := DecodeBatchStrings("batch/findcategories", b)
		out = l
		return orErr(err, checkBatchLen("batch/findcategories", len(l), len(queries)))
	})
	return out, err
}

// VerifyCategory reports whether an organisation of the category has the
// client certificate with the fingerprint.
func (c *Client) VerifyCategory(ctx context.Context, fingerprint, category string) (bool, error) {
	var ok bool
	err := c.get(ctx, "verifycategory", Request{FingerPrint: NormalizeFingerprint(fingerprint), Category: category}, func(b []byte) error {
		var err error
		ok, err = DecodeVerification(b)
		return err
	})
	return ok, err
}

// BatchVerifyCategory is the batch variant of VerifyCategory (fields
// FingerPrint and Category).
func (c *Client) BatchVerifyCategory(ctx context.Context, queries []Request) ([]bool, error) {
	var out []bool
	err := c.batch(ctx, "verifycategory", queries, func(b []byte) error {
		l, err := DecodeBatchVerification(b)
		out = l
		return orErr(err, checkBatchLen("batch/verifycategory", len(l), len(queries)))
	})
	return out, err
}

// FindCertificateByFingerprint returns the certificate with the fingerprint.
func (c *Client) FindCertificateByFingerprint(ctx context.Context, fingerprint string) (*Certificate, error) {
	var out *Certificate
	err := c.get(ctx, "findCertificateByFingerprint", Request{FingerPrint: NormalizeFingerprint(fingerprint)}, func(b []byte) error {
		var err error
		out, err = DecodeCertificate(b)
		return err
	})
	return out, err
}

// FindOrganizationsByServiceElement finds the organisations with a service
// element matching the query (fields ServiceElementType, ParameterType,
// ParameterValue).
func (c *Client) FindOrganizationsByServiceElement(ctx context.Context, q Request) ([]Organization, error) {
	var out []Organization
	err := c.get(ctx, "findOrganizationsByServiceElement", q, func(b []byte) error {
		l, err := DecodeOrganizations(b)
		out = l
		return err
	})
	return out, err
}

// get runs a request_json lookup; 204 and 404 become *NoEntryError.
func (c *Client) get(ctx context.Context, op string, q Request, decode func([]byte) error) error {
	query := mustJSON(q)
	_, err := c.call(ctx, request{op: op, fn: op, query: query, decode: func(a answer) error {
		if _, ok := notFound(a); ok {
			return &NoEntryError{Op: op, Query: string(query)}
		}
		if a.status != http.StatusOK {
			return problemFrom(op, a)
		}
		return decode(a.body)
	}})
	return err
}

// batch runs a batch variant (at most 200 queries per request, as the API
// allows; larger inputs are split).
func (c *Client) batch(ctx context.Context, op string, queries []Request, decode func([]byte) error) error {
	const maxItems = 200
	if len(queries) > maxItems {
		return fmt.Errorf("dvdv: batch/%s: %d queries exceed the API's limit of %d", op, len(queries), maxItems)
	}
	if len(queries) == 0 {
		return decode([]byte("[]"))
	}
	body := mustJSON(queries)
	_, err := c.call(ctx, request{op: "batch/" + op, fn: "batch/" + op, body: body, decode: func(a answer) error {
		if a.status != http.StatusOK {
			return problemFrom("batch/"+op, a)
		}
		return decode(a.body)
	}})
	return err
}

// checkBatchLen checks that a batch answer has one entry per query.
func checkBatchLen(op string, got, want int) error {
	if got != want {
		return &DecodeError{Op: op, Err: fmt.Errorf("%d answers for %d queries", got, want)}
	}
	return nil
}

// orErr returns err if it is not nil, else next.
func orErr(err, next error) error {
	if err != nil {
		return err
	}
	return next
}
