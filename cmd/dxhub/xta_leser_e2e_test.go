package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/xoev"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

// runLeserOnce runs `dxhub xta leser --once` and returns its exit code and
// output.
func runLeserOnce(t *testing.T, cfgFile, dataDir string) (int, string) {
	t.Helper()
	cmd := exec.Command(binPath, "xta", "leser", "--once", "--config", cfgFile, "--data", dataDir)
	cmd.Env = append(os.Environ(), "DXHUB_STANDARDS_DIR="+testenv.MustStandardsDir(t))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String()
}

// TestXTALeserOnce: Köln runs its own XTA server (xtatest); the hub delivers
// the submission there as Autor. Köln's Fachverfahren answers with a 1120
// Eingangsbestätigung and a 1170 status message, placed in the hub's mailbox
// on that remote server. `dxhub xta leser --once` (the Leser job of the
// configuration, run now instead of on its schedule) picks them up,
// persists them before it closes them, and they become status events of the
// submission. A failed close (as after a crash between persist and close)
// leaves the reply in the remote mailbox; the next run fetches it again and
// closes it without a second effect.
func TestXTALeserOnce(t *testing.T) {
	std := testenv.MustStandardsDir(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	remoteURL := "http://" + ln.Addr().String()
	backend := xtatest.NewMemoryBackend("kop:0500000001", "ags:05315000")
	xsrv, err := xta.NewServer(backend, xta.Config{WSDLDir: filepath.Join(std, "xta2-v3"), BaseURL: remoteURL,
		SpoolDir: t.TempDir(), ServerIdentity: "xta-koeln"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	xsrv.Mount(mux)
	faults := &xtatest.Faults{Next: mux}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: faults}}
	ts.Start()
	defer ts.Close()

	cfgFile := configFile(t, fmt.Sprintf(`xta:
  client:
    leser:
      - endpoint: %s
        tenant: "05315000"
        identity: kop:0500000001
        schedule: "@every 24h"
`, remoteURL), fmt.Sprintf(`endpoints:
  - readerKey: ags:05315000
    serviceURI: urn:xoev-de:xbau-kernmodul:universellerAntrag
    transport: xta
    url: %s
`, remoteURL))
	data := t.TempDir()
	h, _ := startHubConfig(t, cfgFile, data, freeAddr(t))
	acc := postMultipart(t, h.base, readSample(t), "lageplan.pdf", []byte("%PDF-1.4 leser"), "leser-1")

	// The hub delivers to Köln's XTA server.
	eventually(t, 30*time.Second, "the delivery to the remote XTA server", func() (bool, error) {
		return len(backend.Received()) == 1, nil
	})
	got := backend.Received()[0]
	ref, err := xoev.ParseInbound(got.Message.Data)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r1120, err := xoev.BuildReceipt1120(ref.Header, xoev.Reply{Created: now, Reference: ref.Reference, CaseNumber: "63-2026-0815"})
	if err != nil {
		t.Fatal(err)
	}
	r1170, err := xoev.BuildStatus1170(ref.Header, "08", time.Time{}, xoev.Reply{Created: now, Reference: ref.Reference})
	if err != nil {
		t.Fatal(err)
	}
	// Köln's Fachverfahren sends both replies to the hub's mailbox on its
	// own XTA server.
	for _, doc := range []xoev.Document{r1120, r1170} {
		backend.Deliver(xta.MessageMeta{MessageID: "urn:de:xta:messageid:xta-koeln:" + doc.UUID, AuthorKey: "ags:05315000",
			AuthorType: "xoev", ReaderKey: "kop:0500000001", ReaderType: "xoev", Service: got.Meta.Service,
			BusinessScenario: xta.Code{Code: "XBAU_DATA"}, MessageType: xta.Code{Code: doc.RootElement}, PayloadSchema: doc.Namespace},
			xtatest.Blob{ContentType: "application/xml", Filename: doc.RootElement + ".xml", Data: doc.XML})
		now = now.Add(time.Millisecond)
	}

	// First run: both replies are persisted, but the close of the first one
	// fails (the remote server answers 9030).
	faults.Inject(xta.ActionClose, xtatest.Fault{Kind: xtatest.SOAPFault, Code: xta.CodeInternalError})
	code, out := runLeserOnce(t, cfgFile, data)
	if code != 1 || !strings.Contains(out, "1 message(s) fetched and closed") || !strings.Contains(out, "9030") {
		t.Fatalf("first run: exit %d\n%s", code, out)
	}
	open := 0
	for _, doc := range []xoev.Document{r1120, r1170} {
		if !backend.Closed("kop:0500000001", "urn:de:xta:messageid:xta-koeln:"+doc.UUID) {
			open++
		}
	}
	if open != 1 {
		t.Fatalf("%d replies still open after the first run, want 1", open)
	}
	// Persisted before close: both status events are there already.
	st := getStatus(t, h.base, acc.ID)
	if count(st.history(), "acknowledged") != 1 || count(st.history(), "in_progress") != 1 {
		t.Fatalf("history after the first run = %v", st.history())
	}

	// Second run: the open reply is fetched again, recognised and closed.
	code, out = runLeserOnce(t, cfgFile, data)
	if code != 0 || !strings.Contains(out, "1 message(s) fetched and closed") {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}
	for _, doc := range []xoev.Document{r1120, r1170} {
		if !backend.Closed("kop:0500000001", "urn:de:xta:messageid:xta-koeln:"+doc.UUID) {
			t.Errorf("reply %s not closed", doc.RootElement)
		}
	}
	code, out = runLeserOnce(t, cfgFile, data)
	if code != 0 || !strings.Contains(out, "0 message(s) fetched and closed") {
		t.Fatalf("third run: exit %d\n%s", code, out)
	}
	st = getStatus(t, h.base, acc.ID)
	hist := st.history()
	if count(hist, "acknowledged") != 1 || count(hist, "in_progress") != 1 || st.Status != "in_progress" {
		t.Fatalf("history = %v (status %s): each reply must count once", hist, st.Status)
	}
	for _, e := range st.Events {
		if e.Status == "acknowledged" && e.Source != "xoev" {
			t.Errorf("acknowledged event from source %q, want xoev", e.Source)
		}
	}

	// Without Leser jobs the command says so (exit 1).
	if code, out := runLeserOnce(t, configFile(t, "", ""), t.TempDir()); code != 1 || !strings.Contains(out, "no Leser jobs configured") {
		t.Errorf("without jobs: exit %d\n%s", code, out)
	}
}
