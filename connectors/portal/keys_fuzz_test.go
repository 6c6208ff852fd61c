package portal

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzParseKeyID: any bearer token either is not shaped like a managed key
// or yields a 16-character base32 ID that is exactly the token's own.
func FuzzParseKeyID(f *testing.F) {
	g, _ := GenerateKey()
	for _, s := range []string{g.Secret, "demo-key", "dxhk_", "dxhk_aaaaaaaaaaaaaaaa_", g.Secret + "=", "dxhk_" + strings.Repeat("a", 16) + "_" + strings.Repeat("-", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := ParseKeyID(s)
		if !ok {
			return
		}
		if len(id) != 16 || !strings.HasPrefix(s, KeyPrefix+id+"_") || len(s) != len(KeyPrefix)+16+1+43 {
			t.Fatalf("ParseKeyID(%q) = %q", s, id)
		}
	})
}

// FuzzAuthorization: no Authorization header value makes authenticate
// panic or authenticate a portal without its key.
func FuzzAuthorization(f *testing.F) {
	g, _ := GenerateKey()
	for _, s := range []string{"Bearer " + keyA, "bearer " + g.Secret, "Bearer", "Basic abc", "Bearer  " + keyB + " ", ""} {
		f.Add(s)
	}
	keys := &memKeys{keys: map[string]ManagedKey{g.ID: {ID: g.ID, PortalID: "portal-a", Hash: g.Hash}}}
	e := newEnv(f, func(o *Options) { o.Keys = keys })
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest("GET", "/v1/submissions/x", nil)
		r.Header.Set("Authorization", v)
		p, prob := e.h.authenticate(r)
		if prob != nil {
			return
		}
		if !strings.Contains(v, keyA) && !strings.Contains(v, keyB) && !strings.Contains(v, g.Secret) {
			t.Fatalf("%q authenticated portal %s", v, p.ID)
		}
	})
}
