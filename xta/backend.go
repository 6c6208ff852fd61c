package xta

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Outcomes a Backend reports.
var (
	// ErrUnknownMessage: the message ID is not known to this identity (→ 9070).
	ErrUnknownMessage = errors.New("xta: unknown message ID")
	// ErrDuplicateMessage: the message ID was already received (→ 9024).
	ErrDuplicateMessage = errors.New("xta: message ID already used")
	// ErrSyncOnly: the service of a sendMessage can only be used with
	// sendMessageSync (→ 9081).
	ErrSyncOnly = errors.New("xta: service is only available synchronously")
)

// Backend is the storage the XTA server needs. Implementations must be safe
// for concurrent use. An error that is (or wraps) a *Fault is sent to the
// client as is; any other unexpected error becomes fault 9030.
//
// Identities are organisation keys such as "ags:05315000"; the server has
// already checked that the caller may act for them (account and, with mTLS,
// the client certificate) before it calls a method with one.
type Backend interface {
	// AccountActive reports whether identity has a mailbox account on this hub.
	AccountActive(ctx context.Context, identity string) (bool, error)
	// StatusList returns up to q.Limit messages of reader that match q, in
	// the mailbox order (Delivery time, then message ID, ascending), starting
	// after q.After, and how many further matching messages follow them.
	StatusList(ctx context.Context, reader string, q ListQuery) (metas []MessageMeta, remaining int, err error)
	// Fetch returns one open or closed message of reader, or ErrUnknownMessage.
	Fetch(ctx context.Context, reader, messageID string) (*OutboundMessage, error)
	// Close marks the message as fetched (the reader's acknowledgement). It
	// must be idempotent: closing a closed message returns nil. Unknown IDs
	// return ErrUnknownMessage.
	Close(ctx context.Context, reader, messageID string) error
	// Receive durably stores a message sent to the hub before returning nil.
	// The Content readers are valid only during the call. A message ID seen
	// before returns ErrDuplicateMessage; a service that needs
	// sendMessageSync returns ErrSyncOnly.
	Receive(ctx context.Context, msg *InboundMessage) error
	// TransportReport returns the transport report of a message identity
	// authored or reads (both directions), or ErrUnknownMessage.
	TransportReport(ctx context.Context, identity, messageID string) (*TransportReport, error)
	// LookupService tells whether reader can receive messages of service
	// through this server.
	LookupService(ctx context.Context, author, reader, service string) (Availability, error)
}

// SyncBackend is implemented by backends that answer sendMessageSync: the
// returned message travels back in the same HTTP response. Servers whose
// backend lacks it answer sendMessageSync with fault 9080 (only async).
type SyncBackend interface {
	ReceiveSync(ctx context.Context, msg *InboundMessage) (*OutboundMessage, error)
}

// CancelBackend is implemented by backends that can withdraw a message whose
// NotBefore time has not been reached (cancelMessage). Without it, such a
// cancellation is answered with fault 9030.
type CancelBackend interface {
	Cancel(ctx context.Context, author, messageID string) error
}

// Availability is the answer of lookupService for one reader and service.
type Availability int

// Availability values (xta:IsServiceAvailableValueType).
const (
	AvailabilityUnknown Availability = iota // ServiceIsAvailableUnknown
	Available                               // ServiceIsAvailable true
	NotAvailable                            // ServiceIsAvailable false
)

// Selector is osci:MsgSelector: every non-empty criterion must hold.
type Selector struct {
	MessageIDs []string  // wsa:MessageID*, compared case-insensitively
	RelatesTo  []string  // wsa:RelatesTo*: In-Reply-To of the message
	From, To   time.Time // MsgBoxEntryTimeFrom/To (Delivery time), inclusive
	// NewEntry selects only unfetched (true) or only fetched (false)
	// messages; nil selects both. getStatusList defaults to true.
	NewEntry *bool
}

// Cursor is a position in the mailbox order.
type Cursor struct {
	Delivery  time.Time
	MessageID string
}

// ListQuery is one page request of a mailbox listing.
type ListQuery struct {
	Selector
	After Cursor // zero: from the start
	Limit int
}

// Matches reports whether m (closed: already fetched) satisfies the selector.
// Backends may use it to filter in memory.
func (s Selector) Matches(m MessageMeta, closed bool) bool {
	if s.NewEntry != nil && *s.NewEntry == closed {
		return false
	}
	if len(s.MessageIDs) > 0 && !containsFold(s.MessageIDs, m.MessageID) {
		return false
	}
	if len(s.RelatesTo) > 0 {
		found := false
		for _, r := range m.InReplyTo {
			if containsFold(s.RelatesTo, r) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if !s.From.IsZero() && m.Delivery.Before(s.From) {
		return false
	}
	if !s.To.IsZero() && m.Delivery.After(s.To) {
		return false
	}
	return true
}

// Before reports whether the cursor lies before m in the mailbox order
// (a zero cursor lies before everything).
func (c Cursor) Before(m MessageMeta) bool {
	if c.Delivery.IsZero() && c.MessageID == "" {
		return true
	}
	if !m.Delivery.Equal(c.Delivery) {
		return m.Delivery.After(c.Delivery)
	}
	return strings.ToLower(m.MessageID) > strings.ToLower(c.MessageID)
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
