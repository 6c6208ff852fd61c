// Package servicekonto brings status events to the citizen's Servicekonto
// Postfach (DESIGN §1 step 6). The embedded default is a local Postfach sink in
// the hub's own store, readable at GET /v1/mailboxes/{handle}/messages; the
// Dispatcher drains the status-event outbox into whichever Sink is configured.
package servicekonto

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"sort"
	"strconv"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dxhub/dxhub/internal/loop"
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
	// Attachments are the file names of documents that come with the
	// message (e.g. the Bescheid PDF of a decision), empty if none.
	Attachments []string
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
	for _, a := range n.Attachments {
		data.Attachments = append(data.Attachments, a.Filename)
	}
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
	PostfachDeliver(ctx context.Context, ms ...store.PostfachMessage) error
	PostfachMessages(ctx context.Context, handle, portalID string) ([]store.PostfachMessage, error)
}

// AttachmentStore finds the attachments of local Postfach messages.
type AttachmentStore interface {
	PostfachAttachment(ctx context.Context, handle, portalID string, messageID int64, n int) (store.PostfachAttachment, error)
}

// Blobs opens stored attachment bytes by blob key.
type Blobs interface {
	Open(key string) (io.ReadCloser, error)
}

// AttachmentHandler serves GET /v1/mailboxes/{handle}/messages/{id}/attachments/{n}:
// the file of a local Postfach message, to the portal that submitted the
// application (others get 404), with its SHA-256 in the Digest header.
func AttachmentHandler(st AttachmentStore, blobs Blobs, authorize func(w http.ResponseWriter, r *http.Request) (string, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		portalID, ok := authorize(w, r)
		if !ok {
			return
		}
		id, err1 := strconv.ParseInt(r.PathValue("id"), 10, 64)
		n, err2 := strconv.Atoi(r.PathValue("n"))
		if err1 != nil || err2 != nil || id < 1 || n < 1 {
			problem(w, http.StatusNotFound, "not-found", "no such attachment")
			return
		}
		a, err := st.PostfachAttachment(r.Context(), r.PathValue("handle"), portalID, id, n)
		if errors.Is(err, routing.ErrNotFound) {
			problem(w, http.StatusNotFound, "not-found", "no such attachment")
			return
		}
		if err != nil {
			problem(w, http.StatusInternalServerError, "internal", "the Postfach could not be read")
			return
		}
		f, err := blobs.Open(a.BlobKey)
		if errors.Is(err, fs.ErrNotExist) { // deleted by the retention purge
			problem(w, http.StatusGone, "purged", "the attachment was deleted after the retention period")
			return
		}
		if err != nil {
			problem(w, http.StatusInternalServerError, "internal", "the attachment could not be read")
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", a.ContentType)
		w.Header().Set("Content-Length", strconv.FormatInt(a.Size, 10))
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename}))
		if sum, err := hex.DecodeString(a.SHA256); err == nil {
			w.Header().Set("Digest", "sha-256="+base64.StdEncoding.EncodeToString(sum))
		}
		_, _ = io.Copy(w, f)
	})
}

func problem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": "urn:dxhub:problem:" + code, "title": http.StatusText(status),
		"status": status, "code": code, "detail": detail})
}

// LocalSink keeps messages in the hub's own store (embedded default).
type LocalSink struct {
	Store LocalStore
	Clock routing.Clock
}

// MarksNotified: Notify marks the event notified itself (selfMarking).
func (l *LocalSink) MarksNotified() bool { return true }

// Notify stores the message and marks the event notified in one transaction.
func (l *LocalSink) Notify(ctx context.Context, n store.Notification, title, body string) error {
	return l.NotifyAll(ctx, []Note{{N: n, Title: title, Body: body}})
}

// NotifyAll stores the messages and marks their events notified, all in one
// transaction (batchSink): under load the local Postfach costs one commit
// per page of events instead of one per event.
func (l *LocalSink) NotifyAll(ctx context.Context, notes []Note) error {
	now := time.Now()
	if l.Clock != nil {
		now = l.Clock.Now()
	}
	ms := make([]store.PostfachMessage, 0, len(notes))
	for _, nt := range notes {
		n := nt.N
		m := store.PostfachMessage{
			Handle: n.Submission.Applicant.Mailbox, EventID: n.Event.ID, SubmissionID: n.Submission.ID,
			Status: n.Event.Status, Title: nt.Title, Body: nt.Body, Created: now,
		}
		for _, a := range n.Attachments {
			m.Attachments = append(m.Attachments, store.PostfachAttachment{Filename: a.Filename, ContentType: a.ContentType,
				Size: a.Size, SHA256: a.SHA256, BlobKey: a.BlobKey})
		}
		ms = append(ms, m)
	}
	return l.Store.PostfachDeliver(ctx, ms...)
}

// Note is one rendered Postfach message.
type Note struct {
	N           store.Notification
	Title, Body string
}

