package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/dxhub/dxhub/routing"
)

// BenchmarkSubmissionsPage measures one page of a tenant's submission list
// (50 of 1,000 rows, SQLite): session lookup, the tenant-filtered query with
// its count, and rendering, over HTTP on 127.0.0.1.
func BenchmarkSubmissionsPage(b *testing.B) {
	benchPage(b, "/admin/t/"+agsA+"/submissions")
}

// BenchmarkSubmissionDetail measures a submission's detail page (trace with
// history, messages, delivery, attempts; one audit entry per view).
func BenchmarkSubmissionDetail(b *testing.B) {
	benchPage(b, "/admin/t/"+agsA+"/submissions/dl-a")
}

func benchPage(b *testing.B, path string) {
	e := newEnv(b)
	ctx := context.Background()
	for i := range 1000 {
		if _, _, err := e.st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: fmt.Sprintf("bench-%04d", i),
			PortalID: "portal", Tenant: agsA, Service: "universeller-antrag", Reference: fmt.Sprintf("REF-%d", i),
			Applicant: routing.Applicant{Name: "A"}, Form: []byte(`{}`), ReceivedAt: e.clock.Now()}}); err != nil {
			b.Fatal(err)
		}
	}
	br := e.browser()
	br.mustLogin("alice", pwA)
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	b.ResetTimer()
	for b.Loop() {
		if r := br.do(req); r.code != 200 {
			b.Fatalf("%s: %d", path, r.code)
		}
	}
}
