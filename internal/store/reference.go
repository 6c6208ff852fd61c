package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/dxhub/dxhub/routing"
)

var _ routing.ReferenceStore = (*Store)(nil)

// applicationReferenceQuery finds the newest outbound message with a
// reference, routed to a reader now or before a replay (until a replayed
// message is routed, only the superseded delivery names the reader). The
// non-empty test repeats the partial index's condition so that SQLite uses it.
const applicationReferenceQuery = `SELECT m.submission_id FROM messages m
	WHERE m.application_reference = ? AND m.application_reference <> '' AND m.direction = 'out'
	AND (EXISTS (SELECT 1 FROM deliveries d WHERE d.submission_id = m.submission_id AND lower(d.reader_key) = lower(?))
	  OR EXISTS (SELECT 1 FROM superseded_deliveries sd WHERE sd.submission_id = m.submission_id AND lower(sd.reader_key) = lower(?)))
	ORDER BY m.created_at DESC, m.rowid DESC LIMIT 1`

// normalizeReference is the stored form of an application reference: XÖV
// writes UUIDs lower-case, but a reply may quote them in any letter case.
func normalizeReference(ref string) string { return strings.ToLower(strings.TrimSpace(ref)) }

// SubmissionByApplicationReference finds the submission whose outbound
// message carried the application reference ref (XBau referenzAntragsservice),
// for replies that name no message of ours (an XBau 1121 quotes only
// bezug/referenz). The lookup is scoped to readerKey, the organisation the
// reply comes from: only a submission routed to that reader (now, or before a
// replay) matches, so one
// authority cannot address another's submission by guessing or reusing a
// reference. If the reference was used by several of the reader's
// submissions (a portal reusing its reference), the newest message wins.
// An empty readerKey or ref matches nothing.
func (s *Store) SubmissionByApplicationReference(ctx context.Context, readerKey, ref string) (string, error) {
	ref = normalizeReference(ref)
	if ref == "" || strings.TrimSpace(readerKey) == "" {
		return "", fmt.Errorf("application reference %q for reader %q: %w", ref, readerKey, routing.ErrNotFound)
	}
	var id string
	err := s.db.QueryRowContext(ctx, applicationReferenceQuery, ref, readerKey, readerKey).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("application reference %s for reader %s: %w", ref, readerKey, routing.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: correlate by application reference: %w", err)
	}
	return id, nil
}
