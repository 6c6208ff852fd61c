// Package xtaclient delivers messages to a REMOTE XTA 2 server (e.g. a
// municipality's Governikus MultiMessenger) with the hub as Autor, and picks
// up replies from it as Leser. It implements routing.Transport:
//
//	checkAccountActive → lookupService → createMessageId → persist → sendMessage
//
// and classifies every attempt (DESIGN §4): accepted (or fault 9024, "MessageID
// already used", i.e. accepted before) is Delivered with status "sent";
// connection errors, 5xx/429 and faults 9030–9032 are Retry; a request that
// was written but got no (valid) answer is Ambiguous and is re-sent with the
// SAME message ID; permission, parameter and schema faults (9010–9014,
// 9020–9023, 9050–9060, 9080/9081) are Permanent. PollReports then polls
// getTransportReport until the report is final and records "delivered" or
// "failed".
//
// HTTP goes through go-retryablehttp with a policy that retries only
// transport failures and 429/502/503/504 without a SOAP body, honours
// Retry-After and never loses a SOAP fault body (PassthroughErrorHandler).
package xtaclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xta"
	"github.com/hashicorp/go-retryablehttp"
)

// Store is the persistence the adapter needs (implemented by *store.Store).
type Store interface {
	XTARemoteGet(ctx context.Context, transportID string) (store.XTARemote, error)
	XTARemoteCreate(ctx context.Context, r store.XTARemote) (store.XTARemote, error)
	XTARemoteUpdate(ctx context.Context, transportID, state string, reportStatus int, detail string, at time.Time, ev *routing.StatusEvent) error
	XTARemoteOpen(ctx context.Context, limit int) ([]store.XTARemote, error)
}

// Blobs opens attachment bytes by blob key.
type Blobs interface {
	Open(key string) (io.ReadCloser, error)
}

