// Package xtabox is the hub's built-in XTA 2 mailbox: it implements the
// xta.Backend that the XTA server calls (Fachverfahren poll, fetch, close and
// send replies) on top of the store, and the routing.Transport that "delivers"
// a message by making it visible in the reader's mailbox.
package xtabox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xta"
)

// Store is the part of the store the mailbox needs.
type Store interface {
	MailboxQuery(ctx context.Context, reader string, q store.MailboxQuery) ([]store.MailboxItem, int, error)
	MailboxGet(ctx context.Context, reader, transportID string) (store.MailboxItem, error)
	MailboxClose(ctx context.Context, reader, transportID string, at time.Time) (bool, error)
	XTAReportSource(ctx context.Context, transportID string) (store.XTAReportSource, error)
}

// Receiver takes back-channel messages (routing.BackChannel).
type Receiver interface {
	Receive(ctx context.Context, in routing.Inbound) (routing.InboundRecord, error)
}

// Blobs opens attachment bytes and keeps inbound attachments.
type Blobs interface {
	Open(key string) (blobFile, error)
	Put(ctx context.Context, r io.Reader, limit int64) (blob.Ref, error)
}

type blobFile = io.ReadCloser

// BlobStore adapts *blob.Store to Blobs.
type BlobStore struct{ *blob.Store }

// Open returns the blob's reader.
func (b BlobStore) Open(key string) (blobFile, error) { return b.Store.Open(key) }

// Mailbox implements xta.Backend and routing.Transport.
type Mailbox struct {
	Store    Store
	Blobs    Blobs
	Receiver Receiver
	// Accounts are the organisation keys that may use the mailbox (the tenants'
	// DVDV keys); compared case-insensitively.
	Accounts  []string
	AuthorKey string // the hub's key, Author of every message in the mailbox
	// ServiceURIs are the services the hub receives replies for (lookupService
	// with the hub as reader); empty: every service.
	ServiceURIs []string
	Clock       routing.Clock
	// MaxInboundBytes caps one inbound XÖV message held in memory for parsing.
	MaxInboundBytes int64
	// AuditAccess, if set, records every getMessage before the message is
	// served and every close once committed (access.go); an error fails the
	// request (fault 9030), so nothing is handed out unaudited.
	AuditAccess func(ctx context.Context, a Access) error
	// AuditEntry, if set, turns an access into its audit-log entry. With a
	// store that implements MailboxCloseAudited (*store.Store does) the
	// entry of a close is then appended in the close's own transaction:
	// one write, with the submission resolved by the close itself, instead
	// of a close, a lookup and an audit write. Without it closes are
	// recorded through AuditAccess.
	AuditEntry func(a Access) store.AuditEntry
}

var (
	_ xta.Backend               = (*Mailbox)(nil)
	_ routing.Transport         = (*Mailbox)(nil)
	_ routing.CommittedDelivery = (*Mailbox)(nil)
)

// Business scenario and message-type conventions used in MessageMetaData
// (TRANSPORT.md §4: code = root element name, payloadSchema = its namespace).
const (
	businessScenarioList = "urn:de:xta:codeliste:business.scenario"
	messageTypeList      = "urn:de:payloadSchema:elementName"
)

func (m *Mailbox) now() time.Time {
	if m.Clock == nil {
		return time.Now()
	}
	return m.Clock.Now()
}

// Deliver places the message in the reader's mailbox. The store makes it
// visible in the same transaction that records the attempt, so there is
// nothing to send: the reader fetches it over the MsgBoxPort.
func (m *Mailbox) Deliver(_ context.Context, d routing.Delivery, _ routing.Message, _ routing.Submission) routing.Outcome {
	if !m.known(d.Route.ReaderKey) {
		return routing.Outcome{Kind: routing.Permanent,
			Reason: fmt.Sprintf("reader %s has no account in the built-in XTA mailbox", d.Route.ReaderKey)}
	}
	return routing.Outcome{Kind: routing.Delivered, Status: routing.StatusDelivered, Evidence: d.TransportID}
}

