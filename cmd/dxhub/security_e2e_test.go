package main

// Security end-to-end tests with the real binary: managed portal keys
// (dxhub portal key …), portal mTLS on the HTTPS main listener, tenant scope
// of keys, TLS 1.2 minimum, the audit log of data access, and no secret in
// any log line or check-config output.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/internal/testpki"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

// securityConfig writes a configuration with Köln and Bonn, the demo portal
// for both and the given extra YAML for the hub section and portals.
func securityConfig(t *testing.T, hubYAML, portalsYAML, extra string) string {
	t.Helper()
	def := string(config.DefaultYAML())
	i := strings.Index(def, "\nservices:")
	if i < 0 {
		t.Fatal("default.yaml has no services section")
	}
	y := hubYAML + `
tenants:
  - {ags: "05315000", name: Stadt Köln, dvdvKey: "ags:05315000"}
  - {ags: "05314000", name: Stadt Bonn, dvdvKey: "ags:05314000"}
portals:
  - {id: demo-portal, apiKey: demo-key, tenants: ["05315000", "05314000"]}
` + portalsYAML + def[i:] + `
  - {readerKey: "ags:05314000", serviceURI: "urn:xoev-de:xbau-kernmodul:universellerAntrag", transport: xta-mailbox}
` + extra
	p := filepath.Join(t.TempDir(), "dxhub.yaml")
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type secClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (c secClient) do(method, path, key string, body any, hdr ...string) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c secClient) submit(key, tenant string, hdr ...string) (int, string, []byte) {
	c.t.Helper()
	doc := readSample(c.t)
	doc["tenant"] = tenant
	code, b := c.do("POST", "/v1/submissions", key, doc, hdr...)
	var a accepted
	_ = json.Unmarshal(b, &a)
	return code, a.ID, b
}

func problemOf(t *testing.T, b []byte) (code, detail string) {
	t.Helper()
	var p struct{ Code, Detail string }
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("not a problem: %s", b)
	}
	return p.Code, p.Detail
}

