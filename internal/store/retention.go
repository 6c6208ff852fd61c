package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// RetentionPolicy says which payloads Purge deletes (DESIGN §6: payloads
// deleted after a configurable period; the metadata trail stays).
//
// Only submissions in a terminal state (decided, rejected, failed, expired)
// whose last status change is older than their service's period are purged,
// and never one that still has pipeline work queued, a pending delivery or
// an open dead letter (an operator retry needs its payload).
type RetentionPolicy struct {
	Now time.Time
	// Period returns the retention period of a service; 0 keeps the
	// service's payloads. Nil keeps everything (unless Before is set).
	Period func(service string) time.Duration
	// Default is the period of payloads tied to no submission (inbound
	// messages that matched none, handled OSCI inbox bodies); 0 keeps them.
	Default time.Duration
	// Before, when set, replaces the periods: every finished submission
	// (and unmatched inbound body) last changed before it is purged.
	Before time.Time
	// DryRun computes the report and changes nothing.
	DryRun bool
	// Actor is recorded in the audit log ("retention job", "operator alice").
	Actor string
	// BlobGrace keeps a queued blob file that was written less than this
	// long ago (wall clock): an upload of the same content may be about to
	// commit a reference to it. It stays queued for the next run.
	BlobGrace time.Duration
	// Batch is the most submissions purged per transaction (0: 50; about
	// 0.1 s of the SQLite writer, so intake is never held up for long).
	Batch int
}

// PurgeItem is one purged (or, in a dry run, purgeable) submission.
type PurgeItem struct {
	SubmissionID string         `json:"submissionId"`
	Service      string         `json:"service"`
	Status       routing.Status `json:"status"`
	UpdatedAt    time.Time      `json:"updatedAt"`
	Attachments  int            `json:"attachments"`
	Bytes        int64          `json:"bytes"`
}

// PurgeReport counts what a purge deleted, or would delete in a dry run.
type PurgeReport struct {
	DryRun      bool `json:"dryRun"`
	Submissions int  `json:"submissions"`
	// Attachments counts attachments whose bytes went (the portal's and
	// those of inbound messages); AttachmentBytes their sizes.
	Attachments     int   `json:"attachments"`
	AttachmentBytes int64 `json:"attachmentBytes"`
	FormBytes       int64 `json:"formBytes"`
	MessageBytes    int64 `json:"messageBytes"` // mapped and inbound XÖV message bodies
	InboundBytes    int64 `json:"inboundBytes"` // inbound transport payloads of the submissions
	// UnmatchedInbound / OSCIInbox count bodies tied to no submission
	// (UnmatchedBytes their size), purged by RetentionPolicy.Default.
	UnmatchedInbound int   `json:"unmatchedInbound"`
	OSCIInbox        int   `json:"osciInbox"`
	UnmatchedBytes   int64 `json:"unmatchedBytes"`
	// Bytes is the sum of all payload bytes above.
	Bytes int64 `json:"bytes"`
	// BlobsDeleted / BlobBytes: blob files deleted (a blob shared with a
	// submission that is kept stays).
	BlobsDeleted int   `json:"blobsDeleted"`
	BlobBytes    int64 `json:"blobBytes"`
	// SkippedUnfinished counts submissions past their period that are kept
	// because they are not finished (not terminal, work or delivery
	// pending, open dead letter).
	SkippedUnfinished int         `json:"skippedUnfinished"`
	Items             []PurgeItem `json:"items"`
}

// PayloadPurge records that a submission's payloads were purged.
type PayloadPurge struct {
	SubmissionID string    `json:"submissionId"`
	PurgedAt     time.Time `json:"purgedAt"`
	Attachments  int       `json:"attachments"`
	Bytes        int64     `json:"bytes"`
	Reason       string    `json:"reason"`
}

// BlobDeleter removes blob files (internal/blob.Store).
type BlobDeleter interface {
	Delete(key string) error
	Open(key string) (*os.File, error)
}

const terminalStatuses = `('decided', 'rejected', 'failed', 'expired')`

// finishedCond holds for a submission s that may lose its payload.
const finishedCond = `s.status IN ` + terminalStatuses + `
	AND NOT EXISTS (SELECT 1 FROM payload_purges p WHERE p.submission_id = s.id)
	AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.submission_id = s.id)
	AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.submission_id = s.id AND d.state = 'pending')
	AND NOT EXISTS (SELECT 1 FROM dead_letters dl WHERE dl.submission_id = s.id AND dl.resolved_at IS NULL)`