// Options configure an Adapter.
type Options struct {
	// AuthorKey is the hub's organisation key, the Author of every message.
	AuthorKey string
	// TLS is the default TLS configuration (client certificate of the hub);
	// Tenants overrides it per tenant (AGS) with that tenant's certificate.
	TLS     *tls.Config
	Tenants map[string]*tls.Config
	// MTOM sends contents as MTOM/XOP parts; MTOMEndpoints overrides it per
	// send-port URL.
	MTOM          bool
	MTOMEndpoints map[string]bool
	// Timeout bounds one HTTP attempt (default 60 s); RetryMax is the number
	// of in-call retries (default 2), waiting RetryWaitMin..RetryWaitMax
	// (default 200 ms..5 s) or as Retry-After says.
	Timeout                    time.Duration
	RetryMax                   int
	RetryWaitMin, RetryWaitMax time.Duration
	// SkipLookup skips lookupService (servers without it).
	SkipLookup bool
	Logger     *slog.Logger
	Clock      routing.Clock
	// WrapTransport, if set, wraps the HTTP transport (the wiring adds the
	// W3C traceparent header to the SOAP requests; never to the body).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Adapter is the routing.Transport for routing.TransportXTA.
type Adapter struct {
	store   Store
	blobs   Blobs
	opts    Options
	log     *slog.Logger
	clients map[string]*http.Client // tenant ("" = default) → HTTP client
}

var _ routing.Transport = (*Adapter)(nil)

// New returns an Adapter.
func New(st Store, blobs Blobs, opts Options) (*Adapter, error) {
	if st == nil || blobs == nil {
		return nil, errors.New("xtaclient: store and blobs are required")
	}
	if opts.AuthorKey == "" {
		return nil, errors.New("xtaclient: AuthorKey is required")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.RetryMax == 0 {
		opts.RetryMax = 2
	}
	if opts.RetryWaitMin <= 0 {
		opts.RetryWaitMin = 200 * time.Millisecond
	}
	if opts.RetryWaitMax <= 0 {
		opts.RetryWaitMax = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = routing.SystemClock{}
	}
	a := &Adapter{store: st, blobs: blobs, opts: opts, log: opts.Logger, clients: map[string]*http.Client{}}
	a.clients[""] = a.newHTTP(opts.TLS)
	for tenant, cfg := range opts.Tenants {
		a.clients[tenant] = a.newHTTP(cfg)
	}
	return a, nil
}

// newHTTP builds a retrying client whose policy keeps SOAP fault bodies.
func (a *Adapter) newHTTP(cfg *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg != nil {
		tr.TLSClientConfig = cfg.Clone()
	}
	var rt http.RoundTripper = tr
	if a.opts.WrapTransport != nil {
		rt = a.opts.WrapTransport(rt)
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{Transport: rt, Timeout: a.opts.Timeout}
	rc.RetryMax = max(a.opts.RetryMax, 0)
	rc.RetryWaitMin, rc.RetryWaitMax = a.opts.RetryWaitMin, a.opts.RetryWaitMax
	rc.CheckRetry = CheckRetry
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.Logger = slogAdapter{a.log}
	return &http.Client{Transport: &bodyReplayer{rc: rc}}
}

// CheckRetry is the retry policy: transport errors (as retryablehttp's
// default policy judges them) and 429/502/503/504 responses WITHOUT a SOAP
// body are retried; every SOAP response, fault or not, is returned as is.
func CheckRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	if _, cerr := xta.CheckContentType(resp.Header.Get("Content-Type")); cerr == nil {
		return false, nil
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true, nil
	}
	return false, nil
}

// bodyReplayer turns an *http.Request with GetBody into a retryablehttp
// request that re-creates the (streamed) body for every attempt, instead of
// buffering it as retryablehttp.RoundTripper would.
type bodyReplayer struct{ rc *retryablehttp.Client }

func (b *bodyReplayer) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	var body any
	if req.GetBody != nil {
		body = retryablehttp.ReaderFunc(func() (io.Reader, error) { return req.GetBody() })
	}
	rr, err := retryablehttp.NewRequestWithContext(req.Context(), req.Method, req.URL.String(), body)
	if err != nil {
		return nil, err
	}
	rr.Header = req.Header.Clone()
	rr.ContentLength = -1
	return b.rc.Do(rr)
}

type slogAdapter struct{ l *slog.Logger }

func (s slogAdapter) Error(msg string, kv ...any) { s.l.Error("xtaclient: "+msg, kv...) }
func (s slogAdapter) Info(msg string, kv ...any)  { s.l.Debug("xtaclient: "+msg, kv...) }
func (s slogAdapter) Debug(msg string, kv ...any) { s.l.Debug("xtaclient: "+msg, kv...) }
func (s slogAdapter) Warn(msg string, kv ...any)  { s.l.Warn("xtaclient: "+msg, kv...) }

// client returns the XTA client for a tenant and the route's endpoint. The
// route Endpoint is the server's base URL (ports at the default paths) or,
// with "|" separators, "management|send|msgbox" URLs.
func (a *Adapter) client(tenant, endpoint string) *xta.Client {
	hc, ok := a.clients[tenant]
	if !ok {
		hc = a.clients[""]
	}
	ep := ParseEndpoint(endpoint)
	mtom := a.opts.MTOM
	if v, ok := a.opts.MTOMEndpoints[ep.Send]; ok {
		mtom = v
	}
	return &xta.Client{Endpoints: ep, Author: a.opts.AuthorKey, HTTP: hc, MTOM: mtom}
}

// ParseEndpoint reads a route endpoint: a base URL, or "management|send|msgbox".
func ParseEndpoint(endpoint string) xta.Endpoints {
	if parts := strings.Split(endpoint, "|"); len(parts) == 3 {
		return xta.Endpoints{Management: parts[0], Send: parts[1], MsgBox: parts[2]}
	}
	return xta.EndpointsAt(endpoint)
}

// Deliver implements routing.Transport.
func (a *Adapter) Deliver(ctx context.Context, d routing.Delivery, msg routing.Message, sub routing.Submission) routing.Outcome {
	if d.Route.Endpoint == "" {
		return routing.Outcome{Kind: routing.Permanent, Reason: "route to a remote XTA server without endpoint"}
	}
	c := a.client(sub.Tenant, d.Route.Endpoint)
	rec, err := a.store.XTARemoteGet(ctx, d.TransportID)
	if errors.Is(err, routing.ErrNotFound) {
		if out, ok := a.prepare(ctx, c, d, sub, &rec); !ok {
			return out
		}
	} else if err != nil {
		return routing.Outcome{Kind: routing.Retry, Reason: "xta state: " + err.Error()}
	}
	if rec.State != "created" {
		return a.accepted(rec, "accepted earlier")
	}
	meta := a.meta(d, msg, rec.RemoteID)
	contents, err := a.contents(msg, sub)
	if err != nil {
		return routing.Outcome{Kind: routing.Permanent, Reason: err.Error()}
	}
	err = c.SendMessage(ctx, meta, contents)
	out := Classify("sendMessage", err)
	if out.Kind == routing.Delivered {
		reason := "accepted by the XTA server"
		var f *xta.Fault
		if errors.As(err, &f) {
			reason = "already accepted (fault 9024, MessageID already used)"
		}
		if uerr := a.store.XTARemoteUpdate(ctx, d.TransportID, "sent", -1, reason, a.opts.Clock.Now(), nil); uerr != nil {
			return routing.Outcome{Kind: routing.Ambiguous, Reason: "sent, but the state could not be saved: " + uerr.Error()}
		}
		rec.State = "sent"
		return a.accepted(rec, reason)
	}
	a.log.InfoContext(ctx, "xtaclient: sendMessage not accepted", "transport_id", d.TransportID, "remote_id", rec.RemoteID, "outcome", out.Kind, "reason", out.Reason)
	return out
}

func (a *Adapter) accepted(rec store.XTARemote, reason string) routing.Outcome {
	return routing.Outcome{Kind: routing.Delivered, Status: routing.StatusSent, Reason: reason, Evidence: rec.RemoteID}
}

// prepare runs checkAccountActive, lookupService and createMessageId and
// persists the issued ID; ok is false with the outcome when a step fails.
func (a *Adapter) prepare(ctx context.Context, c *xta.Client, d routing.Delivery, sub routing.Submission, rec *store.XTARemote) (routing.Outcome, bool) {
	if err := c.CheckAccountActive(ctx); err != nil {
		return Classify("checkAccountActive", err), false
	}
	if !a.opts.SkipLookup {
		av, err := c.LookupService(ctx, d.Route.ReaderKey, "", d.Route.ServiceURI)
		if err != nil {
			return Classify("lookupService", err), false
		}
		if av == xta.NotAvailable {
			return routing.Outcome{Kind: routing.Permanent,
				Reason: fmt.Sprintf("the XTA server says %s cannot receive %s (lookupService)", d.Route.ReaderKey, d.Route.ServiceURI)}, false
		}
	}
	id, err := c.CreateMessageID(ctx)
	if err != nil {
		return Classify("createMessageId", err), false
	}
	now := a.opts.Clock.Now()
	r, err := a.store.XTARemoteCreate(ctx, store.XTARemote{TransportID: d.TransportID, SubmissionID: d.SubmissionID,
		RemoteID: id, Endpoint: c.Endpoints.Management, Tenant: sub.Tenant, CreatedAt: now})
	if err != nil {
		return routing.Outcome{Kind: routing.Retry, Reason: "persist message ID: " + err.Error()}, false
	}
	*rec = r
	return routing.Outcome{}, true
}

func (a *Adapter) meta(d routing.Delivery, msg routing.Message, id string) xta.MessageMeta {
	return xta.MessageMeta{
		MessageID: id, AuthorKey: a.opts.AuthorKey, AuthorType: xta.IdentifierTypeXOEV,
		ReaderKey: d.Route.ReaderKey, ReaderType: xta.IdentifierTypeXOEV,
		Service:          d.Route.ServiceURI,
		BusinessScenario: xta.Code{Code: businessScenario(msg.Standard)},
		MessageType:      xta.Code{Code: msg.RootElement, Name: strings.TrimSpace(msg.Standard + " " + msg.Version)},
		PayloadSchema:    msg.Namespace,
		Origin:           d.CreatedAt,
	}
}

// businessScenario derives the Defined business scenario code (XBAU_DATA,
// XINNERES_DATA …) from the XÖV standard name.
func businessScenario(standard string) string {
	s := strings.ToUpper(strings.SplitN(standard, "-", 2)[0])
	if s == "" {
		return "XOEV_DATA"
	}
	return s + "_DATA"
}

func (a *Adapter) contents(msg routing.Message, sub routing.Submission) ([]xta.Content, error) {
	xml := msg.XML
	out := []xta.Content{{ContentType: "application/xml", Encoding: "UTF-8", Filename: msg.RootElement + ".xml",
		Size: int64(len(xml)), Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(xml))), nil }}}
	byID := map[string]routing.Attachment{}
	for _, at := range sub.Attachments {
		byID[at.ID] = at
	}
	for _, ref := range msg.Attachments {
		at, ok := byID[ref.AttachmentID]
		if !ok {
			return nil, fmt.Errorf("message refers to attachment %s that the submission lacks", ref.AttachmentID)
		}
		key := at.BlobKey
		out = append(out, xta.Content{ContentType: at.ContentType, ID: ref.DocumentID, Filename: ref.Filename, Size: at.Size,
			Open: func() (io.ReadCloser, error) { return a.blobs.Open(key) }})
	}
	return out, nil
}

