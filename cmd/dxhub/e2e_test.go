package main

// End-to-end tests: they build the real dxhub binary, start it on 127.0.0.1
// with a fresh data directory, and play portal and Fachverfahren over HTTP
// and XTA exactly as the README walkthrough does.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/xoev"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dxhub-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "dxhub")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building dxhub:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// hubProcess is one running `dxhub serve`.
type hubProcess struct {
	cmd  *exec.Cmd
	base string
	logs *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startHub starts the binary and waits for its ready line on stdout.
func startHub(t *testing.T, dataDir, addr string, env ...string) *hubProcess {
	t.Helper()
	h, _, err := launchServe(t, []string{"--data", dataDir, "--listen", addr}, env...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// launchServe runs `dxhub serve args…` (args must include --listen) and
// waits for its "dxhub ready on URL" line. The other "NAME ready on URL"
// lines printed before it (the XTA mTLS listener, say) come back by NAME.
// A failed start is an error rather than t.Fatal, so that a background
// goroutine (the cluster test's chaos loop) may restart processes; the
// process is killed at the end of the test, and its log tail is printed if
// the test failed.
func launchServe(t *testing.T, args []string, env ...string) (*hubProcess, map[string]string, error) {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), "DXHUB_STANDARDS_DIR="+testenv.MustStandardsDir(t), "DXHUB_WORKERS_POLLINTERVAL=50ms")
	cmd.Env = append(cmd.Env, env...)
	h := &hubProcess{cmd: cmd, logs: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = h.logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	name := strings.Join(args, " ")
	ready := make(chan map[string]string, 1)
	go func() {
		announced := map[string]string{}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if what, url, ok := strings.Cut(sc.Text(), " ready on "); ok && announced != nil {
				announced[what] = url
				if what == "dxhub" {
					ready <- announced
					announced = nil // handed over; later lines are only drained
				}
			}
		}
	}()
	go func() { cmd.Wait(); close(h.done) }()
	t.Cleanup(func() {
		h.kill()
		if t.Failed() {
			t.Logf("hub %s logs (last 60 lines):\n%s", name, tailLines(h.logs.String(), 60))
		}
	})
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	select {
	case announced := <-ready:
		h.base = announced["dxhub"]
		return h, announced, nil
	case <-h.done:
		return nil, nil, fmt.Errorf("hub %s exited before it was ready:\n%s", name, tailLines(h.logs.String(), 60))
	case <-timeout.C:
		h.kill()
		return nil, nil, fmt.Errorf("hub %s not ready after 60s:\n%s", name, tailLines(h.logs.String(), 60))
	}
}

// tailLines returns the last n lines of s, so that a failing test's own
// message is not buried under thousands of log lines.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… %d earlier lines omitted", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// kill ends the process with SIGKILL: no shutdown code runs.
func (h *hubProcess) kill() {
	select {
	case <-h.done:
		return
	default:
	}
	h.cmd.Process.Signal(syscall.SIGKILL)
	<-h.done
}

// eventually polls cond until it holds or the timeout passes. The hub works
// asynchronously; this waits on an observable condition, not on a fixed time.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s (last error: %v)", what, last)
		case <-tick.C:
		}
	}
}

func readSample(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../../testdata/submissions/universeller-antrag.json")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

type accepted struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	StatusURL string `json:"statusUrl"`
}

// postMultipart posts the submission JSON plus a file part and returns the
// decoded 202 answer.
func postMultipart(t *testing.T, base string, sub map[string]any, filename string, file []byte, idemKey string) accepted {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	js, _ := json.Marshal(sub)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="submission"`)
	h.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(h)
	pw.Write(js)
	if file != nil {
		h = textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file1"; filename=%q`, filename))
		h.Set("Content-Type", "application/pdf")
		pw, _ = mw.CreatePart(h)
		pw.Write(file)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/v1/submissions", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer demo-key")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/submissions: %s: %s", resp.Status, b)
	}
	var a accepted
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

type statusView struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Events []struct {
		Status string `json:"status"`
		Source string `json:"source"`
		Detail string `json:"detail"`
	} `json:"events"`
}

