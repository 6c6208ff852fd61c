package servicekonto

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

var t0 = time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)

func setup(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "hub.db"), store.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, s := range []struct{ id, mailbox string }{{"s1", "mb-erika"}, {"s2", ""}} {
		_, _, err := st.CreateSubmission(context.Background(), routing.NewSubmission{Submission: routing.Submission{
			ID: s.id, PortalID: "demo-portal", Tenant: "05315000", Service: "universeller-antrag", Reference: "REF-" + s.id,
			Applicant: routing.Applicant{Name: "Erika", Mailbox: s.mailbox}, Form: []byte(`{}`), ReceivedAt: t0}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return st
}

type failingSink struct{ calls int }

func (f *failingSink) Notify(context.Context, store.Notification, string, string) error {
	f.calls++
	return errors.New("postfach down")
}

func TestDispatcherLocalSink(t *testing.T) {
	ctx := context.Background()
	st := setup(t)
	st.AppendEvent(ctx, "s1", routing.StatusEvent{Status: routing.StatusValidated, Time: t0, Source: routing.SourceHub})
	st.AppendEvent(ctx, "s1", routing.StatusEvent{Status: routing.StatusRejected, Time: t0, Source: routing.SourceXOEV,
		Detail: "Fehlerkennzahl 1: Antrag unvollständig"})
	d := &Dispatcher{Store: st, Sink: &LocalSink{Store: st, Clock: fixedClock(t0)}, Texts: DefaultTexts(),
		Location: time.UTC, Clock: fixedClock(t0)}
	n, err := d.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 { // s1 received + rejected, s2 received (no mailbox: marked only)
		t.Fatalf("handled %d", n)
	}
	if n, _ := d.RunOnce(ctx); n != 0 {
		t.Fatalf("second round handled %d", n)
	}
	msgs, err := st.PostfachMessages(ctx, "mb-erika", "demo-portal")
	if err != nil || len(msgs) != 2 {
		t.Fatalf("postfach = %+v %v", msgs, err)
	}
	if msgs[0].Title != "Ihr Antrag ist eingegangen" || !strings.Contains(msgs[0].Body, "REF-s1") ||
		!strings.Contains(msgs[0].Body, "23.11.2026 09:30") {
		t.Fatalf("received text = %+v", msgs[0])
	}
	if !strings.Contains(msgs[1].Body, "Grund: Fehlerkennzahl 1: Antrag unvollständig") {
		t.Fatalf("rejected text = %q", msgs[1].Body)
	}
}

func TestDispatcherSinkFailureKeepsEvent(t *testing.T) {
	ctx := context.Background()
	st := setup(t)
	sink := &failingSink{}
	d := &Dispatcher{Store: st, Sink: sink, Texts: DefaultTexts(), Clock: fixedClock(t0)}
	if _, err := d.RunOnce(ctx); err == nil {
		t.Fatal("sink error not reported")
	}
	pending, _ := st.PendingNotifications(ctx, []routing.Status{routing.StatusReceived}, 10)
	found := false
	for _, p := range pending {
		found = found || p.Submission.ID == "s1"
	}
	if !found {
		t.Fatal("event of s1 was marked notified although the sink failed")
	}
}

func TestParseTextsErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown status", "bogus: {title: a, body: b}", `unknown status "bogus"`},
		{"missing body", "received: {title: a}", "needs a title and a body"},
		{"bad template", "received: {title: '{{.Nope', body: b}", "received title"},
		{"not yaml", "received: [", "parse texts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTexts([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := ParseTexts([]byte("received: {title: '{{.Unknown}}', body: b}")); err != nil {
		t.Fatal(err) // parse succeeds; rendering reports the unknown field
	}
}

func TestHandler(t *testing.T) {
	ctx := context.Background()
	st := setup(t)
	d := &Dispatcher{Store: st, Sink: &LocalSink{Store: st}, Texts: DefaultTexts()}
	d.RunOnce(ctx)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/mailboxes/{handle}/messages", Handler(st, func(w http.ResponseWriter, r *http.Request) (string, bool) {
		if p := r.Header.Get("X-Portal"); p != "" {
			return p, true
		}
		w.WriteHeader(http.StatusUnauthorized)
		return "", false
	}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(portal string) (int, []store.PostfachMessage) {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/mailboxes/mb-erika/messages", nil)
		if portal != "" {
			req.Header.Set("X-Portal", portal)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Messages []store.PostfachMessage }
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Messages
	}
	if code, msgs := get("demo-portal"); code != 200 || len(msgs) != 1 {
		t.Fatalf("own portal: %d %+v", code, msgs)
	}
	if code, msgs := get("other-portal"); code != 200 || len(msgs) != 0 {
		t.Fatalf("other portal sees %d messages (%d)", len(msgs), code)
	}
	if code, _ := get(""); code != 401 {
		t.Fatalf("unauthenticated: %d", code)
	}
}

