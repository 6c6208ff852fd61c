// Package portal is the HTTP intake API of dxhub (DESIGN §1 steps 1 and 7):
// portals post submissions — JSON, or multipart/form-data with streamed
// attachments — and read their status and history.
//
// Routes (Go 1.22 ServeMux patterns, registered with Register):
//
//	POST /v1/submissions        hand in a submission; 202 after it is committed
//	GET  /v1/submissions/{id}   status, attachments and history of an own submission
//	GET  /healthz               liveness
//	GET  /readyz                readiness (Options.Ready, e.g. a database ping)
//
// Portals authenticate with "Authorization: Bearer <api key>" and may only
// submit for the tenants (AGS) they are configured for. An Idempotency-Key
// header makes re-posts safe: the same key with the same body bytes answers with
// the original submission, with other bytes 409. Every error is an RFC 9457
// application/problem+json document with a stable type URI
// (urn:dxhub:problem:<code>) and the same short code in "code".
//
// The intake JSON decoder (DecodeSubmission) is independent of HTTP so other
// intakes can reuse it.
package portal

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/internal/tracing"
	"github.com/dxhub/dxhub/routing"
)

// Store is the persistence the intake needs.
type Store interface {
	// CreateSubmission commits the submission, its attachments' metadata, its
	// first status event ("received") and the idempotency record in one
	// transaction. If ns.IdempotencyKey was used before by the same portal with
	// the same ns.BodyHash it returns the original submission and created=false;
	// with a different hash routing.ErrIdempotencyConflict.
	CreateSubmission(ctx context.Context, ns routing.NewSubmission) (sub routing.Submission, created bool, err error)
	// GetSubmission returns routing.ErrNotFound (wrapped) for unknown IDs.
	GetSubmission(ctx context.Context, id string) (routing.Submission, error)
	// Events returns a submission's history, oldest first.
	Events(ctx context.Context, submissionID string) ([]routing.StatusEvent, error)
	// BlobReferenced reports whether a committed attachment uses the blob key.
	BlobReferenced(ctx context.Context, key string) (bool, error)
}

// Blobs is the attachment byte store (internal/blob.Store satisfies it).
type Blobs interface {
	// Put streams r into the store; more than limit bytes give blob.ErrTooLarge.
	Put(ctx context.Context, r io.Reader, limit int64) (blob.Ref, error)
	// Delete removes a blob; a missing blob is not an error.
	Delete(key string) error
}

var _ Blobs = (*blob.Store)(nil)

// Portal is one portal allowed to submit.
type Portal struct {
	ID     string
	APIKey string // bearer token; only its SHA-256 is kept (see auth.go)
	// APIKeyHash is the SHA-256 of the bearer token, given instead of APIKey
	// so the plaintext never reaches the handler.
	APIKeyHash [sha256.Size]byte
	Tenants    []string // AGS the portal may submit for and read
	// ClientCert, if set, requires the portal's TLS client certificate
	// (mTLS), with its API key or, if ClientCert.Alone, instead of one.
	ClientCert *ClientCert
	// RateLimit bounds the portal's requests (429 with Retry-After beyond
	// it); zero means unlimited.
	RateLimit RateLimit
}