// Purge deletes the payloads the policy allows: form data, XÖV message
// bodies, inbound payloads and attachment blobs of finished submissions,
// and unmatched inbound bodies. Metadata (attachment names, sizes and
// hashes, IDs), the status history and the audit log stay; each purged
// submission gets a status event saying so (not sent to Postfach or
// webhook), and a real purge that removed anything appends one audit entry.
// Blob files are deleted through blobs after the database commit, so a
// crash leaves at most files for the next run, never a reference to a
// missing file of a kept submission.
func (s *Store) Purge(ctx context.Context, p RetentionPolicy, blobs BlobDeleter) (PurgeReport, error) {
	if p.Now.IsZero() {
		return PurgeReport{}, errors.New("store: purge: RetentionPolicy.Now is required")
	}
	rep := PurgeReport{DryRun: p.DryRun, Items: []PurgeItem{}}
	batch := p.Batch
	if batch <= 0 {
		batch = 50
	}
	cutoffs, err := s.purgeCutoffs(ctx, p)
	if err != nil {
		return rep, err
	}
	if p.DryRun {
		// Reads only, outside the writer: a dry run on a live hub never
		// holds up intake.
		if err := s.purgeBatch(ctx, s.db, p, cutoffs, 0, &rep); err != nil {
			return rep, fmt.Errorf("store: purge: %w", err)
		}
	}
	for !p.DryRun {
		var part PurgeReport
		err := s.tx(ctx, func(tx *sql.Tx) error {
			part = PurgeReport{}
			return s.purgeBatch(ctx, tx, p, cutoffs, batch, &part)
		})
		if err != nil {
			return rep, fmt.Errorf("store: purge: %w", err)
		}
		rep.add(part)
		if part.Submissions < batch {
			break
		}
	}
	if err := s.purgeUnmatched(ctx, p, &rep); err != nil {
		return rep, err
	}
	if rep.SkippedUnfinished, err = s.countUnfinished(ctx, cutoffs); err != nil {
		return rep, err
	}
	if p.DryRun {
		return rep, nil
	}
	if err := s.deleteQueuedBlobs(ctx, blobs, p.BlobGrace, &rep); err != nil {
		return rep, err
	}
	if rep.Submissions+rep.UnmatchedInbound+rep.OSCIInbox+rep.BlobsDeleted > 0 {
		actor := p.Actor
		if actor == "" {
			actor = "retention job"
		}
		detail := fmt.Sprintf("purged payloads of %d submissions (%d attachments, %d bytes), %d unmatched inbound and %d OSCI inbox bodies; %d blob files (%d bytes) deleted",
			rep.Submissions, rep.Attachments, rep.Bytes, rep.UnmatchedInbound, rep.OSCIInbox, rep.BlobsDeleted, rep.BlobBytes)
		if !p.Before.IsZero() {
			detail += "; before " + p.Before.UTC().Format(time.RFC3339)
		}
		if err := s.AppendAudit(ctx, AuditEntry{At: p.Now, Actor: actor, Action: "retention.purge", Detail: detail}); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (r *PurgeReport) add(o PurgeReport) {
	r.Submissions += o.Submissions
	r.Attachments += o.Attachments
	r.AttachmentBytes += o.AttachmentBytes
	r.FormBytes += o.FormBytes
	r.MessageBytes += o.MessageBytes
	r.InboundBytes += o.InboundBytes
	r.Bytes += o.Bytes
	r.BlobsDeleted += o.BlobsDeleted
	r.BlobBytes += o.BlobBytes
	r.Items = append(r.Items, o.Items...)
}

// cutoff is the last-change bound of one service ("" with Before: all).
type cutoff struct {
	service string
	before  time.Time
	reason  string
}

// purgeCutoffs resolves the policy per service present in the database.
func (s *Store) purgeCutoffs(ctx context.Context, p RetentionPolicy) ([]cutoff, error) {
	if !p.Before.IsZero() {
		return []cutoff{{before: p.Before, reason: "before " + p.Before.UTC().Format(time.RFC3339)}}, nil
	}
	if p.Period == nil {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT service FROM submissions ORDER BY service`)
	if err != nil {
		return nil, fmt.Errorf("store: purge: services: %w", err)
	}
	defer rows.Close()
	var out []cutoff
	for rows.Next() {
		var svc string
		if err := rows.Scan(&svc); err != nil {
			return nil, err
		}
		if d := p.Period(svc); d > 0 {
			out = append(out, cutoff{service: svc, before: p.Now.Add(-d), reason: "retention " + d.String()})
		}
	}
	return out, rows.Err()
}

// where returns the condition and arguments selecting a cutoff's submissions.
func (c cutoff) where() (string, []any) {
	if c.service == "" {
		return `s.updated_at < ?`, []any{micros(c.before)}
	}
	return `s.service = ? AND s.updated_at < ?`, []any{c.service, micros(c.before)}
}

// octets is the byte length of a text column.
func (s *Store) octets(col string) string {
	if s.pg() {
		return "octet_length(" + col + ")"
	}
	return "length(CAST(" + col + " AS BLOB))"
}

// dbtx is a *sql.Tx, or the *sql.DB for the reads of a dry run.
type dbtx interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// purgeBatch purges up to batch (0: all) candidates in tx; with
// p.DryRun it only reads and counts what would go.
func (s *Store) purgeBatch(ctx context.Context, tx dbtx, p RetentionPolicy, cutoffs []cutoff, batch int, rep *PurgeReport) error {
	type cand struct {
		PurgeItem
		reason string
	}
	var cands []cand
	for _, c := range cutoffs {
		if batch > 0 && len(cands) >= batch {
			break
		}
		cond, args := c.where()
		q := `SELECT s.id, s.service, s.status, s.updated_at FROM submissions s WHERE ` + cond + ` AND ` + finishedCond +
			` ORDER BY s.updated_at, s.id`
		if batch > 0 {
			q += fmt.Sprintf(" LIMIT %d", batch-len(cands))
		}
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("candidates: %w", err)
		}
		for rows.Next() {
			var it cand
			var st string
			var upd int64
			if err := rows.Scan(&it.SubmissionID, &it.Service, &st, &upd); err != nil {
				rows.Close()
				return err
			}
			it.Status, it.UpdatedAt, it.reason = routing.Status(st), fromMicros(upd), c.reason
			cands = append(cands, it)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	keys := map[string]int64{}   // blob key → size, of every purged reference
	purging := map[string]bool{} // the candidates (a dry run has no payload_purges rows for them)
	for _, c := range cands {
		it := c.PurgeItem
		id := it.SubmissionID
		var form, msgs, inbound, attBytes, inAttBytes int64
		var atts, inAtts int
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(`+s.octets("form")+`), 0) FROM submission_forms WHERE submission_id = ?`, id).Scan(&form); err != nil {
			return fmt.Errorf("form size of %s: %w", id, err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(length(xml)), 0) FROM messages WHERE submission_id = ?`, id).Scan(&msgs); err != nil {
			return fmt.Errorf("message sizes of %s: %w", id, err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(length(payload)), 0) FROM inbound_messages WHERE submission_id = ?`, id).Scan(&inbound); err != nil {
			return fmt.Errorf("inbound sizes of %s: %w", id, err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(size), 0) FROM attachments WHERE submission_id = ?`, id).Scan(&atts, &attBytes); err != nil {
			return fmt.Errorf("attachments of %s: %w", id, err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(size), 0) FROM inbound_attachments WHERE submission_id = ?`, id).Scan(&inAtts, &inAttBytes); err != nil {
			return fmt.Errorf("inbound attachments of %s: %w", id, err)
		}
		if err := collectKeys(ctx, tx, keys, `SELECT blob_key, size FROM attachments WHERE submission_id = ?
			UNION ALL SELECT blob_key, size FROM inbound_attachments WHERE submission_id = ?
			UNION ALL SELECT pa.blob_key, pa.size FROM postfach_attachments pa JOIN status_events e ON e.id = pa.event_id WHERE e.submission_id = ?`,
			id, id, id); err != nil {
			return fmt.Errorf("blobs of %s: %w", id, err)
		}
		it.Attachments = atts + inAtts
		it.Bytes = form + msgs + inbound + attBytes + inAttBytes
		rep.Submissions++
		rep.Attachments += it.Attachments
		rep.AttachmentBytes += attBytes + inAttBytes
		rep.FormBytes += form
		rep.MessageBytes += msgs
		rep.InboundBytes += inbound
		rep.Bytes += it.Bytes
		rep.Items = append(rep.Items, it)
		purging[id] = true
		if p.DryRun {
			continue
		}
		empty := []byte{}
		for _, st := range []struct {
			q    string
			args []any
		}{
			{`UPDATE submission_forms SET form = 'null' WHERE submission_id = ?`, []any{id}},
			{`UPDATE submissions SET form = '' WHERE id = ?`, []any{id}},
			{`UPDATE messages SET xml = ? WHERE submission_id = ?`, []any{empty, id}},
			{`UPDATE inbound_messages SET payload = ? WHERE submission_id = ?`, []any{empty, id}},
		} {
			if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
				return fmt.Errorf("purge %s: %w", id, err)
			}
		}
		now := micros(p.Now)
		if _, err := tx.ExecContext(ctx, `INSERT INTO payload_purges (submission_id, purged_at, attachments, bytes, reason)
			VALUES (?, ?, ?, ?, ?)`, id, now, it.Attachments, it.Bytes, c.reason); err != nil {
			return fmt.Errorf("record purge of %s: %w", id, err)
		}
		detail := fmt.Sprintf("payload purged (%s): form data (%d bytes), XÖV and inbound message bodies (%d bytes), %d attachments (%d bytes); metadata and history kept",
			c.reason, form, msgs+inbound, it.Attachments, attBytes+inAttBytes)
		if _, err := tx.ExecContext(ctx, `INSERT INTO status_events (submission_id, status, time, source, detail, evidence, notified_at, webhook_at)
			VALUES (?, ?, ?, ?, ?, '', ?, ?)`, id, string(it.Status), now, string(routing.SourceHub), detail, now, now); err != nil {
			return fmt.Errorf("purge event of %s: %w", id, err)
		}
	}
	// Queue the blobs no kept row refers to any more.
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		live, err := blobLive(ctx, tx, k, purging)
		if err != nil {
			return err
		}
		if live {
			continue
		}
		if p.DryRun {
			rep.BlobsDeleted++
			rep.BlobBytes += keys[k]
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO purge_blobs (blob_key, size, queued_at) VALUES (?, ?, ?)
			ON CONFLICT (blob_key) DO NOTHING`, k, keys[k], micros(p.Now)); err != nil {
			return fmt.Errorf("queue blob %s: %w", k, err)
		}
	}
	return nil
}

func collectKeys(ctx context.Context, tx dbtx, keys map[string]int64, q string, args ...any) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return err
		}
		keys[k] = n
	}
	return rows.Err()
}

// blobLive reports whether a blob is referenced by a row whose payload is
// kept: an attachment of a submission that is neither purged nor in
// purging, an inbound attachment of one (or of no submission), a Postfach
// attachment of one.
func blobLive(ctx context.Context, q dbtx, key string, purging map[string]bool) (bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT a.submission_id FROM attachments a WHERE a.blob_key = ?
			AND NOT EXISTS (SELECT 1 FROM payload_purges p WHERE p.submission_id = a.submission_id)
		UNION ALL SELECT coalesce(ia.submission_id, '') FROM inbound_attachments ia WHERE ia.blob_key = ?
			AND (ia.submission_id IS NULL OR NOT EXISTS (SELECT 1 FROM payload_purges p WHERE p.submission_id = ia.submission_id))
		UNION ALL SELECT e.submission_id FROM postfach_attachments pa JOIN status_events e ON e.id = pa.event_id WHERE pa.blob_key = ?
			AND NOT EXISTS (SELECT 1 FROM payload_purges p WHERE p.submission_id = e.submission_id)`, key, key, key)
	if err != nil {
		return false, fmt.Errorf("blob %s references: %w", key, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return false, err
		}
		if id == "" || !purging[id] {
			return true, nil
		}
	}
	return false, rows.Err()
}

