package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/testpki"
)

// TestSimFachverfahrenMTLSBackChannel runs `dxhub serve` with the mTLS XTA
// listener and `dxhub sim fachverfahren` with its client certificate. The
// simulator fetches the Antrag and answers with a 1121 Aktenzeichen, a 0201
// and a 0205 with the Bescheid PDF, all naming the application only by
// bezug/referenz (no bezugNachricht): each reaches its submission through
// the stored application reference, and the PDF reaches the citizen's
// Postfach byte for byte.
func TestSimFachverfahrenMTLSBackChannel(t *testing.T) {
	ctx := context.Background()
	serverCA := testpki.NewCA(t, "dxhub server CA")
	clientCA := testpki.NewCA(t, "Fachverfahren CA")
	srvLeaf := serverCA.Server(t, "dxhub-xta")
	koeln := clientCA.Client(t, "fachverfahren-koeln")
	cfgFile := configFile(t, fmt.Sprintf(`xta:
  server:
    listen: 127.0.0.1:0
    tls:
      certFile: %s
      keyFile: %s
      clientCAFile: %s
    clients:
      - subjectCN: fachverfahren-koeln
        identities: ["ags:05315000"]
`, srvLeaf.CertFile, srvLeaf.KeyFile, clientCA.WriteCA(t)), "")
	h, xtaURL := startHubConfig(t, cfgFile, t.TempDir(), freeAddr(t))
	if xtaURL == "" {
		t.Fatal("no mTLS XTA listener announced")
	}
	sample := readSample(t)
	acc := postMultipart(t, h.base, sample, "lageplan.pdf", []byte("%PDF-1.4 sim"), "sim-fv-1")
	eventually(t, 30*time.Second, "the Antrag in the XTA mailbox", func() (bool, error) {
		return getStatus(t, h.base, acc.ID).Status == "delivered", nil
	})

	pdf := []byte("%PDF-1.7\n")
	for i := 0; i < 50000; i++ {
		pdf = append(pdf, byte(i*31))
	}
	pdfFile := filepath.Join(t.TempDir(), "Baugenehmigung 63-2026.pdf")
	if err := os.WriteFile(pdfFile, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(ctx, []string{"sim", "fachverfahren", "--hub", xtaURL, "--identity", "ags:05315000",
		"--cert", koeln.CertFile, "--key", koeln.KeyFile, "--ca", serverCA.WriteCA(t), "--out", t.TempDir(),
		"--reply", "1121,0201,0205", "--reference-only", "--aktenzeichen", "63-2026-0815", "--bescheid", pdfFile}, &out, &errb)
	if code != 0 {
		t.Fatalf("sim exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	for _, want := range []string{"1 message(s) waiting", "prozessnachrichten.aktenzeichen.1121", "baugenehmigung.formellePruefung.0201",
		"baugenehmigung.bescheid.0205", "with Baugenehmigung 63-2026.pdf"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("sim output lacks %q:\n%s", want, out.String())
		}
	}

	st := getStatus(t, h.base, acc.ID)
	details := map[string]string{}
	for _, e := range st.Events {
		if e.Source == "xoev" {
			details[e.Status] = e.Detail
		}
	}
	if !strings.Contains(details["acknowledged"], "Aktenzeichen 63-2026-0815") || !strings.Contains(details["in_progress"], "vollständig") ||
		!strings.Contains(details["decided"], "Genehmigung") || st.Status != "decided" {
		t.Fatalf("status %s, back-channel events %v (history %v)", st.Status, details, st.history())
	}
	if strings.Contains(h.logs.String(), "unknown application reference") {
		t.Fatalf("a reply was not correlated:\n%s", tailLines(h.logs.String(), 20))
	}

	// The Bescheid in the citizen's Postfach, byte for byte.
	get := func(path string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, h.base+path, nil)
		req.Header.Set("Authorization", "Bearer demo-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	mailbox := sample["applicant"].(map[string]any)["mailbox"].(string)
	var decided struct {
		ID          int64
		Attachments []struct{ Filename string }
	}
	eventually(t, 30*time.Second, "the Bescheid in the Postfach", func() (bool, error) {
		_, body := get("/v1/mailboxes/" + mailbox + "/messages")
		var box struct {
			Messages []struct {
				ID          int64  `json:"id"`
				Status      string `json:"status"`
				Attachments []struct {
					Filename string `json:"filename"`
				} `json:"attachments"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(body, &box); err != nil {
			return false, fmt.Errorf("%w: %s", err, body)
		}
		for _, m := range box.Messages {
			if m.Status == "decided" {
				decided.ID = m.ID
				for _, a := range m.Attachments {
					decided.Attachments = append(decided.Attachments, struct{ Filename string }{a.Filename})
				}
				return true, nil
			}
		}
		return false, nil
	})
	if len(decided.Attachments) != 1 || decided.Attachments[0].Filename != "Baugenehmigung 63-2026.pdf" {
		t.Fatalf("Postfach attachments = %+v", decided.Attachments)
	}
	status, file := get(fmt.Sprintf("/v1/mailboxes/%s/messages/%d/attachments/1", mailbox, decided.ID))
	if status != 200 || !bytes.Equal(file, pdf) {
		t.Fatalf("download: %d, %d bytes (want the %d bytes sent)", status, len(file), len(pdf))
	}
}

// TestSimFachverfahrenFlags: bad simulator command lines exit with 2 and a
// message naming the problem, before any request is made.
func TestSimFachverfahrenFlags(t *testing.T) {
	pdf := filepath.Join(t.TempDir(), "b.pdf")
	os.WriteFile(pdf, []byte("%PDF"), 0o600)
	for _, tt := range []struct {
		name, want string
		args       []string
	}{
		{"unknown reply", `unknown reply "9999"`, []string{"--reply", "9999"}},
		{"0205 without Bescheid", "needs --bescheid", []string{"--reply", "0205"}},
		{"Bescheid without 0205", "only used with reply 0205", []string{"--reply", "1120", "--bescheid", pdf}},
		{"missing Bescheid file", "--bescheid", []string{"--reply", "0205", "--bescheid", pdf + ".missing"}},
		{"bad finding", "want CODE:TEXT", []string{"--reply", "0201", "--befund", "01"}},
		{"cert without key", "--cert and --key go together", []string{"--cert", pdf}},
		{"TLS over http", "need an https://", []string{"--hub", "http://127.0.0.1:1", "--ca", pdf}},
		{"unreadable CA", "", []string{"--hub", "https://127.0.0.1:1", "--ca", pdf + ".missing"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"sim", "fachverfahren"}, tt.args...), &out, &errb)
			if code != 2 || !strings.Contains(errb.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errb.String(), tt.want)
			}
		})
	}
}
