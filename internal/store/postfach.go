package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// Notification is a status event still to be announced to the citizen, with
// what a sink needs to address and phrase it.
type Notification struct {
	Event      routing.StatusEvent
	Submission routing.Submission // without attachments and form
	// Attachments came with the back-channel message that caused the event
	// (e.g. the Bescheid PDF with a decision); they go to the citizen with it.
	Attachments []routing.Attachment
}

// PendingNotifications returns up to limit status events (oldest first) whose
// statuses are in the given set and that were not yet notified.
func (s *Store) PendingNotifications(ctx context.Context, statuses []routing.Status, limit int) ([]Notification, error) {
	if len(statuses) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(statuses)+1)
	in := ""
	for i, st := range statuses {
		if i > 0 {
			in += ","
		}
		in += "?"
		args = append(args, string(st))
	}
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, `SELECT e.id, e.submission_id, e.status, e.time, e.source, e.detail, e.evidence,
		s.portal_id, s.tenant, s.service, s.reference, s.applicant, s.trace_parent
		FROM status_events e JOIN submissions s ON s.id = e.submission_id
		WHERE e.notified_at IS NULL AND e.status IN (`+in+`) ORDER BY e.id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: pending notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var (
			n                    Notification
			status, source, appl string
			t                    int64
		)
		if err := rows.Scan(&n.Event.ID, &n.Event.SubmissionID, &status, &t, &source, &n.Event.Detail, &n.Event.Evidence,
			&n.Submission.PortalID, &n.Submission.Tenant, &n.Submission.Service, &n.Submission.Reference, &appl, &n.Submission.TraceParent); err != nil {
			return nil, err
		}
		n.Event.Status, n.Event.Source, n.Event.Time = routing.Status(status), routing.Source(source), fromMicros(t)
		n.Submission.ID = n.Event.SubmissionID
		if err := json.Unmarshal([]byte(appl), &n.Submission.Applicant); err != nil {
			return nil, fmt.Errorf("store: applicant of %s: %w", n.Submission.ID, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for i := range out {
		if out[i].Attachments, err = s.eventAttachments(ctx, out[i].Event); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// eventAttachments returns the attachments of the inbound XÖV message an
// event came from. Back-channel events name their message in the evidence
// ("<root element> <nachrichtenUUID>").
func (s *Store) eventAttachments(ctx context.Context, ev routing.StatusEvent) ([]routing.Attachment, error) {
	if ev.Source != routing.SourceXOEV {
		return nil, nil
	}
	f := strings.Fields(ev.Evidence)
	if len(f) == 0 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT content_id, filename, content_type, size, sha256, blob_key FROM inbound_attachments
		WHERE submission_id = ? AND lower(message_uuid) = lower(?) ORDER BY transport_id, seq`, ev.SubmissionID, f[len(f)-1])
	if err != nil {
		return nil, fmt.Errorf("store: event attachments: %w", err)
	}
	defer rows.Close()
	var out []routing.Attachment
	for rows.Next() {
		var a routing.Attachment
		if err := rows.Scan(&a.ID, &a.Filename, &a.ContentType, &a.Size, &a.SHA256, &a.BlobKey); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// insertInboundAttachments records the attachments of an inbound message
// (part of ReceiveInbound's transaction).
func insertInboundAttachments(ctx context.Context, tx *sql.Tx, rec routing.InboundRecord) error {
	var sub any
	if rec.SubmissionID != "" {
		sub = rec.SubmissionID
	}
	for i, a := range rec.Attachments {
		if _, err := tx.ExecContext(ctx, `INSERT INTO inbound_attachments (transport_id, seq, submission_id, message_uuid,
			content_id, filename, content_type, size, sha256, blob_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			rec.TransportID, i+1, sub, rec.MessageUUID, a.ID, a.Filename, a.ContentType, a.Size, a.SHA256, a.BlobKey); err != nil {
			return fmt.Errorf("insert inbound attachment %q: %w", a.Filename, err)
		}
	}
	return nil
}

// MarkNotified records that an event was handed to the citizen's sink.
func (s *Store) MarkNotified(ctx context.Context, eventID int64, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE status_events SET notified_at = ? WHERE id = ?`, micros(at), eventID)
	if err != nil {
		return fmt.Errorf("store: mark notified: %w", err)
	}
	return nil
}

// PostfachMessage is one message in the local Servicekonto Postfach.
type PostfachMessage struct {
	ID           int64          `json:"id"`
	Handle       string         `json:"-"`
	EventID      int64          `json:"-"`
	SubmissionID string         `json:"submissionId"`
	Status       routing.Status `json:"status"`
	Title        string         `json:"title"`
	Body         string         `json:"body"`
	Created      time.Time      `json:"created"`
	// Attachments (e.g. a Bescheid), readable at
	// GET /v1/mailboxes/{handle}/messages/{id}/attachments/{n} (n from 1).
	Attachments []PostfachAttachment `json:"attachments,omitempty"`
}

// PostfachAttachment is a file of a local Postfach message.
type PostfachAttachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	BlobKey     string `json:"-"`
}

// PostfachDeliver stores messages in the local Postfach and marks their events
// as notified, all in one transaction (the dispatcher hands over a page of
// them at once); the same event is never stored twice.
func (s *Store) PostfachDeliver(ctx context.Context, ms ...PostfachMessage) error {
	if len(ms) == 0 {
		return nil
	}
	// In ascending event ID, as every multi-row mark of status events (see
	// KafkaPublished), so that two processes' marks cannot deadlock.
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b PostfachMessage) int { return cmp.Compare(a.EventID, b.EventID) })
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, m := range ms {
			if err := postfachDeliver(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	})
}