// Classify maps the result of an XTA call to a routing outcome: nil and
// fault 9024 are Delivered; see the package documentation for the rest.
func Classify(op string, err error) routing.Outcome {
	out := classify(op, err)
	out.RouteStale = err != nil && isCertificateError(err)
	return out
}

func classify(op string, err error) routing.Outcome {
	if err == nil {
		return routing.Outcome{Kind: routing.Delivered}
	}
	var f *xta.Fault
	var he *xta.HTTPError
	var ee *xta.ExchangeError
	switch {
	case errors.As(err, &f):
		reason := fmt.Sprintf("%s: XTA fault %d (%s): %s", op, f.Code, f.CodeName, f.Reason)
		switch {
		case f.Code == xta.CodeMessageIDUsed && op == "sendMessage":
			return routing.Outcome{Kind: routing.Delivered, Reason: reason}
		case f.Retryable(), f.Code == xta.CodeUnspecified:
			return routing.Outcome{Kind: routing.Retry, Reason: reason}
		}
		return routing.Outcome{Kind: routing.Permanent, Reason: reason, Evidence: fmt.Sprint(f.Code)}
	case errors.As(err, &he):
		reason := fmt.Sprintf("%s: HTTP %d", op, he.StatusCode)
		if he.StatusCode == http.StatusTooManyRequests || he.StatusCode >= 500 {
			return routing.Outcome{Kind: routing.Retry, RetryAfter: he.RetryAfter, Reason: reason}
		}
		return routing.Outcome{Kind: routing.Permanent, Reason: reason + ": " + he.Body}
	case errors.As(err, &ee):
		if ee.Sent && op == "sendMessage" {
			return routing.Outcome{Kind: routing.Ambiguous, Reason: err.Error()}
		}
		return routing.Outcome{Kind: routing.Retry, Reason: err.Error()}
	}
	return routing.Outcome{Kind: routing.Retry, Reason: fmt.Sprintf("%s: %v", op, err)}
}

