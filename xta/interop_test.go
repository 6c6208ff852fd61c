package xta_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

// soapVersion is the npm soap release the interoperability test pins.
const soapVersion = "1.13.0"

// npmSoap returns the path of the soap module, installing it with
//
//	npm install --no-audit --no-fund --prefix $DXHUB_NPM_DIR soap@1.13.0
//
// when missing. DXHUB_NPM_DIR defaults to <user cache dir>/dxhub/npm-soap-1.13.0,
// so the module is downloaded once per machine and never into the repository.
func npmSoap(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DXHUB_NPM_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir = filepath.Join(cache, "dxhub", "npm-soap-"+soapVersion)
	}
	mod := filepath.Join(dir, "node_modules", "soap")
	if b, err := os.ReadFile(filepath.Join(mod, "package.json")); err == nil && strings.Contains(string(b), `"version": "`+soapVersion+`"`) {
		return mod
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatal("npm not installed (apt-get install nodejs npm)")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--prefix", dir, "soap@"+soapVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install soap@%s: %v\n%s", soapVersion, err, out)
	}
	return mod
}

// TestNodeSoapInterop drives dxhub's XTA server with an independent client,
// the npm soap package built from the served WSDL, over mutual TLS: a full
// Leser cycle and a sendMessage. Every response is validated with xmllint.
func TestNodeSoapInterop(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not installed (apt-get install nodejs)")
	}
	mod := npmSoap(t)
	b := xtatest.NewMemoryBackend(readerKey, hubKey)
	pdf := randomBytes(t, 200<<10)
	id := "urn:de:xta:messageid:dxhub:6f1c2d3e-0000-4000-8000-00000000node"
	b.Deliver(sampleMeta(id, hubKey, readerKey), xtatest.Blob{ContentType: "application/xml", Filename: "antrag.xml", Data: []byte("<antrag>für node</antrag>")},
		xtatest.Blob{ContentType: "application/pdf", Filename: "plan.pdf", Data: pdf})
	e := startMTLS(t, b)
	dir := t.TempDir()
	now := time.Now()
	cert, err := e.ca.Issue("fachverfahren-koeln", false, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := xtatest.WritePEM(dir, "client", cert)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, e.ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "responses")
	if err := os.Mkdir(outDir, 0o750); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join("testdata", "interop", "xta_client.js"))
	cmd.Env = append(os.Environ(), "SOAP_MODULE="+mod, "WSDL_URL="+e.url+xta.PathManagement+"?wsdl",
		"CERT="+certFile, "KEY="+keyFile, "CA="+caFile, "AUTHOR="+readerKey, "HUB="+hubKey, "OUT_DIR="+outDir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client: %v\n%s", err, stderr.String())
	}
	var sum struct {
		AccountActive bool
		Listed        []string
		Fetched       []struct {
			ID          string
			Message     string
			Attachments []string
		}
		Sent         string
		ReportStatus int
	}
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	if !sum.AccountActive || len(sum.Listed) != 1 || sum.Listed[0] != id || len(sum.Fetched) != 1 ||
		sum.Fetched[0].Message != "<antrag>für node</antrag>" || len(sum.Fetched[0].Attachments) != 1 || sum.Fetched[0].Attachments[0] != sha(pdf) {
		t.Errorf("Leser cycle: %+v", sum)
	}
	if !b.Closed(readerKey, id) {
		t.Error("message not closed by the node client")
	}
	got := b.Received()
	if len(got) != 1 || got[0].Meta.MessageID != sum.Sent || string(got[0].Message.Data) != "<antwort>von node-soap</antwort>" {
		t.Errorf("sendMessage: received %+v", got)
	}
	if sum.ReportStatus != xta.StatusGreen {
		t.Errorf("transport report status %d", sum.ReportStatus)
	}
	files, _ := filepath.Glob(filepath.Join(outDir, "*.xml"))
	responses := map[string]string{}
	for _, f := range files {
		body, _ := os.ReadFile(f)
		responses[strings.TrimSuffix(filepath.Base(f), ".xml")] = string(body)
	}
	if len(responses) != 6 {
		t.Errorf("%d responses recorded, want 6", len(responses))
	}
	validated := xmllintValidate(t, responses)
	for _, must := range []string{"MsgStatusList", "GenericContentContainer", "MessageMetaData", "TransportReport", "Envelope"} {
		if !validated[must] {
			t.Errorf("%s was never validated", must)
		}
	}
}