// Options configures the handler. Zero limits take the Default* constants.
type Options struct {
	// BaseURL is the public base of the API; statusUrl is BaseURL +
	// "/v1/submissions/" + id. Empty gives a relative URL.
	BaseURL  string
	Portals  []Portal
	Tenants  []string // known AGS
	Services []string // known service IDs

	MaxBodyBytes       int64 // whole request body
	MaxJSONBytes       int64 // the submission JSON (body or "submission" part)
	MaxAttachmentBytes int64 // one attachment
	MaxAttachments     int   // per submission, inline and multipart together
	MaxJSONDepth       int
	// MaxTotalAttachmentBytes bounds all attachments of one submission
	// together; 0 means only MaxBodyBytes does.
	MaxTotalAttachmentBytes int64
	// Scanner, if set, scans every attachment before the submission is
	// committed (see inspect.go); ScanRetryAfter is the Retry-After of the
	// 503 when it cannot (default 30 s).
	Scanner        Scanner
	ScanRetryAfter time.Duration

	Now    func() time.Time // clock; default time.Now
	NewID  func() string    // submission and attachment IDs; default UUIDv7
	Logger *slog.Logger     // default slog.Default()
	// Ready reports readiness for GET /readyz (e.g. a database ping); nil: always ready.
	Ready func(ctx context.Context) error
	// OnAccepted, if set, is called with the ID of every newly committed
	// submission (not for replays). It runs on the request goroutine before the
	// response is written, so it must not block (e.g. a non-blocking channel send).
	OnAccepted func(id string)
	// Tracer, if set, starts the intake span (continuing a W3C traceparent
	// from the request or Kafka record) whose context is stored with the
	// submission for the later stages. Nil traces nothing.
	Tracer *tracing.Tracer
	// RetainOrphanBlobs disables deleting the blobs of failed requests (see
	// Handler). Set it when several processes share one blob directory.
	RetainOrphanBlobs bool
	// Check, if set, pre-checks a decoded submission synchronously before it
	// is stored (the XÖV mapping, routing.Pipeline.Premap). Field errors
	// reject the request with 422 problem+json (code invalid-field, field =
	// the first pointer, errors = all of them). A mapped message it returns
	// is committed with the submission (which then starts as validated). A
	// non-nil error is a checker failure, not the submission's fault: it is
	// logged and the submission accepted, to be mapped by the pipeline.
	Check func(ctx context.Context, sub routing.Submission) (*routing.Premapped, []FieldError, error)
	// Keys, if set, is the managed key store (auth.go).
	Keys KeyStore
	// AuditAccess, if set, records every data read (auth.go) before the data
	// is served; an error refuses the read.
	AuditAccess func(ctx context.Context, a Access) error
}

// Handler serves the portal API.
//
// Blobs of a failed request: attachments are streamed into the content-addressed
// blob store before the submission is committed. When the request then fails, a
// blob it wrote is deleted only if no committed attachment references it
// (Store.BlobReferenced), no other request of this Handler holds the same key and
// no other upload is in progress at that moment; otherwise it stays for the
// retention purge. These checks cover concurrent requests within one process;
// with several processes on one shared blob directory set RetainOrphanBlobs.
type Handler struct {
	store    Store
	blobs    Blobs
	opts     Options
	log      *slog.Logger
	portals  []portalEntry
	tenants  map[string]bool
	services map[string]bool
	tracker  *blobTracker
	mux      *http.ServeMux
	touched  touches // managed keys' last-used updates
}

type portalEntry struct {
	Portal
	keyHash [sha256.Size]byte
	tenants map[string]bool
	limiter *bucket
	hasKey  bool       // keyHash is a configured key
	cred    credential // how this request authenticated (request-scoped copies)
}

