package portal

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/internal/testpki"
	"github.com/dxhub/dxhub/routing"
)

// memKeys is an in-memory KeyStore counting touches.
type memKeys struct {
	mu      sync.Mutex
	keys    map[string]ManagedKey
	touches []string
	fail    error
}

func (m *memKeys) LookupKey(_ context.Context, id string) (ManagedKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return ManagedKey{}, m.fail
	}
	k, ok := m.keys[id]
	if !ok {
		return ManagedKey{}, fmt.Errorf("key %s: %w", id, routing.ErrNotFound)
	}
	return k, nil
}

func (m *memKeys) TouchKey(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.touches = append(m.touches, id+"@"+at.Format(time.TimeOnly))
	return nil
}

func (m *memKeys) add(t *testing.T, portalID string, mod func(*ManagedKey)) string {
	t.Helper()
	g, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k := ManagedKey{ID: g.ID, PortalID: portalID, Hash: g.Hash}
	if mod != nil {
		mod(&k)
	}
	m.mu.Lock()
	m.keys[g.ID] = k
	m.mu.Unlock()
	return g.Secret
}

func TestGenerateAndParseKey(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		g, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		id, ok := ParseKeyID(g.Secret)
		if !ok || id != g.ID || !strings.HasPrefix(g.Secret, g.Prefix+"_") || len(g.Secret) != 5+16+1+43 ||
			g.Hash != HashKey(g.Secret) || seen[g.ID] || seen[g.Secret] {
			t.Fatalf("%+v: parsed %q %v", g, id, ok)
		}
		seen[g.ID], seen[g.Secret] = true, true
	}
	g, _ := GenerateKey()
	for _, bad := range []string{"", "demo-key", "dxhk_", "dxhk_" + g.ID, g.Secret + "x", g.Secret[:len(g.Secret)-1],
		strings.ToUpper(g.Secret[:21]) + g.Secret[21:], strings.Replace(g.Secret, "_", "-", 2), g.Secret[:len(g.Secret)-1] + "="} {
		if _, ok := ParseKeyID(bad); ok {
			t.Errorf("ParseKeyID(%q) accepted", bad)
		}
	}
}

