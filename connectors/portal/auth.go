package portal

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// Authentication problem codes (401 unless noted). They are registered in
// codeInfo by init so problem.go stays untouched by this file's additions.
const (
	// CodeKeyExpired: a managed key past its expiry (after rotation: its
	// grace period).
	CodeKeyExpired = "key-expired"
	// CodeKeyRevoked: a managed key revoked by the operator.
	CodeKeyRevoked = "key-revoked"
	// CodeClientCertRequired: the portal is configured for mTLS and the
	// request came without its certificate.
	CodeClientCertRequired = "client-certificate-required"
)

func init() {
	codeInfo[CodeKeyExpired] = struct {
		title  string
		status int
	}{"API key expired", http.StatusUnauthorized}
	codeInfo[CodeKeyRevoked] = struct {
		title  string
		status int
	}{"API key revoked", http.StatusUnauthorized}
	codeInfo[CodeClientCertRequired] = struct {
		title  string
		status int
	}{"Client certificate required", http.StatusUnauthorized}
}

// ManagedKey is a key of the key store as the authenticator sees it.
type ManagedKey struct {
	ID       string
	PortalID string
	Hash     string // hex SHA-256 of the key (HashKey)
	// Tenants limits the key to these AGS within the portal's tenants; empty:
	// all of them.
	Tenants       []string
	ExpiresAt     time.Time // zero: never
	RevokedAt     time.Time // zero: not revoked
	RevokedReason string
	ReplacedBy    string
}

// KeyStore holds the managed portal keys (dxhub portal key …). It is asked
// on every request with a managed key, so a revocation by another process
// takes effect at once.
type KeyStore interface {
	// LookupKey returns routing.ErrNotFound (wrapped) for unknown IDs.
	LookupKey(ctx context.Context, id string) (ManagedKey, error)
	// TouchKey records a use (last used at); the handler calls it at most
	// once a minute per key.
	TouchKey(ctx context.Context, id string, at time.Time) error
}

// ClientCert requires a portal's requests to come with a TLS client
// certificate (mTLS). The certificate must chain to Roots (with the client
// authentication usage) and match Fingerprint (SHA-256 of the DER, hex,
// colons allowed) or, without one, SubjectCN.
type ClientCert struct {
	SubjectCN   string
	Fingerprint string
	Roots       *x509.CertPool
	// Alone lets the certificate authenticate the portal without an API
	// key; otherwise it is required in addition to the key.
	Alone bool
}

// credential is how one request authenticated: the portal's entry plus the
// effective tenant scope.
type credential struct {
	keyID   string   // managed key ID; "" for a configured key or a certificate
	scope   []string // the key's own tenant list, nil when not limited
	viaCert bool     // the client certificate alone authenticated
}

// Describe names the credential for logs and the audit log, never with
// anything secret in it.
func (c credential) describe() string {
	switch {
	case c.keyID != "":
		return "key " + KeyPrefix + c.keyID
	case c.viaCert:
		return "client certificate"
	}
	return "configured key"
}

// touches throttles TouchKey to once a minute per key and process.
type touches struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (t *touches) due(id string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = map[string]time.Time{}
	}
	if l, ok := t.last[id]; ok && now.Sub(l) < time.Minute {
		return false
	}
	t.last[id] = now
	return true
}

// authenticate finds the portal of a request: by its bearer key (managed or
// configured), or by its client certificate alone where the portal allows
// that. A portal with ClientCert must present its certificate in any case.
// The rate limit is taken last, for the authenticated portal.
func (h *Handler) authenticate(r *http.Request) (*portalEntry, *Problem) {
	ctx := r.Context()
	v := r.Header.Get("Authorization")
	var (
		e *portalEntry
		p *Problem
	)
	if v == "" {
		if cert := peerCert(r); cert != nil {
			e, p = h.portalByCert(cert)
		} else {
			p = newProblem(CodeUnauthorized, "missing Authorization header; send \"Authorization: Bearer <api key>\"")
		}
	} else {
		scheme, token, ok := strings.Cut(v, " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return nil, newProblem(CodeUnauthorized, "malformed Authorization header; expected \"Bearer <api key>\"")
		}
		e, p = h.keyPortal(ctx, token)
		if p == nil && e.ClientCert != nil {
			if p = h.checkCert(e, peerCert(r)); p != nil {
				return nil, p
			}
		}
	}
	if p != nil {
		return nil, p
	}
	return e, h.rateLimit(e)
}