// New checks opts and returns the handler.
func New(store Store, blobs Blobs, opts Options) (*Handler, error) {
	if store == nil || blobs == nil {
		return nil, errors.New("portal: store and blobs are required")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxJSONBytes <= 0 {
		opts.MaxJSONBytes = DefaultMaxJSONBytes
	}
	if opts.MaxAttachmentBytes <= 0 {
		opts.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	if opts.MaxAttachments <= 0 {
		opts.MaxAttachments = DefaultMaxAttachments
	}
	if opts.MaxJSONDepth <= 0 {
		opts.MaxJSONDepth = DefaultMaxJSONDepth
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")

	h := &Handler{
		store: store, blobs: blobs, opts: opts, log: opts.Logger,
		tenants: map[string]bool{}, services: map[string]bool{},
		tracker: newBlobTracker(),
	}
	for _, t := range opts.Tenants {
		if !isAGS(t) {
			return nil, fmt.Errorf("portal: tenant %q is not an 8-digit AGS", t)
		}
		h.tenants[t] = true
	}
	for _, s := range opts.Services {
		if s == "" {
			return nil, errors.New("portal: empty service ID")
		}
		h.services[s] = true
	}
	ids, keys := map[string]bool{}, map[[sha256.Size]byte]string{}
	for _, p := range opts.Portals {
		switch {
		case p.ID == "":
			return nil, errors.New("portal: a portal has no ID")
		case ids[p.ID]:
			return nil, fmt.Errorf("portal: duplicate portal ID %q", p.ID)
		case p.APIKey == "" && p.APIKeyHash == [sha256.Size]byte{} && (p.ClientCert == nil || !p.ClientCert.Alone):
			return nil, fmt.Errorf("portal %s: empty API key", p.ID)
		case p.ClientCert != nil && (p.ClientCert.Roots == nil || (p.ClientCert.SubjectCN == "" && p.ClientCert.Fingerprint == "")):
			return nil, fmt.Errorf("portal %s: the client certificate needs a CA and a subject CN or fingerprint", p.ID)
		}
		ids[p.ID] = true
		e := portalEntry{Portal: p, keyHash: p.APIKeyHash, tenants: map[string]bool{}, limiter: newBucket(p.RateLimit)}
		if p.APIKey != "" {
			e.keyHash = sha256.Sum256([]byte(p.APIKey))
		}
		e.Portal.APIKey = "" // keep only the hash
		e.hasKey = e.keyHash != [sha256.Size]byte{}
		if other, dup := keys[e.keyHash]; dup && e.hasKey {
			return nil, fmt.Errorf("portal %s: API key is the same as portal %s's", p.ID, other)
		}
		keys[e.keyHash] = p.ID
		for _, t := range p.Tenants {
			if !h.tenants[t] {
				return nil, fmt.Errorf("portal %s: tenant %q is not a configured tenant", p.ID, t)
			}
			e.tenants[t] = true
		}
		h.portals = append(h.portals, e)
	}
	h.mux = http.NewServeMux()
	h.Register(h.mux)
	return h, nil
}

// Register adds the portal API routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/submissions", h.submit)
	mux.HandleFunc("GET /v1/submissions/{id}", h.get)
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
}

// ServeHTTP serves the routes of Register on a private mux.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// limits are the decoder limits derived from the options.
func (h *Handler) limits() DecodeLimits {
	return DecodeLimits{
		MaxJSONBytes:       min(h.opts.MaxJSONBytes, h.opts.MaxBodyBytes),
		MaxJSONDepth:       h.opts.MaxJSONDepth,
		MaxAttachments:     h.opts.MaxAttachments,
		MaxAttachmentBytes: h.opts.MaxAttachmentBytes,
	}
}

// Authorize authenticates a request of another portal-facing route (such as
// GET /v1/mailboxes/{handle}/messages) with the same bearer keys. On failure it
// has already written the 401 problem and returns ok=false.
func (h *Handler) Authorize(w http.ResponseWriter, r *http.Request) (portalID string, ok bool) {
	portal, p := h.authenticate(r)
	if p != nil {
		h.fail(w, r, p, "")
		return "", false
	}
	return portal.ID, true
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, p *Problem, portalID string) {
	if p.Status == http.StatusUnauthorized && (p.Detail == "the API key is not valid" || p.Code == CodeKeyExpired || p.Code == CodeKeyRevoked) {
		w.Header().Set("WWW-Authenticate", wwwAuthenticateInvalidTok)
	}
	level := slog.LevelInfo
	if p.Status >= 500 {
		level = slog.LevelError
	}
	h.log.Log(r.Context(), level, "portal request rejected", "method", r.Method, "path", r.URL.Path,
		"portal", portalID, "status", p.Status, "code", p.Code, "detail", p.Detail)
	writeProblem(w, p)
}

// internal logs err under a fresh reference and returns a problem that names
// only the reference.
func (h *Handler) internal(ctx context.Context, what string, err error) *Problem {
	ref := uuid.NewString()
	h.log.ErrorContext(ctx, "portal: "+what, "error", err, "ref", ref)
	return newProblem(CodeInternal, "%s failed; the operator can find the cause under reference %s", what, ref)
}

// acceptedBody is the 202 answer.
type acceptedBody struct {
	ID        string         `json:"id"`
	Status    routing.Status `json:"status"`
	StatusURL string         `json:"statusUrl"`
}

func (h *Handler) statusURL(id string) string { return h.opts.BaseURL + "/v1/submissions/" + id }

// submit handles POST /v1/submissions.
func (h *Handler) submit(w http.ResponseWriter, r *http.Request) {
	ctx, span := h.opts.Tracer.StartIntake(r.Context(), r.Header, "http")
	defer span.End()
	r = r.WithContext(ctx)
	portal, p := h.authenticate(r)
	if p != nil {
		span.Rejected(p.Status, p.Code, p.Detail)
		h.fail(w, r, p, "")
		return
	}
	idemKey, p := idempotencyKey(r.Header)
	if p != nil {
		span.Rejected(p.Status, p.Code, p.Detail)
		h.fail(w, r, p, portal.ID)
		return
	}
	req := &intakeRequest{h: h, portal: portal}
	defer req.release()
	sub, created, p := req.run(w, r, idemKey)
	if p != nil {
		span.Rejected(p.Status, p.Code, p.Detail)
		h.fail(w, r, p, portal.ID)
		return
	}
	span.Accepted(sub, created)
	if created && h.opts.OnAccepted != nil {
		h.opts.OnAccepted(sub.ID)
	}
	h.log.InfoContext(ctx, "submission accepted", "id", sub.ID, "portal", portal.ID, "tenant", sub.Tenant,
		"service", sub.Service, "attachments", len(sub.Attachments), "replay", !created)
	url := h.statusURL(sub.ID)
	hd := w.Header()
	hd.Set("Location", url)
	if !created {
		hd.Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusAccepted, acceptedBody{ID: sub.ID, Status: routing.StatusReceived, StatusURL: url})
}

// idempotencyKey validates the optional Idempotency-Key header.
func idempotencyKey(hd http.Header) (string, *Problem) {
	vals := hd.Values("Idempotency-Key")
	switch {
	case len(vals) == 0:
		return "", nil
	case len(vals) > 1:
		return "", newProblem(CodeInvalidIdempotencyKey, "more than one Idempotency-Key header")
	}
	return checkIdempotencyKey(vals[0])
}

// checkIdempotencyKey validates an idempotency key from any transport.
func checkIdempotencyKey(k string) (string, *Problem) {
	if k == "" {
		return "", newProblem(CodeInvalidIdempotencyKey, "the Idempotency-Key header is empty")
	}
	if len(k) > 200 {
		return "", newProblem(CodeInvalidIdempotencyKey, "the Idempotency-Key is %d characters long, more than the maximum of 200", len(k))
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", newProblem(CodeInvalidIdempotencyKey, "the Idempotency-Key contains byte 0x%02x at position %d; only printable ASCII is allowed", k[i], i)
		}
	}
	return k, nil
}

// intakeRequest is the state of one POST: the blobs it wrote and whether they
// ended up committed.
type intakeRequest struct {
	h         *Handler
	portal    *portalEntry
	body      *trackedBody
	bodyCode  string   // problem code for a body that cannot be read
	keys      []string // blobs written, held in the tracker
	committed bool
	// totalBytes is the size of the attachments stored so far.
	totalBytes int64
}

// release lets go of the blobs of this request, deleting unreferenced ones if
// the request failed.
func (q *intakeRequest) release() {
	if len(q.keys) == 0 {
		return
	}
	ctx := context.Background() // the client may be gone; cleanup still runs
	tryDelete := !q.committed && !q.h.opts.RetainOrphanBlobs
	q.h.tracker.release(ctx, q.h.store, q.h.blobs, q.h.log, q.keys, tryDelete)
}

// put checks the head of one attachment against its declared content type
// (a *Problem if they disagree) and streams it into the blob store within the
// per-attachment and total limits (*errAttachmentLimit beyond them).
func (q *intakeRequest) put(ctx context.Context, r io.Reader, filename, ctype string) (routing.Attachment, error) {
	head, r, err := sniffReader(r)
	if err != nil {
		return routing.Attachment{}, err
	}
	if p := checkContent(filename, ctype, head); p != nil {
		return routing.Attachment{}, p
	}
	limit, total := q.attachmentLimit()
	if limit <= 0 && len(head) > 0 { // the total is used up (a limit of 0 would mean none to the blob store)
		return routing.Attachment{}, &errAttachmentLimit{total: true}
	}
	ref, err := q.h.tracker.put(ctx, q.h.blobs, r, limit)
	if errors.Is(err, blob.ErrTooLarge) {
		return routing.Attachment{}, &errAttachmentLimit{total: total}
	}
	if err != nil {
		return routing.Attachment{}, err
	}
	q.keys = append(q.keys, ref.Key)
	q.totalBytes += ref.Size
	return routing.Attachment{
		ID: q.h.opts.NewID(), Filename: filename, ContentType: ctype,
		Size: ref.Size, SHA256: ref.SHA256, BlobKey: ref.Key,
	}, nil
}

// run decodes, stores and commits one submission.
func (q *intakeRequest) run(w http.ResponseWriter, r *http.Request, idemKey string) (routing.Submission, bool, *Problem) {
	ctx := r.Context()
	h := q.h
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return routing.Submission{}, false, newProblem(CodeUnsupportedMediaType,
			"missing Content-Type; send application/json or multipart/form-data")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return routing.Submission{}, false, newProblem(CodeUnsupportedMediaType, "unparsable Content-Type %q: %v", clip(ct, 100), err)
	}
	q.body = &trackedBody{r: http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)}
	rawHash := sha256.New()
	src := io.TeeReader(q.body, rawHash)

	var (
		in        *Intake
		atts      []routing.Attachment
		p         *Problem
		partsHash string // multipart: the canonical hash, see (*intakeRequest).multipart
	)
	switch mt {
	case "application/json":
		if cs := params["charset"]; cs != "" && !strings.EqualFold(cs, "utf-8") {
			return routing.Submission{}, false, newProblem(CodeUnsupportedMediaType, "charset %q is not supported; JSON must be UTF-8", cs)
		}
		q.bodyCode = CodeMalformedJSON
		in, p = q.decode(ctx, src, r.ContentLength, "the request body")
		if p == nil {
			atts, p = q.putInline(ctx, in)
		}
	case "multipart/form-data":
		if params["boundary"] == "" {
			return routing.Submission{}, false, newProblem(CodeMalformedMultipart, "the multipart/form-data Content-Type has no boundary parameter")
		}
		q.bodyCode = CodeMalformedMultipart
		in, atts, partsHash, p = q.multipart(ctx, multipart.NewReader(src, params["boundary"]))
	default:
		return routing.Submission{}, false, newProblem(CodeUnsupportedMediaType,
			"Content-Type %q is not supported; send application/json or multipart/form-data", mt)
	}
	if p != nil {
		return routing.Submission{}, false, p
	}
	// Read what the parsers left (a multipart epilogue), within the body limit.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return routing.Submission{}, false, q.readProblem(err, "the request body")
	}
	bodyHash := hex.EncodeToString(rawHash.Sum(nil))
	if partsHash != "" {
		bodyHash = partsHash
	}

	return q.commit(ctx, in, atts, idemKey, bodyHash)
}

