package config

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"
)

func TestAdminValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Admin)
		want   []string
	}{
		{name: "defaults", mutate: func(*Admin) {}},
		{name: "disabled ignores the rest", mutate: func(a *Admin) { *a = Admin{} }},
		{name: "non-positive durations", mutate: func(a *Admin) {
			a.SessionIdle, a.SessionMaxAge, a.LoginWindow, a.LoginLockout = 0, -time.Second, 0, 0
		}, want: []string{"admin.loginLockout", "admin.loginWindow", "admin.sessionIdle", "admin.sessionMaxAge"}},
		{name: "idle longer than max age", mutate: func(a *Admin) { a.SessionIdle, a.SessionMaxAge = 2*time.Hour, time.Hour },
			want: []string{"admin.sessionIdle"}},
		{name: "no failures allowed", mutate: func(a *Admin) { a.LoginMaxFailures = 0 }, want: []string{"admin.loginMaxFailures"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c.Admin)
			var got []string
			for _, fe := range FieldErrors(c.Validate()) {
				got = append(got, fe.Key)
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("problem keys = %v, want %v (%v)", got, tc.want, c.Validate())
			}
		})
	}
}

func TestAdminFromFileAndEnv(t *testing.T) {
	if !Default().Admin.Enabled {
		t.Fatal("the admin UI is off in the embedded default")
	}
	def, _ := os.ReadFile("default.yaml")
	p := filepath.Join(t.TempDir(), "dxhub.yaml")
	if err := os.WriteFile(p, append(def, []byte("\nadmin:\n  enabled: false\n  sessionIdle: 10m\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DXHUB_ADMIN_LOGINMAXFAILURES", "7")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Enabled || c.Admin.SessionIdle != 10*time.Minute || c.Admin.SessionMaxAge != 12*time.Hour || c.Admin.LoginMaxFailures != 7 {
		t.Fatalf("admin = %+v", c.Admin)
	}
}
