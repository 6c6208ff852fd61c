// Package osciclient delivers messages through an OSCI-Transport 1.2
// intermediary with the hub as Originator and Author, and fetches the hub's
// own OSCI mailbox as Addressee. It implements routing.Transport for
// routing.TransportOSCI:
//
//	resolve (cached DVDV) → getMessageId → persist → storeDelivery → Laufzettel
//
// The content (the XÖV message inline, every attachment as a MIME part the
// ContentContainer references by cid:) is signed by the hub and encrypted for
// the reader's cipher certificate from the route (attachments as separate
// encrypted parts, xenc:CipherReference);
// the order is signed by the hub and encrypted for the intermediary. Outcomes
// (DESIGN §4): Feedback 0800/0801 is Delivered with status "sent" (3xxx
// warnings are logged, the order succeeded); 9xxx codes are classified by
// osci.ClassifyFeedback (dialog, recipient and intermediary failures retry,
// 9810 is ambiguous, the rest is permanent); certificate and decryption codes
// (92xx, 97xx) and a reader certificate that fails its checks mark the route
// stale so the pipeline asks the DVDV again. A storeDelivery that was sent
// but got no valid answer is Ambiguous; the retry first asks for the
// Laufzettel of the persisted MessageId and resends only if the intermediary
// has none.
//
// PollProcessCards (cron) reads Laufzettel until Reception is set and records
// "fetched"; FetchMailbox (cron) fetches the hub's mailbox, stores each
// delivery before handing it to the back-channel, de-duplicates by
// MessageId, and re-fetches by MessageId deliveries whose Laufzettel shows a
// Reception the hub never stored (a crash between fetch and commit).
package osciclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"

	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/osci"
	"github.com/dxhub/dxhub/routing"
)

// Store is the persistence the adapter needs (implemented by *store.Store).
type Store interface {
	OSCIOutGet(ctx context.Context, transportID string) (store.OSCIOut, error)
	OSCIOutCreate(ctx context.Context, r store.OSCIOut) (store.OSCIOut, error)
	OSCIOutAttempt(ctx context.Context, transportID string, at time.Time) error
	OSCIOutUpdate(ctx context.Context, transportID, state, card, detail string, at time.Time, ev *routing.StatusEvent) error
	OSCIOutOpen(ctx context.Context, limit int) ([]store.OSCIOut, error)
	OSCIInboxPut(ctx context.Context, it store.OSCIInboxItem) (bool, error)
	OSCIInboxPending(ctx context.Context, limit int) ([]store.OSCIInboxItem, error)
	OSCIInboxDone(ctx context.Context, messageID, note string, at time.Time) error
	OSCIInboxHas(ctx context.Context, messageID string) (bool, error)
}

// Blobs opens attachment bytes by blob key.
type Blobs interface {
	Open(key string) (io.ReadCloser, error)
	// Put keeps an attachment of an inbound reply (a Bescheid).
	Put(ctx context.Context, r io.Reader, limit int64) (blob.Ref, error)
}

// Receiver takes inbound messages (routing.BackChannel).
type Receiver interface {
	Receive(ctx context.Context, in routing.Inbound) (routing.InboundRecord, error)
}

// Intermediary is a configured intermediary: its cipher certificate (used
// when the route names none) and its pinned signature certificate.
type Intermediary struct {
	URL           string
	CipherCert    *x509.Certificate
	SignatureCert *x509.Certificate
}