// commit pre-checks and stores a decoded submission whose attachments are in
// the blob store: the transport-independent end of every intake.
func (q *intakeRequest) commit(ctx context.Context, in *Intake, atts []routing.Attachment, idemKey, bodyHash string) (routing.Submission, bool, *Problem) {
	h := q.h
	now := h.opts.Now().UTC()
	ns := routing.NewSubmission{
		Submission: routing.Submission{
			ID: h.opts.NewID(), PortalID: q.portal.ID,
			Tenant: in.Tenant, Service: in.Service, Reference: in.Reference,
			Applicant: in.Applicant, Form: in.Form, Attachments: atts,
			Status: routing.StatusReceived, ReceivedAt: now, UpdatedAt: now,
			TraceParent: tracing.TraceParent(ctx),
		},
		IdempotencyKey: idemKey,
		BodyHash:       bodyHash,
	}
	if p := q.scan(ctx, atts); p != nil {
		return routing.Submission{}, false, p
	}
	if h.opts.Check != nil {
		pm, fes, err := h.opts.Check(ctx, ns.Submission)
		switch {
		case err != nil:
			h.log.WarnContext(ctx, "portal: submission pre-check failed; accepting without it", "service", ns.Service, "error", err)
		case len(fes) > 0:
			p := fieldProblem(CodeInvalidField, fes[0].Field, "the submission cannot be mapped to the service's message: %s", fes[0].Detail)
			if len(fes) > 1 {
				p.Detail += fmt.Sprintf(" (and %d more, see errors)", len(fes)-1)
			}
			for _, fe := range fes {
				if fe.Code == "" {
					fe.Code = CodeInvalidField
				}
				p.Errors = append(p.Errors, fe)
			}
			return routing.Submission{}, false, p
		default:
			ns.Premapped = pm
		}
	}
	sub, created, err := h.store.CreateSubmission(ctx, ns)
	switch {
	case errors.Is(err, routing.ErrIdempotencyConflict):
		return routing.Submission{}, false, newProblem(CodeIdempotencyConflict,
			"Idempotency-Key %q was used before by this portal with a different request body", idemKey)
	case err != nil:
		return routing.Submission{}, false, h.internal(ctx, "storing the submission", err)
	}
	q.committed = created
	return sub, created, nil
}

