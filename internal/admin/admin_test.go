package admin_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dxhub/dxhub/internal/admin"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

const (
	agsA = "05315000"
	agsB = "05111000"
	pwA  = "correct horse battery A"
	pwB  = "correct horse battery B"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     testing.TB
	st    *store.Store
	clock *fakeClock
	srv   *httptest.Server
	woken int
}

// newEnv runs the UI on 127.0.0.1 over a real SQLite store with two
// tenants, an operator for each (alice: A, bob: B) and one global account
// (staff), and a dead-lettered submission "dl-a" of tenant A plus a
// delivered one "ok-b" of tenant B.
func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, clock: &fakeClock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}}
	for _, u := range []struct {
		name, pw string
		tenants  []string
		global   bool
	}{{"alice", pwA, []string{agsA}, false}, {"bob", pwB, []string{agsB}, false}, {"staff", "staff password 123", nil, true}} {
		h, err := admin.HashPassword(u.pw, bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateAdminUser(ctx, store.AdminUser{Name: u.name, PasswordHash: h, Tenants: u.tenants, Global: u.global,
			Created: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	e.seed("dl-a", agsA, "REF-A-1", true)
	e.seed("ok-b", agsB, "REF-B-1", false)
	ui, err := admin.New(admin.Options{Store: st, Tenants: []admin.Tenant{{AGS: agsA, Name: "Stadt Köln", DVDVKey: "ags:" + agsA}, {AGS: agsB, Name: "Stadt Düsseldorf", DVDVKey: "ags:" + agsB}},
		SessionIdle: 30 * time.Minute, SessionMaxAge: 2 * time.Hour,
		Throttle: store.LoginThrottle{Max: 3, Window: 10 * time.Minute, Lockout: 15 * time.Minute},
		Now:      e.clock.Now, Wake: func() { e.woken++ }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(admin.Prefix, ui)
	e.srv = httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(e.srv.Close)
	return e
}

// seed stores a routed submission; dead: its delivery failed permanently
// (a dead letter), else it was delivered to the mailbox.
func (e *env) seed(id, tenant, ref string, dead bool) {
	t, ctx, now := e.t, context.Background(), e.clock.Now()
	t.Helper()
	if _, _, err := e.st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: id, PortalID: "portal",
		Tenant: tenant, Service: "universeller-antrag", Reference: ref, Applicant: routing.Applicant{Name: "A"},
		Form: []byte(`{}`), ReceivedAt: now}}); err != nil {
		t.Fatal(err)
	}
	msg := routing.Message{SubmissionID: id, UUID: "uuid-" + id, Standard: "XBau-Kernmodul", Version: "1.3.0", TypeCode: "1200",
		RootElement: "universellerAntrag.antrag.1200", Namespace: "n", Service: "urn:s", XML: []byte("<x/>")}
	if err := e.st.SaveMapped(ctx, msg, routing.StatusEvent{Status: routing.StatusValidated, Time: now, Source: routing.SourceHub}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SaveRoute(ctx, routing.Delivery{SubmissionID: id, MessageUUID: msg.UUID, TransportID: "urn:de:xta:messageid:dxhub:" + id,
		Route: routing.Route{ReaderKey: "ags:" + tenant, ServiceURI: "urn:s", Transport: routing.TransportXTA, Endpoint: "https://xta.example/send"}},
		routing.StatusEvent{Status: routing.StatusRouted, Time: now, Source: routing.SourceHub}); err != nil {
		t.Fatal(err)
	}
	d, err := e.st.GetDelivery(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	res := routing.AttemptResult{Delivery: d, Number: 1, Started: now, Finished: now}
	if dead {
		ev := routing.StatusEvent{Status: routing.StatusFailed, Time: now, Source: routing.SourceHub, Detail: "delivery failed permanently"}
		res.Outcome, res.Dead, res.Event = routing.Outcome{Kind: routing.Permanent, Reason: "XTA 9013: service not booked"}, true, &ev
	} else {
		ev := routing.StatusEvent{Status: routing.StatusDelivered, Time: now, Source: routing.SourceHub}
		res.Outcome, res.Done, res.Event = routing.Outcome{Kind: routing.Delivered}, true, &ev
	}
	if err := e.st.RecordAttempt(ctx, res); err != nil {
		t.Fatal(err)
	}
}

// browser is one cookie jar; it follows no redirects.
type browser struct {
	e    *env
	c    *http.Client
	csrf string // the session's token, from the last page that had a form
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type resp struct {
	code int
	loc  string
	body string
	h    http.Header
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) resp {
	b.e.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if m := csrfRE.FindStringSubmatch(string(body)); m != nil {
		b.csrf = m[1]
	}
	return resp{code: res.StatusCode, loc: res.Header.Get("Location"), body: string(body), h: res.Header}
}

func (b *browser) get(path string) resp {
	req, _ := http.NewRequest("GET", b.e.srv.URL+path, nil)
	return b.do(req)
}

// post sends a form from the UI's own origin, with the current token
// unless the form sets csrf itself (use "-" to send none).
func (b *browser) post(path string, form url.Values) resp {
	return b.postFrom(b.e.srv.URL, path, form)
}

func (b *browser) postFrom(origin, path string, form url.Values) resp {
	if form == nil {
		form = url.Values{}
	}
	switch form.Get("csrf") {
	case "":
		form.Set("csrf", b.csrf)
	case "-":
		form.Del("csrf")
	}
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return b.do(req)
}

func (b *browser) login(name, pw string) resp {
	b.e.t.Helper()
	if r := b.get("/admin/login"); r.code != 200 {
		b.e.t.Fatalf("login page: %d", r.code)
	}
	return b.post("/admin/login", url.Values{"name": {name}, "password": {pw}, "next": {"/admin/"}})
}

func (b *browser) mustLogin(name, pw string) {
	b.e.t.Helper()
	if r := b.login(name, pw); r.code != http.StatusSeeOther || r.loc != "/admin/" {
		b.e.t.Fatalf("login %s: %d %q\n%s", name, r.code, r.loc, r.body)
	}
	b.get("/admin/") // picks up the session's CSRF token
}

func TestLoginLogout(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	// Not logged in: every page leads to the login, with the way back.
	if r := b.get("/admin/t/" + agsA + "/deadletters"); r.code != http.StatusSeeOther ||
		r.loc != "/admin/login?next=%2Fadmin%2Ft%2F05315000%2Fdeadletters" {
		t.Fatalf("anonymous: %d %q", r.code, r.loc)
	}
	b.get("/admin/login")
	r := b.post("/admin/login", url.Values{"name": {"Alice"}, "password": {pwA}, "next": {"/admin/t/" + agsA + "/deadletters"}})
	if r.code != http.StatusSeeOther || r.loc != "/admin/t/"+agsA+"/deadletters" {
		t.Fatalf("login: %d %q %s", r.code, r.loc, r.body)
	}
	var session *http.Cookie
	for _, c := range (&http.Response{Header: r.h}).Cookies() {
		if c.Name == "dxhub_admin" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/admin" ||
		session.Secure || len(session.Value) < 40 {
		t.Fatalf("session cookie = %+v", session)
	}
	// The store keeps only the token's hash.
	if _, _, err := e.st.AdminSessionByHash(context.Background(), session.Value); !errors.Is(err, routing.ErrNotFound) {
		t.Fatalf("the raw token found a session: %v", err)
	}
	// One tenant: the home page leads there.
	if r := b.get("/admin/"); r.code != http.StatusSeeOther || r.loc != "/admin/t/"+agsA+"/" {
		t.Fatalf("home: %d %q", r.code, r.loc)
	}
	r = b.get("/admin/t/" + agsA + "/")
	if r.code != 200 || !strings.Contains(r.body, `data-testid="user">alice<`) || !strings.Contains(r.body, "Open dead letters: <strong>1</strong>") {
		t.Fatalf("overview: %d\n%s", r.code, r.body)
	}
	// An open redirect is not possible.
	b2 := e.browser()
	b2.get("/admin/login")
	if r := b2.post("/admin/login", url.Values{"name": {"alice"}, "password": {pwA}, "next": {"//evil.example/x"}}); r.loc != "/admin/" {
		t.Fatalf("next //evil: %q", r.loc)
	}
	// Logout ends the session server-side: the old cookie is worthless.
	if r := b.post("/admin/logout", nil); r.code != http.StatusSeeOther || r.loc != "/admin/login?out=1" {
		t.Fatalf("logout: %d %q", r.code, r.loc)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/admin/t/"+agsA+"/", nil)
	req.AddCookie(&http.Cookie{Name: "dxhub_admin", Value: session.Value})
	if r := e.browser().do(req); r.code != http.StatusSeeOther || !strings.HasPrefix(r.loc, "/admin/login") {
		t.Fatalf("old cookie after logout: %d %q", r.code, r.loc)
	}
	// Audit: login and logout by the account.
	entries, _ := e.st.AuditEntries(context.Background(), 0)
	var got []string
	for _, a := range entries {
		got = append(got, a.Actor+" "+a.Action)
	}
	if strings.Join(got, "|") != "admin alice admin.login|admin alice admin.login|admin alice admin.logout" {
		t.Fatalf("audit = %v", got)
	}
}

func TestWrongPasswordAndThrottling(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	wrongPw := b.login("alice", "not the password")
	unknown := b.login("mallory", "not the password")
	for _, r := range []resp{wrongPw, unknown} {
		if r.code != http.StatusUnauthorized || !strings.Contains(r.body, "Wrong name or password.") ||
			!strings.Contains(r.body, `aria-describedby="login-error"`) {
			t.Fatalf("wrong login: %d\n%s", r.code, r.body)
		}
	}
	// The two answers differ only in the echoed name and the form token.
	norm := func(s string) string { return csrfRE.ReplaceAllString(strings.ReplaceAll(s, "mallory", "alice"), "") }
	if norm(wrongPw.body) != norm(unknown.body) {
		t.Fatal("a wrong password and an unknown account answer differently")
	}
	// The third failure from this client address locks it (and would lock
	// an account name the same way): even the right password is refused
	// until the lockout has passed.
	b.login("alice", "still wrong")
	if r := b.login("alice", pwA); r.code != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many failed logins") {
		t.Fatalf("locked login: %d", r.code)
	}
	e.clock.Advance(16 * time.Minute)
	if r := b.login("alice", pwA); r.code != http.StatusSeeOther {
		t.Fatalf("after lockout: %d\n%s", r.code, r.body)
	}
	// A disabled account cannot log in, and its sessions end.
	b.get("/admin/")
	if err := e.st.DisableAdminUser(context.Background(), "alice", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := b.get("/admin/t/" + agsA + "/"); r.code != http.StatusSeeOther {
		t.Fatalf("disabled account's session still works: %d", r.code)
	}
	if r := e.browser().login("alice", pwA); r.code != http.StatusUnauthorized {
		t.Fatalf("disabled login: %d", r.code)
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	// Login itself needs the login form's token.
	b := e.browser()
	if r := b.post("/admin/login", url.Values{"name": {"alice"}, "password": {pwA}, "csrf": {"-"}}); r.code != http.StatusForbidden {
		t.Fatalf("login without token: %d", r.code)
	}
	b.mustLogin("alice", pwA)
	retry := "/admin/t/" + agsA + "/deadletters/dl-a/retry"
	// The token with its first character changed (a fixed "x" was the real
	// token whenever the random token began with "x": a flaky test).
	wrong := "x" + b.csrf[1:]
	if b.csrf[0] == 'x' {
		wrong = "y" + b.csrf[1:]
	}
	for name, r := range map[string]resp{
		"no token":      b.post(retry, url.Values{"csrf": {"-"}}),
		"wrong token":   b.post(retry, url.Values{"csrf": {wrong}}),
		"other origin":  b.postFrom("http://evil.example", retry, nil),
		"other session": b.post(retry, url.Values{"csrf": {otherToken(t, e)}}),
		"logout forged": b.post("/admin/logout", url.Values{"csrf": {"-"}}),
	} {
		if r.code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, r.code)
		}
	}
	if dls, _ := e.st.AdminDeadLetters(context.Background(), agsA, false); len(dls) != 1 {
		t.Fatal("a refused POST changed the dead letter")
	}
	// The real form works.
	b.get("/admin/t/" + agsA + "/deadletters")
	if r := b.post(retry, nil); r.code != http.StatusSeeOther || r.loc != "/admin/t/"+agsA+"/submissions/dl-a?done=retried" {
		t.Fatalf("retry: %d %q\n%s", r.code, r.loc, r.body)
	}
}

func otherToken(t *testing.T, e *env) string {
	o := e.browser()
	o.mustLogin("bob", pwB)
	return o.csrf
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustLogin("alice", pwA)
	page := "/admin/t/" + agsA + "/submissions"
	// Idle: activity within 30 min keeps it alive ...
	for i := 0; i < 3; i++ {
		e.clock.Advance(25 * time.Minute)
		if r := b.get(page); r.code != 200 {
			t.Fatalf("active session ended after %d×25 min: %d", i+1, r.code)
		}
	}
	// ... 31 min without a request ends it.
	e.clock.Advance(31 * time.Minute)
	if r := b.get(page); r.code != http.StatusSeeOther || !strings.HasPrefix(r.loc, "/admin/login") {
		t.Fatalf("idle session: %d %q", r.code, r.loc)
	}
	// Absolute: 2 h after login it ends however active it was.
	b.mustLogin("alice", pwA)
	for i := 0; i < 4; i++ {
		e.clock.Advance(29 * time.Minute)
		if r := b.get(page); r.code != 200 {
			t.Fatalf("session ended early: %d", r.code)
		}
	}
	e.clock.Advance(5 * time.Minute) // 2 h 1 min after login
	if r := b.get(page); r.code != http.StatusSeeOther {
		t.Fatalf("session past its maximum age: %d", r.code)
	}
	// A POST with an expired session is refused, not redirected.
	if r := b.post("/admin/t/"+agsA+"/deadletters/dl-a/retry", nil); r.code != http.StatusForbidden {
		t.Fatalf("POST with expired session: %d", r.code)
	}
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	bob := e.browser()
	bob.mustLogin("bob", pwB)
	// Bob's pages show his tenant's submission, never alice's.
	r := bob.get("/admin/t/" + agsB + "/submissions")
	if r.code != 200 || !strings.Contains(r.body, "ok-b") || strings.Contains(r.body, "dl-a") {
		t.Fatalf("bob's list: %d\n%s", r.code, r.body)
	}
	if r := bob.get("/admin/t/" + agsB + "/submissions?q=dl-a"); strings.Contains(r.body, `/submissions/dl-a"`) {
		t.Fatal("search by ID finds another tenant's submission")
	}
	// Every way to tenant A's data is 404, like a submission that does not
	// exist.
	nonexistent := bob.get("/admin/t/" + agsB + "/submissions/no-such-id")
	for _, p := range []string{"/admin/t/" + agsB + "/submissions/dl-a", "/admin/t/" + agsA + "/submissions/dl-a",
		"/admin/t/" + agsA + "/", "/admin/t/" + agsA + "/deadletters", "/admin/t/99999999/"} {
		r := bob.get(p)
		if r.code != http.StatusNotFound || strings.Contains(r.body, "dl-a") || r.body != nonexistent.body {
			t.Errorf("GET %s: %d, want the same 404 as a missing submission", p, r.code)
		}
	}
	for _, p := range []string{"/admin/t/" + agsB + "/deadletters/dl-a/retry", "/admin/t/" + agsA + "/deadletters/dl-a/retry",
		"/admin/t/" + agsB + "/deadletters/dl-a/drop"} {
		if r := bob.post(p, url.Values{"reason": {"x"}}); r.code != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", p, r.code)
		}
	}
	if dls, _ := e.st.AdminDeadLetters(context.Background(), agsA, false); len(dls) != 1 {
		t.Fatal("bob changed alice's dead letter")
	}
	// The provider's staff sees both tenants.
	staff := e.browser()
	staff.mustLogin("staff", "staff password 123")
	if r := staff.get("/admin/"); r.code != 200 || !strings.Contains(r.body, "Stadt Köln") || !strings.Contains(r.body, "Stadt Düsseldorf") {
		t.Fatalf("staff home: %d", r.code)
	}
	if r := staff.get("/admin/t/" + agsA + "/submissions/dl-a"); r.code != 200 {
		t.Fatalf("staff detail: %d", r.code)
	}
}

func TestDeadLetterActions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.browser()
	b.mustLogin("alice", pwA)
	r := b.get("/admin/t/" + agsA + "/deadletters")
	if r.code != 200 || !strings.Contains(r.body, "XTA 9013: service not booked") {
		t.Fatalf("dead letters: %d\n%s", r.code, r.body)
	}
	// Drop without a reason: the error is tied to the field.
	r = b.post("/admin/t/"+agsA+"/deadletters/dl-a/drop", url.Values{"reason": {"  "}})
	if r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, `aria-invalid="true" aria-describedby="reason-error-dl-a"`) ||
		!strings.Contains(r.body, `id="reason-error-dl-a"`) {
		t.Fatalf("drop without reason: %d\n%s", r.code, r.body)
	}
	// Retry: the same store function as `dxhub deadletter retry`.
	r = b.post("/admin/t/"+agsA+"/deadletters/dl-a/retry", nil)
	if r.code != http.StatusSeeOther {
		t.Fatalf("retry: %d\n%s", r.code, r.body)
	}
	if e.woken != 1 {
		t.Fatalf("pipeline woken %d times", e.woken)
	}
	r = b.get(r.loc)
	if !strings.Contains(r.body, "The dead letter was queued again") || !strings.Contains(r.body, "dead letter retried by admin alice") {
		t.Fatalf("after retry:\n%s", r.body)
	}
	dl, err := e.st.DeadLetter(ctx, "dl-a")
	if err != nil || dl.Resolution != "retried" {
		t.Fatalf("dead letter = %+v %v", dl, err)
	}
	// A second retry (a stale page) is a conflict, not an error.
	if r := b.post("/admin/t/"+agsA+"/deadletters/dl-a/retry", nil); r.code != http.StatusConflict {
		t.Fatalf("second retry: %d", r.code)
	}
	// Drop a fresh dead letter with a reason.
	e.seed("dl-a2", agsA, "REF-A-2", true)
	if r := b.post("/admin/t/"+agsA+"/deadletters/dl-a2/drop", url.Values{"reason": {"duplicate of REF-A-1"}}); r.code != http.StatusSeeOther {
		t.Fatalf("drop: %d\n%s", r.code, r.body)
	}
	if dl, _ := e.st.DeadLetter(ctx, "dl-a2"); dl.Resolution != "dropped: duplicate of REF-A-1" {
		t.Fatalf("dropped = %+v", dl)
	}
	// Both are in the hash-chained audit log with the account as actor.
	entries, _ := e.st.AuditEntries(ctx, 0)
	var acts []string
	for _, a := range entries {
		if a.SubmissionID != "" && a.Action != "admin.submission.read" {
			acts = append(acts, a.Actor+"|"+a.Action+"|"+a.SubmissionID+"|"+a.Detail)
		}
	}
	want := "admin alice|deadletter.retry|dl-a|resumes at routed (admin UI) admin alice|deadletter.drop|dl-a2|duplicate of REF-A-1 (admin UI)"
	if strings.Join(acts, " ") != want {
		t.Fatalf("audit = %q", acts)
	}
	if n, err := e.st.VerifyAudit(ctx); err != nil || n != len(entries) {
		t.Fatalf("verify audit: %d %v", n, err)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for _, p := range []string{"/admin/login", "/admin/nope", "/admin/static/admin.css"} {
		r := b.get(p)
		if !strings.Contains(r.h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			strings.Contains(r.h.Get("Content-Security-Policy"), "script") || r.h.Get("X-Frame-Options") != "DENY" ||
			r.h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", p, r.h)
		}
		if p != "/admin/static/admin.css" && r.h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", p, r.h.Get("Cache-Control"))
		}
	}
	if r := b.get("/admin/static/../admin.go"); r.code == 200 {
		t.Fatal("static path escape")
	}
}

// TestAccessibility parses every page and checks the basics of BITV 2.0 /
// WCAG 2.1 AA that can be checked mechanically.
func TestAccessibility(t *testing.T) {
	e := newEnv(t)
	e.seed("dl-a3", agsA, "REF-A-3", true)
	b := e.browser()
	pages := map[string]resp{"login": b.get("/admin/login"), "wrong login": b.login("alice", "nope")}
	b.mustLogin("staff", "staff password 123")
	for _, p := range []string{"/admin/", "/admin/t/" + agsA + "/", "/admin/t/" + agsA + "/submissions",
		"/admin/t/" + agsA + "/submissions?status=nonsense", "/admin/t/" + agsA + "/submissions/dl-a",
		"/admin/t/" + agsA + "/deadletters", "/admin/t/" + agsA + "/deadletters?all=1", "/admin/t/" + agsA + "/routes",
		"/admin/t/" + agsA + "/sla", "/admin/t/" + agsA + "/submissions/nope"} {
		pages[p] = b.get(p)
	}
	pages["drop error"] = b.post("/admin/t/"+agsA+"/deadletters/dl-a3/drop", nil)
	for name, r := range pages {
		checkAccessible(t, name, r.body)
	}
}

func checkAccessible(t *testing.T, name, body string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(body))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	var (
		lang, skip, mainID, hasHeader, hasNav bool
		h1                                    int
		ids                                   = map[string]bool{}
		labels                                = map[string]bool{}
		controls                              []string // ids of inputs that need a label
		unlabeled                             []string
		thNoScope                             int
		describedBy                           []string
	)
	attr := func(se xml.StartElement, n string) (string, bool) {
		for _, a := range se.Attr {
			if a.Name.Local == n {
				return a.Value, true
			}
		}
		return "", false
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: HTML does not parse: %v", name, err)
		}
		switch se := tok.(type) {
		case xml.StartElement:
			if id, ok := attr(se, "id"); ok {
				if ids[id] {
					t.Errorf("%s: duplicate id %q", name, id)
				}
				ids[id] = true
			}
			if v, ok := attr(se, "aria-describedby"); ok {
				describedBy = append(describedBy, v)
			}
			if _, ok := attr(se, "style"); ok {
				t.Errorf("%s: inline style on <%s>", name, se.Name.Local)
			}
			switch se.Name.Local {
			case "html":
				v, _ := attr(se, "lang")
				lang = v == "en"
			case "a":
				if v, _ := attr(se, "href"); v == "#main" {
					skip = true
				}
			case "main":
				v, _ := attr(se, "id")
				mainID = v == "main"
			case "header":
				hasHeader = true
			case "nav":
				hasNav = true
			case "h1":
				h1++
			case "script":
				t.Errorf("%s: has a <script>", name)
			case "label":
				if v, ok := attr(se, "for"); ok {
					labels[v] = true
				}
			case "input", "select", "textarea":
				typ, _ := attr(se, "type")
				if typ == "hidden" || typ == "submit" {
					continue
				}
				id, _ := attr(se, "id")
				if _, ok := attr(se, "aria-label"); ok {
					continue
				}
				if id == "" {
					unlabeled = append(unlabeled, se.Name.Local)
					continue
				}
				controls = append(controls, id)
			case "th":
				if _, ok := attr(se, "scope"); !ok {
					thNoScope++
				}
			}
		}
	}
	for _, id := range controls {
		if !labels[id] {
			unlabeled = append(unlabeled, "#"+id)
		}
	}
	if len(unlabeled) > 0 {
		t.Errorf("%s: inputs without a label: %v", name, unlabeled)
	}
	for _, ref := range describedBy {
		for _, id := range strings.Fields(ref) {
			if !ids[id] {
				t.Errorf("%s: aria-describedby names missing id %q", name, id)
			}
		}
	}
	if !lang || !skip || !mainID || !hasHeader || h1 != 1 || thNoScope > 0 {
		t.Errorf("%s: lang=%v skip link=%v main#main=%v header=%v h1 count=%d th without scope=%d", name, lang, skip, mainID,
			hasHeader, h1, thNoScope)
	}
	// (A 404 has no tenant navigation: it must look the same for a foreign
	// tenant as for a missing page.)
	if strings.HasPrefix(name, "/admin/t/") && !strings.HasSuffix(name, "/nope") && !hasNav {
		t.Errorf("%s: no nav", name)
	}
}

// FuzzSafeNext: whatever the login form's "next" says, the redirect after
// login stays on the UI's own pages (no open redirect).
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/admin/", "/admin/t/05315000/", "//evil.example/", "/admin/\\evil", "https://evil.example/admin/",
		"/admin/x\r\nSet-Cookie: a=b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := admin.SafeNext(next)
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(got, "/admin/") || strings.ContainsAny(got, "\\\r\n") {
			t.Fatalf("SafeNext(%q) = %q", next, got)
		}
	})
}