// DeliveredByCommit reports true: Deliver only checks the reader's account,
// and the message becomes visible when the store commits the delivered
// attempt, so the pipeline may commit the route and the attempt together.
func (m *Mailbox) DeliveredByCommit() bool { return true }

func (m *Mailbox) known(identity string) bool {
	for _, a := range m.Accounts {
		if strings.EqualFold(a, identity) {
			return true
		}
	}
	return false
}

// AccountActive reports whether identity has a mailbox.
func (m *Mailbox) AccountActive(_ context.Context, identity string) (bool, error) {
	return m.known(identity), nil
}

// StatusList lists the reader's mailbox messages matching q.
func (m *Mailbox) StatusList(ctx context.Context, reader string, q xta.ListQuery) ([]xta.MessageMeta, int, error) {
	if len(q.RelatesTo) > 0 {
		return nil, 0, nil // the hub's messages are never replies
	}
	sq := store.MailboxQuery{TransportIDs: q.MessageIDs, From: q.From, To: q.To,
		AfterTime: q.After.Delivery, AfterID: q.After.MessageID, Limit: q.Limit, SizesOnly: true}
	if q.NewEntry != nil {
		fetched := !*q.NewEntry
		sq.Fetched = &fetched
	}
	items, remaining, err := m.Store.MailboxQuery(ctx, reader, sq)
	if err != nil {
		return nil, 0, err
	}
	metas := make([]xta.MessageMeta, len(items))
	for i, it := range items {
		metas[i] = m.meta(it)
	}
	return metas, remaining, nil
}

func (m *Mailbox) meta(it store.MailboxItem) xta.MessageMeta {
	size := it.XMLSize + it.AttachmentBytes
	return xta.MessageMeta{
		MessageID: it.TransportID,
		AuthorKey: m.AuthorKey, AuthorType: "xoev",
		ReaderKey: it.ReaderKey, ReaderType: "xoev",
		Service:          it.ServiceURI,
		BusinessScenario: xta.Code{Code: "XBAU_DATA", ListURI: businessScenarioList, ListVersionID: "1"},
		MessageType: xta.Code{Code: it.Message.RootElement, Name: it.Message.Standard + " " + it.Message.Version,
			ListURI: messageTypeList, ListVersionID: "1.0"},
		PayloadSchema: it.Message.Namespace,
		Size:          size,
		Origin:        it.DeliveredAt,
		Delivery:      it.DeliveredAt,
		InitialFetch:  it.FetchedAt,
	}
}

// Fetch returns the message with its attachments, streamed from the blob store.
func (m *Mailbox) Fetch(ctx context.Context, reader, messageID string) (*xta.OutboundMessage, error) {
	it, err := m.Store.MailboxGet(ctx, reader, messageID)
	if errors.Is(err, routing.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", xta.ErrUnknownMessage, messageID)
	}
	if err != nil {
		return nil, err
	}
	if err := m.audit(ctx, actionGetMessage, reader, it.TransportID, it.SubmissionID); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	xml := it.Message.XML
	out := &xta.OutboundMessage{
		Meta: m.meta(it),
		Message: xta.Content{ContentType: "application/xml", Filename: it.Message.RootElement + ".xml", Encoding: "UTF-8",
			Size: int64(len(xml)), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(xml)), nil }},
	}
	refs := make(map[string]routing.MessageAttachment, len(it.Message.Attachments))
	for _, r := range it.Message.Attachments {
		refs[r.AttachmentID] = r
	}
	for _, a := range it.Attachments {
		key := a.BlobKey
		c := xta.Content{ContentType: a.ContentType, Filename: a.Filename, Size: a.Size,
			Open: func() (io.ReadCloser, error) { return m.Blobs.Open(key) }}
		// Ship each file under the ID and name the XÖV document refers to.
		if r, ok := refs[a.ID]; ok {
			c.ID, c.Filename = r.DocumentID, r.Filename
		}
		out.Attachments = append(out.Attachments, c)
	}
	return out, nil
}