// isCertificateError reports a TLS failure caused by the peer's certificate:
// the directory may name an outdated certificate or endpoint.
func isCertificateError(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		ierr x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &ierr)
}

// ReportResult is what PollReports did for one delivery.
type ReportResult struct {
	TransportID string
	RemoteID    string
	Status      int            // MessageStatus/Status, -1 when the poll failed
	Event       routing.Status // the status recorded, "" if none
	Err         error
}

// PollReports polls getTransportReport for up to limit sent deliveries.
// A final report (status 1–3) records "delivered" (1, 2) or "failed" (3)
// with the report as evidence, in one transaction with the new state; an
// open report (0) is polled again on the next run. Run it from a cron job.
func (a *Adapter) PollReports(ctx context.Context, limit int) ([]ReportResult, error) {
	open, err := a.store.XTARemoteOpen(ctx, limit)
	if err != nil {
		return nil, err
	}
	var out []ReportResult
	for _, rec := range open {
		res := ReportResult{TransportID: rec.TransportID, RemoteID: rec.RemoteID, Status: -1}
		c := a.client(rec.Tenant, rec.Endpoint)
		c.Endpoints.Management = rec.Endpoint
		r, err := c.GetTransportReport(ctx, rec.RemoteID)
		now := a.opts.Clock.Now()
		if err != nil {
			res.Err = err
			_ = a.store.XTARemoteUpdate(ctx, rec.TransportID, "sent", -1, "getTransportReport: "+err.Error(), now, nil)
			out = append(out, res)
			continue
		}
		res.Status = r.Status()
		detail := reportDetail(r)
		var ev *routing.StatusEvent
		state := "sent"
		switch res.Status {
		case xta.StatusGreen, xta.StatusYellow:
			state, res.Event = "final", routing.StatusDelivered
		case xta.StatusRed:
			state, res.Event = "final", routing.StatusFailed
		}
		if res.Event != "" {
			ev = &routing.StatusEvent{Status: res.Event, Time: now, Source: routing.SourceXTA,
				Detail: "XTA-Transportbericht: " + detail, Evidence: rec.RemoteID}
		}
		if err := a.store.XTARemoteUpdate(ctx, rec.TransportID, state, res.Status, detail, now, ev); err != nil {
			res.Err = err
		}
		out = append(out, res)
	}
	return out, nil
}

