package loadgen_test

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/loadgen"
	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/internal/xmlsec/xmlsectest"
	"github.com/dxhub/dxhub/osci"
	"github.com/dxhub/dxhub/osci/oscitest"
	"github.com/dxhub/dxhub/xoev"
)

func ident(i *xmlsectest.Identity) osci.Identity { return osci.Identity{Key: i.Key, Cert: i.Cert} }

// The OSCI Fachverfahren fetches a delivery the hub stored for it (content
// signed by the hub, encrypted for the reader), opens it, and stores a 1120
// for the hub that the hub can fetch, decrypt and verify; the answer refers
// to the original message. A delivery not signed by the hub's certificate
// stops the worker with an error.
func TestOSCIFachverfahrenAnswers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inter, hubSig, hubEnc, reader, other := xmlsectest.New("intermediary"), xmlsectest.New("hub-signature"),
		xmlsectest.New("hub-cipher"), xmlsectest.New("reader"), xmlsectest.New("someone else")
	srv, err := oscitest.Start(oscitest.Options{Identity: ident(inter)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	msg, err := os.ReadFile("../../xoev/testdata/golden/full.xml")
	if err != nil {
		t.Fatal(err)
	}
	put := func(author *xmlsectest.Identity) {
		cp, err := osci.SealContent("c1", []osci.Content{{Data: msg}}, &osci.Identity{Key: author.Key, Cert: author.Cert}, reader.Cert, nil)
		if err != nil {
			t.Fatal(err)
		}
		srv.Put(oscitest.Delivery{Addressee: reader.Cert, Originator: author.Cert, OriginatorEnc: hubEnc.Cert, Content: cp})
	}
	put(hubSig)
	fv := &loadgen.OSCIFachverfahren{Intermediary: srv.URL, IntermediaryCert: inter.Cert, Identity: ident(reader),
		HubSigner: hubSig.Cert, HubCipher: hubEnc.Cert, ReaderKey: "ags:05315000", HTTP: &http.Client{Timeout: 30 * time.Second}}
	// The hub's side: its mailbox at the intermediary.
	hub := &osci.Client{URL: srv.URL, Signer: ident(hubSig), Cipher: ident(hubEnc), IntermediaryCert: inter.Cert,
		IntermediarySigner: inter.Cert, HTTP: &http.Client{Timeout: 30 * time.Second}}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- fv.Run(runCtx, 0) }()
	var r *osci.Response
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for r == nil {
		if r, err = hub.FetchDelivery(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if r == nil {
			select {
			case <-tick.C:
			case <-ctx.Done():
				t.Fatal("no answer in the hub's mailbox")
			}
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if fv.Handled() != 1 {
		t.Fatalf("handled %d", fv.Handled())
	}
	contents, err := osci.OpenContent(r.Message.ContentPackage, &xmlsec.Decrypter{Key: hubEnc.Key, Cert: hubEnc.Cert}, reader.Cert, r.Attachments)
	if err != nil {
		t.Fatalf("hub opens the answer: %v", err)
	}
	orig, err := xoev.ParseInbound(msg)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := xoev.ParseInbound(contents[0].Data)
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	if orig.Reference == "" || ans.Reference != orig.Reference || len(r.Message.CustomHeaders) != 1 {
		t.Fatalf("answer refers to %q (want %q), %d custom headers", ans.Reference, orig.Reference, len(r.Message.CustomHeaders))
	}

	// A delivery signed by someone else is refused.
	put(other)
	if err := fv.Run(ctx, 1); err == nil {
		t.Fatal("a delivery not signed by the hub was answered")
	}
}
