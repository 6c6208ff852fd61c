package main

// The admin UI's browser test (issue 9, Done when): the real binary, a real
// Chromium (Debian's /usr/bin/chromium) driven by playwright-core, two
// tenants' operators, a dead letter retried from the UI.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/store"
)

// playwrightVersion is the playwright-core release the browser test pins. It
// drives the system's Chromium; playwright never downloads a browser here.
const playwrightVersion = "1.65.1"

// chromiumPath is Debian's Chromium (Makefile APT_PKGS installs it).
const chromiumPath = "/usr/bin/chromium"

// npmPlaywright returns the node_modules directory holding playwright-core,
// installing it with
//
//	npm install --no-audit --no-fund --prefix $DXHUB_PLAYWRIGHT_DIR playwright-core@1.65.1
//
// when missing. DXHUB_PLAYWRIGHT_DIR defaults to
// <user cache dir>/dxhub/npm-playwright-core-1.65.1, so the module is fetched
// once per machine and never into the repository.
func npmPlaywright(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DXHUB_PLAYWRIGHT_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir = filepath.Join(cache, "dxhub", "npm-playwright-core-"+playwrightVersion)
	}
	mods := filepath.Join(dir, "node_modules")
	if b, err := os.ReadFile(filepath.Join(mods, "playwright-core", "package.json")); err == nil &&
		strings.Contains(string(b), `"version": "`+playwrightVersion+`"`) {
		return mods
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatal("npm not installed (apt-get install nodejs npm)")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--prefix", dir, "playwright-core@"+playwrightVersion)
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install playwright-core@%s: %v\n%s", playwrightVersion, err, out)
	}
	return mods
}

