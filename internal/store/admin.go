package store

// The admin web UI's state (operator accounts, sessions, login throttling)
// and its read queries. Every query of tenant data takes the tenant (AGS) and
// filters by it in SQL: the UI never loads another tenant's rows and then
// filters them in Go.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// AdminUser is an operator account of the admin UI.
type AdminUser struct {
	Name         string    `json:"name"`
	PasswordHash string    `json:"-"`
	Global       bool      `json:"global"`            // the provider's staff: every tenant
	Tenants      []string  `json:"tenants,omitempty"` // AGS the account may see (sorted)
	DisabledAt   time.Time `json:"disabledAt,omitzero"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// Disabled reports whether the account may no longer log in.
func (u AdminUser) Disabled() bool { return !u.DisabledAt.IsZero() }

// MaySee reports whether the account may see the tenant's data.
func (u AdminUser) MaySee(tenant string) bool {
	if u.Global {
		return true
	}
	for _, t := range u.Tenants {
		if t == tenant {
			return true
		}
	}
	return false
}

// ErrAdminUserExists is returned when adding an account whose name is taken.
var ErrAdminUserExists = errors.New("an admin account of that name exists")

// CreateAdminUser adds an account.
func (s *Store) CreateAdminUser(ctx context.Context, u AdminUser) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM admin_users WHERE name = ?`, u.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%s: %w", u.Name, ErrAdminUserExists)
		}
		global := 0
		if u.Global {
			global = 1
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO admin_users (name, password_hash, global, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?)`, u.Name, u.PasswordHash, global, micros(u.Created), micros(u.Created)); err != nil {
			return err
		}
		for _, t := range dedupe(u.Tenants) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO admin_user_tenants (user_name, tenant) VALUES (?, ?)`, u.Name, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrAdminUserExists) {
		err = fmt.Errorf("store: create admin user: %w", err)
	}
	return err
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range in {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// SetAdminPassword replaces an account's password hash and ends all its
// sessions.
func (s *Store) SetAdminPassword(ctx context.Context, name, hash string, now time.Time) error {
	return s.updateAdminUser(ctx, name, `UPDATE admin_users SET password_hash = ?, updated_at = ? WHERE name = ?`, hash, micros(now), name)
}

// DisableAdminUser stops an account from logging in and ends its sessions.
func (s *Store) DisableAdminUser(ctx context.Context, name string, now time.Time) error {
	return s.updateAdminUser(ctx, name, `UPDATE admin_users SET disabled_at = ?, updated_at = ? WHERE name = ?`, micros(now), micros(now), name)
}

func (s *Store) updateAdminUser(ctx context.Context, name, query string, args ...any) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("admin account %s: %w", name, routing.ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM admin_sessions WHERE user_name = ?`, name)
		return err
	})
	if err != nil && !errors.Is(err, routing.ErrNotFound) {
		err = fmt.Errorf("store: update admin user: %w", err)
	}
	return err
}

const adminUserSelect = `SELECT name, password_hash, global, disabled_at, created_at, updated_at FROM admin_users`

// AdminUserByName returns one account (routing.ErrNotFound if unknown).
func (s *Store) AdminUserByName(ctx context.Context, name string) (AdminUser, error) {
	users, err := s.adminUsers(ctx, adminUserSelect+` WHERE name = ?`, name)
	if err != nil {
		return AdminUser{}, err
	}
	if len(users) == 0 {
		return AdminUser{}, fmt.Errorf("admin account %s: %w", name, routing.ErrNotFound)
	}
	return users[0], nil
}

// AdminUsers lists every account by name.
func (s *Store) AdminUsers(ctx context.Context) ([]AdminUser, error) {
	return s.adminUsers(ctx, adminUserSelect+` ORDER BY name`)
}

func (s *Store) adminUsers(ctx context.Context, q string, args ...any) ([]AdminUser, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: admin users: %w", err)
	}
	var out []AdminUser
	for rows.Next() {
		var u AdminUser
		var global int
		var disabled sql.NullInt64
		var created, updated int64
		if err := rows.Scan(&u.Name, &u.PasswordHash, &global, &disabled, &created, &updated); err != nil {
			rows.Close()
			return nil, err
		}
		u.Global, u.DisabledAt, u.Created, u.Updated = global == 1, nullMicros(disabled), fromMicros(created), fromMicros(updated)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, err
	}
	rows.Close()
	for i := range out {
		trows, err := s.db.QueryContext(ctx, `SELECT tenant FROM admin_user_tenants WHERE user_name = ? ORDER BY tenant`, out[i].Name)
		if err != nil {
			return nil, fmt.Errorf("store: admin user tenants: %w", err)
		}
		for trows.Next() {
			var t string
			if err := trows.Scan(&t); err != nil {
				trows.Close()
				return nil, err
			}
			out[i].Tenants = append(out[i].Tenants, t)
		}
		trows.Close()
	}
	return out, nil
}

// AdminSession is a logged-in browser. Only the hash of the cookie's token
// is stored.
type AdminSession struct {
	TokenHash string
	User      string
	CSRF      string
	Created   time.Time
	LastSeen  time.Time
}

// CreateAdminSession stores a new session.
func (s *Store) CreateAdminSession(ctx context.Context, ses AdminSession) error {
	if _, err := s.exec(ctx, `INSERT INTO admin_sessions (token_hash, user_name, csrf, created_at, last_seen_at)
		VALUES (?, ?, ?, ?, ?)`, ses.TokenHash, ses.User, ses.CSRF, micros(ses.Created), micros(ses.LastSeen)); err != nil {
		return fmt.Errorf("store: create admin session: %w", err)
	}
	return nil
}

// AdminSessionByHash returns a session with its account (routing.ErrNotFound
// if there is none). The caller checks expiry and the account's state.
func (s *Store) AdminSessionByHash(ctx context.Context, tokenHash string) (AdminSession, AdminUser, error) {
	var ses AdminSession
	var created, seen int64
	err := s.db.QueryRowContext(ctx, `SELECT token_hash, user_name, csrf, created_at, last_seen_at FROM admin_sessions
		WHERE token_hash = ?`, tokenHash).Scan(&ses.TokenHash, &ses.User, &ses.CSRF, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return ses, AdminUser{}, fmt.Errorf("admin session: %w", routing.ErrNotFound)
	}
	if err != nil {
		return ses, AdminUser{}, fmt.Errorf("store: admin session: %w", err)
	}
	ses.Created, ses.LastSeen = fromMicros(created), fromMicros(seen)
	u, err := s.AdminUserByName(ctx, ses.User)
	return ses, u, err
}

// TouchAdminSession records activity (the idle expiry counts from it).
func (s *Store) TouchAdminSession(ctx context.Context, tokenHash string, now time.Time) error {
	if _, err := s.exec(ctx, `UPDATE admin_sessions SET last_seen_at = ? WHERE token_hash = ?`, micros(now), tokenHash); err != nil {
		return fmt.Errorf("store: touch admin session: %w", err)
	}
	return nil
}

// DeleteAdminSession ends a session (logout, expiry).
func (s *Store) DeleteAdminSession(ctx context.Context, tokenHash string) error {
	if _, err := s.exec(ctx, `DELETE FROM admin_sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return fmt.Errorf("store: delete admin session: %w", err)
	}
	return nil
}