// Close is the reader's acknowledgement: the submission becomes fetched.
// With AuditEntry and a store that can, the close and its audit entry are
// one transaction: a failed audit write leaves the message unclosed.
func (m *Mailbox) Close(ctx context.Context, reader, messageID string) error {
	ca, inTx := m.Store.(closeAuditor)
	inTx = inTx && m.AuditEntry != nil
	var err error
	if inTx {
		acc := Access{Reader: reader, Peer: PeerFrom(ctx), Action: actionClose, MessageID: messageID}
		_, err = ca.MailboxCloseAudited(ctx, reader, messageID, m.now(), func(submissionID string) store.AuditEntry {
			acc.SubmissionID = submissionID
			return m.AuditEntry(acc)
		})
	} else {
		_, err = m.Store.MailboxClose(ctx, reader, messageID, m.now())
	}
	switch {
	case errors.Is(err, routing.ErrNotFound):
		return fmt.Errorf("%w: %s", xta.ErrUnknownMessage, messageID)
	case err != nil && inTx:
		return fmt.Errorf("close with audit log: %w", err)
	case err != nil:
		return err
	case inTx:
		return nil // audited in the close's transaction
	}
	if err := m.audit(ctx, actionClose, reader, messageID, ""); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// Receive takes a reply from a Fachverfahren (sendMessage). It returns only
// after the message and its effect are committed; attachments (e.g. a
// Bescheid) are kept in the blob store first.
func (m *Mailbox) Receive(ctx context.Context, msg *xta.InboundMessage) error {
	limit := m.MaxInboundBytes
	if limit <= 0 {
		limit = 16 << 20
	}
	rc, err := msg.Message.Open()
	if err != nil {
		return err
	}
	payload, err := io.ReadAll(io.LimitReader(rc, limit+1))
	rc.Close()
	if err != nil {
		return err
	}
	if int64(len(payload)) > limit {
		return xta.NewFault(xta.CodeSizeLimitExceeded, fmt.Sprintf("the XÖV message exceeds %d bytes", limit))
	}
	var atts []routing.Attachment
	for _, a := range msg.Attachments {
		ar, err := a.Open()
		if err != nil {
			return err
		}
		ref, err := m.Blobs.Put(ctx, ar, 0)
		ar.Close()
		if err != nil {
			return fmt.Errorf("xtabox: keep attachment %q: %w", a.Filename, err)
		}
		atts = append(atts, routing.Attachment{ID: a.ID, Filename: a.Filename, ContentType: a.ContentType,
			Size: ref.Size, SHA256: ref.SHA256, BlobKey: ref.Key})
	}
	_, err = m.Receiver.Receive(ctx, routing.Inbound{
		TransportID: msg.Meta.MessageID, Transport: routing.TransportXTAMailbox,
		AuthorKey: msg.Meta.AuthorKey, ReaderKey: msg.Meta.ReaderKey, Payload: payload, Attachments: atts,
	})
	switch {
	case errors.Is(err, routing.ErrDuplicate):
		return fmt.Errorf("%w: %s", xta.ErrDuplicateMessage, msg.Meta.MessageID)
	case errors.Is(err, routing.ErrMalformedInbound):
		return xta.NewFault(xta.CodeSchemaViolation, err.Error())
	}
	return err
}

// LookupService implements xta.Backend: readers with a mailbox receive every
// service; the hub itself receives the configured services (replies).
func (m *Mailbox) LookupService(_ context.Context, _, reader, service string) (xta.Availability, error) {
	if strings.EqualFold(reader, m.AuthorKey) {
		if len(m.ServiceURIs) == 0 {
			return xta.Available, nil
		}
		for _, s := range m.ServiceURIs {
			if s == service {
				return xta.Available, nil
			}
		}
		return xta.NotAvailable, nil
	}
	if m.known(reader) {
		return xta.Available, nil
	}
	return xta.NotAvailable, nil
}

// Report type codes of receipts attached to transport reports: the XÖV
// message type code prefixed with "xoev:" (e.g. "xoev:1120").
const receiptKeyPrefix = "xoev:"

// TransportReport implements xta.Backend for both directions: messages the
// hub put into identity's mailbox (status 0 until in the mailbox, 1 once
// there, 3 when delivery failed; XÖV receipts the reader sent back are
// attached) and messages identity sent to the hub (1 when applied, 2 when
// kept without effect).
func (m *Mailbox) TransportReport(ctx context.Context, identity, messageID string) (*xta.TransportReport, error) {
	src, err := m.Store.XTAReportSource(ctx, messageID)
	if errors.Is(err, routing.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", xta.ErrUnknownMessage, messageID)
	}
	if err != nil {
		return nil, err
	}
	if src.Outbound {
		if !strings.EqualFold(identity, src.ReaderKey) && !strings.EqualFold(identity, m.AuthorKey) {
			return nil, fmt.Errorf("%w: %s", xta.ErrUnknownMessage, messageID)
		}
		it := store.MailboxItem{TransportID: src.TransportID, ReaderKey: src.ReaderKey, ServiceURI: src.ServiceURI,
			DeliveredAt: src.DeliveredAt, FetchedAt: src.FetchedAt, Message: src.Message}
		r := &xta.TransportReport{Meta: m.meta(it), ReportTime: m.now()}
		r.Meta.Size = src.Size
		r.Meta.Origin = src.CreatedAt
		r.Meta.InitialSend = src.CreatedAt
		r.Infos = append(r.Infos, xta.Record{Time: src.CreatedAt, Code: "accepted", Reason: "vom Hub zur Zustellung angenommen"})
		switch src.State {
		case "pending":
			r.Open = true
			if src.LastError != "" {
				r.Infos = append(r.Infos, xta.Record{Time: m.now(), Code: "retry",
					Reason: fmt.Sprintf("Zustellversuch %d fehlgeschlagen, wird wiederholt: %s", src.Attempts, src.LastError)})
			}
		case "dead":
			r.Errors = append(r.Errors, xta.Record{Time: m.now(), Code: "failed", Reason: "Zustellung endgültig fehlgeschlagen: " + src.LastError})
		default:
			r.Infos = append(r.Infos, xta.Record{Time: src.DeliveredAt, Code: "delivered", Reason: "in das Postfach des Lesers eingestellt"})
			if !src.FetchedAt.IsZero() {
				r.Infos = append(r.Infos, xta.Record{Time: src.FetchedAt, Code: "fetched", Reason: "vom Leser abgeholt (close)"})
			}
		}
		for _, rc := range src.Receipts {
			r.Additional = append(r.Additional, xta.AdditionalReport{Key: receiptKeyPrefix + rc.TypeCode, Data: rc.Payload})
			r.Infos = append(r.Infos, xta.Record{Time: rc.ReceivedAt, Code: "receipt",
				Reason: fmt.Sprintf("XÖV-Nachricht %s (%s) vom Leser erhalten", rc.TypeCode, rc.TransportID)})
		}
		return r, nil
	}
	if !strings.EqualFold(identity, src.AuthorKey) && !strings.EqualFold(identity, src.ReaderKey) {
		return nil, fmt.Errorf("%w: %s", xta.ErrUnknownMessage, messageID)
	}
	r := &xta.TransportReport{ReportTime: m.now(), Meta: xta.MessageMeta{
		MessageID: src.TransportID, AuthorKey: src.AuthorKey, AuthorType: "xoev", ReaderKey: src.ReaderKey, ReaderType: "xoev",
		BusinessScenario: xta.Code{Code: "XBAU_DATA", ListURI: businessScenarioList, ListVersionID: "1"},
		MessageType:      xta.Code{Code: orUnknown(src.Message.TypeCode), ListURI: messageTypeList, ListVersionID: "1.0"},
		PayloadSchema:    "urn:unknown", Size: src.Size,
		InitialSend: src.ReceivedAt, Delivery: src.ReceivedAt, Reception: src.ReceivedAt,
	}}
	r.Infos = []xta.Record{{Time: src.ReceivedAt, Code: "received", Reason: "vom Hub empfangen und gespeichert"}}
	if src.Note != "" {
		r.Warnings = []xta.Record{{Time: src.ReceivedAt, Code: "kept", Reason: "ohne Wirkung aufbewahrt: " + src.Note}}
	}
	return r, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