func TestPortalKeysMTLSAndAccessAudit(t *testing.T) {
	ctx := context.Background()
	ca := testpki.NewCA(t, "dxhub test CA")
	srv := ca.Server(t, "localhost")
	fpCert := ca.Client(t, "fachportal.example")
	certOnly := ca.Client(t, "certportal.example")
	keyFile := filepath.Join(t.TempDir(), "fachportal.key")
	if err := os.WriteFile(keyFile, []byte("fachportal-key-6c1e9b2f77a0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := securityConfig(t, fmt.Sprintf("hub:\n  tls: {certFile: %s, keyFile: %s}\n", srv.CertFile, srv.KeyFile),
		fmt.Sprintf("  - {id: fachportal, apiKeyFile: %s, tenants: [\"05315000\"], clientCert: {subjectCN: fachportal.example, caFile: %s}}\n"+
			"  - {id: certportal, tenants: [\"05315000\"], clientCert: {fingerprint: %q, caFile: %s, withoutAPIKey: true}}\n",
			keyFile, ca.WriteCA(t), xtaFingerprint(certOnly), ca.WriteCA(t)), "")
	data := t.TempDir()
	cli := func(args ...string) (int, string, string) {
		return runCLI(t, append(args, "--config", cfgFile, "--data", data)...)
	}

	// A key for the demo portal, limited to Bonn, created before the hub runs.
	code, out, errs := cli("portal", "key", "create", "--portal", "demo-portal", "--tenants", "05314000", "--json")
	var created struct{ ID, APIKey string }
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil || !strings.HasPrefix(created.APIKey, "dxhk_"+created.ID+"_") {
		t.Fatalf("key create: %d %s %s", code, out, errs)
	}
	bonnKey := created.APIKey
	for _, bad := range [][]string{
		{"portal", "key", "create", "--portal", "nope"},
		{"portal", "key", "create", "--portal", "fachportal", "--tenants", "05314000"},
		{"portal", "key", "revoke", created.ID}, // no reason
	} {
		if code, _, errs := cli(bad...); code == 0 || errs == "" {
			t.Errorf("%v: exit %d", bad, code)
		}
	}

	h, _ := startHubConfig(t, cfgFile, data, freeAddr(t))
	if !strings.HasPrefix(h.base, "https://") {
		t.Fatalf("main listener announced as %s", h.base)
	}
	roots := ca.Pool()
	plain := secClient{t, h.base, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}}
	withCert := secClient{t, h.base, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots,
		Certificates: []tls.Certificate{fpCert.TLS}}}}}

	// TLS 1.1 is refused, TLS 1.2 accepted
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}}
	if resp, err := old.Get(h.base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a TLS 1.1 client was served")
	} else if !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("TLS 1.1 refused for another reason: %v", err)
	}

	// tenant scope of the managed key
	code, koelnID, b := plain.submit("demo-key", "05315000")
	if code != 202 {
		t.Fatalf("demo-key Köln: %d %s", code, b)
	}
	code, _, b = plain.submit(bonnKey, "05315000")
	if c, d := problemOf(t, b); code != 403 || c != "forbidden-tenant" || !strings.Contains(d, "is limited to tenants 05314000") {
		t.Fatalf("Bonn key for Köln: %d %s", code, b)
	}
	code, bonnID, b := plain.submit(bonnKey, "05314000")
	if code != 202 {
		t.Fatalf("Bonn key for Bonn: %d %s", code, b)
	}
	if code, b := plain.do("GET", "/v1/submissions/"+koelnID, bonnKey, nil); code != 403 {
		t.Fatalf("Bonn key reads Köln's: %d %s", code, b)
	}
	if code, b := plain.do("GET", "/v1/submissions/"+bonnID, bonnKey, nil); code != 200 {
		t.Fatalf("Bonn key reads Bonn's: %d %s", code, b)
	}
	if code, b := plain.do("GET", "/v1/submissions/"+koelnID, "demo-key", nil); code != 200 {
		t.Fatalf("demo-key reads Köln's: %d %s", code, b)
	}

	// the mTLS portal: key and certificate
	code, _, b = plain.submit("fachportal-key-6c1e9b2f77a0", "05315000")
	if c, _ := problemOf(t, b); code != 401 || c != "client-certificate-required" {
		t.Fatalf("fachportal without certificate: %d %s", code, b)
	}
	code, fpID, b := withCert.submit("fachportal-key-6c1e9b2f77a0", "05315000")
	if code != 202 {
		t.Fatalf("fachportal with certificate: %d %s", code, b)
	}
	if code, _ := withCert.do("GET", "/v1/submissions/"+fpID, "demo-key", nil); code != 404 {
		t.Fatalf("demo portal reads fachportal's: %d", code)
	}
	// the same Idempotency-Key from two portals: two submissions, no leak
	code, idemDemo, _ := plain.submit("demo-key", "05315000", "Idempotency-Key", "shared-1")
	code2, idemFP, _ := withCert.submit("fachportal-key-6c1e9b2f77a0", "05315000", "Idempotency-Key", "shared-1")
	if code != 202 || code2 != 202 || idemDemo == idemFP || idemDemo == "" {
		t.Fatalf("shared idempotency key: %d %s / %d %s", code, idemDemo, code2, idemFP)
	}

	// the certificate-only portal: no Authorization header at all
	certClient := secClient{t, h.base, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots,
		Certificates: []tls.Certificate{certOnly.TLS}}}}}
	code, certID, b := certClient.submit("", "05315000")
	if code != 202 {
		t.Fatalf("certificate-only portal: %d %s", code, b)
	}
	if code, b := certClient.do("GET", "/v1/submissions/"+certID, "", nil); code != 200 {
		t.Fatalf("certificate-only read: %d %s", code, b)
	}
	if code, _ := plain.do("GET", "/v1/submissions/"+certID, "", nil); code != 401 {
		t.Fatalf("no certificate, no key: %d", code)
	}

	// rotate without grace: the old key is expired at once, the new one works
	code, out, errs = cli("portal", "key", "rotate", "--grace", "0s", "dxhk_"+created.ID, "--json")
	var rotated struct{ ID, APIKey string }
	if code != 0 || json.Unmarshal([]byte(out), &rotated) != nil || rotated.APIKey == "" {
		t.Fatalf("rotate: %d %s %s", code, out, errs)
	}
	code, b = plain.do("GET", "/v1/submissions/"+bonnID, bonnKey, nil)
	if c, d := problemOf(t, b); code != 401 || c != "key-expired" || !strings.Contains(d, "use its successor dxhk_"+rotated.ID) {
		t.Fatalf("old key after rotation: %d %s", code, b)
	}
	if code, b := plain.do("GET", "/v1/submissions/"+bonnID, rotated.APIKey, nil); code != 200 {
		t.Fatalf("new key: %d %s", code, b)
	}
	if code, _, errs := cli("portal", "key", "revoke", rotated.ID, "--reason", "test: leaked"); code != 0 {
		t.Fatalf("revoke: %d %s", code, errs)
	}
	code, b = plain.do("GET", "/v1/submissions/"+bonnID, rotated.APIKey, nil)
	if c, _ := problemOf(t, b); code != 401 || c != "key-revoked" {
		t.Fatalf("revoked key: %d %s", code, b)
	}
	code, out, _ = cli("portal", "key", "list", "--json")
	var listed []struct{ ID, State string }
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 2 || listed[0].State != "expired" || listed[1].State != "revoked" {
		t.Fatalf("list: %d %s", code, out)
	}
	code, text, _ := cli("portal", "key", "list")
	for _, secret := range []string{bonnKey, rotated.APIKey, bonnKey[22:], rotated.APIKey[22:]} {
		if strings.Contains(out, secret) || strings.Contains(text, secret) {
			t.Fatal("key list shows a secret")
		}
	}
	if code != 0 || !strings.Contains(text, "dxhk_"+created.ID) {
		t.Fatalf("list: %s", text)
	}

	// Köln's Fachverfahren fetches and closes over XTA (on the HTTPS main listener)
	fv := xtatest.New(h.base, "ags:05315000", plain.hc)
	fv.AttachmentDir = t.TempDir()
	eventually(t, 30*time.Second, "Köln's messages in the mailbox", func() (bool, error) {
		list, err := fv.GetStatusList(ctx, 10)
		if err != nil || len(list) != 5 { // Köln: demo, fachportal, the two shared-key posts, certportal
			return false, err
		}
		for _, m := range list {
			if _, err := fv.GetMessage(ctx, m.MessageID); err != nil {
				return false, err
			}
			if err := fv.Close(ctx, m.MessageID); err != nil {
				return false, err
			}
		}
		return true, nil
	})

	// the data access is in the audit log, the chain intact
	code, out, errs = cli("audit", "list", "--json", "--actor", "portal *", "--action", "submission.read")
	var reads []store.AuditEntry
	if code != 0 || json.Unmarshal([]byte(out), &reads) != nil {
		t.Fatalf("audit list: %d %s %s", code, out, errs)
	}
	want := map[string]bool{"portal demo-portal " + koelnID + " via configured key": false,
		"portal demo-portal " + bonnID + " via key dxhk_" + created.ID: false,
		"portal demo-portal " + bonnID + " via key dxhk_" + rotated.ID: false,
		"portal certportal " + certID + " via client certificate":      false}
	for _, e := range reads {
		want[e.Actor+" "+e.SubmissionID+" "+e.Detail] = true
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("audit log lacks %q: %+v", k, reads)
		}
	}
	code, out, _ = cli("audit", "list", "--json", "--submission", koelnID)
	var bySub []store.AuditEntry
	if code != 0 || json.Unmarshal([]byte(out), &bySub) != nil {
		t.Fatal(out)
	}
	actions := map[string]bool{}
	for _, e := range bySub {
		actions[e.Actor+" "+e.Action] = true
	}
	for _, a := range []string{"portal demo-portal submission.read", "fachverfahren ags:05315000 xta.getMessage", "fachverfahren ags:05315000 xta.close"} {
		if !actions[a] {
			t.Errorf("audit of %s lacks %q: %v", koelnID, a, actions)
		}
	}
	code, out, _ = cli("audit", "list", "--json", "--action", "portalkey.*")
	if code != 0 || strings.Count(out, "portalkey.") != 3 || strings.Contains(out, rotated.APIKey) {
		t.Errorf("key management audit: %s", out)
	}
	if code, out, errs := cli("audit", "verify"); code != 0 || !strings.Contains(out, "audit log intact") {
		t.Fatalf("audit verify: %d %s %s", code, out, errs)
	}
	for _, secret := range []string{bonnKey, rotated.APIKey, "fachportal-key-6c1e9b2f77a0"} {
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("hub log contains the secret %q", secret)
		}
	}
}