// PurgeAdminSessions deletes sessions idle since before idleBefore or
// created before createdBefore, and returns how many.
func (s *Store) PurgeAdminSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM admin_sessions WHERE last_seen_at < ? OR created_at < ?`,
		micros(idleBefore), micros(createdBefore))
	if err != nil {
		return 0, fmt.Errorf("store: purge admin sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// AdminLoginLockedUntil returns the latest lock of the keys that is still in
// force at now (zero if none is locked).
func (s *Store) AdminLoginLockedUntil(ctx context.Context, now time.Time, keys ...string) (time.Time, error) {
	var until time.Time
	for _, k := range keys {
		var v sql.NullInt64
		err := s.db.QueryRowContext(ctx, `SELECT locked_until FROM admin_login_failures WHERE key = ?`, k).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("store: login lock: %w", err)
		}
		if t := nullMicros(v); t.After(now) && t.After(until) {
			until = t
		}
	}
	return until, nil
}

// LoginThrottle is the failed-login policy: max failures of one key within
// window lock it for lockout.
type LoginThrottle struct {
	Max     int
	Window  time.Duration
	Lockout time.Duration
}

// RecordAdminLoginFailure counts a failed login for key and locks the key
// when it reaches the limit. It returns the lock's end (zero if not locked).
func (s *Store) RecordAdminLoginFailure(ctx context.Context, key string, now time.Time, p LoginThrottle) (time.Time, error) {
	var locked time.Time
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var failures int
		var start int64
		var until sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT failures, window_start, locked_until FROM admin_login_failures WHERE key = ?`+
			s.forUpdate(), key).Scan(&failures, &start, &until)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if errors.Is(err, sql.ErrNoRows) || fromMicros(start).Add(p.Window).Before(now) {
			failures, start = 0, micros(now)
		}
		failures++
		var lockedUntil any
		if t := nullMicros(until); t.After(now) {
			locked, lockedUntil = t, micros(t)
		}
		if p.Max > 0 && failures >= p.Max {
			locked = now.Add(p.Lockout)
			lockedUntil, failures, start = micros(locked), 0, micros(now)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO admin_login_failures (key, failures, window_start, locked_until) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start,
			locked_until = excluded.locked_until`, key, failures, start, lockedUntil)
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("store: record login failure: %w", err)
	}
	return locked, nil
}

// ClearAdminLoginFailures forgets a key's failures (after a good login).
func (s *Store) ClearAdminLoginFailures(ctx context.Context, key string) error {
	if _, err := s.exec(ctx, `DELETE FROM admin_login_failures WHERE key = ?`, key); err != nil {
		return fmt.Errorf("store: clear login failures: %w", err)
	}
	return nil
}

// PurgeAdminLoginFailures forgets failure counts whose window started
// before `before` and whose lock (if any) has ended by now, so names tried
// by someone guessing do not pile up.
func (s *Store) PurgeAdminLoginFailures(ctx context.Context, before, now time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM admin_login_failures WHERE window_start < ? AND (locked_until IS NULL OR locked_until < ?)`,
		micros(before), micros(now))
	if err != nil {
		return 0, fmt.Errorf("store: purge login failures: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// AdminSubmissionFilter selects one tenant's submissions.
type AdminSubmissionFilter struct {
	Tenant string
	Status string // "" = any
	Query  string // submission ID (exact) or part of the portal's reference (case-insensitive)
	Limit  int    // default 50
	Offset int
}

// AdminSubmission is one row of the submission list.
type AdminSubmission struct {
	ID        string
	Portal    string
	Service   string
	Reference string
	Status    routing.Status
	Received  time.Time
	Updated   time.Time
}

// AdminSubmissions lists a tenant's submissions, newest first, and counts
// all that match.
func (s *Store) AdminSubmissions(ctx context.Context, f AdminSubmissionFilter) ([]AdminSubmission, int, error) {
	where, args := ` WHERE tenant = ?`, []any{f.Tenant}
	if f.Status != "" {
		where += ` AND status = ?`
		args = append(args, f.Status)
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		where += ` AND (id = ? OR lower(reference) LIKE ? ESCAPE '\')`
		args = append(args, q, "%"+likeEscape(strings.ToLower(q))+"%")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM submissions`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: admin submissions: %w", err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, portal_id, service, reference, status, received_at, updated_at
		FROM submissions`+where+` ORDER BY received_at DESC, id DESC LIMIT ? OFFSET ?`, append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: admin submissions: %w", err)
	}
	defer rows.Close()
	var out []AdminSubmission
	for rows.Next() {
		var a AdminSubmission
		var st string
		var rec, upd int64
		if err := rows.Scan(&a.ID, &a.Portal, &a.Service, &a.Reference, &st, &rec, &upd); err != nil {
			return nil, 0, err
		}
		a.Status, a.Received, a.Updated = routing.Status(st), fromMicros(rec), fromMicros(upd)
		out = append(out, a)
	}
	return out, total, rows.Err()
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// AdminStatusCounts counts a tenant's submissions per status.
func (s *Store) AdminStatusCounts(ctx context.Context, tenant string) (map[routing.Status]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT status, count(*) FROM submissions WHERE tenant = ? GROUP BY status`, tenant)
	if err != nil {
		return nil, fmt.Errorf("store: admin status counts: %w", err)
	}
	defer rows.Close()
	out := map[routing.Status]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[routing.Status(st)] = n
	}
	return out, rows.Err()
}

// CheckSubmissionTenant returns routing.ErrNotFound unless the submission
// exists AND belongs to the tenant: to another tenant's operator a foreign
// submission does not exist.
func (s *Store) CheckSubmissionTenant(ctx context.Context, tenant, submissionID string) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM submissions WHERE id = ? AND tenant = ?`,
		submissionID, tenant).Scan(&n); err != nil {
		return fmt.Errorf("store: submission tenant: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("submission %s: %w", submissionID, routing.ErrNotFound)
	}
	return nil
}

// AdminTrace is Trace for one tenant: routing.ErrNotFound for a submission
// of another tenant.
func (s *Store) AdminTrace(ctx context.Context, tenant, submissionID string) (Trace, error) {
	if err := s.CheckSubmissionTenant(ctx, tenant, submissionID); err != nil {
		return Trace{}, err
	}
	return s.Trace(ctx, submissionID)
}

// AdminDeadLetters lists a tenant's dead letters, newest first; resolved
// ones only if all.
func (s *Store) AdminDeadLetters(ctx context.Context, tenant string, all bool) ([]DeadLetter, error) {
	q := deadLetterSelect + ` WHERE s.tenant = ?`
	if !all {
		q += ` AND dl.resolved_at IS NULL`
	}
	return s.queryDeadLetters(ctx, q+` ORDER BY dl.created_at DESC, dl.submission_id`, tenant)
}

// AdminRoute is a route a tenant's deliveries used, with how often.
type AdminRoute struct {
	ReaderKey  string
	ServiceURI string
	Transport  string
	Endpoint   string
	Source     string // where the route came from (config, DVDV server)
	Deliveries int
	Pending    int
	Dead       int
	LastUsed   time.Time
}

// AdminRoutes lists the routes a tenant's current deliveries use.
func (s *Store) AdminRoutes(ctx context.Context, tenant string) ([]AdminRoute, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.reader_key, d.service_uri, d.transport, d.endpoint, d.route_source, count(*),
		sum(CASE WHEN d.state = 'pending' THEN 1 ELSE 0 END), sum(CASE WHEN d.state = 'dead' THEN 1 ELSE 0 END), max(d.created_at)
		FROM deliveries d JOIN submissions s ON s.id = d.submission_id WHERE s.tenant = ?
		GROUP BY d.reader_key, d.service_uri, d.transport, d.endpoint, d.route_source
		ORDER BY d.reader_key, d.service_uri, d.transport, d.endpoint, d.route_source`, tenant)
	if err != nil {
		return nil, fmt.Errorf("store: admin routes: %w", err)
	}
	defer rows.Close()
	var out []AdminRoute
	for rows.Next() {
		var r AdminRoute
		var last int64
		if err := rows.Scan(&r.ReaderKey, &r.ServiceURI, &r.Transport, &r.Endpoint, &r.Source, &r.Deliveries, &r.Pending,
			&r.Dead, &last); err != nil {
			return nil, err
		}
		r.LastUsed = fromMicros(last)
		out = append(out, r)
	}
	return out, rows.Err()
}

// AdminCachedRoute is a DVDV service lookup cached for a reader
// (dvdv_cache kind "service", key "<reader key> <service URI>").
type AdminCachedRoute struct {
	ServiceURI string
	Negative   bool   // the DVDV had no entry
	Detail     string // the DVDV's warning for a negative entry
	Server     string
	FetchedAt  time.Time
	ExpiresAt  time.Time
}

// AdminCachedRoutes lists the cached DVDV service lookups of one reader
// (a tenant's DVDV key), by service URI.
func (s *Store) AdminCachedRoutes(ctx context.Context, readerKey string) ([]AdminCachedRoute, error) {
	prefix := strings.ToLower(strings.TrimSpace(readerKey)) + " "
	rows, err := s.db.QueryContext(ctx, `SELECT key, negative, detail, server, fetched_at, expires_at FROM dvdv_cache
		WHERE kind = 'service' AND key LIKE ? ESCAPE '\' ORDER BY key`, likeEscape(prefix)+"%")
	if err != nil {
		return nil, fmt.Errorf("store: cached routes: %w", err)
	}
	defer rows.Close()
	var out []AdminCachedRoute
	for rows.Next() {
		var r AdminCachedRoute
		var key string
		var neg int
		var fetched, expires int64
		if err := rows.Scan(&key, &neg, &r.Detail, &r.Server, &fetched, &expires); err != nil {
			return nil, err
		}
		if !strings.HasPrefix(key, prefix) { // LIKE is case-insensitive on SQLite
			continue
		}
		r.ServiceURI, r.Negative, r.FetchedAt, r.ExpiresAt = strings.TrimPrefix(key, prefix), neg == 1, fromMicros(fetched), fromMicros(expires)
		out = append(out, r)
	}
	return out, rows.Err()
}

// AdminUnfetched is a tenant's message that its reader has not fetched.
type AdminUnfetched struct {
	SubmissionID string
	Service      string
	Reference    string
	ReaderKey    string
	TransportID  string
	State        string // delivered (still waiting) or expired (withdrawn)
	DeliveredAt  time.Time
	AlertedAt    time.Time // when the SLA monitor reported the breach (zero: not yet)
}

// AdminUnfetched lists a tenant's delivered or expired messages not fetched,
// delivered at or before `before`, oldest first (the caller applies each
// service's SLA).
func (s *Store) AdminUnfetched(ctx context.Context, tenant string, before time.Time, limit int) ([]AdminUnfetched, error) {
	if limit <= 0 {
		limit = 500
	}
	rows, err := s.db.QueryContext(ctx, `SELECT d.submission_id, s.service, s.reference, d.reader_key, d.transport_id, d.state,
		d.delivered_at, d.sla_alerted_at
		FROM deliveries d JOIN submissions s ON s.id = d.submission_id
		WHERE s.tenant = ? AND d.state IN ('delivered', 'expired') AND d.fetched_at IS NULL AND d.delivered_at <= ?
		ORDER BY d.delivered_at, d.submission_id LIMIT ?`, tenant, micros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("store: admin unfetched: %w", err)
	}
	defer rows.Close()
	var out []AdminUnfetched
	for rows.Next() {
		var u AdminUnfetched
		var at int64
		var alerted sql.NullInt64
		if err := rows.Scan(&u.SubmissionID, &u.Service, &u.Reference, &u.ReaderKey, &u.TransportID, &u.State, &at, &alerted); err != nil {
			return nil, err
		}
		u.DeliveredAt, u.AlertedAt = fromMicros(at), nullMicros(alerted)
		out = append(out, u)
	}
	return out, rows.Err()
}