// decode runs the intake decoder on r and checks tenant, service and the
// portal's permission.
func (q *intakeRequest) decode(ctx context.Context, r io.Reader, hint int64, what string) (*Intake, *Problem) {
	in, err := decodeSized(r, q.h.limits(), hint)
	if err != nil {
		var p *Problem
		if errors.As(err, &p) {
			return nil, p
		}
		return nil, q.readProblem(err, what)
	}
	if !q.h.tenants[in.Tenant] {
		return nil, fieldProblem(CodeUnknownTenant, "/tenant", "tenant %q (AGS) is not served by this hub", in.Tenant)
	}
	if !q.portal.tenants[in.Tenant] {
		return nil, q.portal.forbidden(in.Tenant, "submit for")
	}
	if !q.h.services[in.Service] {
		return nil, fieldProblem(CodeUnknownService, "/service", "service %q is not configured", clip(in.Service, 100))
	}
	return in, nil
}

// putInline streams the base64 attachments of the JSON into the blob store.
func (q *intakeRequest) putInline(ctx context.Context, in *Intake) ([]routing.Attachment, *Problem) {
	atts := make([]routing.Attachment, 0, len(in.Attachments))
	for _, a := range in.Attachments {
		att, err := q.put(ctx, a.Open(), a.Filename, a.ContentType)
		var (
			lim *errAttachmentLimit
			p   *Problem
		)
		if errors.As(err, &lim) { // the decoder checked the size of one; the total is checked here
			return nil, q.limitProblem(a.Filename, lim.total)
		}
		if errors.As(err, &p) {
			return nil, p
		}
		if err != nil {
			return nil, q.h.internal(ctx, "storing attachment "+a.Filename, err)
		}
		atts = append(atts, att)
	}
	return atts, nil
}

