// Package servicekonto brings status events to the citizen's Servicekonto
// Postfach (DESIGN §1 step 6). The embedded default is a local Postfach sink in
// the hub's own store, readable at GET /v1/mailboxes/{handle}/messages; the
// Dispatcher drains the status-event outbox into whichever Sink is configured.
package servicekonto

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

//go:embed texts.yaml
var defaultTexts []byte

// Texts holds the German title and body templates per status.
type Texts struct {
	byStatus map[routing.Status]textTemplate
}

type textTemplate struct {
	title, body *template.Template
}

// TextData is what the templates see.
type TextData struct {
	Reference  string
	Service    string
	Submission string
	Detail     string
	Time       string
}

// DefaultTexts returns the shipped German texts.
func DefaultTexts() *Texts {
	t, err := ParseTexts(defaultTexts)
	if err != nil {
		panic("servicekonto: shipped texts.yaml is invalid: " + err.Error())
	}
	return t
}

// LoadTexts reads an operator's text file.
func LoadTexts(path string) (*Texts, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("servicekonto: read texts: %w", err)
	}
	t, err := ParseTexts(b)
	if err != nil {
		return nil, fmt.Errorf("servicekonto: %s: %w", path, err)
	}
	return t, nil
}

// ParseTexts parses a YAML document of status → {title, body}.
func ParseTexts(b []byte) (*Texts, error) {
	var doc map[string]struct {
		Title string `yaml:"title"`
		Body  string `yaml:"body"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse texts: %w", err)
	}
	t := &Texts{byStatus: map[routing.Status]textTemplate{}}
	for k, v := range doc {
		st := routing.Status(k)
		if !st.Valid() {
			return nil, fmt.Errorf("texts: unknown status %q", k)
		}
		if v.Title == "" || v.Body == "" {
			return nil, fmt.Errorf("texts: status %q needs a title and a body", k)
		}
		title, err := template.New(k + ".title").Option("missingkey=error").Parse(v.Title)
		if err != nil {
			return nil, fmt.Errorf("texts: %s title: %w", k, err)
		}
		body, err := template.New(k + ".body").Option("missingkey=error").Parse(v.Body)
		if err != nil {
			return nil, fmt.Errorf("texts: %s body: %w", k, err)
		}
		t.byStatus[st] = textTemplate{title, body}
	}
	return t, nil
}

// Statuses returns the statuses that have a text, i.e. are sent to citizens.
func (t *Texts) Statuses() []routing.Status {
	out := make([]routing.Status, 0, len(t.byStatus))
	for st := range t.byStatus {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Render returns title and body for an event, ok=false if the status has no text.
func (t *Texts) Render(n store.Notification, loc *time.Location) (title, body string, ok bool, err error) {
	tt, ok := t.byStatus[n.Event.Status]
	if !ok {
		return "", "", false, nil
	}
	if loc == nil {
		loc = time.UTC
	}
	data := TextData{Reference: n.Submission.Reference, Service: n.Submission.Service, Submission: n.Submission.ID,
		Detail: n.Event.Detail, Time: n.Event.Time.In(loc).Format("02.01.2006 15:04")}
	var tb, bb bytes.Buffer
	if err := tt.title.Execute(&tb, data); err != nil {
		return "", "", true, err
	}
	if err := tt.body.Execute(&bb, data); err != nil {
		return "", "", true, err
	}
	return tb.String(), bb.String(), true, nil
}

// Sink receives citizen notifications. Implementations must be idempotent by
// event ID: the dispatcher may hand the same event over twice after a crash.
type Sink interface {
	Notify(ctx context.Context, n store.Notification, title, body string) error
}

// LocalStore is the part of the store the local Postfach uses.
type LocalStore interface {
	PostfachDeliver(ctx context.Context, m store.PostfachMessage) error
	PostfachMessages(ctx context.Context, handle, portalID string) ([]store.PostfachMessage, error)
}

// LocalSink keeps messages in the hub's own store (embedded default).
type LocalSink struct {
	Store LocalStore
	Clock routing.Clock
}

// Notify stores the message and marks the event notified in one transaction.
func (l *LocalSink) Notify(ctx context.Context, n store.Notification, title, body string) error {
	now := time.Now()
	if l.Clock != nil {
		now = l.Clock.Now()
	}
	return l.Store.PostfachDeliver(ctx, store.PostfachMessage{
		Handle: n.Submission.Applicant.Mailbox, EventID: n.Event.ID, SubmissionID: n.Submission.ID,
		Status: n.Event.Status, Title: title, Body: body, Created: now,
	})
}

// OutboxStore is what the dispatcher needs.
type OutboxStore interface {
	PendingNotifications(ctx context.Context, statuses []routing.Status, limit int) ([]store.Notification, error)
	MarkNotified(ctx context.Context, eventID int64, at time.Time) error
}

// Dispatcher drains the status-event outbox into the sink.
type Dispatcher struct {
	Store    OutboxStore
	Sink     Sink
	Texts    *Texts
	Location *time.Location
	Clock    routing.Clock
	Logger   *slog.Logger
}

// RunOnce sends every pending notification and returns how many it handled.
// An event whose submission has no mailbox handle is marked done without a
// message; a sink error stops the round (the event is retried next round).
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	total := 0
	for {
		pending, err := d.Store.PendingNotifications(ctx, d.Texts.Statuses(), 100)
		if err != nil {
			return total, err
		}
		if len(pending) == 0 {
			return total, nil
		}
		for _, n := range pending {
			if err := d.one(ctx, n); err != nil {
				return total, err
			}
			total++
		}
	}
}

func (d *Dispatcher) one(ctx context.Context, n store.Notification) error {
	now := time.Now()
	if d.Clock != nil {
		now = d.Clock.Now()
	}
	if n.Submission.Applicant.Mailbox == "" {
		return d.Store.MarkNotified(ctx, n.Event.ID, now)
	}
	title, body, ok, err := d.Texts.Render(n, d.Location)
	if err != nil {
		return fmt.Errorf("servicekonto: render %s text: %w", n.Event.Status, err)
	}
	if !ok {
		return d.Store.MarkNotified(ctx, n.Event.ID, now)
	}
	if err := d.Sink.Notify(ctx, n, title, body); err != nil {
		if !IsPermanent(err) {
			return fmt.Errorf("servicekonto: notify event %d: %w", n.Event.ID, err)
		}
		// The mailbox refuses this message for good (e.g. an unknown handle):
		// retrying would block every later event, so it is logged and skipped.
		d.logger().Error("servicekonto: message refused permanently; skipped", "event", n.Event.ID,
			"submission", n.Submission.ID, "mailbox", n.Submission.Applicant.Mailbox, "err", err)
	}
	return d.Store.MarkNotified(ctx, n.Event.ID, now)
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.Default()
	}
	return d.Logger
}

// Run dispatches until ctx ends, every interval or when woken.
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration, wake <-chan struct{}) {
	log := d.logger()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := d.RunOnce(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("servicekonto: dispatch failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
	}
}

// Handler serves GET /v1/mailboxes/{handle}/messages for the local Postfach.
// authorize returns the calling portal's ID (it sees only messages about its
// own submissions) or writes an error response itself and returns ok=false.
func Handler(st LocalStore, authorize func(w http.ResponseWriter, r *http.Request) (portalID string, ok bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		portalID, ok := authorize(w, r)
		if !ok {
			return
		}
		handle := r.PathValue("handle")
		msgs, err := st.PostfachMessages(r.Context(), handle, portalID)
		if err != nil {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusInternalServerError)
			json.NewEncoder(w).Encode(map[string]any{"type": "urn:dxhub:problem:internal", "title": "Internal error",
				"status": 500, "code": "internal", "detail": "the Postfach could not be read"})
			return
		}
		if msgs == nil {
			msgs = []store.PostfachMessage{}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"mailbox": handle, "messages": msgs})
	})
}
