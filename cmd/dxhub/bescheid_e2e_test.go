package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xoev"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

// TestBescheidThroughBackChannel: the Fachverfahren fetches the Antrag over
// XTA and answers with a 1170 "Bescheid erteilt" carrying the Bescheid PDF;
// the citizen's (local) Postfach gets the German decision text with the PDF,
// downloadable by the submitting portal, byte for byte.
func TestBescheidThroughBackChannel(t *testing.T) {
	ctx := context.Background()
	h, srv := newTestHub(t, nil)

	var sample struct {
		Tenant, Service, Reference string
		Applicant                  routing.Applicant
		Form                       json.RawMessage
	}
	raw, _ := os.ReadFile("../../testdata/submissions/universeller-antrag.json")
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.store.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: "sub-b",
		PortalID: "demo-portal", Tenant: sample.Tenant, Service: sample.Service, Reference: sample.Reference,
		Applicant: sample.Applicant, Form: sample.Form, ReceivedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.pipeline.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	fv := xtatest.New(srv.URL, "ags:05315000", nil)
	fv.AttachmentDir = t.TempDir()
	list, err := fv.GetStatusList(ctx, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("status list %v %v", list, err)
	}
	m, err := fv.GetMessage(ctx, list[0].MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if err := fv.Close(ctx, list[0].MessageID); err != nil {
		t.Fatal(err)
	}
	ref, err := xoev.ParseInbound(m.Message)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := xoev.BuildStatus1170(ref.Header, "10", time.Time{}, xoev.Reply{Created: time.Now(), Reference: ref.Reference,
		CaseNumber: "63-2026-0815"})
	if err != nil {
		t.Fatal(err)
	}
	pdf := bytes.Repeat([]byte("%PDF-1.7 Baugenehmigung 63-2026-0815 "), 30000)
	meta := xta.MessageMeta{MessageID: "urn:de:xta:messageid:fachverfahren:" + doc.UUID, AuthorKey: "ags:05315000",
		AuthorType: "xoev", ReaderKey: ref.Header.AuthorKey, ReaderType: "xoev", Service: list[0].Service,
		BusinessScenario: list[0].BusinessScenario,
		MessageType:      xta.Code{Code: doc.RootElement, ListURI: "urn:de:payloadSchema:elementName", ListVersionID: "1.0"},
		PayloadSchema:    doc.Namespace, InReplyTo: []string{list[0].MessageID}}
	bescheid := xta.Content{ContentType: "application/pdf", ID: "bescheid-1", Filename: "Bescheid-63-2026-0815.pdf",
		Size: int64(len(pdf)), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(pdf)), nil }}
	if err := fv.SendMessage(ctx, meta, doc.XML, bescheid); err != nil {
		t.Fatal(err)
	}
	if n, err := h.dispatcher.RunOnce(ctx); err != nil || n == 0 {
		t.Fatalf("dispatch %d %v", n, err)
	}

	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+config.DemoAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	_, body := get("/v1/mailboxes/" + sample.Applicant.Mailbox + "/messages")
	var box struct{ Messages []store.PostfachMessage }
	if err := json.Unmarshal(body, &box); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var decided *store.PostfachMessage
	for i, msg := range box.Messages {
		if msg.Status == routing.StatusDecided {
			decided = &box.Messages[i]
		}
	}
	sum := sha256.Sum256(pdf)
	if decided == nil || len(decided.Attachments) != 1 || decided.Attachments[0].SHA256 != hex.EncodeToString(sum[:]) ||
		decided.Attachments[0].Filename != "Bescheid-63-2026-0815.pdf" || !bytes.Contains([]byte(decided.Body), []byte("im Anhang")) {
		t.Fatalf("Postfach = %s", body)
	}
	resp, file := get(fmt.Sprintf("/v1/mailboxes/%s/messages/%d/attachments/1", sample.Applicant.Mailbox, decided.ID))
	if resp.StatusCode != 200 || !bytes.Equal(file, pdf) {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(file))
	}
	sub, _ := h.store.GetSubmission(ctx, "sub-b")
	if sub.Status != routing.StatusDecided {
		t.Fatalf("status %s", sub.Status)
	}
}