// Options configure an Adapter.
type Options struct {
	// AuthorKey is the hub's organisation key (ReaderKey of inbound messages).
	AuthorKey string
	// Signer signs orders (ClientSignature) and contents (Author); Cipher
	// decrypts responses and the hub's own mailbox.
	Signer, Cipher osci.Identity
	// Trust checks intermediary signature certificates that are not pinned
	// (Roots) and every peer certificate's validity and key usage.
	Trust          *xmlsec.TrustStore
	Intermediaries []Intermediary
	// AllowDeprecated accepts deprecated algorithms in responses.
	AllowDeprecated bool
	// Resolver re-resolves the route at delivery time (the deliveries table
	// keeps no certificates); the DVDV resolver caches.
	Resolver routing.Resolver
	// Timeout bounds one HTTP exchange (default 60 s); RetryMax in-call
	// retries of idempotent orders (default 2, -1 none).
	Timeout  time.Duration
	RetryMax int
	TLS      *tls.Config
	// OnExchange sees every plain envelope sent and received (tests, tracing).
	OnExchange func(kind osci.Kind, envelope []byte)
	Logger     *slog.Logger
	Clock      routing.Clock
	// WrapTransport, if set, wraps the HTTP transport (the wiring adds the
	// W3C traceparent header to the requests; never to the signed body).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Adapter is the routing.Transport for routing.TransportOSCI.
type Adapter struct {
	store Store
	blobs Blobs
	opts  Options
	log   *slog.Logger
	http  *http.Client

	// mailboxMu serialises FetchMailbox; recovered holds, per intermediary,
	// when its mailbox recovery check last ran in a successful run.
	mailboxMu sync.Mutex
	recovered map[string]time.Time
}

var _ routing.Transport = (*Adapter)(nil)

// New returns an Adapter.
func New(st Store, blobs Blobs, opts Options) (*Adapter, error) {
	if st == nil || blobs == nil || opts.Resolver == nil {
		return nil, errors.New("osciclient: store, blobs and resolver are required")
	}
	if opts.Signer.Key == nil || opts.Signer.Cert == nil || opts.Cipher.Key == nil || opts.Cipher.Cert == nil {
		return nil, errors.New("osciclient: the hub's signature and cipher identities are required")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = routing.SystemClock{}
	}
	if opts.Trust == nil {
		opts.Trust = &xmlsec.TrustStore{}
	}
	if opts.Trust.Now == nil {
		opts.Trust.Now = opts.Clock.Now
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if opts.TLS != nil {
		tr.TLSClientConfig = opts.TLS.Clone()
	}
	var rt http.RoundTripper = tr
	if opts.WrapTransport != nil {
		rt = opts.WrapTransport(rt)
	}
	return &Adapter{store: st, blobs: blobs, opts: opts, log: opts.Logger, recovered: map[string]time.Time{},
		http: &http.Client{Transport: rt, Timeout: opts.Timeout}}, nil
}

func (a *Adapter) configured(url string) Intermediary {
	for _, i := range a.opts.Intermediaries {
		if strings.TrimRight(i.URL, "/") == strings.TrimRight(url, "/") {
			return i
		}
	}
	return Intermediary{URL: url}
}

// client returns an OSCI client for the intermediary at url whose cipher
// certificate is cipherPEM ("" = the configured one).
func (a *Adapter) client(url, cipherPEM string) (*osci.Client, error) {
	conf := a.configured(url)
	cipher := conf.CipherCert
	if cipherPEM != "" {
		c, err := xmlsec.ParseCertificatePEM([]byte(cipherPEM))
		if err != nil {
			return nil, fmt.Errorf("intermediary cipher certificate: %w", err)
		}
		cipher = c
	}
	if cipher == nil {
		return nil, fmt.Errorf("no cipher certificate for intermediary %s (neither in the route nor in osci.intermediaries)", url)
	}
	if err := xmlsec.CheckCertificate(cipher, xmlsec.UsageEncryption, a.opts.Clock.Now()); err != nil {
		return nil, fmt.Errorf("intermediary cipher certificate: %w", err)
	}
	return &osci.Client{URL: url, Signer: a.opts.Signer, Cipher: a.opts.Cipher, IntermediaryCert: cipher,
		IntermediarySigner: conf.SignatureCert, Trust: a.opts.Trust, HTTP: a.http, RetryMax: a.opts.RetryMax,
		OnExchange: a.opts.OnExchange, AllowDeprecated: a.opts.AllowDeprecated}, nil
}

// Deliver implements routing.Transport.
func (a *Adapter) Deliver(ctx context.Context, d routing.Delivery, msg routing.Message, sub routing.Submission) routing.Outcome {
	route := d.Route
	if route.EncryptionCert == "" || route.Intermediary == "" {
		r, err := a.opts.Resolver.Resolve(ctx, d.Route.ReaderKey, d.Route.ServiceURI)
		if err != nil {
			if errors.Is(err, routing.ErrNotFound) {
				return routing.Outcome{Kind: routing.Permanent, Reason: "osci: route: " + err.Error()}
			}
			return routing.Outcome{Kind: routing.Retry, Reason: "osci: route: " + err.Error()}
		}
		route = r
	}
	if route.Transport != routing.TransportOSCI || route.Intermediary == "" {
		return routing.Outcome{Kind: routing.Permanent, RouteStale: true,
			Reason: fmt.Sprintf("osci: the route to %s for %s names no OSCI intermediary", route.ReaderKey, route.ServiceURI)}
	}
	now := a.opts.Clock.Now()
	reader, err := xmlsec.ParseCertificatePEM([]byte(route.EncryptionCert))
	if err == nil {
		err = xmlsec.CheckCertificate(reader, xmlsec.UsageEncryption, now)
	}
	if err != nil {
		return routing.Outcome{Kind: routing.Permanent, RouteStale: true, Reason: "osci: reader cipher certificate: " + err.Error()}
	}
	rec, err := a.store.OSCIOutGet(ctx, d.TransportID)
	var c *osci.Client
	switch {
	case errors.Is(err, routing.ErrNotFound):
		if c, err = a.client(route.Intermediary, route.IntermediaryCert); err != nil {
			return routing.Outcome{Kind: routing.Permanent, RouteStale: true, Reason: "osci: " + err.Error()}
		}
		id, err := c.GetMessageID(ctx)
		if err != nil {
			return Classify("getMessageId", err)
		}
		if rec, err = a.store.OSCIOutCreate(ctx, store.OSCIOut{TransportID: d.TransportID, SubmissionID: d.SubmissionID,
			MessageID: id, Intermediary: route.Intermediary, IntermediaryCert: certPEM(c.IntermediaryCert), CreatedAt: now}); err != nil {
			return routing.Outcome{Kind: routing.Retry, Reason: "osci: persist MessageId: " + err.Error()}
		}
	case err != nil:
		return routing.Outcome{Kind: routing.Retry, Reason: "osci: state: " + err.Error()}
	default:
		if c, err = a.client(rec.Intermediary, rec.IntermediaryCert); err != nil {
			return routing.Outcome{Kind: routing.Permanent, RouteStale: true, Reason: "osci: " + err.Error()}
		}
	}
	if rec.State != store.OSCICreated {
		return a.accepted(rec.MessageID, "stored at the intermediary earlier")
	}
	if rec.Sends > 0 {
		// An earlier storeDelivery may have been executed without us seeing the
		// answer: the Laufzettel of the MessageId tells.
		cards, err := c.FetchProcessCards(ctx, []string{rec.MessageID})
		if err != nil {
			return Classify("fetchProcessCard", err)
		}
		if len(cards) > 0 {
			return a.stored(ctx, d.TransportID, rec.MessageID, cards[0], "stored by an earlier attempt (Laufzettel found)", nil)
		}
	}
	contents, atts, err := a.contents(msg, sub)
	if err != nil {
		return routing.Outcome{Kind: routing.Permanent, Reason: "osci: " + err.Error()}
	}
	cp, parts, err := osci.SealContentAttachments("dxhub_"+safeID(d.TransportID), contents, &a.opts.Signer, reader, atts, xmlsec.OAEP11SHA256)
	if err != nil {
		return routing.Outcome{Kind: routing.Permanent, Reason: "osci: content: " + err.Error()}
	}
	if err := a.store.OSCIOutAttempt(ctx, d.TransportID, now); err != nil {
		return routing.Outcome{Kind: routing.Retry, Reason: "osci: state: " + err.Error()}
	}
	r, err := c.StoreDelivery(ctx, &osci.Message{MessageID: rec.MessageID, Subject: subject(msg, sub),
		CipherCertAddressee: reader, CustomHeaders: []*etree.Element{a.metaData(route, msg, rec.MessageID)}, ContentPackage: cp}, parts)
	if err != nil {
		out := Classify("storeDelivery", err)
		a.log.InfoContext(ctx, "osci: storeDelivery not accepted", "transport_id", d.TransportID, "message_id", rec.MessageID,
			"outcome", out.Kind, "reason", out.Reason)
		return out
	}
	var card osci.ProcessCardBundle
	if len(r.Message.ProcessCards) > 0 {
		card = r.Message.ProcessCards[0]
	}
	return a.stored(ctx, d.TransportID, rec.MessageID, card, "stored at the intermediary", r.Feedback.Warnings)
}

func (a *Adapter) stored(ctx context.Context, transportID, messageID string, card osci.ProcessCardBundle, reason string, warnings []osci.FeedbackEntry) routing.Outcome {
	for _, w := range warnings {
		a.log.WarnContext(ctx, "osci: storeDelivery succeeded with a warning", "transport_id", transportID, "message_id", messageID,
			"code", w.Code, "lang", w.Lang, "text", w.Text)
	}
	if len(warnings) > 0 {
		reason += fmt.Sprintf(" (warning %s: %s)", warnings[0].Code, warnings[0].Text)
	}
	cj, _ := json.Marshal(cardJSON(card))
	if err := a.store.OSCIOutUpdate(ctx, transportID, store.OSCISent, string(cj), reason, a.opts.Clock.Now(), nil); err != nil {
		return routing.Outcome{Kind: routing.Ambiguous, Reason: "osci: stored, but the state could not be saved: " + err.Error()}
	}
	return a.accepted(messageID, reason)
}

func (a *Adapter) accepted(messageID, reason string) routing.Outcome {
	return routing.Outcome{Kind: routing.Delivered, Status: routing.StatusSent, Reason: "osci: " + reason, Evidence: "OSCI MessageId " + messageID}
}

func certPEM(c *x509.Certificate) string {
	return string(pemEncode(c.Raw))
}

func safeID(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func subject(msg routing.Message, sub routing.Submission) string {
	return strings.TrimSpace(msg.RootElement + " " + sub.Reference)
}

// contents are the XÖV message (inline) and a reference to every attachment
// it references, with the attachments as plaintext MIME parts (Content-ID
// "att<n>.<attachment id>@dxhub"); SealContentAttachments encrypts them.
func (a *Adapter) contents(msg routing.Message, sub routing.Submission) ([]osci.Content, []osci.Part, error) {
	out := []osci.Content{{Data: msg.XML}}
	var parts []osci.Part
	byID := map[string]routing.Attachment{}
	for _, at := range sub.Attachments {
		byID[at.ID] = at
	}
	for _, ref := range msg.Attachments {
		at, ok := byID[ref.AttachmentID]
		if !ok {
			return nil, nil, fmt.Errorf("message refers to attachment %s that the submission lacks", ref.AttachmentID)
		}
		rc, err := a.blobs.Open(at.BlobKey)
		if err != nil {
			return nil, nil, fmt.Errorf("attachment %s: %w", at.ID, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("attachment %s: %w", at.ID, err)
		}
		cid := fmt.Sprintf("att%d.%s@dxhub", len(parts)+1, safeID(at.ID))
		out = append(out, osci.Content{Href: "cid:" + cid})
		parts = append(parts, osci.Part{ContentID: cid, ContentType: at.ContentType, Data: b})
	}
	return out, parts, nil
}

// Classify maps the result of an OSCI order to a routing outcome (see the
// package documentation).
func Classify(op string, err error) routing.Outcome {
	if err == nil {
		return routing.Outcome{Kind: routing.Delivered}
	}
	reason := fmt.Sprintf("osci %s: %v", op, err)
	var (
		fe *osci.FeedbackError
		ft *osci.Fault
		he *osci.HTTPError
		xe *osci.ExchangeError
	)
	kindOf := func(c osci.FeedbackClass) routing.OutcomeKind {
		switch c {
		case osci.FeedbackRetry:
			return routing.Retry
		case osci.FeedbackAmbiguous:
			return routing.Ambiguous
		}
		return routing.Permanent
	}
	switch {
	case errors.As(err, &fe):
		return routing.Outcome{Kind: kindOf(fe.Class), Reason: reason, Evidence: "OSCI Feedback " + fe.Code, RouteStale: staleCode(fe.Code)}
	case errors.As(err, &ft):
		return routing.Outcome{Kind: kindOf(ft.Class()), Reason: reason, Evidence: "OSCI fault " + ft.Code, RouteStale: staleCode(ft.Code)}
	case errors.As(err, &he):
		if he.StatusCode == http.StatusTooManyRequests || he.StatusCode >= 500 {
			return routing.Outcome{Kind: routing.Retry, RetryAfter: he.RetryAfter, Reason: reason}
		}
		return routing.Outcome{Kind: routing.Permanent, Reason: reason}
	case isCertificateError(err):
		return routing.Outcome{Kind: routing.Retry, Reason: reason, RouteStale: true}
	case errors.As(err, &xe):
		if xe.Sent && op == "storeDelivery" {
			return routing.Outcome{Kind: routing.Ambiguous, Reason: reason}
		}
		return routing.Outcome{Kind: routing.Retry, Reason: reason}
	case errors.Is(err, osci.ErrResponse), errors.Is(err, osci.ErrControlBlock):
		if op == "storeDelivery" {
			return routing.Outcome{Kind: routing.Ambiguous, Reason: reason}
		}
		return routing.Outcome{Kind: routing.Retry, Reason: reason}
	}
	return routing.Outcome{Kind: routing.Retry, Reason: reason}
}

// staleCode: decryption (9200–9202) and certificate (97xx) failures point at
// outdated directory certificates.
func staleCode(code string) bool {
	return code == "9200" || code == "9201" || code == "9202" || strings.HasPrefix(code, "97")
}

func isCertificateError(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		ierr x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &ierr)
}
