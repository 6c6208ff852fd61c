package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// MailboxQuery selects messages of a reader's built-in XTA mailbox
// (osci:MsgSelector plus the iteration cursor).
type MailboxQuery struct {
	TransportIDs []string  // any of these (case-insensitive); empty: all
	Fetched      *bool     // nil: both; false: unfetched only; true: fetched only
	From, To     time.Time // delivered_at bounds, inclusive; zero: open
	// AfterTime/AfterID continue after the item last seen (order:
	// delivered_at, then lower(transport_id)).
	AfterTime time.Time
	AfterID   string
	Limit     int
	// SizesOnly leaves MailboxItem.Attachments empty: the items carry only
	// AttachmentBytes, which the page's own statement sums, so a status
	// list costs one statement instead of a second one for the attachment
	// rows.
	SizesOnly bool
}

// MailboxQuery returns up to q.Limit mailbox items of reader matching q in
// mailbox order and how many further matching items follow.
func (s *Store) MailboxQuery(ctx context.Context, reader string, q MailboxQuery) ([]MailboxItem, int, error) {
	where := []string{mailboxWhere}
	args := []any{reader}
	if len(q.TransportIDs) > 0 {
		ph := make([]string, len(q.TransportIDs))
		for i, id := range q.TransportIDs {
			ph[i] = "?"
			args = append(args, strings.ToLower(id))
		}
		where = append(where, "lower(d.transport_id) IN ("+strings.Join(ph, ",")+")")
	}
	if q.Fetched != nil {
		if *q.Fetched {
			where = append(where, "d.fetched_at IS NOT NULL")
		} else {
			where = append(where, "d.fetched_at IS NULL")
		}
	}
	if !q.From.IsZero() {
		where = append(where, "d.delivered_at >= ?")
		args = append(args, micros(q.From))
	}
	if !q.To.IsZero() {
		where = append(where, "d.delivered_at <= ?")
		args = append(args, micros(q.To))
	}
	if !q.AfterTime.IsZero() || q.AfterID != "" {
		where = append(where, "(d.delivered_at > ? OR (d.delivered_at = ? AND lower(d.transport_id) > ?))")
		args = append(args, micros(q.AfterTime), micros(q.AfterTime), strings.ToLower(q.AfterID))
	}
	cond := strings.Join(where, " AND ")
	var total int
	if q.Limit <= 0 { // only the count is asked for
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM deliveries d WHERE `+cond, args...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("store: mailbox count: %w", err)
		}
		return nil, total, nil
	}
	// The total comes from the same statement as the page (a scalar
	// subquery, evaluated once, on the statement's snapshot), so deliveries
	// arriving in between cannot make the remaining count negative. It is
	// not a window over the page's query: that materialised and sorted every
	// matching delivery to return one page. For the open messages (every
	// poll) the page is read in order from the partial index
	// deliveries_mailbox_open, up to the limit, and the count scans only
	// that index (migration 0020); the reader's fetched history is not read.
	// The limit applies to the deliveries alone: joined first, every
	// matching message's XML would be read.
	countArgs := append([]any(nil), args...)
	rows, err := s.db.QueryContext(ctx, `SELECT p.transport_id, p.submission_id, p.reader_key, p.service_uri, p.delivered_at, p.fetched_at,
		m.uuid, m.standard, m.version, m.type_code, m.root_element, m.namespace, length(m.xml),
		(SELECT coalesce(sum(a.size), 0) FROM attachments a WHERE a.submission_id = p.submission_id),
		(SELECT count(*) FROM deliveries d WHERE `+cond+`) AS total
		FROM (SELECT d.transport_id, d.submission_id, d.reader_key, d.service_uri, d.delivered_at, d.fetched_at, d.message_uuid
			FROM deliveries d WHERE `+cond+` ORDER BY d.delivered_at, lower(d.transport_id) LIMIT ?) p
		JOIN messages m ON m.uuid = p.message_uuid ORDER BY p.delivered_at, lower(p.transport_id)`,
		append(append(countArgs, args...), q.Limit)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: mailbox query: %w", err)
	}
	defer rows.Close()
	var out []MailboxItem
	for rows.Next() {
		var it MailboxItem
		var delivered int64
		var fetched sql.NullInt64
		if err := rows.Scan(&it.TransportID, &it.SubmissionID, &it.ReaderKey, &it.ServiceURI, &delivered, &fetched,
			&it.Message.UUID, &it.Message.Standard, &it.Message.Version, &it.Message.TypeCode, &it.Message.RootElement,
			&it.Message.Namespace, &it.XMLSize, &it.AttachmentBytes, &total); err != nil {
			return nil, 0, err
		}
		it.DeliveredAt, it.FetchedAt = fromMicros(delivered), nullMicros(fetched)
		it.Message.SubmissionID = it.SubmissionID
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if !q.SizesOnly {
		if err := s.fillAttachments(ctx, out); err != nil {
			return nil, 0, err
		}
	}
	return out, total - len(out), nil
}

// XTAReportSource is what the store knows about one message for an XTA
// transport report, in either direction.
type XTAReportSource struct {
	Outbound    bool // a hub → reader delivery; false: received from a Fachverfahren
	TransportID string
	AuthorKey   string // inbound only; outbound messages are authored by the hub
	ReaderKey   string
	ServiceURI  string
	Transport   string
	Message     routing.Message // outbound: type, root element, namespace (no XML)
	Size        int64
	// Outbound delivery state: pending, delivered or dead.
	State       string
	Attempts    int
	LastError   string
	CreatedAt   time.Time
	DeliveredAt time.Time
	FetchedAt   time.Time
	// Inbound: when it arrived and how it was classified.
	ReceivedAt     time.Time
	Classification string
	Note           string
	// Receipts are the inbound messages correlated with the same submission
	// (XÖV receipts, status messages), oldest first.
	Receipts []XTAReceipt
}

// XTAReceipt is one inbound message attached to a transport report.
type XTAReceipt struct {
	TransportID string
	TypeCode    string
	ReceivedAt  time.Time
	Payload     []byte
}

// XTAReportSource returns the report data of a message by its transport ID
// (case-insensitive), outbound deliveries first; routing.ErrNotFound if the
// hub never handled it.
func (s *Store) XTAReportSource(ctx context.Context, transportID string) (XTAReportSource, error) {
	var r XTAReportSource
	var subID string
	var created int64
	var delivered, fetched sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT d.transport_id, d.submission_id, d.reader_key, d.service_uri, d.transport, d.state,
		d.attempts, d.last_error, d.created_at, d.delivered_at, d.fetched_at,
		m.uuid, m.standard, m.version, m.type_code, m.root_element, m.namespace, length(m.xml)
		FROM deliveries d JOIN messages m ON m.uuid = d.message_uuid WHERE lower(d.transport_id) = lower(?)`, transportID).Scan(
		&r.TransportID, &subID, &r.ReaderKey, &r.ServiceURI, &r.Transport, &r.State, &r.Attempts, &r.LastError,
		&created, &delivered, &fetched, &r.Message.UUID, &r.Message.Standard, &r.Message.Version, &r.Message.TypeCode,
		&r.Message.RootElement, &r.Message.Namespace, &r.Size)
	switch {
	case err == nil:
		r.Outbound = true
		r.CreatedAt, r.DeliveredAt, r.FetchedAt = fromMicros(created), nullMicros(delivered), nullMicros(fetched)
		r.Message.SubmissionID = subID
		atts, err := s.attachments(ctx, subID)
		if err != nil {
			return r, err
		}
		for _, a := range atts {
			r.Size += a.Size
		}
		r.Receipts, err = s.receipts(ctx, subID)
		return r, err
	case !errors.Is(err, sql.ErrNoRows):
		return r, fmt.Errorf("store: xta report: %w", err)
	}
	var received int64
	var sub sql.NullString
	err = s.db.QueryRowContext(ctx, `SELECT transport_id, received_at, transport, author_key, reader_key, type_code,
		submission_id, classification, note, length(payload) FROM inbound_messages WHERE lower(transport_id) = lower(?)`, transportID).Scan(
		&r.TransportID, &received, &r.Transport, &r.AuthorKey, &r.ReaderKey, &r.Message.TypeCode, &sub,
		&r.Classification, &r.Note, &r.Size)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("xta message %s: %w", transportID, routing.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("store: xta report: %w", err)
	}
	r.ReceivedAt = fromMicros(received)
	r.Message.SubmissionID = sub.String
	return r, nil
}

func (s *Store) receipts(ctx context.Context, submissionID string) ([]XTAReceipt, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT transport_id, type_code, received_at, payload FROM inbound_messages
		WHERE submission_id = ? ORDER BY received_at, transport_id`, submissionID)
	if err != nil {
		return nil, fmt.Errorf("store: receipts: %w", err)
	}
	defer rows.Close()
	var out []XTAReceipt
	for rows.Next() {
		var rc XTAReceipt
		var at int64
		if err := rows.Scan(&rc.TransportID, &rc.TypeCode, &at, &rc.Payload); err != nil {
			return nil, err
		}
		rc.ReceivedAt = fromMicros(at)
		out = append(out, rc)
	}
	return out, rows.Err()
}