func TestManagedKeys(t *testing.T) {
	keys := &memKeys{keys: map[string]ManagedKey{}}
	now := testNow
	var clockMu sync.Mutex
	e := newEnv(t, func(o *Options) {
		o.Keys = keys
		o.Now = func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	})
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }

	full := keys.add(t, "portal-a", nil)
	scoped := keys.add(t, "portal-a", func(k *ManagedKey) { k.Tenants = []string{"09162000"} })
	expired := keys.add(t, "portal-a", func(k *ManagedKey) { k.ExpiresAt = testNow.Add(-time.Second); k.ReplacedBy = "abcdefghijklmnop" })
	grace := keys.add(t, "portal-a", func(k *ManagedKey) { k.ExpiresAt = testNow.Add(time.Hour) })
	revoked := keys.add(t, "portal-a", func(k *ManagedKey) { k.RevokedAt = testNow.Add(-time.Hour); k.RevokedReason = "leaked" })
	orphan := keys.add(t, "portal-gone", nil)
	wrongSecret := full[:len(full)-2] + "AA"
	if wrongSecret == full {
		wrongSecret = full[:len(full)-2] + "BB"
	}

	// portal-a submits with its configured key for both tenants
	subKoeln, _ := expectAccepted(t, e.postJSON(keyA, mustJSON(t, validDoc()), nil))
	subMuc, _ := expectAccepted(t, e.postJSON(keyA, mustJSON(t, with("tenant", "09162000")), nil))

	for _, c := range []struct {
		name, key, method, id string
		doc                   map[string]any
		status                int
		code, detail          string
	}{
		{"full key submits", full, "POST", "", validDoc(), 202, "", ""},
		{"full key reads", full, "GET", subKoeln.ID, nil, 200, "", ""},
		{"scoped key submits in scope", scoped, "POST", "", with("tenant", "09162000"), 202, "", ""},
		{"scoped key reads in scope", scoped, "GET", subMuc.ID, nil, 200, "", ""},
		{"scoped key submits out of scope", scoped, "POST", "", validDoc(), 403, CodeForbiddenTenant,
			"is limited to tenants 09162000; it may not submit for tenant 05315000"},
		{"scoped key reads out of scope", scoped, "GET", subKoeln.ID, nil, 403, CodeForbiddenTenant,
			"is limited to tenants 09162000; it may not read submissions of tenant 05315000"},
		{"portal lacks tenant", full, "POST", "", with("tenant", "11000000"), 403, CodeForbiddenTenant,
			"portal portal-a may not submit for tenant 11000000"},
		{"rotated key in grace period", grace, "GET", subKoeln.ID, nil, 200, "", ""},
		{"expired", expired, "GET", subKoeln.ID, nil, 401, CodeKeyExpired, "expired at 2025-03-14T09:26:52Z; it was rotated: use its successor dxhk_abcdefghijklmnop"},
		{"revoked", revoked, "POST", "", validDoc(), 401, CodeKeyRevoked, "was revoked at 2025-03-14T08:26:53Z"},
		{"wrong secret", wrongSecret, "GET", subKoeln.ID, nil, 401, CodeUnauthorized, "the API key is not valid"},
		{"unknown managed key", "dxhk_aaaaaaaaaaaaaaaa_" + strings.Repeat("A", 43), "GET", subKoeln.ID, nil, 401, CodeUnauthorized, "the API key is not valid"},
		{"portal not configured", orphan, "GET", subKoeln.ID, nil, 401, CodeUnauthorized, "belongs to portal portal-gone, which is not configured"},
		{"other portal's config key", keyB, "GET", subKoeln.ID, nil, 404, CodeNotFound, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var resp *http.Response
			if c.method == "POST" {
				resp = e.postJSON(c.key, mustJSON(t, c.doc), nil)
			} else {
				_, resp = e.get(c.key, c.id)
			}
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, readAll(t, resp))
			}
			if c.code == "" {
				return
			}
			p := decodeProblem(t, resp)
			if p.Code != c.code || !strings.Contains(p.Detail, c.detail) {
				t.Fatalf("problem %s %q, want %s containing %q", p.Code, p.Detail, c.code, c.detail)
			}
			if c.status == 401 && c.code != CodeUnauthorized && !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
				t.Fatalf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
			if strings.Contains(p.Detail, c.key) {
				t.Fatalf("the problem echoes the key: %q", p.Detail)
			}
		})
	}

	// the grace key stops working when its time is up
	advance(time.Hour)
	if _, resp := e.get(grace, subKoeln.ID); resp.StatusCode != 401 || decodeProblem(t, resp).Code != CodeKeyExpired {
		t.Fatalf("grace key after expiry: %d", resp.StatusCode)
	}

	// last use is recorded at most once a minute per key
	keys.mu.Lock()
	n := len(keys.touches)
	keys.mu.Unlock()
	if n != 3 { // full, scoped, grace (first use of each)
		t.Fatalf("touches = %v", keys.touches)
	}
	e.get(full, subKoeln.ID) // an hour later: recorded
	e.get(full, subKoeln.ID) // same minute: not
	advance(time.Minute)
	e.get(full, subKoeln.ID) // a minute later: recorded
	keys.mu.Lock()
	if len(keys.touches) != 5 || keys.touches[3] != keys.touches[0][:16]+"@10:26:53" || keys.touches[4] != keys.touches[0][:16]+"@10:27:53" {
		t.Errorf("touches = %v", keys.touches)
	}
	keys.mu.Unlock()

	// a failing key store is the hub's failure, not the key's
	keys.mu.Lock()
	keys.fail = errors.New("database down")
	keys.mu.Unlock()
	if _, resp := e.get(full, subKoeln.ID); resp.StatusCode != 500 {
		t.Fatalf("key store down: %d", resp.StatusCode)
	}
	// configured keys do not need the key store... unless they look managed
	if _, resp := e.get(keyA, subKoeln.ID); resp.StatusCode != 200 {
		t.Fatalf("configured key with the key store down: %d", resp.StatusCode)
	}
}

