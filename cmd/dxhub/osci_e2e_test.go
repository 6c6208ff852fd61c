package main

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/robfig/cron/v3"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/dvdv/dvdvtest"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/osci"
	"github.com/dxhub/dxhub/osci/oscitest"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xoev"
)

// TestOSCIDeliveryRoutedByDVDV: the DVDV (dvdvtest) names an OSCI addressee
// and intermediary for Köln; the submission is stored at the intermediary
// (oscitest) signed by the hub and encrypted for Köln's cipher certificate;
// the simulated addressee fetches and decrypts it with its key; the
// Laufzettel poll moves the submission to fetched; Köln's 1120 receipt,
// placed in the hub's OSCI mailbox, becomes a status event. Every order the
// hub sent and every response the intermediary returned is schema-valid.
func TestOSCIDeliveryRoutedByDVDV(t *testing.T) {
	ctx := context.Background()
	std := testenv.MustStandardsDir(t)
	dir := t.TempDir()
	now := time.Now()
	keys := map[string]*rsa.PrivateKey{}
	certs := map[string]*x509.Certificate{}
	for _, n := range []string{"hub", "hub-osci-sig", "hub-osci-enc", "koeln-cipher", "intermediary-cipher"} {
		k, err := dvdvtest.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		keys[n] = k
		if certs[n], err = dvdvtest.NewCertificate(n, now.Add(-time.Hour), now.Add(24*time.Hour), k); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][2]string{}
	for n := range certs {
		cf, kf := filepath.Join(dir, n+".crt"), filepath.Join(dir, n+".key")
		writePEM(t, cf, "CERTIFICATE", certs[n].Raw)
		writePEM(t, kf, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(keys[n]))
		files[n] = [2]string{cf, kf}
	}

	// The intermediary.
	inter, err := oscitest.Start(oscitest.Options{Identity: osci.Identity{Key: keys["intermediary-cipher"], Cert: certs["intermediary-cipher"]}})
	if err != nil {
		t.Fatal(err)
	}
	defer inter.Close()

	// The DVDV: Köln's service is reached over OSCI through the intermediary.
	const service = "urn:xoev-de:xbau-kernmodul:universellerAntrag"
	d := &dvdvtest.Directory{Organizations: []dvdvtest.Organization{
		{Name: "dxhub", Category: "Kommunalportal", Keys: []string{"kop:0500000001"}, ClientCertificates: []string{"hub"}},
		{Name: "Stadt Köln", Category: "Bauaufsicht", Keys: []string{"ags:05315000"}, Services: []dvdvtest.Service{{
			URI: service, Name: "antrag", Elements: []dvdvtest.Element{
				{Type: dvdv.ElementOSCIAddressee, Name: "Bauaufsicht Köln", URI: "https://fv.koeln.example/osci", CipherCertificate: "koeln-cipher"},
				{Type: dvdv.ElementOSCIIntermediary, Name: "Intermediär", URI: inter.URL, CipherCertificate: "intermediary-cipher"},
			}}}},
	}}
	if err := d.Resolve("", certs); err != nil {
		t.Fatal(err)
	}
	dsrv, err := dvdvtest.New(dvdvtest.Options{Directory: d})
	if err != nil {
		t.Fatal(err)
	}
	drun, err := dvdvtest.Listen(dsrv, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer drun.Close()

	cfg := config.Default()
	cfg.Hub.DataDir = t.TempDir()
	cfg.Hub.StandardsDir = std
	cfg.Workers.Count = 0
	cfg.Endpoints = nil
	cfg.DVDV.Servers = []string{drun.URL}
	cfg.DVDV.CertFile, cfg.DVDV.KeyFile = files["hub"][0], files["hub"][1]
	cfg.OSCI.Signing = config.OSCIKeyPair{CertFile: files["hub-osci-sig"][0], KeyFile: files["hub-osci-sig"][1]}
	cfg.OSCI.Decryption = config.OSCIKeyPair{CertFile: files["hub-osci-enc"][0], KeyFile: files["hub-osci-enc"][1]}
	// The intermediary's signature certificate is pinned; deliveries take its
	// cipher certificate from the DVDV, the mailbox job from the configuration.
	cfg.OSCI.Intermediaries = []config.OSCIIntermediary{{URL: inter.URL, SignatureCertFile: files["intermediary-cipher"][0],
		CipherCertFile: files["intermediary-cipher"][0]}}
	cfg.OSCI.Mailbox.Intermediary = inter.URL
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := newHub(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	// serve schedules the Laufzettel poll and the mailbox job.
	jobs := cron.New()
	if err := h.registerOSCIJobs(ctx, jobs); err != nil || len(jobs.Entries()) != 2 {
		t.Fatalf("OSCI jobs: %d %v", len(jobs.Entries()), err)
	}
	srv := httptest.NewServer(h.handler)
	defer srv.Close()

	body, _ := readFileRel("../../testdata/submissions/universeller-antrag.json")
	req, _ := http.NewRequest("POST", srv.URL+"/v1/submissions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer demo-key")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("intake: %d %s", resp.StatusCode, b)
	}
	var acc accepted
	if err := json.Unmarshal(b, &acc); err != nil {
		t.Fatal(err)
	}
	if n, err := h.pipeline.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("pipeline: %d %v", n, err)
	}
	if dls, _ := h.store.DeadLetters(ctx, true); len(dls) != 0 {
		t.Fatalf("dead letters: %+v", dls)
	}
	stored := inter.Deliveries()
	if len(stored) != 1 || !stored[0].Addressee.Equal(certs["koeln-cipher"]) {
		t.Fatalf("intermediary holds %d deliveries", len(stored))
	}
	if got := history(t, h, acc.ID); got[len(got)-1] != routing.StatusSent {
		t.Fatalf("history after delivery: %v", got)
	}

	// Köln fetches its mailbox and decrypts with its own key; the Author
	// signature is the hub's.
	koeln := &osci.Client{URL: inter.URL, Signer: osci.Identity{Key: keys["koeln-cipher"], Cert: certs["koeln-cipher"]},
		Cipher:           osci.Identity{Key: keys["koeln-cipher"], Cert: certs["koeln-cipher"]},
		IntermediaryCert: certs["intermediary-cipher"], IntermediarySigner: certs["intermediary-cipher"], HTTP: &http.Client{Timeout: 10 * time.Second}}
	fetched, err := koeln.FetchDelivery(ctx, "")
	if err != nil || fetched == nil {
		t.Fatalf("addressee fetch: %v", err)
	}
	if !fetched.Message.SignatureCertOriginator.Equal(certs["hub-osci-sig"]) {
		t.Fatal("the delivery is not signed by the hub's OSCI certificate")
	}
	contents, err := osci.OpenContent(fetched.Message.ContentPackage,
		&xmlsec.Decrypter{Key: keys["koeln-cipher"], Cert: certs["koeln-cipher"]}, certs["hub-osci-sig"], fetched.Attachments)
	if err != nil {
		t.Fatalf("addressee decrypt: %v", err)
	}
	xmllintValid(t, contents[0].Data, filepath.Join(std, "xoev/xbau/2.6/xsd_dev/xbau-kernmodul-universellerAntrag.xsd"))

	// The Laufzettel shows Reception: fetched.
	res, err := h.osciOut.PollProcessCards(ctx, 10)
	if err != nil || len(res) != 1 || res[0].Event != routing.StatusFetched {
		t.Fatalf("Laufzettel poll: %+v %v", res, err)
	}
	if got := history(t, h, acc.ID); got[len(got)-1] != routing.StatusFetched {
		t.Fatalf("history after Laufzettel: %v", got)
	}
	// dxhub trace names the OSCI MessageId and the Laufzettel state.
	if tr, err := h.store.Trace(ctx, acc.ID); err != nil || len(tr.Remote) != 1 || tr.Remote[0].Transport != "osci" ||
		tr.Remote[0].ID == "" || tr.Remote[0].State != "fetched" {
		t.Fatalf("trace remote = %+v %v", tr.Remote, err)
	}

	// Köln answers with a 1120 receipt into the hub's OSCI mailbox.
	ref, err := xoev.ParseInbound(contents[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	r1120, err := xoev.BuildReceipt1120(ref.Header, xoev.Reply{Created: time.Now(), Reference: ref.Reference, CaseNumber: "63-2026-0815"})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := osci.SealContent("reply", []osci.Content{{Data: r1120.XML}}, &osci.Identity{Key: keys["koeln-cipher"], Cert: certs["koeln-cipher"]},
		certs["hub-osci-enc"], nil)
	if err != nil {
		t.Fatal(err)
	}
	md := etree.NewDocument()
	if err := md.ReadFromString(`<oscimeta:MessageMetaData xmlns:oscimeta="http://www.osci.eu/ws/2014/10/transport" Id="MetaData"><oscimeta:Originators><oscimeta:Author><oscimeta:Identifier type="xoev">ags:05315000</oscimeta:Identifier></oscimeta:Author></oscimeta:Originators></oscimeta:MessageMetaData>`); err != nil {
		t.Fatal(err)
	}
	replyID := inter.Put(oscitest.Delivery{Addressee: certs["hub-osci-enc"], Originator: certs["koeln-cipher"], OriginatorEnc: certs["koeln-cipher"],
		Content: cp, CustomHeaders: []*etree.Element{md.Root()}})
	if n, err := h.fetchOSCIMailbox(ctx); err != nil || n != 1 {
		t.Fatalf("mailbox job: %d %v", n, err)
	}
	if card, _ := inter.Card(replyID); card.Reception == nil {
		t.Fatal("the hub's fetch did not set Reception")
	}
	evs, err := h.store.Events(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Source != routing.SourceXOEV || last.Status != routing.StatusAcknowledged {
		t.Fatalf("reply did not become a status event: %+v", last)
	}
	// Running the job again changes nothing.
	if n, err := h.fetchOSCIMailbox(ctx); err != nil || n != 0 {
		t.Fatalf("second mailbox run: %d %v", n, err)
	}
	if evs2, _ := h.store.Events(ctx, acc.ID); len(evs2) != len(evs) {
		t.Fatalf("second run added events: %d → %d", len(evs), len(evs2))
	}

	// Every order the hub sent and every response of the intermediary is
	// valid against the OSCI 1.2 schemas.
	chk := oscitest.NewSchemaChecker(std)
	defer chk.Close()
	for _, x := range inter.Exchanges() {
		if err := chk.Validate(x.Kind.SchemaFile(), x.Request); err != nil {
			t.Errorf("order %s: %v", x.Kind, err)
		}
		if err := chk.Validate(x.ResponseSchema, x.Response); err != nil {
			t.Errorf("response %s: %v", x.ResponseKind, err)
		}
	}
}

func history(t *testing.T, h *hub, id string) []routing.Status {
	t.Helper()
	evs, err := h.store.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []routing.Status
	for _, e := range evs {
		out = append(out, e.Status)
	}
	return out
}
