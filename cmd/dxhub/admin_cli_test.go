package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/dxhub/dxhub/internal/store"
)

// runAdminCLI runs `dxhub admin …` in-process with stdin.
func runAdminCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	old := adminStdin
	adminStdin = strings.NewReader(stdin)
	defer func() { adminStdin = old }()
	return runCLI(t, append([]string{"admin"}, args...)...)
}

func TestAdminUserCommands(t *testing.T) {
	oldCost := adminPasswordCost
	adminPasswordCost = bcrypt.MinCost
	defer func() { adminPasswordCost = oldCost }()
	dir := t.TempDir()
	data := []string{"--data", dir}
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("from a file 12345\n"), 0o600)
	for _, c := range []struct {
		name      string
		stdin     string
		args      []string
		code      int
		out, errs string
	}{
		{"no subcommand", "", []string{"user"}, 2, "", "give a subcommand"},
		{"unknown", "", []string{"user", "rename", "x"}, 2, "", `unknown subcommand "rename"`},
		{"add without tenant", "long enough password\n", append([]string{"user", "add", "alice"}, data...), 2, "", "--tenant AGS"},
		{"bad name", "", append([]string{"user", "add", "Alice!", "--tenant", "05315000"}, data...), 2, "", "account name"},
		{"unknown tenant", "long enough password\n", append([]string{"user", "add", "alice", "--tenant", "09162000"}, data...), 2, "",
			"--tenant 09162000 is not a configured tenant (configured: 05315000)"},
		{"no password", "", append([]string{"user", "add", "alice", "--tenant", "05315000"}, data...), 1, "", "no password given"},
		{"short password", "short\n", append([]string{"user", "add", "alice", "--tenant", "05315000"}, data...), 1, "", "password too short"},
		{"add", "long enough password\n", append([]string{"user", "add", "alice", "--tenant", "05315000"}, data...), 0,
			"account alice added (tenants 05315000)", ""},
		{"add again", "long enough password\n", append([]string{"user", "add", "alice", "--tenant", "05315000"}, data...), 1, "",
			"an admin account of that name exists"},
		{"add global from file", "", append([]string{"user", "add", "staff", "--global", "--password-file", pwFile}, data...), 0,
			"account staff added (all tenants)", ""},
		{"passwd", "another long password\n", append([]string{"user", "passwd", "alice"}, data...), 0, "password of alice changed", ""},
		{"passwd unknown", "another long password\n", append([]string{"user", "passwd", "bob"}, data...), 1, "", "no admin account bob"},
		{"passwd with tenant", "", append([]string{"user", "passwd", "alice", "--tenant", "05315000"}, data...), 2, "", "for add only"},
		{"disable", "", append([]string{"user", "disable", "staff"}, data...), 0, "account staff disabled", ""},
		{"list", "", append([]string{"user", "list"}, data...), 0, "2 account(s)", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runAdminCLI(t, c.stdin, c.args...)
			if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errs, c.errs) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, c.code, out, errs)
			}
		})
	}
	code, out, _ := runAdminCLI(t, "", append([]string{"user", "list", "--json"}, data...)...)
	var users []store.AdminUser
	if code != 0 || json.Unmarshal([]byte(out), &users) != nil || len(users) != 2 {
		t.Fatalf("list --json: %d %s", code, out)
	}
	if strings.Contains(out, "$2a$") || strings.Contains(out, "password") {
		t.Fatalf("list shows password hashes: %s", out)
	}
	if users[0].Name != "alice" || users[0].Global || users[0].Tenants[0] != "05315000" || users[1].Name != "staff" ||
		!users[1].Global || users[1].DisabledAt.IsZero() {
		t.Fatalf("users = %+v", users)
	}
	// The stored hash is bcrypt of the changed password.
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "dxhub.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, _ := st.AdminUserByName(context.Background(), "alice")
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("another long password")) != nil {
		t.Fatal("passwd did not store the new password's hash")
	}
	// Each account change is in the audit log.
	entries, _ := st.AuditEntries(context.Background(), 0)
	var acts []string
	for _, e := range entries {
		acts = append(acts, e.Action+" "+e.Detail)
	}
	if strings.Join(acts, "|") != "admin.user.add alice (tenants 05315000)|admin.user.add staff (all tenants)|admin.user.passwd alice|admin.user.disable staff" {
		t.Fatalf("audit = %q", acts)
	}
}
