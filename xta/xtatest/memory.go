package xtatest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dxhub/dxhub/xta"
)

// Blob is an in-memory content for MemoryBackend.
type Blob struct {
	ContentType string
	Filename    string
	Data        []byte
}

func (b Blob) content() xta.Content {
	data := b.Data
	return xta.Content{
		ContentType: b.ContentType,
		Filename:    b.Filename,
		Size:        int64(len(data)),
		Open:        func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
	}
}

// Received is a message MemoryBackend got through sendMessage.
type Received struct {
	Meta        xta.MessageMeta
	Message     Blob
	Attachments []Blob
}

type memMsg struct {
	meta        xta.MessageMeta
	message     Blob
	attachments []Blob
	closed      bool
}

// MemoryBackend is an in-memory xta.Backend (and xta.CancelBackend) for
// tests, simulations and the fake remote XTA server. It is safe for
// concurrent use. Fail, when set, is called at the start of every Backend
// method with the method name and may inject an error.
type MemoryBackend struct {
	Fail func(op string) error
	// Now is the clock for receive and fetch times (default time.Now).
	Now func() time.Time
	// OpenReports makes the transport report of a received message stay open
	// (status 0) for that many getTransportReport calls before it turns green.
	OpenReports int
	// Identity is the XTAServerIdentity in reports (default "xtatest").
	Identity string

	mu       sync.Mutex
	accounts map[string]bool
	boxes    map[string][]*memMsg // reader → messages in mailbox order
	received map[string]*memRecv  // lower-case message ID → message
	order    []string
}

type memRecv struct {
	r        Received
	at       time.Time
	polls    int
	canceled bool
}

var (
	_ xta.Backend       = (*MemoryBackend)(nil)
	_ xta.CancelBackend = (*MemoryBackend)(nil)
)

// NewMemoryBackend returns a backend with active accounts for the given keys.
func NewMemoryBackend(accounts ...string) *MemoryBackend {
	b := &MemoryBackend{accounts: map[string]bool{}, boxes: map[string][]*memMsg{}, received: map[string]*memRecv{}}
	for _, a := range accounts {
		b.accounts[a] = true
	}
	return b
}

func (b *MemoryBackend) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Deliver puts a message into the mailbox of meta.ReaderKey (Delivery
// defaults to now).
func (b *MemoryBackend) Deliver(meta xta.MessageMeta, message Blob, attachments ...Blob) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if meta.Size == 0 {
		meta.Size = int64(len(message.Data))
		for _, a := range attachments {
			meta.Size += int64(len(a.Data))
		}
	}
	if meta.Delivery.IsZero() {
		meta.Delivery = b.now()
	}
	box := append(b.boxes[meta.ReaderKey], &memMsg{meta: meta, message: message, attachments: attachments})
	sort.SliceStable(box, func(i, j int) bool {
		return xta.Cursor{Delivery: box[i].meta.Delivery, MessageID: box[i].meta.MessageID}.Before(box[j].meta)
	})
	b.boxes[meta.ReaderKey] = box
}

// Received returns the messages received through sendMessage, in order
// (cancelled ones excluded).
func (b *MemoryBackend) Received() []Received {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Received, 0, len(b.order))
	for _, id := range b.order {
		if r := b.received[id]; !r.canceled {
			out = append(out, r.r)
		}
	}
	return out
}

// Closed reports whether the reader closed the message.
func (b *MemoryBackend) Closed(reader, messageID string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.find(reader, messageID)
	return m != nil && m.closed
}

func (b *MemoryBackend) fail(op string) error {
	if b.Fail != nil {
		return b.Fail(op)
	}
	return nil
}

func (b *MemoryBackend) find(reader, id string) *memMsg {
	for _, m := range b.boxes[reader] {
		if strings.EqualFold(m.meta.MessageID, id) {
			return m
		}
	}
	return nil
}

