package portal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"

	"github.com/dxhub/dxhub/routing"
)

// Document is one submission JSON document handed in over a transport other
// than HTTP (the Kafka intake connector): the same document as the body of
// POST /v1/submissions with Content-Type application/json.
type Document struct {
	// APIKey authenticates the portal like the Bearer token of the HTTP API.
	APIKey string
	// PortalID names the portal when APIKey is empty. Use it only where the
	// transport itself authenticated the sender (for example topic ACLs).
	PortalID string
	// IdempotencyKey follows the rules of the Idempotency-Key header; ""
	// means none.
	IdempotencyKey string
	Body           []byte
	// NoAttachments rejects documents with inline attachments (invalid-field
	// at /attachments) for transports that cannot carry them.
	NoAttachments bool
}

// SubmitDocument runs the intake of the HTTP API on one document: the same
// authentication, idempotency-key rules, decoder, tenant, service and
// permission checks, pre-check (Options.Check) and store commit, and
// Options.OnAccepted for a new submission. Every rejection is a *Problem
// (Status and Code as the HTTP API would answer); a Status of 500 or more is
// the hub's failure (the store), not the document's, and is worth retrying.
func (h *Handler) SubmitDocument(ctx context.Context, d Document) (routing.Submission, bool, *Problem) {
	ctx, span := h.opts.Tracer.StartIntake(ctx, nil, "document")
	defer span.End()
	sub, created, p := h.submitDocument(ctx, d)
	if p != nil {
		span.Rejected(p.Status, p.Code, p.Detail)
	} else {
		span.Accepted(sub, created)
	}
	return sub, created, p
}

func (h *Handler) submitDocument(ctx context.Context, d Document) (routing.Submission, bool, *Problem) {
	var (
		portal *portalEntry
		p      *Problem
	)
	switch {
	case d.APIKey != "":
		portal, p = h.portalByKey(ctx, d.APIKey)
	case d.PortalID != "":
		for i := range h.portals {
			if subtle.ConstantTimeCompare([]byte(h.portals[i].ID), []byte(d.PortalID)) == 1 {
				portal = &h.portals[i]
			}
		}
		if portal == nil {
			p = newProblem(CodeUnauthorized, "portal %q is not configured", clip(d.PortalID, 100))
		}
	default:
		p = newProblem(CodeUnauthorized, "neither an API key nor a portal ID was given")
	}
	if p != nil {
		return routing.Submission{}, false, p
	}
	idemKey := ""
	if d.IdempotencyKey != "" {
		if idemKey, p = checkIdempotencyKey(d.IdempotencyKey); p != nil {
			return routing.Submission{}, false, p
		}
	}
	q := &intakeRequest{h: h, portal: portal, bodyCode: CodeMalformedJSON}
	defer q.release()
	in, p := q.decode(ctx, bytes.NewReader(d.Body), int64(len(d.Body)), "the document")
	if p != nil {
		return routing.Submission{}, false, p
	}
	if d.NoAttachments && len(in.Attachments) > 0 {
		return routing.Submission{}, false, fieldProblem(CodeInvalidField, "/attachments",
			"this intake does not accept attachments (%d given); send submissions with attachments to POST /v1/submissions", len(in.Attachments))
	}
	atts, p := q.putInline(ctx, in)
	if p != nil {
		return routing.Submission{}, false, p
	}
	sum := sha256.Sum256(d.Body)
	sub, created, p := q.commit(ctx, in, atts, idemKey, hex.EncodeToString(sum[:]))
	if p != nil {
		return routing.Submission{}, false, p
	}
	if created && h.opts.OnAccepted != nil {
		h.opts.OnAccepted(sub.ID)
	}
	h.log.InfoContext(ctx, "submission accepted", "id", sub.ID, "portal", portal.ID, "tenant", sub.Tenant,
		"service", sub.Service, "attachments", len(sub.Attachments), "replay", !created, "via", "document")
	return sub, created, nil
}
