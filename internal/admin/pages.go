package admin

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

// page is what every template gets.
type page struct {
	Title   string
	Session *session
	Tenant  *Tenant // the tenant whose pages these are (nil outside)
	Nav     string  // the current tenant page: overview, submissions, deadletters, routes, sla
	Flash   string
	Data    any
}

// CSRF is the session's synchronizer token for the forms of the page.
func (p page) CSRF() string {
	if p.Session == nil {
		return ""
	}
	return p.Session.csrf
}

// User is the logged-in account's name.
func (p page) User() string {
	if p.Session == nil {
		return ""
	}
	return p.Session.user.Name
}

// statuses in lifecycle order, then the terminal failures.
var statuses = []routing.Status{routing.StatusReceived, routing.StatusValidated, routing.StatusRouted, routing.StatusSent,
	routing.StatusDelivered, routing.StatusFetched, routing.StatusAcknowledged, routing.StatusInProgress, routing.StatusDecided,
	routing.StatusRejected, routing.StatusFailed, routing.StatusExpired}

// statusKind groups statuses for their badge: ok, progress or failure. The
// badge always shows the status's name and a symbol: colour is never the
// only carrier.
func statusKind(s routing.Status) string {
	switch s {
	case routing.StatusRejected, routing.StatusFailed, routing.StatusExpired:
		return "bad"
	case routing.StatusDelivered, routing.StatusFetched, routing.StatusAcknowledged, routing.StatusInProgress, routing.StatusDecided:
		return "ok"
	}
	return "wait"
}

func statusSymbol(s routing.Status) string {
	switch statusKind(s) {
	case "bad":
		return "✗"
	case "ok":
		return "✓"
	}
	return "…"
}

