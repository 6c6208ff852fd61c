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

// PortalKey is one managed portal API key. The key itself is never stored:
// Hash is the hex SHA-256 of the whole key string. A key is usable while it
// is neither revoked nor expired.
type PortalKey struct {
	ID       string `json:"id"`       // public key ID, part of the key itself
	PortalID string `json:"portalId"` // the portal it authenticates
	Prefix   string `json:"prefix"`   // the key's public beginning, to recognise it in a list
	Hash     string `json:"-"`
	// Tenants limits the key to these AGS; empty means every tenant the
	// portal is configured for.
	Tenants       []string  `json:"tenants,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	CreatedBy     string    `json:"createdBy,omitempty"`
	ExpiresAt     time.Time `json:"expiresAt,omitzero"`
	RevokedAt     time.Time `json:"revokedAt,omitzero"`
	RevokedReason string    `json:"revokedReason,omitempty"`
	ReplacedBy    string    `json:"replacedBy,omitempty"` // the key that rotated this one out
	LastUsedAt    time.Time `json:"lastUsedAt,omitzero"`
}

// State is "active", "expired" or "revoked" at time now.
func (k PortalKey) State(now time.Time) string {
	switch {
	case !k.RevokedAt.IsZero():
		return "revoked"
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return "expired"
	}
	return "active"
}

// ErrKeyInactive is returned when a revoked or expired key is rotated or
// revoked again.
var ErrKeyInactive = errors.New("store: portal key is revoked or expired")

const portalKeyCols = `id, portal_id, prefix, hash, tenants, created_at, created_by, expires_at, revoked_at,
	revoked_reason, replaced_by, last_used_at`

func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(t), Valid: true}
}

func insertPortalKey(ctx context.Context, tx *sql.Tx, k PortalKey) error {
	if k.ID == "" || k.PortalID == "" || k.Hash == "" {
		return errors.New("store: portal key needs an ID, a portal and a hash")
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO portal_keys (id, portal_id, prefix, hash, tenants, created_at, created_by,
		expires_at, revoked_at, revoked_reason, replaced_by, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, '', '', NULL)`,
		k.ID, k.PortalID, k.Prefix, k.Hash, strings.Join(k.Tenants, ","), micros(k.CreatedAt), k.CreatedBy, nullTime(k.ExpiresAt))
	if err != nil {
		return fmt.Errorf("store: create portal key %s: %w", k.ID, err)
	}
	return nil
}

// CreatePortalKey stores a new key.
func (s *Store) CreatePortalKey(ctx context.Context, k PortalKey) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return insertPortalKey(ctx, tx, k) })
}

// RotatePortalKey stores next and lets the key oldID expire at graceUntil
// (or keep its earlier expiry), marking it as replaced by next, in one
// transaction. A revoked or expired old key gives ErrKeyInactive, an unknown
// one routing.ErrNotFound.
func (s *Store) RotatePortalKey(ctx context.Context, oldID string, next PortalKey, graceUntil time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		old, err := scanPortalKey(tx.QueryRowContext(ctx, `SELECT `+portalKeyCols+` FROM portal_keys WHERE id = ?`+s.forUpdate(), oldID))
		if err != nil {
			return err
		}
		if old.State(next.CreatedAt) != "active" {
			return fmt.Errorf("rotate %s: %w", oldID, ErrKeyInactive)
		}
		if next.PortalID != old.PortalID {
			return fmt.Errorf("store: rotate %s: the new key is for portal %s, the old one for %s", oldID, next.PortalID, old.PortalID)
		}
		if err := insertPortalKey(ctx, tx, next); err != nil {
			return err
		}
		exp := graceUntil
		if !old.ExpiresAt.IsZero() && old.ExpiresAt.Before(exp) {
			exp = old.ExpiresAt
		}
		if _, err := tx.ExecContext(ctx, `UPDATE portal_keys SET expires_at = ?, replaced_by = ? WHERE id = ?`,
			micros(exp), next.ID, oldID); err != nil {
			return fmt.Errorf("store: rotate %s: %w", oldID, err)
		}
		return nil
	})
}

// RevokePortalKey revokes a key at once. Revoking a revoked key gives
// ErrKeyInactive (the first revocation stands), an unknown one
// routing.ErrNotFound. An expired key can still be revoked (the record then
// says why it must never come back).
func (s *Store) RevokePortalKey(ctx context.Context, id string, at time.Time, reason string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		k, err := scanPortalKey(tx.QueryRowContext(ctx, `SELECT `+portalKeyCols+` FROM portal_keys WHERE id = ?`+s.forUpdate(), id))
		if err != nil {
			return err
		}
		if !k.RevokedAt.IsZero() {
			return fmt.Errorf("revoke %s (revoked %s): %w", id, k.RevokedAt.Format(time.RFC3339), ErrKeyInactive)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE portal_keys SET revoked_at = ?, revoked_reason = ? WHERE id = ?`,
			micros(at), truncate(reason, 500), id); err != nil {
			return fmt.Errorf("store: revoke %s: %w", id, err)
		}
		return nil
	})
}

// TouchPortalKey records that the key was used at at (only ever moving
// last_used_at forward). Callers throttle it; it is a write.
func (s *Store) TouchPortalKey(ctx context.Context, id string, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE portal_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
		micros(at), id, micros(at))
	if err != nil {
		return fmt.Errorf("store: touch portal key %s: %w", id, err)
	}
	return nil
}

// PortalKey returns one key; routing.ErrNotFound (wrapped) if there is none.
func (s *Store) PortalKey(ctx context.Context, id string) (PortalKey, error) {
	return scanPortalKey(s.db.QueryRowContext(ctx, `SELECT `+portalKeyCols+` FROM portal_keys WHERE id = ?`, id))
}

// PortalKeys lists the keys of a portal ("" = of every portal), oldest first.
func (s *Store) PortalKeys(ctx context.Context, portalID string) ([]PortalKey, error) {
	q, args := `SELECT `+portalKeyCols+` FROM portal_keys`, []any{}
	if portalID != "" {
		q += ` WHERE portal_id = ?`
		args = append(args, portalID)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: portal keys: %w", err)
	}
	defer rows.Close()
	var out []PortalKey
	for rows.Next() {
		k, err := scanPortalKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

type rowScanner interface{ Scan(dest ...any) error }

func scanPortalKey(r rowScanner) (PortalKey, error) {
	var (
		k                          PortalKey
		tenants                    string
		created                    int64
		expires, revoked, lastUsed sql.NullInt64
	)
	err := r.Scan(&k.ID, &k.PortalID, &k.Prefix, &k.Hash, &tenants, &created, &k.CreatedBy, &expires, &revoked,
		&k.RevokedReason, &k.ReplacedBy, &lastUsed)
	if errors.Is(err, sql.ErrNoRows) {
		return PortalKey{}, fmt.Errorf("portal key: %w", routing.ErrNotFound)
	}
	if err != nil {
		return PortalKey{}, fmt.Errorf("store: portal key: %w", err)
	}
	if tenants != "" {
		k.Tenants = strings.Split(tenants, ",")
	}
	k.CreatedAt, k.ExpiresAt, k.RevokedAt, k.LastUsedAt = fromMicros(created), nullMicros(expires), nullMicros(revoked), nullMicros(lastUsed)
	return k, nil
}
