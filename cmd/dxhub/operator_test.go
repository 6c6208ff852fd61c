package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

// seedDeadLetter creates a data directory whose only submission failed
// permanently at delivery.
func seedDeadLetter(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "dxhub.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: "s1", PortalID: "demo-portal",
		Tenant: "05315000", Service: "universeller-antrag", Reference: "R1", Applicant: routing.Applicant{Name: "A"},
		Form: []byte(`{}`), ReceivedAt: now}})
	msg := routing.Message{SubmissionID: "s1", UUID: "u1", Standard: "XBau-Kernmodul", Version: "1.3.0", TypeCode: "1200",
		RootElement: "universellerAntrag.antrag.1200", Namespace: "n", Service: "urn:s", XML: []byte("<x/>")}
	st.SaveMapped(ctx, msg, routing.StatusEvent{Status: routing.StatusValidated, Time: now, Source: routing.SourceHub})
	st.SaveRoute(ctx, routing.Delivery{SubmissionID: "s1", MessageUUID: "u1", TransportID: "urn:de:xta:messageid:dxhub:u1",
		Route: routing.Route{ReaderKey: "ags:05315000", ServiceURI: "urn:s", Transport: routing.TransportXTA, Endpoint: "https://xta.example/send"}},
		routing.StatusEvent{Status: routing.StatusRouted, Time: now, Source: routing.SourceHub})
	d, _ := st.GetDelivery(ctx, "s1")
	ev := routing.StatusEvent{Status: routing.StatusFailed, Time: now, Source: routing.SourceHub, Detail: "delivery failed permanently"}
	if err := st.RecordAttempt(ctx, routing.AttemptResult{Delivery: d, Number: 1, Started: now, Finished: now,
		Outcome: routing.Outcome{Kind: routing.Permanent, Reason: "XTA 9013: service not booked"}, Dead: true, Event: &ev}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDeadLetterCommands(t *testing.T) {
	dir := seedDeadLetter(t)
	code, out, errs := runCLI(t, "deadletter", "list", "--data", dir, "--json")
	var list []store.DeadLetter
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].Reason != "XTA 9013: service not booked" {
		t.Fatalf("list: %d %q %q", code, out, errs)
	}
	if code, out, _ := runCLI(t, "deadletter", "show", "--data", dir, "s1"); code != 0 || !strings.Contains(out, "urn:de:xta:messageid:dxhub:u1") {
		t.Fatalf("show: %d %q", code, out)
	}
	if code, _, errs := runCLI(t, "deadletter", "show", "--data", dir, "nope"); code != 1 || !strings.Contains(errs, "not found") {
		t.Fatalf("show unknown: %d %q", code, errs)
	}
	if code, _, _ := runCLI(t, "deadletter", "drop", "--data", dir, "s1"); code != 2 {
		t.Fatalf("drop without --reason: exit %d, want 2", code)
	}
	if code, out, errs := runCLI(t, "deadletter", "retry", "--data", dir, "s1"); code != 0 || !strings.Contains(out, "stage routed") {
		t.Fatalf("retry: %d %q %q", code, out, errs)
	}
	if code, _, errs := runCLI(t, "deadletter", "retry", "--data", dir, "s1"); code != 1 || !strings.Contains(errs, "not an open dead letter") {
		t.Fatalf("second retry: %d %q", code, errs)
	}
	if code, out, _ := runCLI(t, "deadletter", "list", "--data", dir); code != 0 || !strings.Contains(out, "0 dead letter(s)") {
		t.Fatalf("list after retry: %d %q", code, out)
	}
	code, out, _ = runCLI(t, "trace", "--data", dir, "s1")
	for _, want := range []string{"u1", "urn:de:xta:messageid:dxhub:u1", "permanent", "XTA 9013", "dead letter retried by"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("trace lacks %q (exit %d):\n%s", want, code, out)
		}
	}
	// Every operator action above is in the hash-chained audit log, and a
	// changed row is detected (exit 1, the entry named).
	code, out, _ = runCLI(t, "audit", "list", "--data", dir, "--json")
	var entries []store.AuditEntry
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 2 ||
		entries[0].Action != "deadletter.retry" || entries[1].Action != "submission.trace" || entries[1].SubmissionID != "s1" {
		t.Fatalf("audit list: %d %s", code, out)
	}
	if code, out, _ := runCLI(t, "audit", "verify", "--data", dir); code != 0 || !strings.Contains(out, "audit log intact: 2 entries") {
		t.Fatalf("audit verify: %d %q", code, out)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "dxhub.db")) // the attacker edits the file directly
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_log SET action = 'nothing happened' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if code, _, errs := runCLI(t, "audit", "verify", "--data", dir); code != 1 || !strings.Contains(errs, "TAMPERED: audit log entry 1") {
		t.Fatalf("audit verify after tampering: %d %q", code, errs)
	}
	if code, _, _ := runCLI(t, "deadletter", "list", "--data", t.TempDir()); code != 1 {
		t.Fatalf("empty data dir: exit %d, want 1", code)
	}
	if code, _, _ := runCLI(t, "deadletter", "frob"); code != 2 {
		t.Fatalf("unknown subcommand: exit %d", code)
	}
}
