package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dxhub/dxhub/connectors/portal"
	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

const apiKeyA = "key-a-0123456789"

func newHandler(t testing.TB, st portal.Store) *portal.Handler {
	t.Helper()
	bs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h, err := portal.New(st, bs, portal.Options{
		Portals:  []portal.Portal{{ID: "portal-a", APIKey: apiKeyA, Tenants: []string{"05315000"}}},
		Tenants:  []string{"05315000", "09162000"},
		Services: []string{"xbau-bauantrag"},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func doc(ref string, mod func(map[string]any)) []byte {
	d := map[string]any{
		"tenant": "05315000", "service": "xbau-bauantrag", "reference": ref,
		"applicant": map[string]any{"mailbox": "bk-7f3a9c", "name": "Erika Mustermann", "address": map[string]any{
			"street": "Heidestraße", "houseNumber": "17", "postalCode": "51147", "city": "Köln", "country": "DE"}},
		"form": map[string]any{"vorhaben": "Carport"},
	}
	if mod != nil {
		mod(d)
	}
	b, _ := json.Marshal(d)
	return b
}

// produce writes records to topic with franz-go's kgo, as a portal would.
func produce(t testing.TB, cfg Config, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func intakeRecord(key string, value []byte, headers ...string) *kgo.Record {
	r := &kgo.Record{Topic: "intake", Key: []byte(key), Value: value}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: headers[i], Value: []byte(headers[i+1])})
	}
	return r
}

func newIntake(t testing.TB, cfg Config, group string, sub Submitter) *Intake {
	t.Helper()
	r, err := NewReader(cfg, "intake", group)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	dlq, err := NewWriter(cfg, "intake-dlq")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dlq.Close() })
	return &Intake{Reader: r, DeadLetter: dlq, Submitter: sub, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// next fetches and processes one record.
func next(t testing.TB, in *Intake) Outcome {
	t.Helper()
	ctx := testCtx(t)
	m, err := in.Reader.FetchMessage(ctx)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	out, err := in.Process(ctx, m)
	if err != nil {
		t.Fatalf("process offset %d: %v", m.Offset, err)
	}
	return out
}

func submissions(t testing.TB, st *store.Store) map[string]store.KafkaEvent {
	t.Helper()
	evs, err := st.PendingKafkaEvents(testCtx(t), 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.KafkaEvent{}
	for _, e := range evs {
		out[e.Event.SubmissionID] = e
	}
	return out
}

func TestIntakeAcceptsAndIsIdempotent(t *testing.T) {
	_, cfg := startCluster(t, 1, "intake", "intake-dlq")
	st := openStore(t, "")
	h := newHandler(t, st)
	produce(t, cfg,
		intakeRecord("p1", doc("R-1", nil), HeaderAPIKey, apiKeyA, HeaderIdempotencyKey, "k-1"),
		intakeRecord("p1", doc("R-1", nil), HeaderAPIKey, apiKeyA, HeaderIdempotencyKey, "k-1"), // the portal sent it twice
		intakeRecord("p2", doc("R-2", nil), HeaderPortalID, "portal-a", HeaderIdempotencyKey, "k-2"),
	)
	in := newIntake(t, cfg, "g1", h)
	for i, want := range []Outcome{Accepted, Replayed, Accepted} {
		if got := next(t, in); got != want {
			t.Fatalf("record %d: %s; want %s", i, got, want)
		}
	}
	if got := committed(t, cfg, "g1", "intake", 0); got != 3 {
		t.Fatalf("committed offset %d; want 3", got)
	}
	subs := submissions(t, st)
	if len(subs) != 2 {
		t.Fatalf("%d submissions; want 2: %v", len(subs), subs)
	}
	refs := map[string]bool{}
	for _, s := range subs {
		refs[s.Reference] = true
		if s.PortalID != "portal-a" || s.Tenant != "05315000" || s.Event.Status != routing.StatusReceived {
			t.Errorf("stored %+v", s)
		}
	}
	if !refs["R-1"] || !refs["R-2"] {
		t.Errorf("references %v", refs)
	}

	// A consumer that stored a record but died before committing its
	// offset: the group redelivers the record, and it is a replay.
	produce(t, cfg, intakeRecord("p3", doc("R-3", nil), HeaderAPIKey, apiKeyA, HeaderIdempotencyKey, "k-3"))
	ctx := testCtx(t)
	m, err := in.Reader.FetchMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := in.handle(ctx, m); err != nil || out != Accepted {
		t.Fatalf("handle: %v %v", out, err)
	}
	in.Reader.Close()
	in2 := newIntake(t, cfg, "g1", h)
	if got := next(t, in2); got != Replayed {
		t.Fatalf("redelivered record: %s; want replayed", got)
	}
	if got := committed(t, cfg, "g1", "intake", 0); got != 4 {
		t.Fatalf("committed offset %d; want 4", got)
	}
	if n := len(submissions(t, st)); n != 3 {
		t.Fatalf("%d submissions after the redelivery; want 3", n)
	}
}

func TestIntakeDeadLetters(t *testing.T) {
	c, cfg := startCluster(t, 1, "intake", "intake-dlq")
	st := openStore(t, "")
	h := newHandler(t, st)
	auth := []string{HeaderAPIKey, apiKeyA}
	with := func(kv ...string) []string { return append(append([]string{}, auth...), kv...) }
	cases := []struct {
		name    string
		value   []byte
		headers []string
		code    string
		reason  string
	}{
		{"malformed JSON", []byte(`{"tenant": "05315000",`), with(HeaderIdempotencyKey, "d-1"), portal.CodeMalformedJSON, "line 1"},
		{"not JSON at all", []byte{0xff, 0x00, 0x01}, with(HeaderIdempotencyKey, "d-2"), portal.CodeMalformedJSON, ""},
		{"unknown tenant", doc("R", func(d map[string]any) { d["tenant"] = "01001000" }), with(HeaderIdempotencyKey, "d-3"),
			portal.CodeUnknownTenant, `tenant "01001000"`},
		{"tenant of another portal", doc("R", func(d map[string]any) { d["tenant"] = "09162000" }), with(HeaderIdempotencyKey, "d-4"),
			portal.CodeForbiddenTenant, "may not submit for tenant 09162000"},
		{"missing field", doc("R", func(d map[string]any) { delete(d, "service") }), with(HeaderIdempotencyKey, "d-5"),
			portal.CodeMissingField, "service"},
		{"no idempotency key", doc("R", nil), auth, portal.CodeInvalidIdempotencyKey, "no idempotency-key header"},
		{"bad idempotency key", doc("R", nil), with(HeaderIdempotencyKey, "tab\there"), portal.CodeInvalidIdempotencyKey, "0x09"},
		{"wrong API key", doc("R", nil), []string{HeaderAPIKey, "nope", HeaderIdempotencyKey, "d-8"}, portal.CodeUnauthorized, "not valid"},
		{"unknown portal ID", doc("R", nil), []string{HeaderPortalID, "portal-x", HeaderIdempotencyKey, "d-9"}, portal.CodeUnauthorized, "portal-x"},
		{"no credentials", doc("R", nil), []string{HeaderIdempotencyKey, "d-10"}, portal.CodeUnauthorized, "neither"},
		{"attachments", doc("R", func(d map[string]any) {
			d["attachments"] = []any{map[string]any{"filename": "a.pdf", "content": "JVBERg=="}}
		}), with(HeaderIdempotencyKey, "d-11"), portal.CodeInvalidField, "does not accept attachments"},
	}
	var recs []*kgo.Record
	for i, tc := range cases {
		recs = append(recs, intakeRecord(fmt.Sprintf("key-%d", i), tc.value, tc.headers...))
	}
	// An idempotency key reused with another document: the first is stored,
	// the second dead-lettered.
	recs = append(recs,
		intakeRecord("ok", doc("R-ok", nil), with(HeaderIdempotencyKey, "reused")...),
		intakeRecord("conflict", doc("R-other", nil), with(HeaderIdempotencyKey, "reused")...))
	produce(t, cfg, recs...)
	in := newIntake(t, cfg, "g-dlq", h)
	for i := range cases {
		if got := next(t, in); got != DeadLettered {
			t.Fatalf("%s: %s; want dead-lettered", cases[i].name, got)
		}
	}
	if got := next(t, in); got != Accepted {
		t.Fatalf("valid record: %s", got)
	}
	if got := next(t, in); got != DeadLettered {
		t.Fatalf("conflicting reuse: %s", got)
	}
	if got := committed(t, cfg, "g-dlq", "intake", 0); got != int64(len(recs)) {
		t.Fatalf("committed %d; want %d", got, len(recs))
	}
	cases = append(cases, struct {
		name    string
		value   []byte
		headers []string
		code    string
		reason  string
	}{"conflict", nil, nil, portal.CodeIdempotencyConflict, "different request body"})
	dl := consumeAll(t, c, "intake-dlq")
	if len(dl) != len(cases) {
		t.Fatalf("%d dead letters; want %d", len(dl), len(cases))
	}
	for i, r := range dl {
		tc := cases[i]
		if got := header(r, HeaderDLQCode); got != tc.code {
			t.Errorf("%s: %s %q; want %q", tc.name, HeaderDLQCode, got, tc.code)
		}
		if reason := header(r, HeaderDLQReason); reason == "" || !strings.Contains(reason, tc.reason) {
			t.Errorf("%s: reason %q; want it to contain %q", tc.name, reason, tc.reason)
		}
		if header(r, HeaderAPIKey) != "" {
			t.Errorf("%s: the API key was copied to the dead-letter topic", tc.name)
		}
		if header(r, HeaderDLQTopic) != "intake" || header(r, HeaderDLQOffset) != fmt.Sprint(recs[min(i, len(recs)-1)].Offset) && i < len(cases)-1 {
			t.Errorf("%s: origin headers %v", tc.name, r.Headers)
		}
		var body DeadLetter
		if err := json.Unmarshal(r.Value, &body); err != nil {
			t.Fatalf("%s: dead-letter body: %v", tc.name, err)
		}
		if body.Schema != DeadLetterSchema || body.Problem == nil || body.Problem.Code != tc.code || body.Topic != "intake" {
			t.Errorf("%s: body %s", tc.name, r.Value)
		}
		if tc.name == "not JSON at all" && (body.Value != nil || string(body.ValueBase64) != string(tc.value)) {
			t.Errorf("%s: value not kept as base64: %s", tc.name, r.Value)
		}
		if tc.name == "malformed JSON" && string(body.ValueBase64) != string(tc.value) {
			t.Errorf("%s: value %s", tc.name, r.Value)
		}
	}
	if n := len(submissions(t, st)); n != 1 {
		t.Fatalf("%d submissions; want 1", n)
	}
}

// failingStore fails every commit, like a full disk or a lost database.
type failingStore struct{ *store.Store }

func (failingStore) CreateSubmission(context.Context, routing.NewSubmission) (routing.Submission, bool, error) {
	return routing.Submission{}, false, errors.New("disk I/O error")
}

func TestIntakeCommitsOnlyDurableSubmissions(t *testing.T) {
	c, cfg := startCluster(t, 1, "intake", "intake-dlq")
	st := openStore(t, "")
	produce(t, cfg, intakeRecord("p", doc("R-1", nil), HeaderAPIKey, apiKeyA, HeaderIdempotencyKey, "k-1"))

	in := newIntake(t, cfg, "g-fail", newHandler(t, failingStore{st}))
	retrying := make(chan time.Duration, 10)
	in.Wait = func(ctx context.Context, d time.Duration) error {
		retrying <- d
		if len(retrying) < 3 {
			return nil
		}
		<-ctx.Done()
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	var backoffs []time.Duration
	for range 3 {
		select {
		case d := <-retrying:
			backoffs = append(backoffs, d)
		case <-ctx.Done():
			t.Fatalf("the failing store was tried %d times, not retried with backoff", len(backoffs)+1)
		}
	}
	if backoffs[0] != time.Second || backoffs[1] != 2*time.Second || backoffs[2] != 4*time.Second {
		t.Errorf("backoffs %v; want 1s 2s 4s", backoffs)
	}
	if got := committed(t, cfg, "g-fail", "intake", 0); got != -1 {
		t.Fatalf("offset %d committed while the store fails", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	in.Reader.Close()
	if n := len(submissions(t, st)); n != 0 {
		t.Fatalf("%d submissions stored by a failing store", n)
	}
	if n := endOffsets(c, "intake-dlq"); n != 0 {
		t.Fatalf("%d dead letters for a store failure", n)
	}

	// The store recovers (a restarted process): the record is delivered
	// again, stored, and only then committed.
	in2 := newIntake(t, cfg, "g-fail", newHandler(t, st))
	if got := next(t, in2); got != Accepted {
		t.Fatalf("after recovery: %s", got)
	}
	if got := committed(t, cfg, "g-fail", "intake", 0); got != 1 {
		t.Fatalf("committed %d; want 1", got)
	}
	if n := len(submissions(t, st)); n != 1 {
		t.Fatalf("%d submissions; want 1", n)
	}
}

// noCommit is a reader whose commits fail, as after losing the partition in
// a rebalance.
type noCommit struct{ Reader }

func (noCommit) CommitMessages(context.Context, ...Message) error {
	return errors.New("[22] Illegal Generation")
}

func TestIntakeCommitFailure(t *testing.T) {
	_, cfg := startCluster(t, 1, "intake", "intake-dlq")
	st := openStore(t, "")
	h := newHandler(t, st)
	produce(t, cfg, intakeRecord("p", doc("R-1", nil), HeaderAPIKey, apiKeyA, HeaderIdempotencyKey, "k-1"))
	in := newIntake(t, cfg, "g-commit", h)
	in.Reader = noCommit{in.Reader}
	ctx := testCtx(t)
	m, err := in.Reader.FetchMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := in.Process(ctx, m)
	if !errors.Is(err, ErrCommit) || out != Accepted {
		t.Fatalf("Process: %s %v; want accepted and ErrCommit", out, err)
	}
	if got := committed(t, cfg, "g-commit", "intake", 0); got != -1 {
		t.Fatalf("committed %d", got)
	}
	in.Reader.Close()
	in2 := newIntake(t, cfg, "g-commit", h)
	if got := next(t, in2); got != Replayed {
		t.Fatalf("redelivered: %s; want replayed", got)
	}
	if n := len(submissions(t, st)); n != 1 {
		t.Fatalf("%d submissions; want 1", n)
	}
}