func reportDetail(r *xta.TransportReport) string {
	var parts []string
	parts = append(parts, fmt.Sprintf("Status %d", r.Status()))
	if !r.Meta.Delivery.IsZero() {
		parts = append(parts, "zugestellt "+r.Meta.Delivery.UTC().Format(time.RFC3339))
	}
	for _, rec := range append(append(append([]xta.Record{}, r.Errors...), r.Warnings...), r.Infos...) {
		parts = append(parts, rec.Code+": "+rec.Reason)
	}
	return strings.Join(parts, "; ")
}

// Reply is a message picked up from a remote mailbox, handed to the persist
// callback of FetchReplies. Attachments are spooled files, valid only during
// the callback.
type Reply struct {
	Meta        xta.MessageMeta
	Message     []byte
	Attachments []xta.Content
}

// LeserOptions configure FetchReplies.
type LeserOptions struct {
	Endpoint string // the remote server (base URL or management|send|msgbox)
	Tenant   string // selects the client certificate
	Identity string // the mailbox owner (Author header), e.g. the hub's key
	Max      int    // messages per run (default 100)
	// MaxMessageBytes bounds the XÖV message in memory (default 16 MiB);
	// SpoolDir receives attachments (default os.TempDir()).
	MaxMessageBytes int64
	SpoolDir        string
}

// FetchReplies is the Leser job: getStatusList (and getNextStatusList while
// items are pending, at most Max messages per run) → for each message
// getMessage → persist → close. close is sent only after persist returned
// nil (persist must de-duplicate by MessageID: a crash between persist and
// close delivers the message again). It returns how many were closed and
// the errors of the messages left open (joined).
func (a *Adapter) FetchReplies(ctx context.Context, o LeserOptions, persist func(ctx context.Context, r Reply) error) (int, error) {
	if o.Max <= 0 {
		o.Max = 100
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 16 << 20
	}
	c := a.client(o.Tenant, o.Endpoint)
	c.Author = o.Identity
	if err := c.CheckAccountActive(ctx); err != nil {
		return 0, fmt.Errorf("xtaclient: leser %s: %w", o.Identity, err)
	}
	return a.fetchPages(ctx, c, o, persist)
}

func (a *Adapter) fetchOne(ctx context.Context, c *xta.Client, o LeserOptions, id, requestID string, persist func(context.Context, Reply) error) error {
	var r Reply
	var files []string
	defer func() {
		for _, f := range files {
			_ = os.Remove(f)
		}
	}()
	sink := func(i int, h xta.ContentHeader, rd io.Reader) error {
		if i == 0 {
			b, err := io.ReadAll(io.LimitReader(rd, o.MaxMessageBytes+1))
			if err != nil {
				return err
			}
			if int64(len(b)) > o.MaxMessageBytes {
				return fmt.Errorf("message exceeds %d bytes", o.MaxMessageBytes)
			}
			r.Message = b
			return nil
		}
		f, err := os.CreateTemp(o.SpoolDir, "xta-reply-*")
		if err != nil {
			return err
		}
		files = append(files, f.Name())
		size, err := io.Copy(f, rd)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		name := f.Name()
		r.Attachments = append(r.Attachments, xta.Content{ContentType: h.ContentType, ID: h.ID, Filename: h.Filename,
			Description: h.Description, Encoding: h.Encoding, Size: size,
			Open: func() (io.ReadCloser, error) { return os.Open(name) }})
		return nil
	}
	res, err := c.GetMessage(ctx, id, sink)
	if err != nil {
		return fmt.Errorf("xtaclient: getMessage %s: %w", id, err)
	}
	r.Meta = res.Meta
	if err := persist(ctx, r); err != nil {
		return fmt.Errorf("xtaclient: persist %s: %w", id, err)
	}
	if err := c.Close(ctx, requestID, id); err != nil {
		return fmt.Errorf("xtaclient: close %s: %w", id, err)
	}
	a.log.Info("xtaclient: reply fetched", "identity", o.Identity, "message_id", id, "attachments", len(r.Attachments))
	return nil
}
