package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/dxhub/dxhub/routing"
)

// CreateSubmission commits a new submission with its attachments, its first
// status event ("received") and its pipeline job in one transaction. A reused
// idempotency key with the same body hash returns the original (created=false);
// with a different body routing.ErrIdempotencyConflict.
func (s *Store) CreateSubmission(ctx context.Context, ns routing.NewSubmission) (routing.Submission, bool, error) {
	sub := ns.Submission
	sub.Status = routing.StatusReceived
	sub.UpdatedAt = sub.ReceivedAt
	applicant, err := json.Marshal(sub.Applicant)
	if err != nil {
		return routing.Submission{}, false, fmt.Errorf("store: encode applicant: %w", err)
	}
	form := string(sub.Form)
	if form == "" {
		form = "{}"
	}
	var existingID string
	err = s.tx(ctx, func(tx *sql.Tx) error {
		// existing reports whether the idempotency key was used before
		// (existingID set, or a conflict error).
		existing := func() (bool, error) {
			var id, hash string
			err := tx.QueryRowContext(ctx, `SELECT id, body_hash FROM submissions WHERE portal_id = ? AND idempotency_key = ?`,
				sub.PortalID, ns.IdempotencyKey).Scan(&id, &hash)
			switch {
			case err == nil && hash == ns.BodyHash:
				existingID = id
				return true, nil
			case err == nil:
				return true, routing.ErrIdempotencyConflict
			case !errors.Is(err, sql.ErrNoRows):
				return false, err
			}
			return false, nil
		}
		if ns.IdempotencyKey != "" {
			if found, err := existing(); found || err != nil {
				return err
			}
		}
		var key, hash any
		if ns.IdempotencyKey != "" {
			key, hash = ns.IdempotencyKey, ns.BodyHash
		}
		insert := `INSERT INTO submissions
			(id, portal_id, tenant, service, reference, applicant, form, status, received_at, updated_at, idempotency_key, body_hash,
			 retry_base_at, trace_parent)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		if s.pg() {
			// Another process may insert the same key between the check
			// above and this insert (SQLite's single writer rules that out):
			// the insert then waits for it, does nothing, and the check
			// below finds the committed twin.
			insert += ` ON CONFLICT (portal_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`
		}
		// The form data lives in submission_forms (migration 0011): the
		// submissions row is updated with every status change, and a row
		// carrying kilobytes of form would be rewritten each time.
		res, err := tx.ExecContext(ctx, insert,
			sub.ID, sub.PortalID, sub.Tenant, sub.Service, sub.Reference, string(applicant), "",
			string(sub.Status), micros(sub.ReceivedAt), micros(sub.ReceivedAt), key, hash, micros(sub.ReceivedAt), sub.TraceParent)
		if err != nil {
			return fmt.Errorf("insert submission: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("insert submission: %w", err)
		} else if n == 0 {
			found, err := existing()
			if err == nil && !found {
				err = fmt.Errorf("insert submission %s: idempotency key %q neither inserted nor found", sub.ID, ns.IdempotencyKey)
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO submission_forms (submission_id, form) VALUES (?, ?)`, sub.ID, form); err != nil {
			return fmt.Errorf("insert form: %w", err)
		}
		for i, a := range sub.Attachments {
			if _, err := tx.ExecContext(ctx, `INSERT INTO attachments
				(id, submission_id, seq, filename, content_type, size, sha256, blob_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				a.ID, sub.ID, i, a.Filename, a.ContentType, a.Size, a.SHA256, a.BlobKey); err != nil {
				return fmt.Errorf("insert attachment %d: %w", i, err)
			}
		}
		if err := s.insertEvent(ctx, tx, sub.ID, routing.StatusEvent{
			Status: routing.StatusReceived, Time: sub.ReceivedAt, Source: routing.SourceHub,
			Detail: "submission accepted from portal " + sub.PortalID, Evidence: sub.Reference,
		}); err != nil {
			return err
		}
		if pm := ns.Premapped; pm != nil {
			msg := pm.Message
			msg.SubmissionID = sub.ID
			if err := s.saveMapped(ctx, tx, msg, pm.Event); err != nil {
				return err
			}
		}
		if s.workTopic.Load() {
			return s.insertWorkJob(ctx, tx, sub.ID, sub.ReceivedAt)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO jobs (submission_id, next_at, created_at) VALUES (?, ?, ?)`,
			sub.ID, micros(sub.ReceivedAt), micros(sub.ReceivedAt))
		return err
	})
	if err != nil {
		if errors.Is(err, routing.ErrIdempotencyConflict) {
			return routing.Submission{}, false, err
		}
		return routing.Submission{}, false, fmt.Errorf("store: create submission: %w", err)
	}
	if existingID != "" {
		orig, err := s.GetSubmission(ctx, existingID)
		return orig, false, err
	}
	if ns.Premapped != nil {
		sub.Status, sub.UpdatedAt = routing.StatusValidated, ns.Premapped.Event.Time
	}
	return sub, true, nil
}

// GetSubmission loads a submission with its attachments.
func (s *Store) GetSubmission(ctx context.Context, id string) (routing.Submission, error) {
	return s.getSubmission(ctx, id, true)
}

// GetSubmissionHead loads a submission with its attachments but without its
// form (Form is nil): the pipeline's stages after mapping and the
// back-channel never read the form, and reading its pages (10 KB and more)
// for every status step was a good part of the pipeline's reads.
func (s *Store) GetSubmissionHead(ctx context.Context, id string) (routing.Submission, error) {
	return s.getSubmission(ctx, id, false)
}

func (s *Store) getSubmission(ctx context.Context, id string, withForm bool) (routing.Submission, error) {
	var (
		sub               routing.Submission
		applicant, form   string
		status            string
		received, updated int64
		retryBase         int64
	)
	q := `SELECT s.id, s.portal_id, s.tenant, s.service, s.reference, s.applicant,
		coalesce(f.form, s.form), s.status, s.received_at, s.updated_at, s.retry_base_at, s.trace_parent
		FROM submissions s LEFT JOIN submission_forms f ON f.submission_id = s.id WHERE s.id = ?`
	if !withForm {
		q = `SELECT s.id, s.portal_id, s.tenant, s.service, s.reference, s.applicant,
		'', s.status, s.received_at, s.updated_at, s.retry_base_at, s.trace_parent
		FROM submissions s WHERE s.id = ?`
	}
	err := s.db.QueryRowContext(ctx, q, id).Scan(&sub.ID, &sub.PortalID, &sub.Tenant, &sub.Service, &sub.Reference,
		&applicant, &form, &status, &received, &updated, &retryBase, &sub.TraceParent)
	if errors.Is(err, sql.ErrNoRows) {
		return routing.Submission{}, fmt.Errorf("submission %s: %w", id, routing.ErrNotFound)
	}
	if err != nil {
		return routing.Submission{}, fmt.Errorf("store: get submission: %w", err)
	}
	if err := json.Unmarshal([]byte(applicant), &sub.Applicant); err != nil {
		return routing.Submission{}, fmt.Errorf("store: decode applicant of %s: %w", id, err)
	}
	if withForm {
		sub.Form = json.RawMessage(form)
	}
	sub.Status = routing.Status(status)
	sub.ReceivedAt, sub.UpdatedAt, sub.RetryBase = fromMicros(received), fromMicros(updated), fromMicros(retryBase)
	sub.Attachments, err = s.attachments(ctx, id)
	return sub, err
}

func (s *Store) attachments(ctx context.Context, id string) ([]routing.Attachment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, filename, content_type, size, sha256, blob_key
		FROM attachments WHERE submission_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("store: attachments: %w", err)
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

// attachmentsOf returns the attachment metadata of several submissions with
// one query per chunk of IDs instead of one per submission (a mailbox page
// lists many), keyed by submission ID, each in seq order.
func (s *Store) attachmentsOf(ctx context.Context, ids []string) (map[string][]routing.Attachment, error) {
	const chunk = 500
	out := make(map[string][]routing.Attachment, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), chunk)
		part := ids[:n]
		ids = ids[n:]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		rows, err := s.db.QueryContext(ctx, `SELECT submission_id, id, filename, content_type, size, sha256, blob_key
			FROM attachments WHERE submission_id IN (`+strings.Repeat("?,", n-1)+`?) ORDER BY submission_id, seq`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: attachments: %w", err)
		}
		for rows.Next() {
			var sub string
			var a routing.Attachment
			if err := rows.Scan(&sub, &a.ID, &a.Filename, &a.ContentType, &a.Size, &a.SHA256, &a.BlobKey); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: attachments: %w", err)
			}
			out[sub] = append(out[sub], a)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: attachments: %w", err)
		}
	}
	return out, nil
}

