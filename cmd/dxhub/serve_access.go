package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/connectors/portal"
	"github.com/dxhub/dxhub/connectors/xtabox"
	"github.com/dxhub/dxhub/internal/store"
)

// accessWiring is the portal credentials and data-access audit of dxhub
// serve: the managed key store, the portals' client certificates, the TLS
// configuration of the main listener and the audit recorder shared by the
// portal API and the built-in XTA mailbox.
type accessWiring struct {
	recorder *store.AuditRecorder
	tls      *tls.Config // nil: the main listener serves plain HTTP
}

func newAccessWiring(cfg *config.Config, st *store.Store) (*accessWiring, error) {
	a := &accessWiring{recorder: st.NewAuditRecorder(0)}
	if cfg.Hub.TLS.Enabled() {
		var pool *x509.CertPool
		for _, p := range cfg.Portals {
			if !p.ClientCert.Enabled() {
				continue
			}
			if pool == nil {
				pool = x509.NewCertPool()
			}
			// the listener accepts a certificate of any portal's CA; which
			// portal it stands for is checked per request
			certs, err := pemCerts(p.ClientCert.CAFile)
			if err != nil {
				a.close()
				return nil, err
			}
			for _, c := range certs {
				pool.AddCert(c)
			}
		}
		var err error
		if a.tls, err = portal.ServerTLSConfig(cfg.Hub.TLS.CertFile, cfg.Hub.TLS.KeyFile, pool); err != nil {
			a.close()
			return nil, &config.FieldError{Key: "hub.tls.certFile", Problem: err.Error()}
		}
	}
	return a, nil
}

// portals turns the configured portals into the API's, with only the
// SHA-256 of each configured key.
func (a *accessWiring) portals(cfg *config.Config) ([]portal.Portal, error) {
	var out []portal.Portal
	for i, p := range cfg.Portals {
		pp := portal.Portal{ID: p.ID, Tenants: p.Tenants,
			RateLimit: portal.RateLimit{PerSecond: p.RateLimit.PerSecond, Burst: p.RateLimit.Burst}}
		pp.APIKeyHash, _ = p.APIKeyHash()
		if cc := p.ClientCert; cc.Enabled() {
			roots, err := cc.ClientCAs()
			if err != nil {
				return nil, &config.FieldError{Key: fmt.Sprintf("portals[%d].clientCert.caFile", i), Problem: err.Error()}
			}
			pp.ClientCert = &portal.ClientCert{SubjectCN: cc.SubjectCN, Fingerprint: cc.Fingerprint, Roots: roots, Alone: cc.WithoutAPIKey}
		}
		out = append(out, pp)
	}
	return out, nil
}

// portalAudit records a portal's data access in the audit log.
func (a *accessWiring) portalAudit(ctx context.Context, acc portal.Access) error {
	return a.recorder.Record(ctx, store.AuditEntry{At: time.Now(), Actor: "portal " + acc.PortalID, Action: acc.Action,
		SubmissionID: acc.SubmissionID, Detail: joinDetail(acc.Detail, "via "+acc.Credential)})
}

// mailboxAudit records a Fachverfahren's fetch in the audit log (closes
// are appended by the close itself, see mailboxEntry).
func (a *accessWiring) mailboxAudit(ctx context.Context, acc xtabox.Access) error {
	return a.recorder.Record(ctx, mailboxEntry(acc))
}

// mailboxEntry is the audit entry of a Fachverfahren's fetch or close: the
// mailbox it acted for and, over mTLS, its certificate.
func mailboxEntry(acc xtabox.Access) store.AuditEntry {
	actor := "fachverfahren " + acc.Reader
	if acc.Peer != "" {
		actor += " (" + acc.Peer + ")"
	}
	return store.AuditEntry{At: time.Now(), Actor: actor, Action: acc.Action,
		SubmissionID: acc.SubmissionID, Detail: "message " + acc.MessageID}
}

// listen wraps the main listener in TLS when hub.tls is set; the scheme is
// the one to announce.
func (a *accessWiring) listen(ln net.Listener) (net.Listener, string) {
	if a == nil || a.tls == nil {
		return ln, "http"
	}
	return tls.NewListener(ln, a.tls), "https"
}

func (a *accessWiring) close() {
	if a != nil && a.recorder != nil {
		a.recorder.Close()
	}
}

func joinDetail(parts ...string) string {
	out := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if out != "" {
			out += "; "
		}
		out += p
	}
	return out
}

// pemCerts reads every certificate of a PEM bundle.
func pemCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return out, nil
}

// storeKeys adapts the store's portal_keys to the portal API's KeyStore.
type storeKeys struct{ st *store.Store }

var _ portal.KeyStore = storeKeys{}

func (k storeKeys) LookupKey(ctx context.Context, id string) (portal.ManagedKey, error) {
	pk, err := k.st.PortalKey(ctx, id)
	if err != nil {
		return portal.ManagedKey{}, err
	}
	return portal.ManagedKey{ID: pk.ID, PortalID: pk.PortalID, Hash: pk.Hash, Tenants: pk.Tenants, ExpiresAt: pk.ExpiresAt,
		RevokedAt: pk.RevokedAt, RevokedReason: pk.RevokedReason, ReplacedBy: pk.ReplacedBy}, nil
}

func (k storeKeys) TouchKey(ctx context.Context, id string, at time.Time) error {
	return k.st.TouchPortalKey(ctx, id, at)
}

// mailboxResource names the Postfach resource of a request for the audit log.
func mailboxResource(r *http.Request) string {
	s := "mailbox " + r.PathValue("handle")
	if id := r.PathValue("id"); id != "" {
		s += " message " + id + " attachment " + r.PathValue("n")
	}
	return s
}
