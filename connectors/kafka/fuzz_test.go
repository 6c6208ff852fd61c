package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
)

// memWriter keeps written records in memory.
type memWriter struct {
	mu   sync.Mutex
	msgs []Message
}

func (w *memWriter) WriteMessages(_ context.Context, msgs ...Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msgs...)
	return nil
}

func (w *memWriter) Close() error { return nil }

// FuzzIntakeRecord feeds arbitrary intake records (value, key, headers)
// through the real intake (portal decoder and checks, SQLite store): every
// record is either stored or dead-lettered, never an error, and a dead letter
// is valid JSON that carries the record's value unchanged and a reason.
func FuzzIntakeRecord(f *testing.F) {
	f.Add(doc("R-1", nil), []byte("k"), apiKeyA, "", "idem-1")
	f.Add([]byte(`{"tenant":`), []byte{}, apiKeyA, "", "idem-2")
	f.Add([]byte{0xff, 0xfe}, []byte{0}, "", "portal-a", "idem-3")
	f.Add(doc("R-2", func(d map[string]any) { d["attachments"] = []any{} }), []byte("x"), "", "portal-a", "")
	st := openStore(f, "")
	h := newHandler(f, st)
	f.Fuzz(func(t *testing.T, value, key []byte, apiKey, portalID, idem string) {
		dlq := &memWriter{}
		in := &Intake{DeadLetter: dlq, Submitter: h}
		m := Message{Topic: "intake", Partition: 0, Offset: 7, Key: key, Value: value, Headers: []Header{
			{HeaderAPIKey, []byte(apiKey)}, {HeaderPortalID, []byte(portalID)}, {HeaderIdempotencyKey, []byte(idem)}}}
		out, err := in.handle(context.Background(), m)
		if err != nil {
			t.Fatalf("handle: %v", err)
		}
		if out != DeadLettered {
			if len(dlq.msgs) != 0 {
				t.Fatalf("%s and dead-lettered", out)
			}
			return
		}
		if len(dlq.msgs) != 1 {
			t.Fatalf("%d dead letters", len(dlq.msgs))
		}
		var dl DeadLetter
		if err := json.Unmarshal(dlq.msgs[0].Value, &dl); err != nil {
			t.Fatalf("dead letter is not JSON: %v", err)
		}
		got := dl.ValueBase64
		if dl.Value != nil {
			got = dl.Value
		}
		if !bytes.Equal(got, value) && !(dl.Value != nil && json.Valid(value)) {
			t.Fatalf("value %q became %q", value, got)
		}
		if dl.Problem == nil || dl.Problem.Code == "" || dl.Problem.Detail == "" {
			t.Fatalf("no reason: %s", dlq.msgs[0].Value)
		}
		if c, _ := dlq.msgs[0].Header(HeaderDLQCode); c != dl.Problem.Code {
			t.Fatalf("header code %q, body %q", c, dl.Problem.Code)
		}
		if _, ok := dlq.msgs[0].Header(HeaderAPIKey); ok {
			t.Fatal("API key copied to the dead-letter topic")
		}
	})
}