// TestDispatcherLocalSinkBatches: a page of Postfach messages is stored in
// one write transaction; when that batch fails, the dispatcher works the page
// one message at a time, so the failure stays with its event.
func TestDispatcherLocalSinkBatches(t *testing.T) {
	ctx := context.Background()
	st := setup(t)
	for i := range 5 {
		id := "b" + string(rune('0'+i))
		if _, _, err := st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{
			ID: id, PortalID: "demo-portal", Tenant: "05315000", Service: "universeller-antrag", Reference: "REF-" + id,
			Applicant: routing.Applicant{Name: "Erika", Mailbox: "mb-" + id}, Form: []byte(`{}`), ReceivedAt: t0}}); err != nil {
			t.Fatal(err)
		}
	}
	d := &Dispatcher{Store: st, Sink: &LocalSink{Store: st, Clock: fixedClock(t0)}, Texts: DefaultTexts(),
		Location: time.UTC, Clock: fixedClock(t0)}
	w0, _ := st.WriteStats()
	n, err := d.RunOnce(ctx)
	if err != nil || n != 7 { // s1, s2 (no mailbox: marked only), b0…b4
		t.Fatalf("handled %d, %v", n, err)
	}
	// One MarkNotified for s2, one transaction for the six messages.
	if w1, _ := st.WriteStats(); w1-w0 != 2 {
		t.Errorf("%d write transactions for one page, want 2", w1-w0)
	}
	for _, h := range []string{"mb-erika", "mb-b0", "mb-b4"} {
		if msgs, err := st.PostfachMessages(ctx, h, ""); err != nil || len(msgs) != 1 {
			t.Errorf("postfach %s = %+v %v", h, msgs, err)
		}
	}

	// A batch that fails: every message then goes alone, and the one that
	// fails alone stays pending while the others are delivered.
	st.AppendEvent(ctx, "b0", routing.StatusEvent{Status: routing.StatusRejected, Time: t0, Source: routing.SourceXOEV, Detail: "x"})
	st.AppendEvent(ctx, "b1", routing.StatusEvent{Status: routing.StatusRejected, Time: t0, Source: routing.SourceXOEV, Detail: "x"})
	sink := &flakySink{LocalSink: LocalSink{Store: st, Clock: fixedClock(t0)}, failFor: "b1"}
	d.Sink = sink
	if _, err := d.RunOnce(ctx); err == nil {
		t.Fatal("the failing message's error was not reported")
	}
	if sink.batches != 1 {
		t.Errorf("%d batch calls, want 1", sink.batches)
	}
	if msgs, _ := st.PostfachMessages(ctx, "mb-b0", ""); len(msgs) != 2 {
		t.Errorf("b0's rejection was not delivered alone: %d messages", len(msgs))
	}
	pending, _ := st.PendingNotifications(ctx, DefaultTexts().Statuses(), 10)
	if len(pending) != 1 || pending[0].Submission.ID != "b1" {
		t.Errorf("pending = %+v, want b1's event only", pending)
	}
}

// flakySink fails every batch and, alone, the messages of one submission.
type flakySink struct {
	LocalSink
	failFor string
	batches int
}

func (f *flakySink) NotifyAll(ctx context.Context, notes []Note) error {
	if len(notes) > 1 {
		f.batches++
		return errors.New("batch refused")
	}
	if notes[0].N.Submission.ID == f.failFor {
		return errors.New("postfach down for " + f.failFor)
	}
	return f.LocalSink.NotifyAll(ctx, notes)
}

func (f *flakySink) Notify(ctx context.Context, n store.Notification, title, body string) error {
	return f.NotifyAll(ctx, []Note{{N: n, Title: title, Body: body}})
}