// purgeUnmatched empties inbound bodies tied to no submission and handled
// OSCI inbox bodies older than the default period (or Before).
func (s *Store) purgeUnmatched(ctx context.Context, p RetentionPolicy, rep *PurgeReport) error {
	var before time.Time
	switch {
	case !p.Before.IsZero():
		before = p.Before
	case p.Default > 0:
		before = p.Now.Add(-p.Default)
	default:
		return nil
	}
	b := micros(before)
	run := s.tx
	if p.DryRun { // reads only
		run = func(ctx context.Context, fn func(*sql.Tx) error) error { return fn(nil) }
	}
	var q dbtx = s.db
	err := run(ctx, func(tx *sql.Tx) error {
		if tx != nil {
			q = tx
		}
		var n1, n2 int
		var b1, b2 int64
		if err := q.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(length(payload)), 0) FROM inbound_messages
			WHERE submission_id IS NULL AND received_at < ? AND length(payload) > 0`, b).Scan(&n1, &b1); err != nil {
			return fmt.Errorf("unmatched inbound: %w", err)
		}
		if err := q.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(length(body)), 0) FROM osci_inbox
			WHERE handled_at IS NOT NULL AND handled_at < ? AND length(body) > 0`, b).Scan(&n2, &b2); err != nil {
			return fmt.Errorf("OSCI inbox: %w", err)
		}
		rep.UnmatchedInbound, rep.OSCIInbox, rep.UnmatchedBytes = n1, n2, b1+b2
		rep.Bytes += b1 + b2
		if p.DryRun {
			return nil
		}
		empty := []byte{}
		if _, err := q.ExecContext(ctx, `UPDATE inbound_messages SET payload = ?
			WHERE submission_id IS NULL AND received_at < ? AND length(payload) > 0`, empty, b); err != nil {
			return fmt.Errorf("purge unmatched inbound: %w", err)
		}
		if _, err := q.ExecContext(ctx, `UPDATE osci_inbox SET body = ?
			WHERE handled_at IS NOT NULL AND handled_at < ? AND length(body) > 0`, empty, b); err != nil {
			return fmt.Errorf("purge OSCI inbox: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: purge: %w", err)
	}
	return nil
}