// fillAttachments sets the attachments of every mailbox item with one query.
func (s *Store) fillAttachments(ctx context.Context, items []MailboxItem) error {
	if len(items) == 0 {
		return nil
	}
	ids := make([]string, 0, len(items))
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		if !seen[it.SubmissionID] {
			seen[it.SubmissionID] = true
			ids = append(ids, it.SubmissionID)
		}
	}
	byID, err := s.attachmentsOf(ctx, ids)
	if err != nil {
		return err
	}
	for i := range items {
		items[i].Attachments = byID[items[i].SubmissionID]
	}
	return nil
}

// BlobReferenced reports whether any committed attachment uses the blob.
func (s *Store) BlobReferenced(ctx context.Context, key string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM attachments WHERE blob_key = ?`, key).Scan(&n)
	return n > 0, err
}

// Events returns a submission's status history, oldest first.
func (s *Store) Events(ctx context.Context, submissionID string) ([]routing.StatusEvent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, status, time, source, detail, evidence
		FROM status_events WHERE submission_id = ? ORDER BY id`, submissionID)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	defer rows.Close()
	var out []routing.StatusEvent
	for rows.Next() {
		var (
			ev     routing.StatusEvent
			status string
			source string
			t      int64
		)
		if err := rows.Scan(&ev.ID, &status, &t, &source, &ev.Detail, &ev.Evidence); err != nil {
			return nil, err
		}
		ev.SubmissionID, ev.Status, ev.Source, ev.Time = submissionID, routing.Status(status), routing.Source(source), fromMicros(t)
		out = append(out, ev)
	}
	return out, rows.Err()
}

