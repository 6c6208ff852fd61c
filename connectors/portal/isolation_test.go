package portal

// Tenant isolation suite of the portal API (issue 9): portal A cannot read,
// list or guess portal B's submissions, cannot reach them through an
// idempotency-key replay, and foreign IDs are answered exactly like unknown
// ones (404, never 403). Run it with
//
//	go test -run TestIsolation ./connectors/portal
//
// The Fachverfahren side (XTA mailbox) is in connectors/xtabox/isolation_test.go.

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestIsolationPortalCannotReadOthersSubmissions(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.NewID = nil }) // the production ID generator
	body, ct := buildMultipart(t, submissionPart(t, with("reference", "B-geheim-4711")),
		mpart{name: "f", filename: "bauplan-b.pdf", ctype: "application/pdf", body: []byte("%PDF-1.4 B")})
	b, _ := expectAccepted(t, e.request(http.MethodPost, "/v1/submissions", keyB, bytes.NewReader(body), ct,
		map[string]string{"Idempotency-Key": "shared-key-1"}))
	a, _ := expectAccepted(t, e.postJSON(keyA, mustJSON(t, validDoc()), nil))

	notFound := func(t *testing.T, resp *http.Response, id string) string {
		t.Helper()
		raw := readAll(t, resp)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d, want 404: %s", resp.StatusCode, raw)
		}
		for _, secret := range []string{"B-geheim-4711", "bauplan-b.pdf", "portal-b"} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Fatalf("the answer leaks %q: %s", secret, raw)
			}
		}
		resp.Body = http.NoBody
		return strings.ReplaceAll(string(raw), id, "ID")
	}

	t.Run("status GET of B's submission", func(t *testing.T) {
		_, resp := e.get(keyA, b.ID)
		foreign := notFound(t, resp, b.ID)
		unknown := uuid.Must(uuid.NewV7()).String()
		_, resp = e.get(keyA, unknown)
		if other := notFound(t, resp, unknown); other != foreign {
			t.Fatalf("a foreign ID is distinguishable from an unknown one:\n%s\n%s", foreign, other)
		}
	})
	t.Run("attachments and events are only in the own view", func(t *testing.T) {
		own, resp := e.get(keyB, b.ID)
		if resp.StatusCode != 200 || len(own.Attachments) != 1 || len(own.Events) == 0 {
			t.Fatalf("B's own view: %d %+v", resp.StatusCode, own)
		}
		aView, _ := e.get(keyA, a.ID)
		for _, att := range aView.Attachments {
			if att.Filename == "bauplan-b.pdf" {
				t.Fatal("B's attachment in A's view")
			}
		}
		for _, ev := range aView.Events {
			if strings.Contains(ev.Detail, "portal-b") || strings.Contains(ev.Evidence, "B-geheim") {
				t.Fatalf("B's event in A's history: %+v", ev)
			}
		}
	})
	t.Run("no listing", func(t *testing.T) {
		for _, path := range []string{"/v1/submissions", "/v1/submissions/", "/v1/submissions?portal=portal-b", "/v1/submissions/" + b.ID + "/events",
			"/v1/submissions/" + b.ID + "/attachments/1"} {
			resp := e.request(http.MethodGet, path, keyA, nil, "", nil)
			raw := readAll(t, resp)
			if resp.StatusCode < 400 || bytes.Contains(raw, []byte(b.ID)) || bytes.Contains(raw, []byte("B-geheim")) {
				t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
			}
		}
	})
	t.Run("guessing neighbouring IDs", func(t *testing.T) {
		// The IDs are UUIDv7: 48 bits of milliseconds, then 74 bits of which
		// 62 come from crypto/rand. Knowing B's ID and the time gives nothing.
		id := uuid.MustParse(b.ID)
		if id.Version() != 7 || id.Variant() != uuid.RFC4122 {
			t.Fatalf("submission ID %s is not a UUIDv7", b.ID)
		}
		for _, delta := range []byte{1, 2, 0x80} {
			g := id
			g[15] ^= delta
			_, resp := e.get(keyA, g.String())
			notFound(t, resp, g.String())
		}
		// random bits differ between IDs issued in the same millisecond
		seen := map[[8]byte]bool{}
		for range 1000 {
			u := uuid.Must(uuid.NewV7())
			var r [8]byte
			copy(r[:], u[8:])
			r[0] &= 0x3f // variant bits
			if seen[r] {
				t.Fatal("two IDs share their random part")
			}
			seen[r] = true
		}
	})
	t.Run("idempotency-key replay from another portal", func(t *testing.T) {
		// A re-uses B's Idempotency-Key with B's exact body: it must get a
		// new submission of its own, never B's 202.
		resp := e.request(http.MethodPost, "/v1/submissions", keyA, bytes.NewReader(body), ct,
			map[string]string{"Idempotency-Key": "shared-key-1"})
		// the body names tenant 05315000, which both portals may use
		got, _ := expectAccepted(t, resp)
		if got.ID == b.ID || resp.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("A's post with B's idempotency key answered with B's submission %s", b.ID)
		}
		// and B's own replay still answers with B's submission
		resp = e.request(http.MethodPost, "/v1/submissions", keyB, bytes.NewReader(body), ct,
			map[string]string{"Idempotency-Key": "shared-key-1"})
		again, _ := expectAccepted(t, resp)
		if again.ID != b.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("B's replay: %s, want %s", again.ID, b.ID)
		}
		// A's conflicting body under the key is A's conflict, not B's
		resp = e.postJSON(keyA, mustJSON(t, validDoc()), map[string]string{"Idempotency-Key": "shared-key-1"})
		if p := decodeProblem(t, resp); p.Code != CodeIdempotencyConflict || strings.Contains(p.Detail, b.ID) {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("submitting for a tenant outside the portal's is 403", func(t *testing.T) {
		resp := e.postJSON(keyA, mustJSON(t, with("tenant", "11000000")), nil) // B's tenant only
		if p := decodeProblem(t, resp); resp.StatusCode != 403 || p.Code != CodeForbiddenTenant {
			t.Fatalf("%d %+v", resp.StatusCode, p)
		}
	})
}
