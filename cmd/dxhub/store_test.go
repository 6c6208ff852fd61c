package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/routing"
)

// TestStorePostgresBackend: with store.driver postgres (here from the
// environment) the hub's commands open the PostgreSQL database: data one
// command writes, the operator CLI reads and repairs. PostgreSQL is started
// by the test (testenv.StartPostgres, Debian's server binaries).
func TestStorePostgresBackend(t *testing.T) {
	// PostgreSQL-specific: runs whatever DXHUB_TEST_BACKENDS says (that
	// switch only narrows the store conformance suite); `make deps` installs
	// the server, and a missing one fails the test.
	ctx := context.Background()
	pg, err := testenv.StartPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			t.Error(err)
		}
	})
	t.Logf("started %s", pg)
	t.Setenv("DXHUB_STORE_DRIVER", "postgres")
	t.Setenv("DXHUB_STORE_DSN", pg.NewDatabase(t))
	t.Setenv("DXHUB_STORE_MAXCONNS", "4")
	t.Setenv("DXHUB_HUB_DATADIR", t.TempDir()) // holds no database: it must not be needed

	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Dialect() != store.DialectPostgres {
		t.Fatalf("dialect = %s", st.Dialect())
	}
	now := time.Now()
	if _, _, err := st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: "pg-1", PortalID: "demo-portal",
		Tenant: "05315000", Service: "universeller-antrag", Reference: "R1", Applicant: routing.Applicant{Name: "A"},
		Form: []byte(`{}`), ReceivedAt: now}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Terminate(ctx, "pg-1", routing.StatusEvent{Status: routing.StatusRejected, Time: now, Source: routing.SourceHub,
		Detail: "mapping failed"}, "mapping failed: no such field"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	code, out, errs := runCLI(t, "deadletter", "list")
	if code != 0 || !strings.Contains(out, "pg-1") || !strings.Contains(out, "mapping failed: no such field") {
		t.Fatalf("deadletter list on postgres: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := runCLI(t, "deadletter", "retry", "pg-1"); code != 0 || !strings.Contains(out, "stage received") {
		t.Fatalf("deadletter retry on postgres: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, _ := runCLI(t, "deadletter", "list"); code != 0 || !strings.Contains(out, "0 dead letter(s)") {
		t.Fatalf("list after retry: exit %d\n%s", code, out)
	}

	// A bad driver is named by check-config.
	t.Setenv("DXHUB_STORE_DRIVER", "oracle")
	if code, _, errs := runCLI(t, "check-config"); code != 1 || !strings.Contains(errs, "store.driver") {
		t.Fatalf("check-config with store.driver oracle: exit %d, %q", code, errs)
	}
}

// TestOpenExistingStoreSQLite: the repair commands never create a SQLite
// database where there is none.
func TestOpenExistingStoreSQLite(t *testing.T) {
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openExistingStore(context.Background(), cfg, t.TempDir()); err == nil ||
		!strings.Contains(err.Error(), "no hub database") {
		t.Fatalf("err = %v", err)
	}
}
