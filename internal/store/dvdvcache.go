package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// DVDVCacheEntry is one persisted DVDV answer (dvdv.Resolver's cache). Value
// is the raw JSON DVDV sent; a negative entry (nothing found) has none.
type DVDVCacheEntry struct {
	Kind      string
	Key       string
	Value     []byte
	Negative  bool
	Detail    string
	Server    string
	FetchedAt time.Time
	ExpiresAt time.Time
}

// DVDVCachePut inserts or replaces the entry for (Kind, Key).
func (s *Store) DVDVCachePut(ctx context.Context, e DVDVCacheEntry) error {
	if e.Kind == "" || e.Key == "" {
		return errors.New("store: dvdv cache entry needs a kind and a key")
	}
	var value any
	neg := 0
	if e.Negative {
		neg = 1
	} else {
		value = e.Value
	}
	_, err := s.exec(ctx, `INSERT INTO dvdv_cache (kind, key, value, negative, detail, server, fetched_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, negative = excluded.negative, detail = excluded.detail,
			server = excluded.server, fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`,
		e.Kind, e.Key, value, neg, e.Detail, e.Server, micros(e.FetchedAt), micros(e.ExpiresAt))
	if err != nil {
		return fmt.Errorf("store: dvdv cache put %s %s: %w", e.Kind, e.Key, err)
	}
	return nil
}

// DVDVCacheGet returns the entry for (kind, key) or routing.ErrNotFound.
func (s *Store) DVDVCacheGet(ctx context.Context, kind, key string) (DVDVCacheEntry, error) {
	row := s.db.QueryRowContext(ctx, `SELECT kind, key, value, negative, detail, server, fetched_at, expires_at
		FROM dvdv_cache WHERE kind = ? AND key = ?`, kind, key)
	e, err := scanDVDVCache(row)
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("store: dvdv cache %s %s: %w", kind, key, routing.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("store: dvdv cache get: %w", err)
	}
	return e, nil
}

// DVDVCacheList returns every entry of the kind ("" = all kinds), ordered by
// kind and key.
func (s *Store) DVDVCacheList(ctx context.Context, kind string) ([]DVDVCacheEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, key, value, negative, detail, server, fetched_at, expires_at
		FROM dvdv_cache WHERE ? = '' OR kind = ? ORDER BY kind, key`, kind, kind)
	if err != nil {
		return nil, fmt.Errorf("store: dvdv cache list: %w", err)
	}
	defer rows.Close()
	var out []DVDVCacheEntry
	for rows.Next() {
		e, err := scanDVDVCache(rows)
		if err != nil {
			return nil, fmt.Errorf("store: dvdv cache list: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// DVDVCacheDelete removes the entry for (kind, key) and reports whether there
// was one.
func (s *Store) DVDVCacheDelete(ctx context.Context, kind, key string) (bool, error) {
	res, err := s.exec(ctx, `DELETE FROM dvdv_cache WHERE kind = ? AND key = ?`, kind, key)
	if err != nil {
		return false, fmt.Errorf("store: dvdv cache delete: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DVDVCachePurge removes every entry of the kind ("" = all) and returns how
// many there were.
func (s *Store) DVDVCachePurge(ctx context.Context, kind string) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM dvdv_cache WHERE ? = '' OR kind = ?`, kind, kind)
	if err != nil {
		return 0, fmt.Errorf("store: dvdv cache purge: %w", err)
	}
	return res.RowsAffected()
}

func scanDVDVCache(r interface{ Scan(...any) error }) (DVDVCacheEntry, error) {
	var e DVDVCacheEntry
	var neg int
	var fetched, expires int64
	if err := r.Scan(&e.Kind, &e.Key, &e.Value, &neg, &e.Detail, &e.Server, &fetched, &expires); err != nil {
		return e, err
	}
	e.Negative = neg == 1
	e.FetchedAt, e.ExpiresAt = fromMicros(fetched), fromMicros(expires)
	return e, nil
}