func getStatus(t *testing.T, base, id string) statusView {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/submissions/"+id, nil)
	req.Header.Set("Authorization", "Bearer demo-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v statusView
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET status: %s %s", resp.Status, b)
	}
	json.NewDecoder(resp.Body).Decode(&v)
	return v
}

func (v statusView) history() []string {
	out := make([]string, len(v.Events))
	for i, e := range v.Events {
		out[i] = e.Status
	}
	return out
}

func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// xmllintValid checks a document against an XSD with the xmllint CLI, an
// implementation independent of dxhub's own validator.
func xmllintValid(t *testing.T, doc []byte, xsd string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "doc.xml")
	os.WriteFile(f, doc, 0o600)
	out, err := exec.Command("xmllint", "--nonet", "--noout", "--schema", xsd, f).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint: %v\n%s", err, out)
	}
}

func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	h := startHub(t, t.TempDir(), freeAddr(t))

	// 1. The portal submits with a multi-megabyte PDF, streamed as multipart.
	pdf := make([]byte, 6<<20)
	rand.Read(pdf)
	copy(pdf, "%PDF-1.7\n")
	sum := sha256.Sum256(pdf)
	sub := readSample(t)
	acc := postMultipart(t, h.base, sub, "Lageplan Grundstück.pdf", pdf, "e2e-1")
	if acc.Status != "received" || !strings.HasSuffix(acc.StatusURL, "/v1/submissions/"+acc.ID) {
		t.Fatalf("202 body = %+v", acc)
	}
	// The same Idempotency-Key and body return the original answer.
	if again := postMultipart(t, h.base, sub, "Lageplan Grundstück.pdf", pdf, "e2e-1"); again != acc {
		t.Fatalf("replay = %+v, want %+v", again, acc)
	}

	// 2. The Fachverfahren of Köln polls its XTA mailbox.
	fv := xtatest.New(h.base, "ags:05315000", nil)
	fv.AttachmentDir = t.TempDir()
	if err := fv.CheckAccountActive(ctx); err != nil {
		t.Fatal(err)
	}
	var list []xta.MessageMeta
	eventually(t, 30*time.Second, "the message in the mailbox", func() (bool, error) {
		var err error
		list, err = fv.GetStatusList(ctx, 10)
		return len(list) == 1, err
	})
	meta := list[0]
	if meta.MessageType.Code != "universellerAntrag.antrag.1200" || meta.AuthorKey != "kop:0500000001" {
		t.Fatalf("meta = %+v", meta)
	}
	msg, err := fv.GetMessage(ctx, meta.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	// The XÖV document is XSD-valid (checked by xmllint, not by dxhub).
	xmllintValid(t, msg.Message, filepath.Join(testenv.MustStandardsDir(t), "xoev/xbau/2.6/xsd_dev/xbau-kernmodul-universellerAntrag.xsd"))
	// The attachment arrives byte for byte.
	if len(msg.Attachments) != 1 || msg.Attachments[0].SHA256 != hex.EncodeToString(sum[:]) || msg.Attachments[0].Bytes != int64(len(pdf)) {
		t.Fatalf("attachments = %+v", msg.Attachments)
	}
	if !bytes.Contains(msg.Message, []byte(msg.Attachments[0].Filename)) {
		t.Fatalf("the XÖV document does not name the attachment %q", msg.Attachments[0].Filename)
	}
	if err := fv.Close(ctx, meta.MessageID); err != nil {
		t.Fatal(err)
	}
	if list, _ := fv.GetStatusList(ctx, 10); len(list) != 0 {
		t.Fatalf("mailbox not empty after close: %d", len(list))
	}

	// 3. The Fachverfahren answers with 1120 (Eingangsbestätigung) and 1170 (status).
	ref, err := xoev.ParseInbound(msg.Message)
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
	for _, doc := range []xoev.Document{r1120, r1170} {
		rm := xta.MessageMeta{MessageID: "urn:de:xta:messageid:fv:" + doc.UUID, AuthorKey: "ags:05315000", AuthorType: "xoev",
			ReaderKey: "kop:0500000001", ReaderType: "xoev", Service: meta.Service, BusinessScenario: meta.BusinessScenario,
			MessageType:   xta.Code{Code: doc.RootElement, ListURI: "urn:de:payloadSchema:elementName", ListVersionID: "1.0"},
			PayloadSchema: doc.Namespace}
		if err := fv.SendMessage(ctx, rm, doc.XML); err != nil {
			t.Fatal(err)
		}
		// A resend of the same message is recognised (XTA fault 9024) and has no effect.
		var f *xta.Fault
		if err := fv.SendMessage(ctx, rm, doc.XML); err == nil || !errors.As(err, &f) || f.Code != xta.CodeMessageIDUsed {
			t.Fatalf("resend err = %v", err)
		}
	}

	// 4. The portal sees the whole history; the citizen's Postfach has the messages.
	st := getStatus(t, h.base, acc.ID)
	want := "[received validated routed delivered fetched acknowledged in_progress]"
	if got := fmt.Sprint(st.history()); got != want {
		t.Fatalf("history = %s, want %s", got, want)
	}
	if st.Status != "in_progress" {
		t.Fatalf("status = %s", st.Status)
	}
	var box struct {
		Messages []struct {
			Status string `json:"status"`
			Title  string `json:"title"`
		} `json:"messages"`
	}
	eventually(t, 30*time.Second, "three Postfach messages", func() (bool, error) {
		req, _ := http.NewRequest("GET", h.base+"/v1/mailboxes/bundid-erika-mustermann/messages", nil)
		req.Header.Set("Authorization", "Bearer demo-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		box.Messages = nil
		json.NewDecoder(resp.Body).Decode(&box)
		return len(box.Messages) == 3, fmt.Errorf("%d messages", len(box.Messages))
	})
	var got []string
	for _, m := range box.Messages {
		got = append(got, m.Status)
	}
	if fmt.Sprint(got) != "[received acknowledged in_progress]" || box.Messages[1].Title != "Ihr Antrag liegt der zuständigen Behörde vor" {
		t.Fatalf("postfach = %+v", box.Messages)
	}
}

// TestCrashAfterAcceptBeforeDelivery kills the hub with SIGKILL after the 202
// and before any delivery work ran (the first process runs no pipeline
// workers), restarts it on the same data, and checks the submission is
// delivered exactly once.
func TestCrashAfterAcceptBeforeDelivery(t *testing.T) {
	ctx := context.Background()
	data, addr := t.TempDir(), freeAddr(t)
	h := startHub(t, data, addr, "DXHUB_WORKERS_COUNT=0")
	pdf := bytes.Repeat([]byte("%PDF-1.4 crash test\n"), 100_000)
	acc := postMultipart(t, h.base, readSample(t), "antrag.pdf", pdf, "crash-1")
	h.kill()

	h = startHub(t, data, addr)
	fv := xtatest.New(h.base, "ags:05315000", nil)
	fv.AttachmentDir = t.TempDir()
	var list []xta.MessageMeta
	eventually(t, 30*time.Second, "the message after restart", func() (bool, error) {
		var err error
		list, err = fv.GetStatusList(ctx, 10)
		return len(list) > 0, err
	})
	if len(list) != 1 {
		t.Fatalf("%d messages in the mailbox, want exactly 1", len(list))
	}
	msg, err := fv.GetMessage(ctx, list[0].MessageID)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pdf)
	if msg.Attachments[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatal("attachment changed across the crash")
	}
	if err := fv.Close(ctx, list[0].MessageID); err != nil {
		t.Fatal(err)
	}
	// A portal retry after the crash gets the original submission back.
	if again := postMultipart(t, h.base, readSample(t), "antrag.pdf", pdf, "crash-1"); again.ID != acc.ID {
		t.Fatalf("retry after crash created %s, want %s", again.ID, acc.ID)
	}
	hist := getStatus(t, h.base, acc.ID).history()
	if count(hist, "delivered") != 1 || count(hist, "fetched") != 1 || count(hist, "received") != 1 {
		t.Fatalf("history = %v", hist)
	}
	if list, _ := fv.GetStatusList(ctx, 10); len(list) != 0 {
		t.Fatalf("mailbox not empty: %d", len(list))
	}
}

func readFileRel(p string) ([]byte, error) { return os.ReadFile(p) }