// TestRoutesAndSLAPages: the routes a tenant's deliveries used, and a
// message over its service's SLA once the (injected) clock passes it.
func TestRoutesAndSLAPages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, err := e.st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: "wait-a", PortalID: "portal",
		Tenant: agsA, Service: "universeller-antrag", Reference: "REF-A-WAIT", Applicant: routing.Applicant{Name: "A"},
		Form: []byte(`{}`), ReceivedAt: e.clock.Now()}}); err != nil {
		t.Fatal(err)
	}
	msg := routing.Message{SubmissionID: "wait-a", UUID: "uuid-wait-a", Standard: "XBau-Kernmodul", Version: "1.3.0", TypeCode: "1200",
		RootElement: "r", Namespace: "n", Service: "urn:s", XML: []byte("<x/>")}
	e.st.SaveMapped(ctx, msg, routing.StatusEvent{Status: routing.StatusValidated, Time: e.clock.Now(), Source: routing.SourceHub})
	e.st.SaveRoute(ctx, routing.Delivery{SubmissionID: "wait-a", MessageUUID: msg.UUID, TransportID: "urn:x:wait-a",
		Route: routing.Route{ReaderKey: "ags:" + agsA, ServiceURI: "urn:s", Transport: routing.TransportXTAMailbox, Source: "file:config"}},
		routing.StatusEvent{Status: routing.StatusRouted, Time: e.clock.Now(), Source: routing.SourceHub})
	d, _ := e.st.GetDelivery(ctx, "wait-a")
	ev := routing.StatusEvent{Status: routing.StatusDelivered, Time: e.clock.Now(), Source: routing.SourceHub}
	if err := e.st.RecordAttempt(ctx, routing.AttemptResult{Delivery: d, Number: 1, Started: e.clock.Now(), Finished: e.clock.Now(),
		Outcome: routing.Outcome{Kind: routing.Delivered}, Done: true, Event: &ev}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.DVDVCachePut(ctx, store.DVDVCacheEntry{Kind: "service", Key: "ags:" + agsA + " urn:xoev-de:xbau:baugenehmigung",
		Value: []byte(`{}`), Server: "https://dvdv.example", FetchedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	e.st.DVDVCachePut(ctx, store.DVDVCacheEntry{Kind: "service", Key: "ags:" + agsB + " urn:other", Value: []byte(`{}`),
		FetchedAt: e.clock.Now(), ExpiresAt: e.clock.Now()})
	b := e.browser()
	b.mustLogin("alice", pwA)
	r := b.get("/admin/t/" + agsA + "/routes")
	if !strings.Contains(r.body, "Cached DVDV service lookups: 1") || !strings.Contains(r.body, "urn:xoev-de:xbau:baugenehmigung") ||
		strings.Contains(r.body, "urn:other") || !strings.Contains(r.body, "https://dvdv.example") {
		t.Fatalf("cached routes:\n%s", r.body)
	}
	if r.code != 200 || !strings.Contains(r.body, "built-in mailbox") || !strings.Contains(r.body, "https://xta.example/send") ||
		strings.Contains(r.body, "ags:"+agsB) {
		t.Fatalf("routes:\n%s", r.body)
	}
	if r := b.get("/admin/t/" + agsA + "/sla"); !strings.Contains(r.body, "Messages over their SLA: 0") {
		t.Fatalf("sla before the deadline:\n%s", r.body)
	}
	e.clock.Advance(73 * time.Hour) // the default SLA is 72 h
	b.mustLogin("alice", pwA)       // (the session's maximum age has passed meanwhile)
	r = b.get("/admin/t/" + agsA + "/sla")
	if !strings.Contains(r.body, "Messages over their SLA: 1") || !strings.Contains(r.body, "REF-A-WAIT") ||
		!strings.Contains(r.body, "<td>1 h 0 min</td>") || !strings.Contains(r.body, "waiting") {
		t.Fatalf("sla after the deadline:\n%s", r.body)
	}
	if r := b.get("/admin/t/" + agsA + "/"); !strings.Contains(r.body, "Messages over their SLA: <strong>1</strong>") {
		t.Fatalf("overview:\n%s", r.body)
	}
}

// TestListPagingAndEscaping: 50 rows a page with working links that keep
// the filter, and text from portals is escaped, never markup.
func TestListPagingAndEscaping(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 60 {
		ref := fmt.Sprintf("PAGE-%02d", i)
		if i == 55 { // on the first page (newest first)
			ref = `PAGE-<script>alert("x")</script>&`
		}
		if _, _, err := e.st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: fmt.Sprintf("p-%02d", i),
			PortalID: "portal", Tenant: agsA, Service: "universeller-antrag", Reference: ref, Applicant: routing.Applicant{Name: "A"},
			Form: []byte(`{}`), ReceivedAt: e.clock.Now().Add(time.Duration(i) * time.Second)}}); err != nil {
			t.Fatal(err)
		}
	}
	b := e.browser()
	b.mustLogin("alice", pwA)
	r := b.get("/admin/t/" + agsA + "/submissions?status=received&q=page-")
	if !strings.Contains(r.body, "Submissions 1–50 of 60, status received, search “page-”") ||
		!strings.Contains(r.body, `href="/admin/t/05315000/submissions?status=received&amp;q=page-&amp;offset=50" rel="next"`) ||
		strings.Contains(r.body, `rel="prev"`) {
		t.Fatalf("page 1:\n%s", r.body)
	}
	if strings.Contains(r.body, "<script>") || !strings.Contains(r.body, `PAGE-&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;`) {
		t.Fatal("a portal's reference is not escaped")
	}
	r = b.get("/admin/t/" + agsA + "/submissions?status=received&q=page-&offset=50")
	if !strings.Contains(r.body, "Submissions 51–60 of 60") || !strings.Contains(r.body, `rel="prev"`) ||
		strings.Contains(r.body, `rel="next"`) || !strings.Contains(r.body, ">p-00<") {
		t.Fatalf("page 2:\n%s", r.body)
	}
	if r := b.get("/admin/t/" + agsA + "/submissions?status=bogus"); r.code != http.StatusBadRequest ||
		!strings.Contains(r.body, "Choose a status from the list.") {
		t.Fatalf("bad status: %d", r.code)
	}
}
