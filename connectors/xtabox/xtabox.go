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
	MailboxList(ctx context.Context, reader string, limit int) ([]store.MailboxItem, int, error)
	MailboxGet(ctx context.Context, reader, transportID string) (store.MailboxItem, error)
	MailboxClose(ctx context.Context, reader, transportID string, at time.Time) (bool, error)
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
	Clock     routing.Clock
	// MaxInboundBytes caps one inbound XÖV message held in memory for parsing.
	MaxInboundBytes int64
}

var (
	_ xta.Backend       = (*Mailbox)(nil)
	_ routing.Transport = (*Mailbox)(nil)
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

// StatusList lists unfetched messages.
func (m *Mailbox) StatusList(ctx context.Context, reader string, max int) ([]xta.MessageMeta, int, error) {
	items, total, err := m.Store.MailboxList(ctx, reader, max)
	if err != nil {
		return nil, 0, err
	}
	metas := make([]xta.MessageMeta, len(items))
	for i, it := range items {
		metas[i] = m.meta(it)
	}
	return metas, total - len(items), nil
}

func (m *Mailbox) meta(it store.MailboxItem) xta.MessageMeta {
	size := it.XMLSize
	for _, a := range it.Attachments {
		size += a.Size
	}
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
func (m *Mailbox) Close(ctx context.Context, reader, messageID string) error {
	_, err := m.Store.MailboxClose(ctx, reader, messageID, m.now())
	if errors.Is(err, routing.ErrNotFound) {
		return fmt.Errorf("%w: %s", xta.ErrUnknownMessage, messageID)
	}
	return err
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
	for _, a := range msg.Attachments {
		ar, err := a.Open()
		if err != nil {
			return err
		}
		_, err = m.Blobs.Put(ctx, ar, 0)
		ar.Close()
		if err != nil {
			return fmt.Errorf("xtabox: keep attachment %q: %w", a.Filename, err)
		}
	}
	_, err = m.Receiver.Receive(ctx, routing.Inbound{
		TransportID: msg.Meta.MessageID, Transport: routing.TransportXTAMailbox,
		AuthorKey: msg.Meta.AuthorKey, ReaderKey: msg.Meta.ReaderKey, Payload: payload,
	})
	switch {
	case errors.Is(err, routing.ErrDuplicate):
		return fmt.Errorf("%w: %s", xta.ErrDuplicateMessage, msg.Meta.MessageID)
	case errors.Is(err, routing.ErrMalformedInbound):
		return xta.NewFault(xta.CodeSchemaViolation, err.Error())
	}
	return err
}
