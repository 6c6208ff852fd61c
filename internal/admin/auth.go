package admin

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

// PasswordCost is the bcrypt cost of new password hashes.
const PasswordCost = 12

// Password length bounds: bcrypt reads at most 72 bytes.
const (
	MinPasswordLen   = 12
	MaxPasswordBytes = 72
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// ValidateName checks an account name: 1–64 characters of a-z, 0-9, ".",
// "_", "@", "-", starting with a letter or digit.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("account name %q: use 1–64 lower-case letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)
	}
	return nil
}

// ValidatePassword checks a new password's length.
func ValidatePassword(pw string) error {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return fmt.Errorf("password too short: at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordBytes:
		return fmt.Errorf("password too long: at most %d bytes (bcrypt ignores the rest)", MaxPasswordBytes)
	case strings.TrimSpace(pw) != pw:
		return errors.New("password starts or ends with white space (a stray newline?)")
	}
	return nil
}

// HashPassword validates a new password and returns its bcrypt hash.
func HashPassword(pw string, cost int) (string, error) {
	if err := ValidatePassword(pw); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// dummyHash is compared against when the account does not exist or is
// disabled, so a login takes as long for a wrong name as for a wrong
// password.
var dummyHash = sync.OnceValue(func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("dxhub-no-such-account-dummy"), PasswordCost)
	if err != nil {
		panic(err)
	}
	return h
})

const wrongLogin = "Wrong name or password."

type loginData struct {
	Next     string
	Name     string
	Error    string
	CSRF     string
	LoggedIn bool
}

// SafeNext keeps only redirects to pages of the UI itself: a relative
// reference whose cleaned path is under /admin/; anything else is /admin/.
func SafeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n\t") || !strings.HasPrefix(u.Path, Prefix) ||
		!strings.HasPrefix(path.Clean(u.Path)+"/", Prefix) {
		return Prefix
	}
	return u.RequestURI()
}

func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	u.showLogin(w, r, http.StatusOK, loginData{Next: SafeNext(r.URL.Query().Get("next"))})
}

// showLogin renders the login form with a fresh login CSRF token, which is
// both in the form and in a cookie (there is no session to hold it yet).
func (u *UI) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	tok, err := randomToken()
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	u.setCookie(w, r, loginCookie, tok, 3600)
	d.CSRF = tok
	if s, _ := u.currentSession(r); s != nil {
		d.LoggedIn = true
	}
	u.render(w, r, status, "login", page{Title: "Log in", Data: d})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	ctx, now := r.Context(), u.o.Now()
	if !sameOrigin(r) {
		u.renderError(w, r, http.StatusForbidden, "The request did not come from this site and was refused.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	c, err := r.Cookie(loginCookie)
	field := r.PostFormValue("csrf")
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(field)) != 1 {
		u.o.Logger.Warn("admin: login without a valid CSRF token refused", "addr", clientAddr(r))
		u.renderError(w, r, http.StatusForbidden, "The login form was out of date (security token missing). "+
			"Open the login page again.")
		return
	}
	name := strings.ToLower(strings.TrimSpace(r.PostFormValue("name")))
	pw := r.PostFormValue("password")
	next := SafeNext(r.PostFormValue("next"))
	if len(name) > 64 {
		name = name[:64]
	}
	keys := []string{"name:" + name, "addr:" + clientAddr(r)}
	locked, err := u.o.Store.AdminLoginLockedUntil(ctx, now, keys...)
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	if !locked.IsZero() {
		u.o.Logger.Warn("admin: login refused while locked", "name", name, "addr", clientAddr(r), "until", locked)
		u.showLogin(w, r, http.StatusTooManyRequests, loginData{Next: next, Name: name,
			Error: "Too many failed logins. Try again later."})
		return
	}
	user, err := u.o.Store.AdminUserByName(ctx, name)
	if err != nil && !errors.Is(err, routing.ErrNotFound) {
		u.serverError(w, r, err)
		return
	}
	ok := false
	if err == nil && !user.Disabled() {
		ok = bcrypt.CompareHashAndPassword([]byte(user.PasswordHash), []byte(pw)) == nil
	} else {
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(pw)) // same time as a real check
	}
	if !ok {
		// Old counts go first, so names tried by a guesser do not pile up.
		if _, err := u.o.Store.PurgeAdminLoginFailures(ctx, now.Add(-u.o.Throttle.Window), now); err != nil {
			u.serverError(w, r, err)
			return
		}
		for _, k := range keys {
			if _, err := u.o.Store.RecordAdminLoginFailure(ctx, k, now, u.o.Throttle); err != nil {
				u.serverError(w, r, err)
				return
			}
		}
		u.o.Logger.Warn("admin: failed login", "name", name, "addr", clientAddr(r))
		u.showLogin(w, r, http.StatusUnauthorized, loginData{Next: next, Name: name, Error: wrongLogin})
		return
	}
	if err := u.o.Store.ClearAdminLoginFailures(ctx, keys[0]); err != nil {
		u.serverError(w, r, err)
		return
	}
	if _, err := u.o.Store.PurgeAdminSessions(ctx, now.Add(-u.o.SessionIdle), now.Add(-u.o.SessionMaxAge)); err != nil {
		u.serverError(w, r, err)
		return
	}
	// A new session on every login (no fixation): a token the browser had
	// before is never promoted.
	if old, err := r.Cookie(sessionCookie); err == nil && old.Value != "" {
		u.o.Store.DeleteAdminSession(ctx, hashToken(old.Value))
	}
	tok, err := randomToken()
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	csrf, err := randomToken()
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	if err := u.o.Store.CreateAdminSession(ctx, store.AdminSession{TokenHash: hashToken(tok), User: user.Name, CSRF: csrf,
		Created: now, LastSeen: now}); err != nil {
		u.serverError(w, r, err)
		return
	}
	u.setCookie(w, r, sessionCookie, tok, int(u.o.SessionMaxAge.Seconds()))
	u.setCookie(w, r, loginCookie, "", -1)
	s := &session{user: user}
	u.audit(ctx, s, "admin.login", "", "from "+clientAddr(r))
	u.o.Logger.Info("admin: login", "name", user.Name, "addr", clientAddr(r))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	if err := u.o.Store.DeleteAdminSession(r.Context(), s.tokenHash); err != nil {
		u.serverError(w, r, err)
		return
	}
	u.audit(r.Context(), s, "admin.logout", "", "")
	u.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/admin/login?out=1", http.StatusSeeOther)
}