func TestConfiguredKeyKeptOnlyHashed(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Portals = append(o.Portals, Portal{ID: "portal-h", APIKeyHash: sha256.Sum256([]byte("hashed-only-key-42")), Tenants: []string{"05315000"}})
	})
	for _, p := range e.h.portals {
		if p.APIKey != "" {
			t.Fatalf("portal %s keeps its plaintext key", p.ID)
		}
	}
	a, _ := expectAccepted(t, e.postJSON("hashed-only-key-42", mustJSON(t, validDoc()), nil))
	if _, resp := e.get("hashed-only-key-42", a.ID); resp.StatusCode != 200 {
		t.Fatalf("GET with hashed key: %d", resp.StatusCode)
	}
}

func TestAuditAccess(t *testing.T) {
	var (
		mu   sync.Mutex
		got  []Access
		fail error
	)
	keys := &memKeys{keys: map[string]ManagedKey{}}
	e := newEnv(t, func(o *Options) {
		o.Keys = keys
		o.AuditAccess = func(_ context.Context, a Access) error {
			mu.Lock()
			defer mu.Unlock()
			if fail != nil {
				return fail
			}
			got = append(got, a)
			return nil
		}
	})
	managed := keys.add(t, "portal-a", nil)
	a, _ := expectAccepted(t, e.postJSON(keyA, mustJSON(t, validDoc()), nil))
	e.get(keyA, a.ID)
	e.get(managed, a.ID)
	e.get(keyB, a.ID)        // foreign: 404, nothing served, nothing recorded
	e.get(keyA, "unknown-1") // unknown: same
	mu.Lock()
	if len(got) != 2 || got[0] != (Access{PortalID: "portal-a", Credential: "configured key", Action: "submission.read", SubmissionID: a.ID}) ||
		!strings.HasPrefix(got[1].Credential, "key dxhk_") || got[1].SubmissionID != a.ID {
		t.Fatalf("audit = %+v", got)
	}
	fail = errors.New("audit log unavailable")
	mu.Unlock()
	_, resp := e.get(keyA, a.ID)
	b := readAll(t, resp)
	if resp.StatusCode != 500 || strings.Contains(string(b), "xbau-bauantrag") {
		t.Fatalf("unaudited read served: %d %s", resp.StatusCode, b)
	}
}

// mtlsEnv serves the handler over real TLS (ServerTLSConfig) on 127.0.0.1.
func mtlsEnv(t *testing.T, ca *testpki.CA, mod func(*Options)) (*env, *testpki.Leaf) {
	t.Helper()
	e := newEnv(t, mod)
	e.srv.Close()
	srvCert := ca.Server(t, "localhost")
	cfg, err := ServerTLSConfig(srvCert.CertFile, srvCert.KeyFile, ca.Pool())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.h.Register(mux)
	e.srv = httptest.NewUnstartedServer(mux)
	e.srv.TLS = cfg
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	return e, srvCert
}