// insertEvent writes a status event and advances the submission's current status
// when the event moves it forward (DESIGN §5). Late events stay in the history.
func (s *Store) insertEvent(ctx context.Context, tx *sql.Tx, submissionID string, ev routing.StatusEvent) error {
	if !ev.Status.Valid() {
		return fmt.Errorf("invalid status %q", ev.Status)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO status_events (submission_id, status, time, source, detail, evidence)
		VALUES (?, ?, ?, ?, ?, ?)`, submissionID, string(ev.Status), micros(ev.Time), string(ev.Source),
		truncate(ev.Detail, 4000), truncate(ev.Evidence, 4000)); err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	if !s.pg() {
		// SQLite runs every write alone (one writer), so the forward-only rule
		// can sit in the UPDATE itself: one statement instead of a read and a
		// write per event, inside the group-commit writer. The event's foreign
		// key has already proved the submission exists.
		q, args := advanceUpdate(ev.Status)
		if q == "" {
			return nil
		}
		if _, err := tx.ExecContext(ctx, q, append([]any{string(ev.Status), micros(ev.Time), submissionID}, args...)...); err != nil {
			return fmt.Errorf("update status: %w", err)
		}
		return nil
	}
	var cur string
	if err := tx.QueryRowContext(ctx, `SELECT status FROM submissions WHERE id = ?`+s.forUpdate(), submissionID).Scan(&cur); err != nil {
		return fmt.Errorf("read status of %s: %w", submissionID, err)
	}
	if ev.Status == routing.StatusReceived || routing.Status(cur).Advances(ev.Status) {
		if _, err := tx.ExecContext(ctx, `UPDATE submissions SET status = ?, updated_at = ? WHERE id = ?`,
			string(ev.Status), micros(ev.Time), submissionID); err != nil {
			return fmt.Errorf("update status: %w", err)
		}
	}
	return nil
}

// allStatuses are the statuses a submission can have (routing's lifecycle).
var allStatuses = []routing.Status{
	routing.StatusReceived, routing.StatusValidated, routing.StatusRouted, routing.StatusSent,
	routing.StatusDelivered, routing.StatusFetched, routing.StatusAcknowledged, routing.StatusInProgress,
	routing.StatusDecided, routing.StatusRejected, routing.StatusFailed, routing.StatusExpired,
}

// advanceUpdate is the UPDATE that moves a submission to next only from a
// status that next advances (routing.Status.Advances), with the current
// statuses it may replace as the arguments after status, time and id; ""
// if no status advances to next. received is always written (a new
// submission's first event).
func advanceUpdate(next routing.Status) (string, []any) {
	const set = `UPDATE submissions SET status = ?, updated_at = ? WHERE id = ?`
	if next == routing.StatusReceived {
		return set, nil
	}
	var from []any
	for _, st := range allStatuses {
		if st.Advances(next) {
			from = append(from, string(st))
		}
	}
	if len(from) == 0 {
		return "", nil
	}
	return set + ` AND status IN (?` + strings.Repeat(",?", len(from)-1) + `)`, from
}

// AppendEvent records an event for a submission (e.g. from the back-channel).
func (s *Store) AppendEvent(ctx context.Context, submissionID string, ev routing.StatusEvent) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.insertEvent(ctx, tx, submissionID, ev) })
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return strings.TrimSpace(s[:cut]) + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