// browserArtifacts returns (and empties of old screenshots) the directory
// the screenshots go to: $DXHUB_ARTIFACTS/browser, default
// <repo>/test-artifacts/browser.
func browserArtifacts(t *testing.T) string {
	t.Helper()
	base := os.Getenv("DXHUB_ARTIFACTS")
	if base == "" {
		base = filepath.Join("..", "..", "test-artifacts")
	}
	dir, err := filepath.Abs(filepath.Join(base, "browser"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	return dir
}

// browserTestConfig is two tenants with the built-in mailbox; routeA false
// leaves tenant A (Köln) without any route, so its submissions cannot be
// routed.
func browserTestConfig(t *testing.T, path string, routeA bool) {
	t.Helper()
	y := `tenants:
  - ags: "05315000"
    name: Stadt Köln
    dvdvKey: ags:05315000
  - ags: "05111000"
    name: Landeshauptstadt Düsseldorf
    dvdvKey: ags:05111000
portals:
  - id: demo-portal
    name: Demo-Portal
    apiKey: demo-key # getStatus (e2e_test.go) reads with it
    tenants: ["05315000", "05111000"]
services:
  - id: universeller-antrag
    name: Universeller Antrag
    standard: xbau-kernmodul-1.3.0
    messageType: universellerAntrag.antrag.1200
    serviceURI: urn:xoev-de:xbau-kernmodul:universellerAntrag
    artDesAntrags: "1000"
    profile: builtin:universeller-antrag
admin:
  enabled: true
endpoints:
  - readerKey: ags:05111000
    serviceURI: urn:xoev-de:xbau-kernmodul:universellerAntrag
    transport: xta-mailbox
`
	if routeA {
		y += `  - readerKey: ags:05315000
    serviceURI: urn:xoev-de:xbau-kernmodul:universellerAntrag
    transport: xta-mailbox
`
	}
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startConfiguredHub starts `dxhub serve --config … --data … --listen …`
// and waits for its ready line.
func startConfiguredHub(t *testing.T, cfgPath, dataDir, addr string, env ...string) *hubProcess {
	t.Helper()
	h, _, err := launchServe(t, []string{"--config", cfgPath, "--data", dataDir, "--listen", addr}, env...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// dxhubCLI runs the binary with stdin and returns exit code and output.
func dxhubCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func submitJSON(t *testing.T, base, tenant string) string {
	t.Helper()
	sub := readSample(t)
	sub["tenant"] = tenant
	sub["reference"] = "BROWSER-" + tenant
	body, _ := json.Marshal(sub)
	req, _ := http.NewRequest("POST", base+"/v1/submissions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer demo-key")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var acc accepted
	if resp.StatusCode != 202 || json.Unmarshal(b, &acc) != nil {
		t.Fatalf("submit for %s: %d %s", tenant, resp.StatusCode, b)
	}
	return acc.ID
}

func statusIs(t *testing.T, base, id, want string) func() (bool, error) {
	return func() (bool, error) {
		v := getStatus(t, base, id)
		return v.Status == want, fmt.Errorf("status %s", v.Status)
	}
}

// TestAdminBrowser: tenant A's submission cannot be routed and becomes a
// dead letter (retry.maxAge is 1 ns in the first run, so the first failed
// routing gives up: the config is the injected clock here). The operator
// adds the route and restarts the hub; in Chromium, A's operator logs in,
// finds the dead letter, retries it and sees it delivered; a POST without
// the CSRF token is refused; B's operator does not see it anywhere, and its
// direct URL answers 404. Screenshots of every step are CI artifacts.
func TestAdminBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is required for the admin browser test (apt-get install chromium; make deps): %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not installed (apt-get install nodejs)")
	}
	mods := npmPlaywright(t)
	artifacts := browserArtifacts(t)
	dir := t.TempDir()
	cfgPath, dataDir, addr := filepath.Join(dir, "dxhub.yaml"), filepath.Join(dir, "data"), freeAddr(t)
	const agsA, agsB = "05315000", "05111000"

	// Run 1: no route for tenant A.
	browserTestConfig(t, cfgPath, false)
	hub := startConfiguredHub(t, cfgPath, dataDir, addr, "DXHUB_RETRY_MAXAGE=1ns")
	subA, subB := submitJSON(t, hub.base, agsA), submitJSON(t, hub.base, agsB)
	eventually(t, 30*time.Second, "A's submission failed", statusIs(t, hub.base, subA, "failed"))
	eventually(t, 30*time.Second, "B's submission delivered", statusIs(t, hub.base, subB, "delivered"))

	// Accounts via the CLI: alice's password on stdin, bob's from a file.
	common := []string{"--config", cfgPath, "--data", dataDir}
	const pwA, pwB = "Köln operator password 1", "Düsseldorf operator pw 2"
	if code, out, errs := dxhubCLI(t, pwA+"\n", append([]string{"admin", "user", "add", "alice", "--tenant", agsA}, common...)...); code != 0 {
		t.Fatalf("add alice: %d %s %s", code, out, errs)
	}
	pwFile := filepath.Join(dir, "bob.pw")
	os.WriteFile(pwFile, []byte(pwB+"\n"), 0o600)
	if code, out, errs := dxhubCLI(t, "", append([]string{"admin", "user", "add", "bob", "--tenant", agsB, "--password-file", pwFile}, common...)...); code != 0 {
		t.Fatalf("add bob: %d %s %s", code, out, errs)
	}
	code, out, _ := dxhubCLI(t, "", append([]string{"deadletter", "list", "--json"}, common...)...)
	var dls []store.DeadLetter
	if code != 0 || json.Unmarshal([]byte(out), &dls) != nil || len(dls) != 1 || dls[0].SubmissionID != subA {
		t.Fatalf("dead letters before the browser: %d %s", code, out)
	}

	// Run 2: the route is fixed, the hub restarted (sessions and dead
	// letters are in the store).
	hub.cmd.Process.Signal(syscall.SIGTERM)
	<-hub.done
	browserTestConfig(t, cfgPath, true)
	hub = startConfiguredHub(t, cfgPath, dataDir, addr)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/admin_browser.js")
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods, "BASE="+hub.base, "SUB_A="+subA, "TENANT_A="+agsA, "TENANT_B="+agsB,
		"USER_A=alice", "PASS_A="+pwA, "USER_B=bob", "PASS_B="+pwB, "ARTIFACTS="+artifacts, "CHROMIUM="+chromiumPath,
		"PROFILE_DIR="+filepath.Join(dir, "chromium-profiles"))
	var nodeOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &nodeOut, &nodeOut
	runErr := cmd.Run()
	t.Logf("browser script:\n%s", nodeOut.String())
	if runErr != nil {
		t.Fatalf("browser script failed: %v (screenshots in %s)", runErr, artifacts)
	}

	// What the browser did is in the store: delivered, dead letter resolved,
	// the retry audited under the account's name, the chain intact.
	if v := getStatus(t, hub.base, subA); v.Status != "delivered" {
		t.Fatalf("A after retry: %s %v", v.Status, v.history())
	}
	code, out, _ = dxhubCLI(t, "", append([]string{"deadletter", "list", "--json"}, common...)...)
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("open dead letters after retry: %s", out)
	}
	code, out, _ = dxhubCLI(t, "", append([]string{"audit", "list", "--json"}, common...)...)
	var entries []store.AuditEntry
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil {
		t.Fatalf("audit list: %d %s", code, out)
	}
	found := false
	for _, e := range entries {
		if e.Actor == "admin alice" && e.Action == "deadletter.retry" && e.SubmissionID == subA {
			found = true
		}
		if e.Actor == "admin bob" && e.SubmissionID == subA {
			t.Errorf("bob acted on A's submission: %+v", e)
		}
	}
	if !found {
		t.Fatalf("no audit entry for alice's retry: %s", out)
	}
	if code, out, errs := dxhubCLI(t, "", append([]string{"audit", "verify"}, common...)...); code != 0 {
		t.Fatalf("audit verify: %d %s %s", code, out, errs)
	}
	shots, _ := filepath.Glob(filepath.Join(artifacts, "*.png"))
	if len(shots) < 10 {
		t.Fatalf("%d screenshots in %s, want one per step", len(shots), artifacts)
	}
	for _, s := range shots {
		if b, err := os.ReadFile(s); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Fatalf("screenshot %s is not a PNG", s)
		}
	}
	t.Logf("%d screenshots in %s", len(shots), artifacts)
}
