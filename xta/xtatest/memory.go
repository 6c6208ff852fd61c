package xtatest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

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

// MemoryBackend is an in-memory xta.Backend for tests and simulations. It is
// safe for concurrent use. Fail, when set, is called at the start of every
// Backend method with the method name and may inject an error.
type MemoryBackend struct {
	Fail func(op string) error

	mu       sync.Mutex
	accounts map[string]bool
	boxes    map[string][]*memMsg // reader → messages in delivery order
	received map[string]Received  // message ID → message
	order    []string
}

var _ xta.Backend = (*MemoryBackend)(nil)

// NewMemoryBackend returns a backend with active accounts for the given keys.
func NewMemoryBackend(accounts ...string) *MemoryBackend {
	b := &MemoryBackend{accounts: map[string]bool{}, boxes: map[string][]*memMsg{}, received: map[string]Received{}}
	for _, a := range accounts {
		b.accounts[a] = true
	}
	return b
}

// Deliver puts a message into the mailbox of meta.ReaderKey.
func (b *MemoryBackend) Deliver(meta xta.MessageMeta, message Blob, attachments ...Blob) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if meta.Size == 0 {
		meta.Size = int64(len(message.Data))
		for _, a := range attachments {
			meta.Size += int64(len(a.Data))
		}
	}
	b.boxes[meta.ReaderKey] = append(b.boxes[meta.ReaderKey], &memMsg{meta: meta, message: message, attachments: attachments})
}

// Received returns the messages received through sendMessage, in order.
func (b *MemoryBackend) Received() []Received {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Received, 0, len(b.order))
	for _, id := range b.order {
		out = append(out, b.received[id])
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
		if m.meta.MessageID == id {
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
func (b *MemoryBackend) StatusList(_ context.Context, reader string, max int) ([]xta.MessageMeta, int, error) {
	if err := b.fail("StatusList"); err != nil {
		return nil, 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []xta.MessageMeta
	pending := 0
	for _, m := range b.boxes[reader] {
		if m.closed {
			continue
		}
		if len(out) < max {
			out = append(out, m.meta)
		} else {
			pending++
		}
	}
	return out, pending, nil
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
	m.closed = true
	return nil
}

// Receive implements xta.Backend: it copies the contents into memory.
func (b *MemoryBackend) Receive(_ context.Context, msg *xta.InboundMessage) error {
	if err := b.fail("Receive"); err != nil {
		return err
	}
	b.mu.Lock()
	_, dup := b.received[msg.Meta.MessageID]
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
	if _, dup := b.received[msg.Meta.MessageID]; dup {
		return fmt.Errorf("%w: %s", xta.ErrDuplicateMessage, msg.Meta.MessageID)
	}
	b.received[msg.Meta.MessageID] = r
	b.order = append(b.order, msg.Meta.MessageID)
	return nil
}
