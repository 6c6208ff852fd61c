package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/osci"
)

// TestSimOSCIIntermediary runs `dxhub sim osci-intermediary`, configures an
// OSCI client from the files it prints (the hub's view), and drives a
// delivery through it: an injected 9809 first, then getMessageId,
// storeDelivery and the addressee's fetchDelivery with the reader key.
func TestSimOSCIIntermediary(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := filepath.Join(t.TempDir(), "osci-sim")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- simOSCIIntermediary(ctx, []string{"-listen", "127.0.0.1:0", "-data", data, "-fault", "getMessageId=9809"}, pw, io.Discard)
		pw.Close()
	}()
	rd := bufio.NewReader(pr)
	first, err := rd.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var rest bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := rd.Read(buf)
			mu.Lock()
			rest.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	fields := strings.Fields(first)
	if len(fields) < 5 || !strings.HasPrefix(fields[4], "http://127.0.0.1:") {
		t.Fatalf("first line %q", first)
	}
	url := strings.TrimSuffix(fields[4], ",")
	pair := func(name string) config.OSCIKeyPair {
		return config.OSCIKeyPair{CertFile: filepath.Join(data, name+".crt"), KeyFile: filepath.Join(data, name+".key")}
	}
	// The printed configuration is one a hub accepts.
	cfg := config.Default()
	cfg.OSCI.Signing, cfg.OSCI.Decryption = pair("hub-signature"), pair("hub-cipher")
	inter := pair("intermediary").CertFile
	cfg.OSCI.Intermediaries = []config.OSCIIntermediary{{URL: url, CipherCertFile: inter, SignatureCertFile: inter}}
	cfg.OSCI.Mailbox.Intermediary = url
	for _, fe := range config.FieldErrors(cfg.Validate()) {
		if strings.HasPrefix(fe.Key, "osci.") {
			t.Errorf("printed OSCI configuration rejected: %v", fe)
		}
	}
	ident := func(name string, u xmlsec.Usage) osci.Identity {
		id, err := loadOSCIIdentity(pair(name), u)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	hubSig, hubEnc, reader := ident("hub-signature", xmlsec.UsageSignature), ident("hub-cipher", xmlsec.UsageEncryption), ident("reader", xmlsec.UsageEncryption)
	interCert := ident("intermediary", xmlsec.UsageSignature).Cert
	hub := &osci.Client{URL: url, Signer: hubSig, Cipher: hubEnc, IntermediaryCert: interCert, IntermediarySigner: interCert, RetryMax: -1}
	var fe *osci.FeedbackError
	if _, err := hub.GetMessageID(ctx); !errors.As(err, &fe) || fe.Code != "9809" {
		t.Fatalf("injected fault: %v", err)
	}
	id, err := hub.GetMessageID(ctx)
	if err != nil {
		t.Fatalf("after the fault: %v", err)
	}
	cp, err := osci.SealContent("sim", []osci.Content{{Data: []byte("<antrag>sim</antrag>")}}, &hubSig, reader.Cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hub.StoreDelivery(ctx, &osci.Message{MessageID: id, Subject: "Bauantrag", CipherCertAddressee: reader.Cert, ContentPackage: cp}, nil); err != nil {
		t.Fatal(err)
	}
	addressee := &osci.Client{URL: url, Signer: reader, Cipher: reader, IntermediaryCert: interCert, IntermediarySigner: interCert, RetryMax: -1}
	r, err := addressee.FetchDelivery(ctx, "")
	if err != nil || r == nil {
		t.Fatalf("fetchDelivery: %v %v", r, err)
	}
	got, err := osci.OpenContent(r.Message.ContentPackage, &xmlsec.Decrypter{Key: reader.Key, Cert: reader.Cert}, hubSig.Cert, nil)
	if err != nil || len(got) != 1 || string(got[0].Data) != "<antrag>sim</antrag>" {
		t.Fatalf("content %v (%v)", got, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("simOSCIIntermediary: %v", err)
	}
	<-copied
	mu.Lock()
	out := rest.String()
	mu.Unlock()
	for _, want := range []string{"signing:    {certFile: " + pair("hub-signature").CertFile, "cipherCertFile: " + inter,
		"delivery " + id, `"Bauantrag"`, "fetched "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// A second run reuses the key pairs (a configured hub keeps working).
	before, err := os.ReadFile(inter)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := simOSCIKeys(data, 0); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(inter); !bytes.Equal(before, after) {
		t.Error("the intermediary certificate was replaced on the second run")
	}
	if err := os.Remove(pair("reader").KeyFile); err != nil {
		t.Fatal(err)
	}
	if _, err := simOSCIKeys(data, 0); err == nil || !strings.Contains(err.Error(), "only one of") {
		t.Errorf("half a key pair: %v", err)
	}

	var ff osciFaultFlags
	for _, bad := range []string{"x", "nope=9809", "storeDelivery=98", "storeDelivery=1234", "storeDelivery=unavailable:-1",
		"storeDelivery=slow", "storeDelivery=slow:-1s", "storeDelivery=timeout:3", "storeDelivery=explode"} {
		if ff.Set(bad) == nil {
			t.Errorf("-fault %s accepted", bad)
		}
	}
	for _, good := range []string{"storeDelivery=9809", "any=3802", "fetchDelivery=unavailable:60", "storeDelivery=slow:2s",
		"storeDelivery=stall", "getMessageId=badsig", "any=refuse", "storeDelivery=corrupt", "storeDelivery=timeout"} {
		if err := ff.Set(good); err != nil {
			t.Errorf("-fault %s: %v", good, err)
		}
	}
}