func tlsClient(ca *testpki.CA, cert *testpki.Leaf, maxVersion uint16) *http.Client {
	cfg := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS10, MaxVersion: maxVersion}
	if cert != nil {
		// sent whatever CAs the server names, as a misconfigured or
		// hostile client would
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

func TestPortalMTLS(t *testing.T) {
	ca := testpki.NewCA(t, "portal-ca")
	otherCA := testpki.NewCA(t, "other-ca")
	certA := ca.Client(t, "portal-a.example")
	certC := ca.Client(t, "portal-c.example")
	certStranger := ca.Client(t, "stranger.example")
	certForeignA := otherCA.Client(t, "portal-a.example")
	// portal-b's certificate rule pins the fingerprint of a certificate with
	// portal-a's subject: the CN alone must not be enough.
	certB := ca.Client(t, "portal-a.example")
	expired := ca.ExpiredClient(t, "portal-c.example")
	e, _ := mtlsEnv(t, ca, func(o *Options) {
		o.Now = time.Now // certificates are checked against the real time
		o.Portals[0].ClientCert = &ClientCert{SubjectCN: "portal-a.example", Roots: ca.Pool()}
		o.Portals[1].ClientCert = &ClientCert{Fingerprint: fingerprint(certB), Roots: ca.Pool()}
		o.Portals = append(o.Portals, Portal{ID: "portal-c", Tenants: []string{"05315000"},
			ClientCert: &ClientCert{SubjectCN: "portal-c.example", Roots: ca.Pool(), Alone: true}})
		// portal-d's certificates come from another CA (which the listener
		// does not know here): portal-a's certificate, with the same CN, is
		// not portal-d's
		o.Portals = append(o.Portals, Portal{ID: "portal-d", APIKey: "key-d-5555555555", Tenants: []string{"05315000"},
			ClientCert: &ClientCert{SubjectCN: "portal-a.example", Roots: otherCA.Pool()}})
	})
	doc := mustJSON(t, validDoc())
	for _, c := range []struct {
		name   string
		key    string
		cert   *testpki.Leaf
		status int
		code   string
		detail string
	}{
		{"key and certificate", keyA, certA, 202, "", ""},
		{"key without certificate", keyA, nil, 401, CodeClientCertRequired, "portal portal-a must present its TLS client certificate"},
		{"key with another portal's certificate", keyA, certC, 401, CodeClientCertRequired, "subject CN \"portal-c.example\" is not the configured one"},
		{"fingerprint pinned: same CN, other certificate", keyB, certA, 401, CodeClientCertRequired, "fingerprint is not the configured one"},
		{"fingerprint pinned: the certificate", keyB, certB, 202, "", ""},
		{"right CN, wrong CA", "key-d-5555555555", certA, 401, CodeClientCertRequired, "does not verify against the portal's CA"},
		{"certificate alone where allowed", "", certC, 202, "", ""},
		{"certificate alone where not allowed", "", certA, 401, CodeUnauthorized, "authenticates no portal on its own"},
		{"unknown certificate alone", "", certStranger, 401, CodeUnauthorized, "authenticates no portal on its own"},
		{"nothing", "", nil, 401, CodeUnauthorized, "missing Authorization header"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/submissions", strings.NewReader(string(doc)))
			req.Header.Set("Content-Type", "application/json")
			if c.key != "" {
				req.Header.Set("Authorization", "Bearer "+c.key)
			}
			resp, err := tlsClient(ca, c.cert, 0).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, readAll(t, resp))
			}
			if c.code != "" {
				if p := decodeProblem(t, resp); p.Code != c.code || !strings.Contains(p.Detail, c.detail) {
					t.Fatalf("problem %s %q, want %s containing %q", p.Code, p.Detail, c.code, c.detail)
				}
			}
		})
	}
	// certificates the listener does not trust never reach the handler
	for name, cert := range map[string]*testpki.Leaf{"other CA": certForeignA, "expired": expired} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/healthz", nil)
		resp, err := tlsClient(ca, cert, 0).Do(req)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: the handshake with an untrusted client certificate succeeded (%d)", name, resp.StatusCode)
		}
	}
}

