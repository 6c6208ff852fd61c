package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// MailboxItem is one message waiting in (or fetched from) the built-in XTA
// mailbox of a reader.
type MailboxItem struct {
	TransportID  string
	SubmissionID string
	ReaderKey    string
	ServiceURI   string
	DeliveredAt  time.Time
	FetchedAt    time.Time
	// XMLSize is the size of the XÖV document; MailboxList leaves Message.XML empty.
	XMLSize int64
	// AttachmentBytes is the total size of the attachments (MailboxQuery,
	// also with SizesOnly; MailboxGet).
	AttachmentBytes int64
	Message         routing.Message
	Attachments     []routing.Attachment
}

const mailboxWhere = `d.reader_key = ? AND d.transport = 'xta-mailbox' AND d.state = 'delivered'`

// MailboxList returns up to limit unfetched messages for reader, oldest first,
// and how many unfetched messages there are in all.
func (s *Store) MailboxList(ctx context.Context, reader string, limit int) ([]MailboxItem, int, error) {
	// The total comes from the same statement (a scalar subquery on the
	// statement's snapshot), so it can never be smaller than the page beside
	// it while deliveries arrive concurrently.
	var total int
	if limit <= 0 { // only the count is asked for
		err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM deliveries d WHERE `+mailboxWhere+` AND d.fetched_at IS NULL`,
			reader).Scan(&total)
		if err != nil {
			return nil, 0, fmt.Errorf("store: mailbox count: %w", err)
		}
		return nil, total, nil
	}
	// The limit applies to the deliveries alone: joined first, every
	// unfetched message's XML would be read to return one page of them.
	rows, err := s.db.QueryContext(ctx, `SELECT p.transport_id, p.submission_id, p.reader_key, p.service_uri, p.delivered_at,
		m.uuid, m.standard, m.version, m.type_code, m.root_element, m.namespace, length(m.xml),
		(SELECT count(*) FROM deliveries d WHERE `+mailboxWhere+` AND d.fetched_at IS NULL) AS total
		FROM (SELECT d.id, d.transport_id, d.submission_id, d.reader_key, d.service_uri, d.delivered_at, d.message_uuid
			FROM deliveries d WHERE `+mailboxWhere+` AND d.fetched_at IS NULL ORDER BY d.delivered_at, d.id LIMIT ?) p
		JOIN messages m ON m.uuid = p.message_uuid ORDER BY p.delivered_at, p.id`, reader, reader, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("store: mailbox list: %w", err)
	}
	defer rows.Close()
	var out []MailboxItem
	for rows.Next() {
		var it MailboxItem
		var delivered int64
		if err := rows.Scan(&it.TransportID, &it.SubmissionID, &it.ReaderKey, &it.ServiceURI, &delivered,
			&it.Message.UUID, &it.Message.Standard, &it.Message.Version, &it.Message.TypeCode, &it.Message.RootElement,
			&it.Message.Namespace, &it.XMLSize, &total); err != nil {
			return nil, 0, err
		}
		it.DeliveredAt = fromMicros(delivered)
		it.Message.SubmissionID = it.SubmissionID
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if err := s.fillAttachments(ctx, out); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// MailboxGet returns one message of reader's mailbox (fetched or not) with its
// XML and attachment metadata. routing.ErrNotFound if it is not the reader's.
func (s *Store) MailboxGet(ctx context.Context, reader, transportID string) (MailboxItem, error) {
	var it MailboxItem
	var delivered int64
	var fetched sql.NullInt64
	var atts string
	err := s.db.QueryRowContext(ctx, `SELECT d.transport_id, d.submission_id, d.reader_key, d.service_uri, d.delivered_at, d.fetched_at,
		m.uuid, m.standard, m.version, m.type_code, m.root_element, m.namespace, m.service, m.xml, m.attachments
		FROM deliveries d JOIN messages m ON m.uuid = d.message_uuid
		WHERE `+mailboxWhere+` AND lower(d.transport_id) = lower(?)`, reader, transportID).Scan(
		&it.TransportID, &it.SubmissionID, &it.ReaderKey, &it.ServiceURI, &delivered, &fetched,
		&it.Message.UUID, &it.Message.Standard, &it.Message.Version, &it.Message.TypeCode, &it.Message.RootElement,
		&it.Message.Namespace, &it.Message.Service, &it.Message.XML, &atts)
	if errors.Is(err, sql.ErrNoRows) {
		return it, fmt.Errorf("mailbox message %s for %s: %w", transportID, reader, routing.ErrNotFound)
	}
	if err != nil {
		return it, fmt.Errorf("store: mailbox get: %w", err)
	}
	it.DeliveredAt, it.FetchedAt = fromMicros(delivered), nullMicros(fetched)
	it.XMLSize = int64(len(it.Message.XML))
	if err := json.Unmarshal([]byte(atts), &it.Message.Attachments); err != nil {
		return it, fmt.Errorf("store: message attachments: %w", err)
	}
	it.Message.SubmissionID = it.SubmissionID
	it.Attachments, err = s.attachments(ctx, it.SubmissionID)
	for _, a := range it.Attachments {
		it.AttachmentBytes += a.Size
	}
	return it, err
}

// MailboxClose records the reader's acknowledgement (XTA close) and moves the
// submission to fetched. Closing an already closed message is a no-op that
// reports closed=false.
func (s *Store) MailboxClose(ctx context.Context, reader, transportID string, at time.Time) (closed bool, err error) {
	return s.MailboxCloseAudited(ctx, reader, transportID, at, nil)
}

// MailboxCloseAudited is MailboxClose that also appends the access-audit
// entry of the close in the same transaction: audit (if not nil) gets the
// submission of the message, resolved by the close's own read, and returns
// the entry. Close and entry commit together or not at all, so a close is
// never recorded without its audit entry, and the audit costs neither a
// lookup of its own nor a commit of its own. A repeated close (closed=false)
// is audited too; an unknown message is not (routing.ErrNotFound).
func (s *Store) MailboxCloseAudited(ctx context.Context, reader, transportID string, at time.Time,
	audit func(submissionID string) AuditEntry) (closed bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var subID string
		subID, closed, err = s.mailboxCloseTx(ctx, tx, reader, transportID, at)
		if err != nil || audit == nil {
			return err
		}
		return s.appendAuditsTx(ctx, tx, []AuditEntry{audit(subID)})
	})
	if err != nil {
		closed = false
		if !errors.Is(err, routing.ErrNotFound) {
			err = fmt.Errorf("store: mailbox close: %w", err)
		}
	}
	return closed, err
}

// mailboxCloseTx is the close inside tx; it returns the message's submission.
func (s *Store) mailboxCloseTx(ctx context.Context, tx *sql.Tx, reader, transportID string, at time.Time) (subID string, closed bool, err error) {
	var fetched sql.NullInt64
	q := `SELECT d.submission_id, d.fetched_at FROM deliveries d
		WHERE ` + mailboxWhere + ` AND lower(d.transport_id) = lower(?)`
	err = tx.QueryRowContext(ctx, q, reader, transportID).Scan(&subID, &fetched)
	if err == nil && s.pg() {
		// Lock the submission, then read the delivery again under it:
		// the lock order of every status-writing transaction.
		if err = s.lockSubmission(ctx, tx, subID); err == nil {
			err = tx.QueryRowContext(ctx, q, reader, transportID).Scan(&subID, &fetched)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, fmt.Errorf("mailbox message %s for %s: %w", transportID, reader, routing.ErrNotFound)
	}
	if err != nil {
		return "", false, err
	}
	if fetched.Valid {
		return subID, false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET fetched_at = ? WHERE submission_id = ?`, micros(at), subID); err != nil {
		return "", false, err
	}
	err = s.insertEvent(ctx, tx, subID, routing.StatusEvent{
		Status: routing.StatusFetched, Time: at, Source: routing.SourceXTA,
		Detail: "fetched by " + reader + " (XTA close)", Evidence: transportID,
	})
	return subID, err == nil, err
}