// multipart walks the parts: "submission" is the JSON, every other part an
// attachment streamed straight into the blob store.
//
// It also returns the idempotency hash of a multipart body. Client libraries
// pick a random boundary for every encoding, so a portal that rebuilds the body
// for a retry sends other bytes for the same content. The hash is therefore
// canonical: SHA-256 over, for each part in order, its form name, raw filename
// parameter, Content-Type header and the SHA-256 of its content, each field
// length-prefixed. Boundaries, preamble, epilogue and other part headers do not
// count; identical bytes still give an identical hash.
func (q *intakeRequest) multipart(ctx context.Context, mr *multipart.Reader) (*Intake, []routing.Attachment, string, *Problem) {
	var (
		in    *Intake
		atts  []routing.Attachment
		canon = sha256.New()
	)
	field := func(s string) {
		canon.Write(binary.AppendUvarint(nil, uint64(len(s))))
		canon.Write([]byte(s))
	}
	field("dxhub-multipart-v1")
	maxAtt := q.h.opts.MaxAttachments
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if q.body.tooLarge() {
				return nil, nil, "", q.tooLarge()
			}
			return nil, nil, "", newProblem(CodeMalformedMultipart, "multipart body: %v", err)
		}
		pr := &trackedReader{r: part}
		name := part.FormName()
		field(name)
		field(rawFilename(part))
		field(part.Header.Get("Content-Type"))
		if name == "submission" {
			if in != nil {
				return nil, nil, "", newProblem(CodeMalformedMultipart, "more than one part named \"submission\"")
			}
			if ct := part.Header.Get("Content-Type"); ct != "" {
				if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
					return nil, nil, "", newProblem(CodeUnsupportedMediaType,
						"the \"submission\" part has Content-Type %q; it must be application/json", clip(ct, 100))
				}
			}
			var p *Problem
			js := sha256.New()
			if in, p = q.decode(ctx, io.TeeReader(pr, js), -1, "the \"submission\" part"); p != nil {
				return nil, nil, "", p
			}
			if len(in.Attachments)+len(atts) > maxAtt {
				return nil, nil, "", newProblem(CodeTooLarge, "more than %d attachments", maxAtt)
			}
			field(hex.EncodeToString(js.Sum(nil)))
			_ = part.Close()
			continue
		}
		inline := 0
		if in != nil {
			inline = len(in.Attachments)
		}
		if inline+len(atts)+1 > maxAtt {
			return nil, nil, "", newProblem(CodeTooLarge, "more than %d attachments (part %d, %q)", maxAtt, n+1, clip(name, 100))
		}
		filename, p := partFilename(part, n)
		if p != nil {
			return nil, nil, "", p
		}
		ctype, err := NormalizeContentType(part.Header.Get("Content-Type"))
		if err != nil {
			return nil, nil, "", newProblem(CodeInvalidField, "attachment %q: %v", filename, err)
		}
		att, err := q.put(ctx, pr, filename, ctype)
		var (
			lim *errAttachmentLimit
			ip  *Problem
		)
		switch {
		case errors.As(err, &lim):
			return nil, nil, "", q.limitProblem(filename, lim.total)
		case errors.As(err, &ip):
			return nil, nil, "", ip
		case err != nil && pr.err != nil:
			return nil, nil, "", q.readProblem(pr.err, fmt.Sprintf("attachment %q", filename))
		case err != nil:
			return nil, nil, "", q.h.internal(ctx, fmt.Sprintf("storing attachment %q", filename), err)
		}
		field(att.SHA256)
		atts = append(atts, att)
		_ = part.Close()
	}
	if in == nil {
		return nil, nil, "", newProblem(CodeMissingField, "the multipart body has no part named \"submission\" with the submission JSON")
	}
	inline, p := q.putInline(ctx, in)
	if p != nil {
		return nil, nil, "", p
	}
	return in, append(inline, atts...), hex.EncodeToString(canon.Sum(nil)), nil
}

