// Package admin is dxhub's admin web UI: server-rendered pages (html/template,
// embedded templates and CSS, no JavaScript) under /admin/ on the hub's
// listener, behind a login with operator accounts from the store.
//
// Per tenant (AGS) an operator sees submissions with their history, XÖV
// messages, delivery, attempts and back-channel, the dead letters with Retry
// and Drop, the routes in use and the SLA breaches. An account sees only its
// tenants (or all, for the provider's staff): every query filters by tenant
// in the store, and a foreign tenant or submission answers 404, exactly like
// one that does not exist.
//
// Security: passwords are bcrypt hashes; the session token is 32 random
// bytes in an HttpOnly, SameSite=Strict cookie limited to /admin (Secure
// over TLS), stored only as its SHA-256, with idle and absolute expiry; every
// POST carries the session's synchronizer token and must come from the same
// origin; failed logins lock the account name and the client address for a
// while; pages send a strict CSP (no script at all), frame denial and
// no-store.
package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Store is what the UI needs of the store.
type Store interface {
	AdminUserByName(ctx context.Context, name string) (store.AdminUser, error)
	CreateAdminSession(ctx context.Context, ses store.AdminSession) error
	AdminSessionByHash(ctx context.Context, tokenHash string) (store.AdminSession, store.AdminUser, error)
	TouchAdminSession(ctx context.Context, tokenHash string, now time.Time) error
	DeleteAdminSession(ctx context.Context, tokenHash string) error
	PurgeAdminSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error)
	AdminLoginLockedUntil(ctx context.Context, now time.Time, keys ...string) (time.Time, error)
	RecordAdminLoginFailure(ctx context.Context, key string, now time.Time, p store.LoginThrottle) (time.Time, error)
	ClearAdminLoginFailures(ctx context.Context, key string) error
	PurgeAdminLoginFailures(ctx context.Context, before, now time.Time) (int64, error)

	AdminSubmissions(ctx context.Context, f store.AdminSubmissionFilter) ([]store.AdminSubmission, int, error)
	AdminStatusCounts(ctx context.Context, tenant string) (map[routing.Status]int, error)
	AdminTrace(ctx context.Context, tenant, submissionID string) (store.Trace, error)
	AdminDeadLetters(ctx context.Context, tenant string, all bool) ([]store.DeadLetter, error)
	CheckSubmissionTenant(ctx context.Context, tenant, submissionID string) error
	AdminRoutes(ctx context.Context, tenant string) ([]store.AdminRoute, error)
	AdminCachedRoutes(ctx context.Context, readerKey string) ([]store.AdminCachedRoute, error)
	AdminUnfetched(ctx context.Context, tenant string, before time.Time, limit int) ([]store.AdminUnfetched, error)

	// The operator actions of `dxhub deadletter retry|drop`, and the audit log.
	RetryDeadLetter(ctx context.Context, submissionID, operator string, now time.Time) (routing.Status, error)
	DropDeadLetter(ctx context.Context, submissionID, operator, why string, now time.Time) error
	AppendAudit(ctx context.Context, e store.AuditEntry) error
}

var _ Store = (*store.Store)(nil)

// Tenant is a configured municipality.
type Tenant struct {
	AGS     string
	Name    string
	DVDVKey string // the tenant's organisation key as a reader (its cached DVDV routes)
}

// Options configure the UI.
type Options struct {
	Store   Store
	Tenants []Tenant
	// SLA returns a service's fetch deadline (services[].sla or the default).
	SLA func(service string) time.Duration
	// SessionIdle and SessionMaxAge end sessions (defaults 30 min, 12 h).
	SessionIdle   time.Duration
	SessionMaxAge time.Duration
	// Throttle locks an account name or client address after repeated
	// failed logins (default 5 in 15 min lock for 15 min).
	Throttle store.LoginThrottle
	// SecureCookies sets Secure on cookies even when the request came in
	// without TLS (the hub behind a TLS-terminating proxy: hub.baseURL is
	// https). Requests over TLS always get Secure cookies.
	SecureCookies bool
	// Now is the clock (default time.Now); Location formats times (default UTC).
	Now      func() time.Time
	Location *time.Location
	Logger   *slog.Logger
	// Wake, if set, is called after a dead letter was queued again, so the
	// pipeline picks it up without waiting for its next poll.
	Wake func()
}