// portalByKey authenticates a bearer key (also for SubmitDocument, which
// has no TLS connection and so no mTLS check) and applies the rate limit.
func (h *Handler) portalByKey(ctx context.Context, token string) (*portalEntry, *Problem) {
	e, p := h.keyPortal(ctx, token)
	if p != nil {
		return nil, p
	}
	return e, h.rateLimit(e)
}

func (h *Handler) rateLimit(e *portalEntry) *Problem {
	if ok, wait := e.limiter.take(h.opts.Now()); !ok {
		secs := max(1, int(math.Ceil(wait.Seconds())))
		p := newProblem(CodeRateLimited, "portal %s exceeds its rate limit of %g requests/s (burst %d); retry after %d s",
			e.ID, e.RateLimit.PerSecond, e.limiter.limit.Burst, secs)
		p.retryAfter = secs
		return p
	}
	return nil
}

// keyPortal resolves a bearer key. Managed keys (dxhk_…) are looked up by
// their ID in the key store and checked against the stored SHA-256; any
// other key is compared with every configured key's SHA-256 in constant
// time, so timing tells nothing about which key came close. It returns a
// request-scoped copy of the portal's entry narrowed to the key's tenants.
func (h *Handler) keyPortal(ctx context.Context, token string) (*portalEntry, *Problem) {
	sum := sha256.Sum256([]byte(token))
	invalid := newProblem(CodeUnauthorized, "the API key is not valid")
	if id, ok := ParseKeyID(token); ok && h.opts.Keys != nil {
		k, err := h.opts.Keys.LookupKey(ctx, id)
		switch {
		case errors.Is(err, routing.ErrNotFound):
			// not a managed key after all; a configured key may look alike
		case err != nil:
			return nil, h.internal(ctx, "looking up the API key", err)
		default:
			want, herr := hex.DecodeString(k.Hash)
			if herr != nil || subtle.ConstantTimeCompare(sum[:], want) != 1 {
				return nil, invalid
			}
			return h.managedKeyPortal(ctx, k)
		}
	}
	var found *portalEntry
	for i := range h.portals {
		if subtle.ConstantTimeCompare(sum[:], h.portals[i].keyHash[:]) == 1 && h.portals[i].hasKey {
			found = &h.portals[i]
		}
	}
	if found == nil {
		return nil, invalid
	}
	return found, nil
}

func (h *Handler) managedKeyPortal(ctx context.Context, k ManagedKey) (*portalEntry, *Problem) {
	now := h.opts.Now()
	name := KeyPrefix + k.ID
	if !k.RevokedAt.IsZero() {
		return nil, newProblem(CodeKeyRevoked, "API key %s of portal %s was revoked at %s; ask the hub operator for a new key",
			name, k.PortalID, k.RevokedAt.UTC().Format(time.RFC3339))
	}
	if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		p := newProblem(CodeKeyExpired, "API key %s of portal %s expired at %s", name, k.PortalID, k.ExpiresAt.UTC().Format(time.RFC3339))
		if k.ReplacedBy != "" {
			p.Detail += fmt.Sprintf("; it was rotated: use its successor %s%s", KeyPrefix, k.ReplacedBy)
		}
		return nil, p
	}
	var base *portalEntry
	for i := range h.portals {
		if h.portals[i].ID == k.PortalID {
			base = &h.portals[i]
		}
	}
	if base == nil {
		return nil, newProblem(CodeUnauthorized, "API key %s belongs to portal %s, which is not configured on this hub", name, k.PortalID)
	}
	if h.opts.Keys != nil && h.touched.due(k.ID, now) {
		if err := h.opts.Keys.TouchKey(ctx, k.ID, now); err != nil {
			h.log.WarnContext(ctx, "portal: recording the use of an API key failed", "key", name, "error", err)
		}
	}
	e := *base // request-scoped copy; the limiter is shared through its pointer
	e.cred = credential{keyID: k.ID}
	if len(k.Tenants) > 0 {
		e.cred.scope = slices.Clone(k.Tenants)
		slices.Sort(e.cred.scope)
		e.tenants = map[string]bool{}
		for _, t := range k.Tenants {
			if base.tenants[t] {
				e.tenants[t] = true
			}
		}
	}
	return &e, nil
}

// peerCert is the leaf client certificate of a TLS request, or nil.
func peerCert(r *http.Request) *x509.Certificate {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil
	}
	return r.TLS.PeerCertificates[0]
}

