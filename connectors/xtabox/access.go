package xtabox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/dxhub/dxhub/internal/store"
)

// Access is one data access by a Fachverfahren to the built-in mailbox, for
// the audit log: who (the mailbox identity it acted for, and the TLS client
// certificate it presented, if any), what, which message and submission.
type Access struct {
	Reader       string // the mailbox, the request's oscimeta:Author
	Peer         string // "CN=… sha256:…" of the client certificate; "" without mTLS
	Action       string // "xta.getMessage", "xta.close"
	SubmissionID string
	MessageID    string
}

// submissionResolver is implemented by stores that can name the submission
// of a mailbox message without loading it (*store.Store does).
type submissionResolver interface {
	MailboxSubmissionID(ctx context.Context, reader, transportID string) (string, error)
}

// Actions of the access audit.
const (
	actionGetMessage = "xta.getMessage"
	actionClose      = "xta.close"
)

// closeAuditor is implemented by stores that append the audit entry of a
// close in the close's own transaction (*store.Store does).
type closeAuditor interface {
	MailboxCloseAudited(ctx context.Context, reader, transportID string, at time.Time,
		audit func(submissionID string) store.AuditEntry) (bool, error)
}

type peerKey struct{}

// WithPeer wraps the XTA handlers so the backend sees the caller's TLS
// client certificate (subject CN and SHA-256 fingerprint) for the audit log.
func WithPeer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			c := r.TLS.PeerCertificates[0]
			sum := sha256.Sum256(c.Raw)
			r = r.WithContext(context.WithValue(r.Context(), peerKey{}, "CN="+c.Subject.CommonName+" sha256:"+hex.EncodeToString(sum[:])))
		}
		next.ServeHTTP(w, r)
	})
}

// PeerFrom returns what WithPeer recorded, "" if nothing.
func PeerFrom(ctx context.Context) string {
	s, _ := ctx.Value(peerKey{}).(string)
	return s
}

// audit records an access; nil AuditAccess records nothing.
func (m *Mailbox) audit(ctx context.Context, action, reader, messageID, submissionID string) error {
	if m.AuditAccess == nil {
		return nil
	}
	if submissionID == "" {
		if r, ok := m.Store.(submissionResolver); ok {
			if id, err := r.MailboxSubmissionID(ctx, reader, messageID); err == nil {
				submissionID = id
			}
		}
	}
	return m.AuditAccess(ctx, Access{Reader: reader, Peer: PeerFrom(ctx), Action: action, SubmissionID: submissionID, MessageID: messageID})
}