// AccountActive implements xta.Backend.
func (b *MemoryBackend) AccountActive(_ context.Context, identity string) (bool, error) {
	if err := b.fail("AccountActive"); err != nil {
		return false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.accounts[identity], nil
}

// StatusList implements xta.Backend.
func (b *MemoryBackend) StatusList(_ context.Context, reader string, q xta.ListQuery) ([]xta.MessageMeta, int, error) {
	if err := b.fail("StatusList"); err != nil {
		return nil, 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []xta.MessageMeta
	remaining := 0
	for _, m := range b.boxes[reader] {
		if !q.After.Before(m.meta) || !q.Selector.Matches(m.meta, m.closed) {
			continue
		}
		if len(out) < q.Limit {
			out = append(out, m.meta)
		} else {
			remaining++
		}
	}
	return out, remaining, nil
}

// Fetch implements xta.Backend.
func (b *MemoryBackend) Fetch(_ context.Context, reader, messageID string) (*xta.OutboundMessage, error) {
	if err := b.fail("Fetch"); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.find(reader, messageID)
	if m == nil {
		return nil, fmt.Errorf("%w: %s", xta.ErrUnknownMessage, messageID)
	}
	out := &xta.OutboundMessage{Meta: m.meta, Message: m.message.content()}
	for _, a := range m.attachments {
		out.Attachments = append(out.Attachments, a.content())
	}
	return out, nil
}

// Close implements xta.Backend; closing twice is fine.
func (b *MemoryBackend) Close(_ context.Context, reader, messageID string) error {
	if err := b.fail("Close"); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.find(reader, messageID)
	if m == nil {
		return fmt.Errorf("%w: %s", xta.ErrUnknownMessage, messageID)
	}
	if !m.closed {
		m.closed = true
		m.meta.InitialFetch = b.now()
	}
	return nil
}

// Receive implements xta.Backend: it copies the contents into memory.
func (b *MemoryBackend) Receive(_ context.Context, msg *xta.InboundMessage) error {
	if err := b.fail("Receive"); err != nil {
		return err
	}
	key := strings.ToLower(msg.Meta.MessageID)
	b.mu.Lock()
	_, dup := b.received[key]
	b.mu.Unlock()
	if dup {
		return fmt.Errorf("%w: %s", xta.ErrDuplicateMessage, msg.Meta.MessageID)
	}
	read := func(c xta.Content) (Blob, error) {
		rc, err := c.Open()
		if err != nil {
			return Blob{}, err
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		return Blob{ContentType: c.ContentType, Filename: c.Filename, Data: data}, err
	}
	r := Received{Meta: msg.Meta}
	var err error
	if r.Message, err = read(msg.Message); err != nil {
		return err
	}
	for _, a := range msg.Attachments {
		blob, err := read(a)
		if err != nil {
			return err
		}
		r.Attachments = append(r.Attachments, blob)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.received[key]; dup {
		return fmt.Errorf("%w: %s", xta.ErrDuplicateMessage, msg.Meta.MessageID)
	}
	b.received[key] = &memRecv{r: r, at: b.now()}
	b.order = append(b.order, key)
	return nil
}

// TransportReport implements xta.Backend for both directions: messages
// identity sent (sendMessage) and messages in identity's mailbox.
func (b *MemoryBackend) TransportReport(_ context.Context, identity, messageID string) (*xta.TransportReport, error) {
	if err := b.fail("TransportReport"); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if r, ok := b.received[strings.ToLower(messageID)]; ok && strings.EqualFold(r.r.Meta.AuthorKey, identity) {
		rep := &xta.TransportReport{Meta: r.r.Meta, ReportTime: now, ServerIdentity: b.Identity}
		rep.Meta.InitialSend = r.at
		r.polls++
		switch {
		case r.canceled:
			rep.Errors = []xta.Record{{Time: r.at, Code: "canceled", Reason: "vom Autor zurückgezogen (cancelMessage)"}}
		case !r.r.Meta.NotBefore.IsZero() && now.Before(r.r.Meta.NotBefore), r.polls <= b.OpenReports:
			rep.Open = true
		default:
			rep.Meta.Delivery = r.at
			rep.Infos = []xta.Record{{Time: r.at, Code: "delivered", Reason: "in das Postfach des Lesers eingestellt"}}
		}
		return rep, nil
	}
	if m := b.find(identity, messageID); m != nil {
		rep := &xta.TransportReport{Meta: m.meta, ReportTime: now, ServerIdentity: b.Identity}
		rep.Infos = []xta.Record{{Time: m.meta.Delivery, Code: "delivered", Reason: "in das Postfach eingestellt"}}
		if m.closed {
			rep.Infos = append(rep.Infos, xta.Record{Time: m.meta.InitialFetch, Code: "fetched", Reason: "vom Leser abgeholt (close)"})
		}
		return rep, nil
	}
	return nil, fmt.Errorf("%w: %s", xta.ErrUnknownMessage, messageID)
}

// LookupService implements xta.Backend: a reader with an account receives
// every service.
func (b *MemoryBackend) LookupService(_ context.Context, _, reader, _ string) (xta.Availability, error) {
	if err := b.fail("LookupService"); err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.accounts[reader] {
		return xta.Available, nil
	}
	return xta.NotAvailable, nil
}

// Cancel implements xta.CancelBackend for messages received with a future
// NotBefore.
func (b *MemoryBackend) Cancel(_ context.Context, author, messageID string) error {
	if err := b.fail("Cancel"); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.received[strings.ToLower(messageID)]
	if !ok || !strings.EqualFold(r.r.Meta.AuthorKey, author) {
		return fmt.Errorf("%w: %s", xta.ErrUnknownMessage, messageID)
	}
	r.canceled = true
	return nil
}

// SyncMemoryBackend is a MemoryBackend that also answers sendMessageSync
// with Answer (a MemoryBackend alone answers it with 9080).
type SyncMemoryBackend struct {
	*MemoryBackend
	Answer func(in Received) (*xta.OutboundMessage, error)
}

var _ xta.SyncBackend = (*SyncMemoryBackend)(nil)

// ReceiveSync implements xta.SyncBackend: the request is stored like a
// sendMessage, then Answer produces the response.
func (b *SyncMemoryBackend) ReceiveSync(ctx context.Context, msg *xta.InboundMessage) (*xta.OutboundMessage, error) {
	if err := b.Receive(ctx, msg); err != nil {
		return nil, err
	}
	b.mu.Lock()
	r := b.received[strings.ToLower(msg.Meta.MessageID)].r
	b.mu.Unlock()
	return b.Answer(r)
}
