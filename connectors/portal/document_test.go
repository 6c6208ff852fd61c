package portal

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestSubmitDocument: the transport-independent intake answers exactly like
// POST /v1/submissions, and shares its idempotency records with it.
func TestSubmitDocument(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	body := mustJSON(t, validDoc())
	tests := []struct {
		name    string
		doc     Document
		code    string
		status  int
		detail  string
		created bool
	}{
		{name: "api key", doc: Document{APIKey: keyA, IdempotencyKey: "d-1", Body: body}, created: true},
		{name: "replay", doc: Document{APIKey: keyA, IdempotencyKey: "d-1", Body: body}},
		{name: "portal id", doc: Document{PortalID: "portal-b", IdempotencyKey: "d-1", Body: body}, created: true},
		{name: "conflict", doc: Document{APIKey: keyA, IdempotencyKey: "d-1", Body: mustJSON(t, with("reference", "X"))},
			code: CodeIdempotencyConflict, status: 409, detail: `"d-1" was used before`},
		{name: "no credentials", doc: Document{Body: body}, code: CodeUnauthorized, status: 401, detail: "neither"},
		{name: "bad key", doc: Document{APIKey: "nope", Body: body}, code: CodeUnauthorized, status: 401, detail: "not valid"},
		{name: "unknown portal", doc: Document{PortalID: "portal-x", Body: body}, code: CodeUnauthorized, status: 401, detail: "portal-x"},
		{name: "bad idempotency key", doc: Document{APIKey: keyA, IdempotencyKey: strings.Repeat("k", 201), Body: body},
			code: CodeInvalidIdempotencyKey, status: 400, detail: "201 characters"},
		{name: "malformed", doc: Document{APIKey: keyA, Body: []byte(`{"tenant":`)}, code: CodeMalformedJSON, status: 400},
		{name: "forbidden tenant", doc: Document{APIKey: keyA, Body: mustJSON(t, with("tenant", "11000000"))},
			code: CodeForbiddenTenant, status: 403, detail: "portal portal-a may not submit for tenant 11000000"},
		{name: "too large", doc: Document{APIKey: keyA, Body: mustJSON(t, with("reference", strings.Repeat("r", 20<<10)))},
			code: CodeTooLarge, status: 413},
		{name: "attachments refused", doc: Document{APIKey: keyA, NoAttachments: true, Body: mustJSON(t, with("attachments",
			[]any{map[string]any{"filename": "a.txt", "content": "aGVsbG8="}}))}, code: CodeInvalidField, status: 422,
			detail: "does not accept attachments"},
		{name: "attachments allowed", doc: Document{APIKey: keyA, Body: mustJSON(t, with("attachments",
			[]any{map[string]any{"filename": "a.txt", "content": "aGVsbG8="}}))}, created: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub, created, p := e.h.SubmitDocument(ctx, tc.doc)
			if tc.code != "" {
				if p == nil || p.Code != tc.code || p.Status != tc.status || !strings.Contains(p.Detail, tc.detail) {
					t.Fatalf("problem %+v; want %s %d %q", p, tc.code, tc.status, tc.detail)
				}
				return
			}
			if p != nil || created != tc.created || sub.ID == "" {
				t.Fatalf("sub %s created %v problem %v", sub.ID, created, p)
			}
		})
	}
	if n := e.store.count(); n != 3 {
		t.Fatalf("%d submissions; want 3", n)
	}
	if n := len(e.accepted); n != 3 {
		t.Fatalf("OnAccepted called %d times; want 3 (new submissions only)", n)
	}
	// An HTTP re-post with the same key and bytes is a replay of the document.
	resp := e.request("POST", "/v1/submissions", keyA, bytes.NewReader(body), "application/json", map[string]string{"Idempotency-Key": "d-1"})
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("HTTP replay: %d %v", resp.StatusCode, resp.Header)
	}
}