// certMatches reports whether cert is the one rule c names and chains to
// its roots at now; the error says why not.
func certMatches(c *ClientCert, cert *x509.Certificate, now time.Time) error {
	if c.Fingerprint != "" {
		sum := sha256.Sum256(cert.Raw)
		if !strings.EqualFold(strings.ReplaceAll(c.Fingerprint, ":", ""), hex.EncodeToString(sum[:])) {
			return errors.New("its SHA-256 fingerprint is not the configured one")
		}
	} else if cert.Subject.CommonName != c.SubjectCN {
		return fmt.Errorf("its subject CN %q is not the configured one", cert.Subject.CommonName)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: c.Roots, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fmt.Errorf("it does not verify against the portal's CA: %v", err)
	}
	return nil
}

// checkCert enforces a portal's mTLS requirement on a key-authenticated
// request.
func (h *Handler) checkCert(e *portalEntry, cert *x509.Certificate) *Problem {
	if cert == nil {
		return newProblem(CodeClientCertRequired, "portal %s must present its TLS client certificate together with its API key", e.ID)
	}
	if err := certMatches(e.ClientCert, cert, h.opts.Now()); err != nil {
		return newProblem(CodeClientCertRequired, "the client certificate %q is not portal %s's: %v", cert.Subject.CommonName, e.ID, err)
	}
	return nil
}

// portalByCert authenticates a request without Authorization header by its
// client certificate: only portals whose ClientCert allows that (Alone).
func (h *Handler) portalByCert(cert *x509.Certificate) (*portalEntry, *Problem) {
	now := h.opts.Now()
	for i := range h.portals {
		e := &h.portals[i]
		if e.ClientCert == nil || !e.ClientCert.Alone {
			continue
		}
		if certMatches(e.ClientCert, cert, now) == nil {
			c := *e
			c.cred = credential{viaCert: true}
			return &c, nil
		}
	}
	return nil, newProblem(CodeUnauthorized, "missing Authorization header, and the client certificate %q authenticates no portal on its own",
		cert.Subject.CommonName)
}

// forbidden is the 403 for a tenant outside the request's scope, naming
// whether the portal or only this key lacks it.
func (e *portalEntry) forbidden(tenant, what string) *Problem {
	if e.cred.scope != nil && e.Portal.allows(tenant) {
		return fieldProblem(CodeForbiddenTenant, "/tenant", "API key %s%s of portal %s is limited to tenants %s; it may not %s tenant %s",
			KeyPrefix, e.cred.keyID, e.ID, strings.Join(e.cred.scope, ", "), what, tenant)
	}
	return fieldProblem(CodeForbiddenTenant, "/tenant", "portal %s may not %s tenant %s", e.ID, what, tenant)
}

func (p Portal) allows(tenant string) bool { return slices.Contains(p.Tenants, tenant) }

// Access is one data access by a portal, for the audit log.
type Access struct {
	PortalID     string
	Credential   string // "key dxhk_…", "configured key", "client certificate"
	Action       string // "submission.read", …
	SubmissionID string
	Detail       string
}

// audit records a read before its data is served. A failure refuses the
// read (500): nothing is served unaudited.
func (h *Handler) audit(ctx context.Context, e *portalEntry, action, submissionID, detail string) *Problem {
	if h.opts.AuditAccess == nil {
		return nil
	}
	if err := h.opts.AuditAccess(ctx, Access{PortalID: e.ID, Credential: e.cred.describe(), Action: action,
		SubmissionID: submissionID, Detail: detail}); err != nil {
		return h.internal(ctx, "recording the access in the audit log", err)
	}
	return nil
}

// AuthorizeAccess is Authorize for the other portal-facing routes that
// serve data (the Postfach): it authenticates and records action on
// resource in the audit log before the caller serves anything.
func (h *Handler) AuthorizeAccess(action string, resource func(r *http.Request) string) func(w http.ResponseWriter, r *http.Request) (string, bool) {
	return func(w http.ResponseWriter, r *http.Request) (string, bool) {
		e, p := h.authenticate(r)
		if p != nil {
			h.fail(w, r, p, "")
			return "", false
		}
		if e.cred.scope != nil {
			// These routes answer across the portal's tenants; a key limited
			// to some of them must not read the others' data through them.
			p := newProblem(CodeForbiddenTenant, "API key %s%s of portal %s is limited to tenants %s and cannot use %s, which spans all of the portal's tenants; use a key without a tenant limit",
				KeyPrefix, e.cred.keyID, e.ID, strings.Join(e.cred.scope, ", "), r.URL.Path)
			h.fail(w, r, p, e.ID)
			return "", false
		}
		if p := h.audit(r.Context(), e, action, "", resource(r)); p != nil {
			h.fail(w, r, p, e.ID)
			return "", false
		}
		return e.ID, true
	}
}