// TestSecretsNeverLogged runs the hub at debug level with every kind of
// secret from files — portal API key, webhook signing secret, Kafka SASL
// password, a PostgreSQL DSN with a password — through submissions, a
// refused key, check-config (valid and invalid) and a start that fails on a
// bad DSN, and finds none of the secret strings in any output.
func TestSecretsNeverLogged(t *testing.T) {
	const (
		apiKey       = "portal-secret-4f1d2c9e8b7a"
		wrongKey     = "guessed-secret-0a9b8c7d6e5f"
		hookSecret   = "webhook-secret-77c3b1a9e2d4"
		kafkaPass    = "kafka-secret-5e6f7a8b9c0d"
		pgPass       = "pg-secret-1a2b3c4d5e6f"
		badDSNSecret = "pg-secret-in-broken-dsn-9z"
	)
	secrets := []string{apiKey, wrongKey, hookSecret, kafkaPass, pgPass, badDSNSecret}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pg := testenv.SharedPostgres(t)
	dsn := strings.Replace(pg.NewDatabase(t), "@", ":"+pgPass+"@", 1) // trust auth: the password is sent, not needed
	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "dxhub.status"), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "dxhub", kafkaPass))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	brokers, _ := json.Marshal(broker.ListenAddrs())
	hook := httpSink(t)
	portals := fmt.Sprintf("  - {id: secret-portal, apiKeyFile: %s, tenants: [\"05315000\"], webhook: {url: %q, secretFile: %s}}\n",
		write("api.key", apiKey), hook, write("hook.secret", hookSecret))
	extra := fmt.Sprintf("store: {driver: postgres, dsnFile: %s}\nkafka: {brokers: %s, statusTopic: dxhub.status, sasl: {mechanism: scram-sha-512, username: dxhub, passwordFile: %s}}\n",
		write("dsn", dsn), brokers, write("kafka.pass", kafkaPass))
	cfgFile := securityConfig(t, "hub: {logLevel: debug}\n", portals, extra)

	var outputs []string
	check := func(what, s string) {
		t.Helper()
		outputs = append(outputs, s)
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				t.Errorf("%s contains the secret %q:\n%s", what, sec, tailLines(s, 20))
			}
		}
	}

	// check-config, valid and invalid
	code, out, errs := runCLI(t, "check-config", "--config", cfgFile)
	if code != 0 {
		t.Fatalf("check-config: %d %s %s", code, out, errs)
	}
	check("check-config", out+errs)
	invalid := securityConfig(t, "hub: {logLevel: debug}\n", portals+"  - {id: dup, apiKeyFile: "+filepath.Join(dir, "api.key")+", tenants: [\"09162000\"]}\n",
		strings.Replace(extra, "scram-sha-512", "plain", 1))
	code, out, errs = runCLI(t, "check-config", "--config", invalid)
	if code != 1 || !strings.Contains(errs, "portals[2]") || !strings.Contains(errs, "kafka.sasl.mechanism") {
		t.Fatalf("invalid check-config: %d %s %s", code, out, errs)
	}
	check("check-config of an invalid configuration", out+errs)

	// a start that fails on a malformed DSN names no part of it
	badCfg := securityConfig(t, "hub: {logLevel: debug}\n", portals, fmt.Sprintf("store: {driver: postgres, dsnFile: %s}\n",
		write("bad.dsn", "postgres://dxhub:"+badDSNSecret+"@127.0.0.1:notaport/db?sslmode=disable")))
	cmd := exec.Command(binPath, "serve", "--config", badCfg, "--data", t.TempDir(), "--listen", freeAddr(t))
	cmd.Env = append(os.Environ(), "DXHUB_STANDARDS_DIR="+testenv.MustStandardsDir(t))
	failed, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("serve with a malformed DSN started: %s", failed)
	}
	check("serve with a malformed DSN", string(failed))

	// ... and neither does one that cannot reach its database
	closed := freeAddr(t)
	downCfg := securityConfig(t, "hub: {logLevel: debug}\n", portals, fmt.Sprintf("store: {driver: postgres, dsnFile: %s}\n",
		write("down.dsn", "postgres://dxhub:"+pgPass+"@"+closed+"/db?sslmode=disable&connect_timeout=2")))
	cmd = exec.Command(binPath, "serve", "--config", downCfg, "--data", t.TempDir(), "--listen", freeAddr(t))
	cmd.Env = append(os.Environ(), "DXHUB_STANDARDS_DIR="+testenv.MustStandardsDir(t))
	failed, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(failed), closed) {
		t.Fatalf("serve without its database: %v %s", err, failed)
	}
	check("serve without its database", string(failed))

	// a running hub at debug level: submissions, a refused key, status reads
	h, _ := startHubConfig(t, cfgFile, t.TempDir(), freeAddr(t))
	c := secClient{t, h.base, http.DefaultClient}
	code, id, b := c.submit(apiKey, "05315000")
	if code != 202 {
		t.Fatalf("submit: %d %s", code, b)
	}
	if code, _ := c.do("GET", "/v1/submissions/"+id, apiKey, nil); code != 200 {
		t.Fatalf("status: %d", code)
	}
	if code, _ := c.do("GET", "/v1/submissions/"+id, wrongKey, nil); code != 401 {
		t.Fatalf("wrong key: %d", code)
	}
	if code, _, _ := c.submit(wrongKey, "05315000"); code != 401 {
		t.Fatalf("wrong key submit: %d", code)
	}
	eventually(t, 30*time.Second, "the webhook and the status topic", func() (bool, error) {
		return hook.count() > 0 && strings.Contains(h.logs.String(), "level=DEBUG"), nil
	})
	h.kill()
	<-h.done
	check("hub log", h.logs.String())
	if !strings.Contains(strings.Join(outputs, ""), "secret-portal") {
		t.Fatal("the outputs do not even name the portal; the check proves nothing")
	}
}

// webhookSink counts POSTs on a local HTTP server.
type webhookSink struct {
	url string
	n   chan struct{}
}

func (w *webhookSink) String() string { return w.url }
func (w *webhookSink) count() int     { return len(w.n) }

func httpSink(t *testing.T) *webhookSink {
	t.Helper()
	s := &webhookSink{n: make(chan struct{}, 1000)}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case s.n <- struct{}{}:
		default:
		}
		w.WriteHeader(204)
	})}
	ln := listenLocal(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.url = "http://" + ln.Addr().String() + "/hook"
	return s
}

func listenLocal(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func xtaFingerprint(l *testpki.Leaf) string { return xta.Fingerprint(l.Cert) }
