package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/internal/antivirus/clamdtest"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xta"
)

// postFile posts the sample submission with one attachment part and returns
// the response (body read).
func postFile(t *testing.T, base, filename, ctype string, file []byte) (*http.Response, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	js, _ := json.Marshal(readSample(t))
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="submission"`)
	h.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(h)
	pw.Write(js)
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file1"; filename=%q`, filename))
	h.Set("Content-Type", ctype)
	pw, _ = mw.CreatePart(h)
	pw.Write(file)
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/v1/submissions", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer demo-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func hardenProblem(t *testing.T, b []byte) (code, detail string) {
	t.Helper()
	var p struct{ Type, Code, Detail string }
	if err := json.Unmarshal(b, &p); err != nil || p.Type != "urn:dxhub:problem:"+p.Code {
		t.Fatalf("not a problem: %s", b)
	}
	return p.Code, p.Detail
}

// TestHardenedIntakeAntivirusAndRetention drives the wired hub: intake
// scanned by a real clamd (clean accepted, EICAR and a signature inside a PDF
// refused with 422, clamd down → 503 with Retry-After), a PDF carrying an
// executable refused, then the finished submission purged by `dxhub purge`
// while `dxhub trace` and the status API keep working and say so.
func TestHardenedIntakeAntivirusAndRetention(t *testing.T) {
	ctx := context.Background()
	// dxhub purge loads the embedded default: files written seconds ago
	// are to go at once here.
	t.Setenv("DXHUB_RETENTION_BLOBGRACE", "0s")
	av := clamdtest.Start(t, 1<<20)
	h, srv := newTestHub(t, func(c *config.Config) {
		c.XTA.Server.MaxControlBytes = 4 * config.KiB
		c.Antivirus.Clamd.Address = "unix:" + av.Socket
		c.Antivirus.Clamd.MaxStreamBytes = config.MiB
		c.Retention.Default = 30 * 24 * time.Hour
	})

	clean := []byte("%PDF-1.7\n% Lageplan\n%%EOF\n")
	resp, b := postFile(t, srv.URL, "lageplan.pdf", "application/pdf", clean)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("clean: %d %s", resp.StatusCode, b)
	}
	var acc struct{ ID string }
	json.Unmarshal(b, &acc)

	for _, tc := range []struct {
		name, filename, ctype string
		data                  []byte
		status                int
		code, detail          string
	}{
		{"EICAR", "eicar.txt", "text/plain", clamdtest.EICAR(), 422, "infected",
			`attachment "eicar.txt" contains malware: Eicar-Test-Signature.UNOFFICIAL`},
		{"signature in a PDF", "plan.pdf", "application/pdf", append([]byte("%PDF-1.7\n"), clamdtest.Marker...), 422, "infected",
			`attachment "plan.pdf" contains malware: Dxhub.Test.Marker.UNOFFICIAL`},
		{"PDF carrying an executable", "antrag.pdf", "application/pdf", []byte("MZ\x90\x00 this program cannot be run in DOS mode"), 422,
			"content-type-mismatch", `attachment "antrag.pdf" is declared as application/pdf but its content is a Windows executable (MZ)`},
		{"beyond antivirus.clamd.maxStreamBytes", "gross.pdf", "application/pdf", append([]byte("%PDF-1.7\n"), make([]byte, 1<<20)...), 413,
			"too-large", `attachment "gross.pdf" (1048585 bytes) cannot be scanned: attachment exceeds the virus scanner's size limit (1048585 bytes, antivirus.clamd.maxStreamBytes is 1048576)`},
	} {
		resp, b := postFile(t, srv.URL, tc.filename, tc.ctype, tc.data)
		code, detail := hardenProblem(t, b)
		if resp.StatusCode != tc.status || code != tc.code || detail != tc.detail {
			t.Errorf("%s: %d %s %q", tc.name, resp.StatusCode, code, detail)
		}
	}

	// xta.server.maxControlBytes reaches the built-in XTA server.
	big := `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><x>` +
		strings.Repeat("A", 5000) + `</x></s:Header><s:Body/></s:Envelope>`
	xr, err := http.Post(srv.URL+xta.PathMsgBox, "application/soap+xml; charset=utf-8", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	xb, _ := io.ReadAll(xr.Body)
	xr.Body.Close()
	if xr.StatusCode != 400 || !strings.Contains(string(xb), "<code>9023</code>") || !strings.Contains(string(xb), ">request exceeds the size limit<") {
		t.Fatalf("XTA control limit: %d %s", xr.StatusCode, xb)
	}

	// The accepted submission is delivered and decided.
	if _, err := h.pipeline.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.store.AppendEvent(ctx, acc.ID, routing.StatusEvent{Status: routing.StatusDecided, Time: time.Now(),
		Source: routing.SourceXOEV, Detail: "Bescheid erteilt"}); err != nil {
		t.Fatal(err)
	}
	sub, err := h.store.GetSubmission(ctx, acc.ID)
	if err != nil || sub.Status != routing.StatusDecided || len(sub.Attachments) != 1 {
		t.Fatalf("%+v %v", sub, err)
	}
	blobFile := filepath.Join(h.cfg.Hub.DataDir, "blobs")

	// Within retention.default nothing is purged.
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		n := 1 // command words before the flags
		if args[0] == "audit" {
			n = 2
		}
		full := append(append(append([]string{}, args[:n]...), "--data", h.cfg.Hub.DataDir), args[n:]...)
		code := run(ctx, full, &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := cli("purge", "--json")
	var rep store.PurgeReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Submissions != 0 || rep.DryRun {
		t.Fatalf("purge within retention: %d %s %s", code, out, errs)
	}
	// --before tomorrow: the dry run lists it, the purge deletes it.
	tomorrow := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	code, out, errs = cli("purge", "--dry-run", "--before", tomorrow)
	if code != 0 || !strings.HasPrefix(out, "dry run, nothing changed; would purge payloads of 1 submissions:") || !strings.Contains(out, acc.ID) {
		t.Fatalf("dry run: %d\n%s%s", code, out, errs)
	}
	code, out, errs = cli("purge", "--json", "--before", tomorrow)
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Submissions != 1 || rep.BlobsDeleted != 1 ||
		rep.AttachmentBytes != int64(len(clean)) || len(rep.Items) != 1 || rep.Items[0].SubmissionID != acc.ID {
		t.Fatalf("purge: %d %s %s", code, out, errs)
	}
	if f, err := os.Open(filepath.Join(blobFile, sub.Attachments[0].BlobKey[:2], sub.Attachments[0].BlobKey)); err == nil {
		f.Close()
		t.Fatal("blob file still there")
	}
	// The status API and trace still work and say so.
	req, _ := http.NewRequest("GET", srv.URL+"/v1/submissions/"+acc.ID, nil)
	req.Header.Set("Authorization", "Bearer demo-key")
	gr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var view struct {
		Status      string
		Attachments []routing.Attachment
		Events      []routing.StatusEvent
	}
	json.NewDecoder(gr.Body).Decode(&view)
	gr.Body.Close()
	last := view.Events[len(view.Events)-1]
	if gr.StatusCode != 200 || view.Status != "decided" || len(view.Attachments) != 1 ||
		!strings.HasPrefix(last.Detail, "payload purged (before ") {
		t.Fatalf("status API after purge: %d %+v", gr.StatusCode, view)
	}
	code, out, errs = cli("trace", acc.ID)
	if code != 0 || !strings.Contains(out, "payload purged  ") || !strings.Contains(out, "lageplan.pdf") {
		t.Fatalf("trace: %d\n%s%s", code, out, errs)
	}
	code, out, _ = cli("audit", "list", "--json")
	var entries []store.AuditEntry
	json.Unmarshal([]byte(out), &entries)
	found := false
	for _, e := range entries {
		found = found || (e.Action == "retention.purge" && strings.HasPrefix(e.Actor, "operator") && strings.Contains(e.Detail, "purged payloads of 1 submissions"))
	}
	if code != 0 || !found {
		t.Fatalf("audit: %s", out)
	}
	if code, out, errs := cli("purge", "--before", "yesterday"); code != 2 || out != "" ||
		errs != "dxhub purge: --before: \"yesterday\" is neither a date (2006-01-02) nor an RFC 3339 time\n" {
		t.Fatalf("bad --before: %d %q %q", code, out, errs)
	}

	// The retention job is scheduled (retention.default is set).
	jobs := cron.New()
	if err := h.scheduleRetention(ctx, jobs, time.Now); err != nil || len(jobs.Entries()) != 1 {
		t.Fatalf("retention job: %v, %d entries", err, len(jobs.Entries()))
	}

	// clamd down: fail closed.
	av.Stop(t)
	resp, b = postFile(t, srv.URL, "lageplan.pdf", "application/pdf", clean)
	code2, detail := hardenProblem(t, b)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "30" || code2 != "scanner-unavailable" ||
		detail != `attachment "lageplan.pdf" could not be scanned for malware; try again in 30 s` {
		t.Fatalf("clamd down: %d %q %s %q", resp.StatusCode, resp.Header.Get("Retry-After"), code2, detail)
	}
}

// limits.inbound reaches the back-channel parser the hub is wired with.
func TestInboundParserLimits(t *testing.T) {
	cfg := config.Default()
	cfg.Limits.Inbound.MaxDepth = 3
	if _, err := inboundParser(cfg).ParseInbound([]byte("<a><b><c><d/></c></b></a>")); err == nil ||
		err.Error() != "xoev: inbound: refused XML: element nesting deeper than 3" {
		t.Fatalf("inbound: %v", err)
	}
	if _, err := inboundParser(config.Default()).ParseInbound([]byte("<a><b><c><d/></c></b></a>")); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}
