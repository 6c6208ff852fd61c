package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/routing"
)

// replayFixture writes two versions of the universeller-antrag profile —
// version 1 forgets the applicant's house number, version 2 is the shipped
// profile — and two configurations over one data directory: "v1.yaml" maps
// with version 1, "v2.yaml" with version 2 and keeps version 1 selectable.
func replayFixture(t *testing.T) (dir, cfgV1, cfgV2 string) {
	t.Helper()
	dir = t.TempDir()
	prof, err := os.ReadFile("../../config/profiles/universeller-antrag.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const houseNumber = "              - {el: hausnummer, from: /applicant/address/houseNumber}\n"
	if !strings.Contains(string(prof), houseNumber) {
		t.Fatal("profile changed: no applicant hausnummer rule")
	}
	v1 := "profileVersion: \"1\"\n" + strings.Replace(string(prof), houseNumber, "", 1)
	v2 := "profileVersion: \"2\"\n" + string(prof)
	def, err := os.ReadFile("../../config/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	hub := "hub:\n  dataDir: " + filepath.Join(dir, "data") + "\n  standardsDir: " + testenv.MustStandardsDir(t) + "\n"
	const builtin = "    profile: builtin:universeller-antrag\n"
	if !strings.Contains(string(def), builtin) {
		t.Fatal("default.yaml changed: universeller-antrag has no builtin profile")
	}
	c1 := hub + strings.Replace(string(def), builtin, "    profile: ua-v1.yaml\n", 1)
	c2 := hub + strings.Replace(string(def), builtin, "    profile: ua-v2.yaml\n    profileVersions: [ua-v1.yaml]\n", 1)
	for name, body := range map[string]string{"ua-v1.yaml": v1, "ua-v2.yaml": v2, "v1.yaml": c1, "v2.yaml": c2} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, filepath.Join(dir, "v1.yaml"), filepath.Join(dir, "v2.yaml")
}

// runHubOnce wires the hub from a config file and lets its pipeline process
// every due job.
func runHubOnce(t *testing.T, cfgPath string, prepare func(*hub)) {
	t.Helper()
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Workers.Count = 0
	h, err := newHub(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	if prepare != nil {
		prepare(h)
	}
	if _, err := h.pipeline.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestReplay(t *testing.T) {
	ctx := context.Background()
	dir, cfgV1, cfgV2 := replayFixture(t)
	data := filepath.Join(dir, "data")
	var sample struct {
		Tenant, Service, Reference string
		Applicant                  routing.Applicant
		Form                       json.RawMessage
	}
	raw, err := os.ReadFile("../../testdata/submissions/universeller-antrag.json")
	if err != nil || json.Unmarshal(raw, &sample) != nil {
		t.Fatalf("sample: %v", err)
	}
	// A submission mapped with profile version 1 and delivered to the mailbox.
	runHubOnce(t, cfgV1, func(h *hub) {
		if _, _, err := h.store.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{
			ID: "sub-1", PortalID: "demo-portal", Tenant: sample.Tenant, Service: sample.Service, Reference: sample.Reference,
			Applicant: sample.Applicant, Form: sample.Form, ReceivedAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
	})
	st, err := store.OpenSQLite(ctx, filepath.Join(data, "dxhub.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	oldDelivery, err := st.GetDelivery(ctx, "sub-1")
	if err != nil {
		t.Fatal(err)
	}
	oldMsg, _ := st.OutboundMessage(ctx, "sub-1")
	if n := strings.Count(string(oldMsg.XML), "<hausnummer>"); n != 1 {
		t.Fatalf("version 1 wrote %d house numbers, want 1 (the plot's)", n)
	}

	// Dry run with the current profile (version 2): a unified diff with the
	// house number and the new nachrichtenUUID; nothing changes.
	code, out, errs := runCLI(t, "replay", "--config", cfgV2, "--dry-run", "sub-1")
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, errs)
	}
	for _, want := range []string{"--- stored " + oldMsg.UUID, "+++ replay 1 (profile version 2) ", "@@ -",
		"\n+        <hausnummer>17</hausnummer>\n", "\n-      <nachrichtenUUID>" + oldMsg.UUID, "dry run: nothing changed"} {
		if !strings.Contains(out, want) {
			t.Fatalf("dry-run output lacks %q:\n%s", want, out)
		}
	}
	if d, _ := st.GetDelivery(ctx, "sub-1"); d.TransportID != oldDelivery.TransportID {
		t.Fatal("dry run changed the delivery")
	}
	// The same with version 1: only the ID differs.
	code, out, errs = runCLI(t, "replay", "--config", cfgV2, "--dry-run", "--profile-version", "1", "--json", "sub-1")
	var dry replayOutput
	if code != 0 || json.Unmarshal([]byte(out), &dry) != nil || dry.Changed || dry.ProfileVersion != "1" || dry.Queued ||
		dry.PreviousMessageUUID != oldMsg.UUID || dry.PreviousTransportID != oldDelivery.TransportID {
		t.Fatalf("dry run v1: %d %s %s", code, out, errs)
	}
	// Usage and failures.
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"sub-1"}, 2, "needs --reason"},
		{[]string{"--dry-run"}, 2, "exactly one submission ID"},
		{[]string{"--dry-run", "nope"}, 1, "unknown submission nope"},
		{[]string{"--dry-run", "--profile-version", "9", "sub-1"}, 1, `no profile version "9" (have "2", "1"`},
	} {
		code, _, errs := runCLI(t, append([]string{"replay", "--config", cfgV2}, tc.args...)...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Fatalf("replay %v: exit %d %q, want %d %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}

	// The real replay: a new, linked message, queued for delivery.
	code, out, errs = runCLI(t, "replay", "--config", cfgV2, "--reason", "Hausnummer fehlte (Profil 1)", "--json", "sub-1")
	var res replayOutput
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || !res.Queued || !res.Changed || res.Seq != 1 ||
		res.MessageUUID != dry.MessageUUID || res.PreviousTransportID != oldDelivery.TransportID {
		t.Fatalf("replay: %d %s %s", code, out, errs)
	}
	sub, _ := st.GetSubmission(ctx, "sub-1")
	if sub.Status != routing.StatusValidated {
		t.Fatalf("status after replay = %s", sub.Status)
	}
	if _, total, _ := st.MailboxList(ctx, "ags:05315000", 10); total != 0 {
		t.Fatalf("the superseded message is still in the mailbox (%d)", total)
	}
	// The hub routes and delivers it under a new transport ID.
	runHubOnce(t, cfgV2, nil)
	d, err := st.GetDelivery(ctx, "sub-1")
	if err != nil || d.TransportID == oldDelivery.TransportID || d.MessageUUID != res.MessageUUID ||
		!strings.HasSuffix(d.TransportID, res.MessageUUID) {
		t.Fatalf("delivery after replay = %+v (%v)", d, err)
	}
	items, total, err := st.MailboxList(ctx, "ags:05315000", 10)
	if err != nil || total != 1 || items[0].TransportID != d.TransportID {
		t.Fatalf("mailbox = %+v %d %v", items, total, err)
	}
	msg, _ := st.OutboundMessage(ctx, "sub-1")
	if msg.UUID != res.MessageUUID || !strings.Contains(string(msg.XML), "<nachrichtenUUID>"+res.MessageUUID+"</nachrichtenUUID>") ||
		strings.Contains(string(msg.XML), oldMsg.UUID) {
		t.Fatalf("new message %s is not re-identified", msg.UUID)
	}
	xmllintValid(t, msg.XML, filepath.Join(testenv.MustStandardsDir(t), "xoev/xbau/2.6/xsd_dev/xbau-kernmodul-universellerAntrag.xsd"))

	// The history and the trace link both messages and say why.
	got := map[routing.Status]int{}
	evs, _ := st.Events(ctx, "sub-1")
	var replayEv routing.StatusEvent
	for _, e := range evs {
		got[e.Status]++
		if strings.HasPrefix(e.Detail, "replay 1 by ") {
			replayEv = e
		}
	}
	if got[routing.StatusDelivered] != 2 || got[routing.StatusRouted] != 2 ||
		!strings.Contains(replayEv.Detail, "Hausnummer fehlte (Profil 1)") ||
		!strings.Contains(replayEv.Detail, "supersedes "+oldMsg.UUID+" ("+oldDelivery.TransportID+")") ||
		replayEv.Evidence != res.MessageUUID {
		t.Fatalf("history %v, replay event %+v", got, replayEv)
	}
	code, out, _ = runCLI(t, "trace", "--config", cfgV2, "--json", "sub-1")
	var tr store.Trace
	if code != 0 || json.Unmarshal([]byte(out), &tr) != nil || len(tr.Replays) != 1 || len(tr.Messages) != 2 {
		t.Fatalf("trace: %d %s", code, out)
	}
	r := tr.Replays[0]
	if r.PreviousMessageUUID != oldMsg.UUID || r.ProfileVersion != "2" || r.PreviousStatus != routing.StatusDelivered ||
		r.Superseded == nil || r.Superseded.TransportID != oldDelivery.TransportID || len(r.Superseded.Attempts) != 1 ||
		r.Superseded.Attempts[0].Outcome != "delivered" || len(tr.Attempts) != 1 {
		t.Fatalf("trace replay = %+v, attempts %+v", r, tr.Attempts)
	}
	code, out, _ = runCLI(t, "trace", "--config", cfgV2, "sub-1")
	if code != 0 || !strings.Contains(out, "superseded transport ID "+oldDelivery.TransportID) {
		t.Fatalf("trace text:\n%s", out)
	}
	// A second replay is numbered 2 and compares against the replayed message.
	code, out, _ = runCLI(t, "replay", "--config", cfgV2, "--dry-run", "--json", "sub-1")
	if json.Unmarshal([]byte(out), &dry) != nil || code != 0 || dry.Seq != 2 || dry.Changed || dry.PreviousMessageUUID != res.MessageUUID {
		t.Fatalf("second dry run: %d %s", code, out)
	}
}

func TestReplayRefusals(t *testing.T) {
	ctx := context.Background()
	dir, _, cfgV2 := replayFixture(t)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o750); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "data", "dxhub.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	if _, _, err := st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: "fresh", PortalID: "demo-portal",
		Tenant: "05315000", Service: "universeller-antrag", Reference: "r", Applicant: routing.Applicant{Name: "A B"},
		Form: []byte(`{}`), ReceivedAt: now}}); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "replay", "--config", cfgV2, "--reason", "x", "fresh"); code != 1 || !strings.Contains(errs, "not mapped yet") {
		t.Fatalf("unmapped: %d %q", code, errs)
	}
	// A rejected submission (mapping failed) can be replayed once the
	// profile is fixed; here the form still lacks required fields, so the
	// replay reports them and changes nothing.
	if err := st.Terminate(ctx, "fresh", routing.StatusEvent{Status: routing.StatusRejected, Time: now, Source: routing.SourceHub,
		Detail: "mapping failed"}, ""); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCLI(t, "replay", "--config", cfgV2, "--reason", "x", "fresh")
	if code != 1 || !strings.Contains(errs, "/form/grundstuecke") || !strings.Contains(errs, "field error(s)") {
		t.Fatalf("rejected: %d %q", code, errs)
	}
	if n, _ := st.NextReplaySeq(ctx, "fresh"); n != 1 {
		t.Fatalf("a failed replay was recorded (%d)", n)
	}
	// A worker holding the job right now: the replay waits for it.
	raw, _ := os.ReadFile("../../testdata/submissions/universeller-antrag.json")
	var sample struct {
		Applicant routing.Applicant
		Form      json.RawMessage
	}
	json.Unmarshal(raw, &sample)
	if _, _, err := st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: "busy", PortalID: "demo-portal",
		Tenant: "05315000", Service: "universeller-antrag", Reference: "r", Applicant: sample.Applicant,
		Form: sample.Form, ReceivedAt: now}}); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveMapped(ctx, routing.Message{SubmissionID: "busy", UUID: "u-busy", Standard: "s", Version: "1", TypeCode: "1200",
		RootElement: "r", Namespace: "n", Service: "urn:s", XML: []byte("<r/>")},
		routing.StatusEvent{Status: routing.StatusValidated, Time: now, Source: routing.SourceHub}); err != nil {
		t.Fatal(err)
	}
	if ids, err := st.ClaimJobs(ctx, "worker-1", now, time.Hour, 10); err != nil || len(ids) != 1 {
		t.Fatalf("claim: %v %v", ids, err)
	}
	if code, _, errs := runCLI(t, "replay", "--config", cfgV2, "--reason", "x", "busy"); code != 1 || !strings.Contains(errs, "processing the submission right now") {
		t.Fatalf("busy: %d %q", code, errs)
	}
	if code, out, errs := runCLI(t, "replay", "--config", cfgV2, "--dry-run", "busy"); code != 0 || !strings.Contains(out, "-<r/>") {
		t.Fatalf("dry run while busy: %d %q %q", code, out, errs)
	}
}