// countUnfinished counts submissions past their cutoff that are kept
// because they are not finished.
func (s *Store) countUnfinished(ctx context.Context, cutoffs []cutoff) (int, error) {
	total := 0
	for _, c := range cutoffs {
		cond, args := c.where()
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM submissions s WHERE `+cond+`
			AND NOT EXISTS (SELECT 1 FROM payload_purges p WHERE p.submission_id = s.id)
			AND NOT (`+finishedCond+`)`, args...).Scan(&n); err != nil {
			return 0, fmt.Errorf("store: purge: unfinished: %w", err)
		}
		total += n
	}
	return total, nil
}

// deleteQueuedBlobs deletes the queued blob files that are still
// unreferenced and empties the queue.
func (s *Store) deleteQueuedBlobs(ctx context.Context, blobs BlobDeleter, grace time.Duration, rep *PurgeReport) error {
	rows, err := s.db.QueryContext(ctx, `SELECT blob_key, size FROM purge_blobs ORDER BY blob_key`)
	if err != nil {
		return fmt.Errorf("store: purge: blob queue: %w", err)
	}
	type qb struct {
		key  string
		size int64
	}
	var queue []qb
	for rows.Next() {
		var b qb
		if err := rows.Scan(&b.key, &b.size); err != nil {
			rows.Close()
			return err
		}
		queue = append(queue, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var failed, done []string
	for _, b := range queue {
		// A submission committed since with the same content (blobs are
		// content-addressed) keeps the file.
		live, err := blobLive(ctx, s.db, b.key, nil)
		if err != nil {
			return fmt.Errorf("store: purge: %w", err)
		}
		if !live {
			if blobs == nil {
				return errors.New("store: purge: no blob store to delete files from")
			}
			if grace > 0 && writtenWithin(blobs, b.key, grace) {
				continue // stays queued
			}
			if err := blobs.Delete(b.key); err != nil {
				failed = append(failed, b.key+": "+err.Error())
				continue
			}
			rep.BlobsDeleted++
			rep.BlobBytes += b.size
		}
		done = append(done, b.key)
	}
	// One transaction for the whole queue: a commit per file would cost an
	// fsync each.
	if err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, k := range done {
			if _, err := tx.ExecContext(ctx, `DELETE FROM purge_blobs WHERE blob_key = ?`, k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("store: purge: dequeue blobs: %w", err)
	}
	if len(failed) > 0 {
		return fmt.Errorf("store: purge: %d blob files could not be deleted (kept queued): %s", len(failed), strings.Join(failed, "; "))
	}
	return nil
}

// PayloadPurgeOf returns the purge record of a submission, nil if its
// payload is still there.
func (s *Store) PayloadPurgeOf(ctx context.Context, submissionID string) (*PayloadPurge, error) {
	var p PayloadPurge
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT submission_id, purged_at, attachments, bytes, reason FROM payload_purges
		WHERE submission_id = ?`, submissionID).Scan(&p.SubmissionID, &at, &p.Attachments, &p.Bytes, &p.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: payload purge of %s: %w", submissionID, err)
	}
	p.PurgedAt = fromMicros(at)
	return &p, nil
}

// writtenWithin reports whether the blob file was written less than d ago.
func writtenWithin(blobs BlobDeleter, key string, d time.Duration) bool {
	f, err := blobs.Open(key)
	if err != nil {
		return false // missing: deleting it is a no-op
	}
	defer f.Close()
	st, err := f.Stat()
	return err == nil && time.Since(st.ModTime()) < d
}