// partFilename reads and sanitises the filename of attachment part n (0-based).
func partFilename(part *multipart.Part, n int) (string, *Problem) {
	name := part.FormName()
	clean, err := SanitizeFilename(rawFilename(part))
	if err != nil {
		return "", newProblem(CodeInvalidFilename, "attachment part %d (name %q): %v", n+1, clip(name, 100), err)
	}
	return clean, nil
}

// rawFilename is the part's filename parameter (RFC 7578; filename* decoded)
// before sanitising; part.FileName would already drop a Windows path.
func rawFilename(part *multipart.Part) string {
	if cd := part.Header.Get("Content-Disposition"); cd != "" {
		if _, params, err := mime.ParseMediaType(cd); err == nil {
			return params["filename"]
		}
	}
	return ""
}

// readProblem classifies an error from reading the request body: over the
// body limit 413, anything else (truncated body, broken framing, cancelled
// request) 400 with the reader's error.
func (q *intakeRequest) readProblem(err error, what string) *Problem {
	var mbe *http.MaxBytesError
	if q.body.tooLarge() || errors.As(err, &mbe) {
		return q.tooLarge()
	}
	return newProblem(q.bodyCode, "reading %s failed: %v", what, err)
}

func (q *intakeRequest) tooLarge() *Problem {
	return newProblem(CodeTooLarge, "the request body exceeds the limit of %d bytes", q.h.opts.MaxBodyBytes)
}