// ReceiveInbound stores an inbound message and the status events it causes in
// one transaction. A transport ID seen before yields ErrDuplicate and changes
// nothing.
func (s *Store) ReceiveInbound(ctx context.Context, rec routing.InboundRecord, events []routing.StatusEvent) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var sub any
		if rec.SubmissionID != "" {
			sub = rec.SubmissionID
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO inbound_messages
			(transport_id, received_at, transport, author_key, reader_key, message_uuid, type_code, submission_id, classification, note, payload)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (transport_id) DO NOTHING`,
			rec.TransportID, micros(rec.ReceivedAt), string(rec.Transport), rec.AuthorKey, rec.ReaderKey, rec.MessageUUID,
			rec.TypeCode, sub, rec.Classification, truncate(rec.Note, 2000), rec.Payload)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrDuplicate
		}
		for _, ev := range events {
			if err := s.insertEvent(ctx, tx, rec.SubmissionID, ev); err != nil {
				return err
			}
		}
		return insertInboundAttachments(ctx, tx, rec)
	})
	if err != nil && !errors.Is(err, ErrDuplicate) {
		return fmt.Errorf("store: receive inbound: %w", err)
	}
	return err
}

// SubmissionByMessageUUID finds the submission an outbound nachrichtenUUID
// belongs to (correlation of receipts, DESIGN §3).
func (s *Store) SubmissionByMessageUUID(ctx context.Context, uuid string) (string, error) {
	var id sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT submission_id FROM messages WHERE lower(uuid) = lower(?) AND direction = 'out'`, uuid).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !id.Valid) {
		return "", fmt.Errorf("message %s: %w", uuid, routing.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: correlate: %w", err)
	}
	return id.String, nil
}
