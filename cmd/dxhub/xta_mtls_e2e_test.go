package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/internal/testpki"
	"github.com/dxhub/dxhub/xoev"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

// configFile writes the embedded default configuration with extra YAML
// appended (sections the default does not have) and its endpoints replaced
// when endpoints is not empty.
func configFile(t *testing.T, extra, endpoints string) string {
	t.Helper()
	y := string(config.DefaultYAML())
	if endpoints != "" {
		i := strings.Index(y, "\nendpoints:")
		if i < 0 {
			t.Fatal("default.yaml has no endpoints section")
		}
		y = y[:i+1] + endpoints
	}
	p := filepath.Join(t.TempDir(), "dxhub.yaml")
	if err := os.WriteFile(p, []byte(y+"\n"+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startHubConfig starts `dxhub serve --config FILE` like startHub and also
// returns the XTA listener URL it announced ("" if XTA is on the main
// listener).
func startHubConfig(t *testing.T, cfgFile, dataDir, addr string) (*hubProcess, string) {
	t.Helper()
	h, announced, err := launchServe(t, []string{"--config", cfgFile, "--data", dataDir, "--listen", addr})
	if err != nil {
		t.Fatal(err)
	}
	return h, announced["dxhub XTA (mTLS)"]
}

// mtlsClient is an HTTP client that trusts ca and presents leaf (nil: no
// client certificate).
func mtlsClient(t *testing.T, ca *testpki.CA, leaf *testpki.Leaf) *http.Client {
	cfg := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	if leaf != nil {
		cfg.Certificates = []tls.Certificate{leaf.TLS}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// TestXTAMutualTLSListener: with xta.server.tls the `dxhub serve` binary
// serves the XTA ports on their own TLS listener that requires client
// certificates. Köln's Fachverfahren fetches and acknowledges its message
// over mTLS; a certificate mapped to another authority, an unmapped one, one
// from a foreign CA and none at all get the PermissionDenied faults of the
// WSDL; the main listener no longer answers XTA.
func TestXTAMutualTLSListener(t *testing.T) {
	ctx := context.Background()
	serverCA := testpki.NewCA(t, "dxhub server CA")
	clientCA := testpki.NewCA(t, "Fachverfahren CA")
	rogueCA := testpki.NewCA(t, "rogue CA")
	srvLeaf := serverCA.Server(t, "dxhub-xta")
	koelnLeaf := clientCA.Client(t, "fachverfahren-koeln")
	bonnLeaf := clientCA.Client(t, "fachverfahren-bonn")
	unmapped := clientCA.Client(t, "fachverfahren-unbekannt")
	rogue := rogueCA.Client(t, "fachverfahren-koeln")

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
      - fingerprint: %q
        identities: ["ags:05314000"]
`, srvLeaf.CertFile, srvLeaf.KeyFile, clientCA.WriteCA(t), xta.Fingerprint(bonnLeaf.Cert)), "")
	h, xtaURL := startHubConfig(t, cfgFile, t.TempDir(), freeAddr(t))
	if !strings.HasPrefix(xtaURL, "https://127.0.0.1:") {
		t.Fatalf("XTA listener announced as %q", xtaURL)
	}
	eventually(t, 10*time.Second, "the XTA listener in the log", func() (bool, error) {
		return strings.Contains(h.logs.String(), "dxhub XTA listening"), nil
	})

	acc := postMultipart(t, h.base, readSample(t), "lageplan.pdf", []byte("%PDF-1.4 mtls"), "mtls-1")

	// Köln's Fachverfahren over mTLS: list, fetch, close.
	fv := xtatest.New(xtaURL, "ags:05315000", mtlsClient(t, serverCA, koelnLeaf))
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
	msg, err := fv.GetMessage(ctx, list[0].MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Attachments) != 1 || msg.Attachments[0].Bytes != int64(len("%PDF-1.4 mtls")) {
		t.Fatalf("attachments = %+v", msg.Attachments)
	}
	if err := fv.Close(ctx, list[0].MessageID); err != nil {
		t.Fatal(err)
	}
	if st := getStatus(t, h.base, acc.ID); st.Status != "fetched" {
		t.Fatalf("status after close = %s (%v)", st.Status, st.history())
	}

	// Replies over mTLS: Köln's 1120 is applied; a 1170 "from Köln" sent
	// with Bonn's certificate is refused (9014) and has no effect.
	ref, err := xoev.ParseInbound(msg.Message)
	if err != nil {
		t.Fatal(err)
	}
	r1120, err := xoev.BuildReceipt1120(ref.Header, xoev.Reply{Created: time.Now(), Reference: ref.Reference})
	if err != nil {
		t.Fatal(err)
	}
	r1170, err := xoev.BuildStatus1170(ref.Header, "08", time.Time{}, xoev.Reply{Created: time.Now(), Reference: ref.Reference})
	if err != nil {
		t.Fatal(err)
	}
	replyMeta := func(doc xoev.Document) xta.MessageMeta {
		return xta.MessageMeta{MessageID: "urn:de:xta:messageid:fv:" + doc.UUID, AuthorKey: "ags:05315000", AuthorType: "xoev",
			ReaderKey: "kop:0500000001", ReaderType: "xoev", Service: list[0].Service, BusinessScenario: list[0].BusinessScenario,
			MessageType: xta.Code{Code: doc.RootElement}, PayloadSchema: doc.Namespace}
	}
	if err := fv.SendMessage(ctx, replyMeta(r1120), r1120.XML); err != nil {
		t.Fatal(err)
	}
	var denied *xta.Fault
	bonnAsKoeln := xtatest.New(xtaURL, "ags:05315000", mtlsClient(t, serverCA, bonnLeaf))
	if err := bonnAsKoeln.SendMessage(ctx, replyMeta(r1170), r1170.XML); !errors.As(err, &denied) || denied.Code != xta.CodeCertSenderMismatch {
		t.Fatalf("sendMessage with another authority's certificate: %v, want fault 9014", err)
	}
	if st := getStatus(t, h.base, acc.ID); fmt.Sprint(st.history()) != "[received validated routed delivered fetched acknowledged]" {
		t.Fatalf("history = %v", st.history())
	}

	// Refused callers, each with the fault code of the WSDL's
	// PermissionDeniedException.
	for _, tc := range []struct {
		name   string
		leaf   *testpki.Leaf
		author string
		code   int
	}{
		{"certificate of another authority acting for Köln", bonnLeaf, "ags:05315000", xta.CodeCertSenderMismatch},
		{"unmapped certificate", unmapped, "ags:05315000", xta.CodeAccountMissing},
		{"certificate from a foreign CA", rogue, "ags:05315000", xta.CodeCertSenderMismatch},
		{"no certificate", nil, "ags:05315000", xta.CodeCertSenderMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := xtatest.New(xtaURL, tc.author, mtlsClient(t, serverCA, tc.leaf))
			for op, call := range map[string]func() error{
				"checkAccountActive": func() error { return c.CheckAccountActive(ctx) },
				"getStatusList":      func() error { _, err := c.GetStatusList(ctx, 10); return err },
				"getMessage":         func() error { _, err := c.GetMessage(ctx, list[0].MessageID); return err },
			} {
				var f *xta.Fault
				if err := call(); !errors.As(err, &f) || f.Code != tc.code {
					t.Errorf("%s: err = %v, want fault %d", op, err, tc.code)
				}
			}
		})
	}
	// Bonn's certificate is fine for Bonn's own account.
	if err := xtatest.New(xtaURL, "ags:05314000", mtlsClient(t, serverCA, bonnLeaf)).CheckAccountActive(ctx); err == nil ||
		!strings.Contains(err.Error(), "9012") {
		// Bonn has a certificate mapping but no tenant (no mailbox) on this hub.
		t.Errorf("Bonn acting for itself: %v, want 9012 (no mailbox account)", err)
	}

	// The WSDL names the TLS listener; the main listener serves no XTA.
	resp, err := mtlsClient(t, serverCA, koelnLeaf).Get(xtaURL + xta.PathManagement + "?wsdl")
	if err != nil {
		t.Fatal(err)
	}
	wsdl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(wsdl), xtaURL+xta.PathMsgBox) {
		t.Errorf("WSDL: %s, does not name %s", resp.Status, xtaURL+xta.PathMsgBox)
	}
	resp, err = http.Post(h.base+xta.PathMsgBox, xta.ContentTypeSOAP12, strings.NewReader("<x/>"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("main listener answers XTA with %s, want 404", resp.Status)
	}
}