// UI is the admin web UI; mount it at /admin/.
type UI struct {
	o       Options
	mux     *http.ServeMux
	pages   map[string]*template.Template
	tenants map[string]Tenant
	static  fs.FS
}

// Prefix is where the UI is mounted.
const Prefix = "/admin/"

const (
	sessionCookie = "dxhub_admin"
	loginCookie   = "dxhub_admin_login" // the login form's CSRF token (no session yet)
	cookiePath    = "/admin"
)

// New builds the UI.
func New(o Options) (*UI, error) {
	if o.Store == nil {
		return nil, errors.New("admin: no store")
	}
	if o.SessionIdle <= 0 {
		o.SessionIdle = 30 * time.Minute
	}
	if o.SessionMaxAge <= 0 {
		o.SessionMaxAge = 12 * time.Hour
	}
	if o.Throttle.Max <= 0 {
		o.Throttle = store.LoginThrottle{Max: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SLA == nil {
		o.SLA = func(string) time.Duration { return 72 * time.Hour }
	}
	u := &UI{o: o, mux: http.NewServeMux(), tenants: map[string]Tenant{}}
	for _, t := range o.Tenants {
		u.tenants[t.AGS] = t
	}
	var err error
	if u.pages, err = parsePages(o.Location); err != nil {
		return nil, err
	}
	if u.static, err = fs.Sub(assets, "static"); err != nil {
		return nil, err
	}
	u.routes()
	return u, nil
}

func (u *UI) routes() {
	m := u.mux
	m.HandleFunc("GET /admin/static/{file}", u.serveStatic)
	m.HandleFunc("GET /admin/login", u.loginForm)
	m.HandleFunc("POST /admin/login", u.login)
	m.Handle("POST /admin/logout", u.authed(u.logout))
	m.Handle("GET /admin/{$}", u.authed(u.home))
	m.Handle("GET /admin/t/{tenant}/{$}", u.tenant(u.overview))
	m.Handle("GET /admin/t/{tenant}/submissions", u.tenant(u.submissions))
	m.Handle("GET /admin/t/{tenant}/submissions/{id}", u.tenant(u.submission))
	m.Handle("GET /admin/t/{tenant}/deadletters", u.tenant(u.deadLetters))
	m.Handle("POST /admin/t/{tenant}/deadletters/{id}/retry", u.tenant(u.retry))
	m.Handle("POST /admin/t/{tenant}/deadletters/{id}/drop", u.tenant(u.drop))
	m.Handle("GET /admin/t/{tenant}/routes", u.tenant(u.routesPage))
	m.Handle("GET /admin/t/{tenant}/sla", u.tenant(u.slaPage))
	m.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) { u.notFound(w, r, nil) })
}

// ServeHTTP answers every request under /admin/ with the security headers.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "+
		"frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	h.Set("Cache-Control", "no-store")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	u.mux.ServeHTTP(w, r)
}

func (u *UI) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := fs.ReadFile(u.static, name)
	if err != nil || !strings.HasSuffix(name, ".css") {
		u.notFound(w, r, nil)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Write(b)
}

// session is the logged-in operator of a request.
type session struct {
	user      store.AdminUser
	tokenHash string
	csrf      string
}

type sessionKey struct{}

func sessionOf(r *http.Request) *session {
	s, _ := r.Context().Value(sessionKey{}).(*session)
	return s
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// currentSession resolves the session cookie; nil if there is no valid
// session (expired sessions are deleted).
func (u *UI) currentSession(r *http.Request) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, nil
	}
	ctx, now := r.Context(), u.o.Now()
	th := hashToken(c.Value)
	ses, user, err := u.o.Store.AdminSessionByHash(ctx, th)
	if errors.Is(err, routing.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if now.Sub(ses.LastSeen) > u.o.SessionIdle || now.Sub(ses.Created) > u.o.SessionMaxAge || user.Disabled() {
		return nil, u.o.Store.DeleteAdminSession(ctx, th)
	}
	// Record activity, at most about once a minute per session.
	if now.Sub(ses.LastSeen) >= min(time.Minute, u.o.SessionIdle/10) {
		if err := u.o.Store.TouchAdminSession(ctx, th, now); err != nil {
			return nil, err
		}
	}
	return &session{user: user, tokenHash: th, csrf: ses.CSRF}, nil
}