func TestTLSMinimumVersion(t *testing.T) {
	ca := testpki.NewCA(t, "portal-ca")
	e, _ := mtlsEnv(t, ca, nil)
	for _, c := range []struct {
		name string
		max  uint16
		ok   bool
	}{{"TLS 1.0", tls.VersionTLS10, false}, {"TLS 1.1", tls.VersionTLS11, false}, {"TLS 1.2", tls.VersionTLS12, true}, {"TLS 1.3", tls.VersionTLS13, true}} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := tlsClient(ca, nil, c.max).Get(e.srv.URL + "/healthz")
			if c.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
			if err == nil {
				resp.Body.Close()
				if resp.TLS.Version < tls.VersionTLS12 {
					t.Fatalf("negotiated %x", resp.TLS.Version)
				}
			} else if !strings.Contains(err.Error(), "protocol version") {
				t.Fatalf("refused for another reason: %v", err)
			}
		})
	}
}

func fingerprint(l *testpki.Leaf) string {
	sum := sha256.Sum256(l.Cert.Raw)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// BenchmarkAuthenticate is the handler's cost of finding the portal of a
// request: a configured key (SHA-256, constant-time compare with every
// configured key; 50 portals) and a managed key (parse, key store lookup
// — in memory here —, SHA-256, scope).
func BenchmarkAuthenticate(b *testing.B) {
	keys := &memKeys{keys: map[string]ManagedKey{}}
	opts := testOptions()
	for i := range 48 {
		opts.Portals = append(opts.Portals, Portal{ID: fmt.Sprintf("p%02d", i), APIKey: fmt.Sprintf("key-%02d-0123456789", i), Tenants: []string{"05315000"}})
	}
	opts.Keys = keys
	h, err := New(newFakeStore(), benchBlobs(b), opts)
	if err != nil {
		b.Fatal(err)
	}
	g, _ := GenerateKey()
	keys.keys[g.ID] = ManagedKey{ID: g.ID, PortalID: "portal-a", Hash: g.Hash, Tenants: []string{"09162000"}}
	for name, key := range map[string]string{"configured": "key-47-0123456789", "managed": g.Secret} {
		b.Run(name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/v1/submissions/x", nil)
			r.Header.Set("Authorization", "Bearer "+key)
			for b.Loop() {
				if _, p := h.authenticate(r); p != nil {
					b.Fatal(p)
				}
			}
		})
	}
}

func benchBlobs(b *testing.B) *blob.Store {
	bs, err := blob.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return bs
}

func TestAuthorizeAccess(t *testing.T) {
	keys := &memKeys{keys: map[string]ManagedKey{}}
	var got []Access
	e := newEnv(t, func(o *Options) {
		o.Keys = keys
		o.AuditAccess = func(_ context.Context, a Access) error { got = append(got, a); return nil }
	})
	full := keys.add(t, "portal-b", nil)
	scoped := keys.add(t, "portal-b", func(k *ManagedKey) { k.Tenants = []string{"11000000"} })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/mailboxes/{handle}/messages", func(w http.ResponseWriter, r *http.Request) {
		id, ok := e.h.AuthorizeAccess("postfach.list", func(r *http.Request) string { return "mailbox " + r.PathValue("handle") })(w, r)
		if ok {
			fmt.Fprint(w, id)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, c := range []struct {
		key    string
		status int
		body   string
	}{
		{keyB, 200, "portal-b"},
		{full, 200, "portal-b"},
		{scoped, 403, "is limited to tenants 11000000 and cannot use /v1/mailboxes/bk-1/messages"},
		{"wrong", 401, CodeUnauthorized},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/mailboxes/bk-1/messages", nil)
		req.Header.Set("Authorization", "Bearer "+c.key)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := readAll(t, resp)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(b), c.body) {
			t.Errorf("%d %s; want %d containing %q", resp.StatusCode, b, c.status, c.body)
		}
	}
	if len(got) != 2 || got[0].Action != "postfach.list" || got[0].Detail != "mailbox bk-1" || got[0].Credential != "configured key" ||
		!strings.HasPrefix(got[1].Credential, "key dxhk_") {
		t.Fatalf("audit = %+v", got)
	}
}