// batchSink is a self-marking Sink that stores several messages in one
// transaction (LocalSink).
type batchSink interface {
	NotifyAll(ctx context.Context, notes []Note) error
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
	// Tracer, if set, traces each message to the Postfach as a span of the
	// submission's trace.
	Tracer routing.Tracer
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
		if b, ok := d.Sink.(batchSink); ok {
			n, err := d.batch(ctx, b, pending)
			total += n
			if err != nil {
				return total, err
			}
			continue
		}
		for _, n := range pending {
			if err := d.one(ctx, n); err != nil {
				return total, err
			}
			total++
		}
	}
}

// batch hands a page of pending events to a batch sink in one call. Events
// without a message (no mailbox handle, no text for the status) are marked
// done first. If the batch fails, the page is worked one event at a time, so
// an error stays with the event that caused it.
func (d *Dispatcher) batch(ctx context.Context, b batchSink, pending []store.Notification) (int, error) {
	now := time.Now()
	if d.Clock != nil {
		now = d.Clock.Now()
	}
	var notes []Note
	var spans []routing.Span
	done := 0
	for _, n := range pending {
		title, body, ok, err := d.render(n)
		if err != nil {
			return done, err
		}
		if !ok {
			if err := d.Store.MarkNotified(ctx, n.Event.ID, now); err != nil {
				return done, err
			}
			done++
			continue
		}
		_, span := d.startSpan(ctx, n)
		notes, spans = append(notes, Note{N: n, Title: title, Body: body}), append(spans, span)
	}
	if len(notes) == 0 {
		return done, nil
	}
	err := b.NotifyAll(ctx, notes)
	for _, span := range spans {
		if err != nil {
			span.Fail(err.Error())
		}
		span.End()
	}
	if err == nil {
		return done + len(notes), nil
	}
	if ctx.Err() != nil {
		return done, err // stopping: the events stay pending for the next start
	}
	d.logger().WarnContext(ctx, "servicekonto: batch of Postfach messages failed; one at a time", "messages", len(notes), "err", err)
	for _, nt := range notes {
		if err := d.one(ctx, nt.N); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

func (d *Dispatcher) one(ctx context.Context, n store.Notification) error {
	now := time.Now()
	if d.Clock != nil {
		now = d.Clock.Now()
	}
	title, body, ok, err := d.render(n)
	if err != nil {
		return err
	}
	if !ok {
		return d.Store.MarkNotified(ctx, n.Event.ID, now)
	}
	ctx, span := d.startSpan(ctx, n)
	defer span.End()
	if err := d.Sink.Notify(ctx, n, title, body); err != nil {
		span.Fail(err.Error())
		if !IsPermanent(err) {
			return fmt.Errorf("servicekonto: notify event %d: %w", n.Event.ID, err)
		}
		// The mailbox refuses this message for good (e.g. an unknown handle):
		// retrying would block every later event, so it is logged and skipped.
		d.logger().ErrorContext(ctx, "servicekonto: message refused permanently; skipped", "event", n.Event.ID,
			"submission", n.Submission.ID, "mailbox", n.Submission.Applicant.Mailbox, "err", err)
	} else if m, ok := d.Sink.(selfMarking); ok && m.MarksNotified() {
		return nil // the sink's own transaction marked the event already
	}
	return d.Store.MarkNotified(ctx, n.Event.ID, now)
}

// render is the Postfach message of an event; ok is false when there is none
// (no mailbox handle, or no text for the status): the event is then only
// marked done.
func (d *Dispatcher) render(n store.Notification) (title, body string, ok bool, err error) {
	if n.Submission.Applicant.Mailbox == "" {
		return "", "", false, nil
	}
	title, body, ok, err = d.Texts.Render(n, d.Location)
	if err != nil {
		return "", "", false, fmt.Errorf("servicekonto: render %s text: %w", n.Event.Status, err)
	}
	return title, body, ok, nil
}

// startSpan starts the Postfach span of an event's message.
func (d *Dispatcher) startSpan(ctx context.Context, n store.Notification) (context.Context, routing.Span) {
	ctx, span := routing.StartStage(ctx, d.Tracer, routing.StagePostfach, n.Submission)
	span.SetAttribute("status.event", n.Event.ID)
	span.SetAttribute("status.value", string(n.Event.Status))
	return ctx, span
}

// selfMarking is a Sink whose successful Notify marks the event notified in
// the same transaction as it stores the message (LocalSink): marking it
// again would cost a second write per event.
type selfMarking interface {
	MarksNotified() bool
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.Default()
	}
	return d.Logger
}

// Run dispatches until ctx ends, every interval or when woken.
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration, wake <-chan struct{}) {
	loop.Run(ctx, interval, wake, func(ctx context.Context) error { _, err := d.RunOnce(ctx); return err },
		func(err error) { d.logger().Error("servicekonto: dispatch failed", "err", err) })
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