// trackedBody remembers whether http.MaxBytesReader tripped, whatever layer
// (multipart, blob store) later wraps the error.
type trackedBody struct {
	r   io.Reader
	hit bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	var mbe *http.MaxBytesError
	if err != nil && errors.As(err, &mbe) {
		b.hit = true
	}
	return n, err
}

func (b *trackedBody) tooLarge() bool { return b != nil && b.hit }

// trackedReader remembers the first non-EOF read error, telling a broken
// request body from a failing blob store.
type trackedReader struct {
	r   io.Reader
	err error
}

func (t *trackedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && t.err == nil {
		t.err = err
	}
	return n, err
}

// submissionView is the answer of GET /v1/submissions/{id}.
type submissionView struct {
	ID          string                `json:"id"`
	Tenant      string                `json:"tenant"`
	Service     string                `json:"service"`
	Reference   string                `json:"reference"`
	Status      routing.Status        `json:"status"`
	ReceivedAt  time.Time             `json:"receivedAt"`
	UpdatedAt   time.Time             `json:"updatedAt"`
	Attachments []routing.Attachment  `json:"attachments"`
	Events      []routing.StatusEvent `json:"events"`
}

// get handles GET /v1/submissions/{id}. A submission of another portal is
// answered exactly like an unknown one.
func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	portal, p := h.authenticate(r)
	if p != nil {
		h.fail(w, r, p, "")
		return
	}
	id := r.PathValue("id")
	notFound := newProblem(CodeNotFound, "there is no submission %q for this portal", clip(id, 100))
	if len(id) > 200 {
		h.fail(w, r, notFound, portal.ID)
		return
	}
	sub, err := h.store.GetSubmission(ctx, id)
	switch {
	case errors.Is(err, routing.ErrNotFound):
		h.fail(w, r, notFound, portal.ID)
		return
	case err != nil:
		h.fail(w, r, h.internal(ctx, "loading the submission", err), portal.ID)
		return
	case subtle.ConstantTimeCompare([]byte(sub.PortalID), []byte(portal.ID)) != 1:
		h.fail(w, r, notFound, portal.ID)
		return
	case !portal.tenants[sub.Tenant]:
		p := portal.forbidden(sub.Tenant, "read submissions of")
		p.Field = nil
		h.fail(w, r, p, portal.ID)
		return
	}
	events, err := h.store.Events(ctx, id)
	if err != nil {
		h.fail(w, r, h.internal(ctx, "loading the status history", err), portal.ID)
		return
	}
	if p := h.audit(ctx, portal, "submission.read", sub.ID, ""); p != nil {
		h.fail(w, r, p, portal.ID)
		return
	}
	v := submissionView{
		ID: sub.ID, Tenant: sub.Tenant, Service: sub.Service, Reference: sub.Reference, Status: sub.Status,
		ReceivedAt: sub.ReceivedAt.UTC(), UpdatedAt: sub.UpdatedAt.UTC(),
		Attachments: make([]routing.Attachment, 0, len(sub.Attachments)),
		Events:      make([]routing.StatusEvent, 0, len(events)),
	}
	v.Attachments = append(v.Attachments, sub.Attachments...)
	for _, ev := range events {
		ev.Time = ev.Time.UTC()
		v.Events = append(v.Events, ev)
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	if h.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := h.opts.Ready(ctx); err != nil {
			h.fail(w, r, newProblem(CodeNotReady, "not ready: %v", err), "")
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, newProblem(CodeInternal, "encoding the response failed"))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