// authed requires a session. A GET without one goes to the login page; a
// POST without one is refused (its form is stale).
func (u *UI) authed(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := u.currentSession(r)
		if err != nil {
			u.serverError(w, r, err)
			return
		}
		if s == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			u.renderError(w, r, http.StatusForbidden, "Your session has ended. Log in again.")
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
		if r.Method == http.MethodPost && !u.postAllowed(w, r, s.csrf) {
			return
		}
		next(w, r)
	})
}

// tenant requires a session allowed to see the {tenant} of the path; any
// other tenant, configured or not, is 404.
func (u *UI) tenant(next http.HandlerFunc) http.Handler {
	return u.authed(func(w http.ResponseWriter, r *http.Request) {
		s := sessionOf(r)
		ags := r.PathValue("tenant")
		if _, ok := u.tenants[ags]; !ok || !s.user.MaySee(ags) {
			u.notFound(w, r, s)
			return
		}
		next(w, r)
	})
}

// postAllowed checks a state-changing request: same origin (Origin header,
// else Sec-Fetch-Site) and the synchronizer token in the form field "csrf".
func (u *UI) postAllowed(w http.ResponseWriter, r *http.Request, want string) bool {
	if !sameOrigin(r) {
		u.o.Logger.Warn("admin: cross-origin POST refused", "path", r.URL.Path, "origin", r.Header.Get("Origin"))
		u.renderError(w, r, http.StatusForbidden, "The request did not come from this site and was refused.")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	got := r.PostFormValue("csrf")
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		u.o.Logger.Warn("admin: POST without a valid CSRF token refused", "path", r.URL.Path)
		u.renderError(w, r, http.StatusForbidden, "The form was out of date or incomplete (security token missing). "+
			"Reload the page and try again.")
		return false
	}
	return true
}

func sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		ou, err := url.Parse(o)
		if err != nil || ou.Host == "" || !strings.EqualFold(ou.Host, r.Host) {
			return false
		}
		if r.TLS != nil && ou.Scheme != "https" {
			return false
		}
		return true
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// actor is how the audit log and the status history name the operator.
func actor(s *session) string { return "admin " + s.user.Name }

func (u *UI) audit(ctx context.Context, s *session, action, submissionID, detail string) {
	if err := u.o.Store.AppendAudit(ctx, store.AuditEntry{At: u.o.Now(), Actor: actor(s), Action: action,
		SubmissionID: submissionID, Detail: detail}); err != nil {
		u.o.Logger.Error("admin: could not write the audit log", "action", action, "err", err)
	}
}

func (u *UI) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: cookiePath, MaxAge: maxAge, HttpOnly: true,
		Secure: r.TLS != nil || u.o.SecureCookies, SameSite: http.SameSiteStrictMode})
}

func (u *UI) serverError(w http.ResponseWriter, r *http.Request, err error) {
	u.o.Logger.Error("admin: request failed", "path", r.URL.Path, "err", err)
	u.renderError(w, r, http.StatusInternalServerError, "Something went wrong on the server; the error is logged.")
}

func (u *UI) notFound(w http.ResponseWriter, r *http.Request, s *session) {
	if s == nil {
		s, _ = u.currentSession(r)
	}
	u.render(w, r, http.StatusNotFound, "error", page{Title: "Not found", Session: s,
		Data: errorData{Message: "There is no such page, or you may not see it."}})
}

func (u *UI) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s := sessionOf(r)
	u.render(w, r, status, "error", page{Title: http.StatusText(status), Session: s, Data: errorData{Message: msg}})
}

type errorData struct{ Message string }

// wantTenants lists the configured tenants the session may see.
func (u *UI) wantTenants(s *session) []Tenant {
	var out []Tenant
	for _, t := range u.o.Tenants {
		if s.user.MaySee(t.AGS) {
			out = append(out, t)
		}
	}
	return out
}

func (u *UI) tenantOf(r *http.Request) Tenant { return u.tenants[r.PathValue("tenant")] }

func tenantPath(ags string, parts ...string) string {
	p := "/admin/t/" + url.PathEscape(ags) + "/"
	for i, s := range parts {
		if i > 0 {
			p += "/"
		}
		p += url.PathEscape(s)
	}
	return p
}

func errorf(format string, args ...any) error { return fmt.Errorf("admin: "+format, args...) }