func parsePages(loc *time.Location) (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"ts": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.In(loc).Format("2006-01-02 15:04:05")
		},
		"iso":          func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"statusKind":   func(s routing.Status) string { return statusKind(s) },
		"statusSymbol": func(s routing.Status) string { return statusSymbol(s) },
		"tpath":        tenantPath,
		"dur":          fmtDuration,
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html")
	if err != nil {
		return nil, errorf("parse layout: %w", err)
	}
	out := map[string]*template.Template{}
	for _, name := range []string{"login", "error", "home", "overview", "submissions", "submission", "deadletters", "routes", "sla"} {
		t, err := template.Must(base.Clone()).ParseFS(assets, "templates/"+name+".html")
		if err != nil {
			return nil, errorf("parse %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

func fmtDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	d = d.Round(time.Minute)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h, m := d/time.Hour, (d%time.Hour)/time.Minute
	switch {
	case days > 0:
		return strconv.Itoa(int(days)) + " d " + strconv.Itoa(int(h)) + " h"
	case h > 0:
		return strconv.Itoa(int(h)) + " h " + strconv.Itoa(int(m)) + " min"
	}
	return strconv.Itoa(int(m)) + " min"
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t := u.pages[name]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		u.o.Logger.Error("admin: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (u *UI) tenantPage(r *http.Request, title, nav string, data any) page {
	t := u.tenantOf(r)
	return page{Title: title + " — " + t.Name, Session: sessionOf(r), Tenant: &t, Nav: nav, Data: data,
		Flash: flashes[r.URL.Query().Get("done")]}
}

// flashes are the fixed confirmations a redirect after a POST may show
// (never text taken from the request).
var flashes = map[string]string{
	"retried": "The dead letter was queued again; the hub resumes it at the stage it failed in, with the same message ID.",
	"dropped": "The dead letter was dropped; the submission stays failed.",
}

type homeData struct{ Tenants []Tenant }

func (u *UI) home(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	ts := u.wantTenants(s)
	if len(ts) == 1 {
		http.Redirect(w, r, tenantPath(ts[0].AGS), http.StatusSeeOther)
		return
	}
	u.render(w, r, http.StatusOK, "home", page{Title: "Tenants", Session: s, Data: homeData{Tenants: ts}})
}

type statusCount struct {
	Status routing.Status
	Count  int
}

type overviewData struct {
	Counts      []statusCount
	Total       int
	DeadLetters int
	Breaches    int
}

func (u *UI) overview(w http.ResponseWriter, r *http.Request) {
	ctx, ags := r.Context(), r.PathValue("tenant")
	counts, err := u.o.Store.AdminStatusCounts(ctx, ags)
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	var d overviewData
	for _, st := range statuses {
		if n := counts[st]; n > 0 {
			d.Counts = append(d.Counts, statusCount{st, n})
			d.Total += n
		}
	}
	dls, err := u.o.Store.AdminDeadLetters(ctx, ags, false)
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	d.DeadLetters = len(dls)
	br, err := u.breaches(r, ags)
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	d.Breaches = len(br)
	u.render(w, r, http.StatusOK, "overview", u.tenantPage(r, "Overview", "overview", d))
}

type submissionsData struct {
	Rows     []store.AdminSubmission
	Total    int
	Status   string
	Query    string
	Statuses []routing.Status
	Error    string
	From, To int
	Prev     string
	Next     string
}

const pageSize = 50

func (u *UI) submissions(w http.ResponseWriter, r *http.Request) {
	ags, q := r.PathValue("tenant"), r.URL.Query()
	d := submissionsData{Status: q.Get("status"), Query: strings.TrimSpace(q.Get("q")), Statuses: statuses}
	status := http.StatusOK
	if d.Status != "" && !knownStatus(d.Status) {
		d.Error, d.Status, status = "Choose a status from the list.", "", http.StatusBadRequest
	}
	if len(d.Query) > 200 {
		d.Error, d.Query, status = "The search text is too long (at most 200 characters).", "", http.StatusBadRequest
	}
	offset, _ := strconv.Atoi(q.Get("offset"))
	offset = max(offset, 0)
	rows, total, err := u.o.Store.AdminSubmissions(r.Context(), store.AdminSubmissionFilter{Tenant: ags, Status: d.Status,
		Query: d.Query, Limit: pageSize, Offset: offset})
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	d.Rows, d.Total = rows, total
	if len(rows) > 0 {
		d.From, d.To = offset+1, offset+len(rows)
	}
	link := func(off int) string {
		v := map[string]string{"status": d.Status, "q": d.Query}
		qs := []string{}
		for _, k := range []string{"status", "q"} {
			if v[k] != "" {
				qs = append(qs, k+"="+template.URLQueryEscaper(v[k]))
			}
		}
		if off > 0 {
			qs = append(qs, "offset="+strconv.Itoa(off))
		}
		p := tenantPath(ags, "submissions")
		if len(qs) > 0 {
			p += "?" + strings.Join(qs, "&")
		}
		return p
	}
	if offset > 0 {
		d.Prev = link(max(offset-pageSize, 0))
	}
	if offset+len(rows) < total {
		d.Next = link(offset + pageSize)
	}
	u.render(w, r, status, "submissions", u.tenantPage(r, "Submissions", "submissions", d))
}

func knownStatus(s string) bool {
	for _, st := range statuses {
		if string(st) == s {
			return true
		}
	}
	return false
}

type submissionData struct {
	Trace      store.Trace
	OpenDead   bool
	DropError  string
	DropReason string
}

func (u *UI) submission(w http.ResponseWriter, r *http.Request) {
	ctx, ags, id := r.Context(), r.PathValue("tenant"), r.PathValue("id")
	tr, err := u.o.Store.AdminTrace(ctx, ags, id)
	if errors.Is(err, routing.ErrNotFound) {
		u.notFound(w, r, sessionOf(r))
		return
	}
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	u.audit(ctx, sessionOf(r), "admin.submission.read", id, "tenant "+ags)
	d := submissionData{Trace: tr, OpenDead: tr.DeadLetter != nil && tr.DeadLetter.ResolvedAt.IsZero()}
	u.render(w, r, http.StatusOK, "submission", u.tenantPage(r, "Submission "+id, "submissions", d))
}

type deadLettersData struct {
	Rows       []store.DeadLetter
	All        bool
	ErrorID    string // the row whose drop form has an error
	DropError  string
	DropReason string
}

func (u *UI) deadLetters(w http.ResponseWriter, r *http.Request) {
	u.showDeadLetters(w, r, http.StatusOK, deadLettersData{All: r.URL.Query().Get("all") == "1"})
}

func (u *UI) showDeadLetters(w http.ResponseWriter, r *http.Request, status int, d deadLettersData) {
	rows, err := u.o.Store.AdminDeadLetters(r.Context(), r.PathValue("tenant"), d.All)
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	d.Rows = rows
	u.render(w, r, status, "deadletters", u.tenantPage(r, "Dead letters", "deadletters", d))
}

// deadLetterAction checks that the submission is the tenant's (else 404)
// and reports a dead letter that is no longer open.
func (u *UI) deadLetterAction(w http.ResponseWriter, r *http.Request, act func(id string) error) (string, bool) {
	ctx, ags, id := r.Context(), r.PathValue("tenant"), r.PathValue("id")
	if err := u.o.Store.CheckSubmissionTenant(ctx, ags, id); errors.Is(err, routing.ErrNotFound) {
		u.notFound(w, r, sessionOf(r))
		return id, false
	} else if err != nil {
		u.serverError(w, r, err)
		return id, false
	}
	err := act(id)
	if errors.Is(err, store.ErrNotDeadLetter) || errors.Is(err, routing.ErrNotFound) {
		u.renderError(w, r, http.StatusConflict, "Submission "+id+" is not an open dead letter (any more): "+
			"someone may have retried or dropped it already.")
		return id, false
	}
	if err != nil {
		u.serverError(w, r, err)
		return id, false
	}
	return id, true
}

func (u *UI) retry(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	var resume routing.Status
	id, ok := u.deadLetterAction(w, r, func(id string) error {
		var err error
		resume, err = u.o.Store.RetryDeadLetter(r.Context(), id, actor(s), u.o.Now())
		return err
	})
	if !ok {
		return
	}
	u.audit(r.Context(), s, "deadletter.retry", id, "resumes at "+string(resume)+" (admin UI)")
	u.o.Logger.Info("admin: dead letter retried", "submission", id, "by", s.user.Name, "resumes", resume)
	if u.o.Wake != nil {
		u.o.Wake()
	}
	http.Redirect(w, r, tenantPath(r.PathValue("tenant"), "submissions", id)+"?done=retried", http.StatusSeeOther)
}

func (u *UI) drop(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" || len(reason) > 1000 {
		msg := "Give a reason for dropping (it goes into the history and the audit log)."
		if reason != "" {
			msg, reason = "The reason is too long (at most 1000 characters).", ""
		}
		if err := u.o.Store.CheckSubmissionTenant(r.Context(), r.PathValue("tenant"), r.PathValue("id")); err != nil {
			u.notFound(w, r, s)
			return
		}
		u.showDeadLetters(w, r, http.StatusUnprocessableEntity, deadLettersData{ErrorID: r.PathValue("id"), DropError: msg,
			DropReason: reason})
		return
	}
	id, ok := u.deadLetterAction(w, r, func(id string) error {
		return u.o.Store.DropDeadLetter(r.Context(), id, actor(s), reason, u.o.Now())
	})
	if !ok {
		return
	}
	u.audit(r.Context(), s, "deadletter.drop", id, reason+" (admin UI)")
	u.o.Logger.Info("admin: dead letter dropped", "submission", id, "by", s.user.Name)
	http.Redirect(w, r, tenantPath(r.PathValue("tenant"), "deadletters")+"?done=dropped", http.StatusSeeOther)
}

type routesData struct {
	Rows    []store.AdminRoute
	DVDVKey string
	Cached  []cachedRoute
}

type cachedRoute struct {
	store.AdminCachedRoute
	Stale bool // expired: served only while the DVDV is unreachable, refreshed on next use
}

func (u *UI) routesPage(w http.ResponseWriter, r *http.Request) {
	rows, err := u.o.Store.AdminRoutes(r.Context(), r.PathValue("tenant"))
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	d := routesData{Rows: rows, DVDVKey: u.tenantOf(r).DVDVKey}
	if d.DVDVKey != "" {
		cached, err := u.o.Store.AdminCachedRoutes(r.Context(), d.DVDVKey)
		if err != nil {
			u.serverError(w, r, err)
			return
		}
		now := u.o.Now()
		for _, c := range cached {
			d.Cached = append(d.Cached, cachedRoute{AdminCachedRoute: c, Stale: !c.ExpiresAt.After(now)})
		}
	}
	u.render(w, r, http.StatusOK, "routes", u.tenantPage(r, "Routes in use", "routes", d))
}

// breach is a message over its service's fetch deadline.
type breach struct {
	store.AdminUnfetched
	SLA     time.Duration
	Due     time.Time
	Overdue time.Duration
}

func (u *UI) breaches(r *http.Request, ags string) ([]breach, error) {
	now := u.o.Now()
	rows, err := u.o.Store.AdminUnfetched(r.Context(), ags, now, 500)
	if err != nil {
		return nil, err
	}
	var out []breach
	for _, x := range rows {
		sla := u.o.SLA(x.Service)
		due := x.DeliveredAt.Add(sla)
		if x.State == "expired" || !due.After(now) {
			out = append(out, breach{AdminUnfetched: x, SLA: sla, Due: due, Overdue: now.Sub(due)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Due.Before(out[j].Due) })
	return out, nil
}

type slaData struct{ Rows []breach }

func (u *UI) slaPage(w http.ResponseWriter, r *http.Request) {
	rows, err := u.breaches(r, r.PathValue("tenant"))
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "sla", u.tenantPage(r, "SLA breaches", "sla", slaData{Rows: rows}))
}