func postfachDeliver(ctx context.Context, tx *sql.Tx, m PostfachMessage) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO postfach_messages (handle, event_id, submission_id, status, title, body, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
		m.Handle, m.EventID, m.SubmissionID, string(m.Status), m.Title, m.Body, micros(m.Created)); err != nil {
		return fmt.Errorf("store: postfach insert: %w", err)
	}
	for i, a := range m.Attachments {
		if _, err := tx.ExecContext(ctx, `INSERT INTO postfach_attachments (event_id, seq, filename, content_type, size, sha256,
			blob_key) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, seq) DO NOTHING`, m.EventID, i+1, a.Filename,
			a.ContentType, a.Size, a.SHA256, a.BlobKey); err != nil {
			return fmt.Errorf("store: postfach attachment: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE status_events SET notified_at = ? WHERE id = ?`, micros(m.Created), m.EventID); err != nil {
		return fmt.Errorf("store: postfach mark: %w", err)
	}
	return nil
}

// PostfachMessages lists a mailbox handle's messages about submissions of the
// given portal (all portals if portalID is ""), oldest first.
func (s *Store) PostfachMessages(ctx context.Context, handle, portalID string) ([]PostfachMessage, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT p.id, p.handle, p.event_id, p.submission_id, p.status, p.title, p.body, p.created_at
		FROM postfach_messages p JOIN submissions s ON s.id = p.submission_id
		WHERE p.handle = ? AND (? = '' OR s.portal_id = ?) ORDER BY p.id`, handle, portalID, portalID)
	if err != nil {
		return nil, fmt.Errorf("store: postfach list: %w", err)
	}
	defer rows.Close()
	var out []PostfachMessage
	for rows.Next() {
		var m PostfachMessage
		var status string
		var created int64
		if err := rows.Scan(&m.ID, &m.Handle, &m.EventID, &m.SubmissionID, &status, &m.Title, &m.Body, &created); err != nil {
			return nil, err
		}
		m.Status, m.Created = routing.Status(status), fromMicros(created)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for i := range out {
		if out[i].Attachments, err = s.postfachAttachments(ctx, out[i].EventID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) postfachAttachments(ctx context.Context, eventID int64) ([]PostfachAttachment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT filename, content_type, size, sha256, blob_key FROM postfach_attachments
		WHERE event_id = ? ORDER BY seq`, eventID)
	if err != nil {
		return nil, fmt.Errorf("store: postfach attachments: %w", err)
	}
	defer rows.Close()
	var out []PostfachAttachment
	for rows.Next() {
		var a PostfachAttachment
		if err := rows.Scan(&a.Filename, &a.ContentType, &a.Size, &a.SHA256, &a.BlobKey); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// PostfachAttachment returns attachment n (from 1) of a local Postfach
// message, visible to the portal (all portals if portalID is "");
// routing.ErrNotFound otherwise.
func (s *Store) PostfachAttachment(ctx context.Context, handle, portalID string, messageID int64, n int) (PostfachAttachment, error) {
	var a PostfachAttachment
	err := s.db.QueryRowContext(ctx, `SELECT a.filename, a.content_type, a.size, a.sha256, a.blob_key
		FROM postfach_messages p JOIN submissions s ON s.id = p.submission_id
		JOIN postfach_attachments a ON a.event_id = p.event_id
		WHERE p.id = ? AND p.handle = ? AND (? = '' OR s.portal_id = ?) AND a.seq = ?`,
		messageID, handle, portalID, portalID, n).Scan(&a.Filename, &a.ContentType, &a.Size, &a.SHA256, &a.BlobKey)
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("postfach attachment: %w", routing.ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("store: postfach attachment: %w", err)
	}
	return a, nil
}
