package main

import (
	"net/http"
	"testing"

	"github.com/dxhub/dxhub/config"
)

// TestAdminMounted: the embedded default serves the admin UI on the main
// listener; admin.enabled: false removes it.
func TestAdminMounted(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		_, srv := newTestHub(t, func(c *config.Config) { c.Admin.Enabled = enabled })
		resp, err := http.Get(srv.URL + "/admin/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusOK
		if !enabled {
			want = http.StatusNotFound
		}
		if resp.StatusCode != want || (enabled && resp.Header.Get("X-Frame-Options") != "DENY") {
			t.Fatalf("enabled=%v: %d %v", enabled, resp.StatusCode, resp.Header)
		}
	}
}
