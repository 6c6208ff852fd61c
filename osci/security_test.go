package osci_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/osci"
)

func storeDeliveryBody(t testing.TB, payload []byte) *osci.Encoded {
	t.Helper()
	cp, err := osci.SealContent("cc1", []osci.Content{{Data: payload}}, id(client), reader.Cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &osci.Message{Kind: osci.StoreDelivery, ControlBlock: osci.ControlBlock{ConversationID: -1, SequenceNumber: 0, Challenge: "c1"},
		MessageID: "bWlk", CipherCertAddressee: reader.Cert, ContentPackage: cp}
	enc, err := osci.Encode(m, osci.EncodeOptions{Signer: id(client), EncryptFor: intermediary.Cert})
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func signer(c *x509.Certificate) func(*osci.Message) (*x509.Certificate, error) {
	return func(*osci.Message) (*x509.Certificate, error) { return c, nil }
}

func TestTwoLevelSecurity(t *testing.T) {
	enc := storeDeliveryBody(t, []byte("<antrag>geheim</antrag>"))
	// Intermediary: opens the order level, cannot read the content.
	got, err := osci.Decode(enc.Body, osci.DecodeOptions{Decrypter: &xmlsec.Decrypter{Key: intermediary.Key}, RequireEncryption: true, SignerCert: signer(client.Cert)})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got.Envelope, []byte("geheim")) {
		t.Fatal("intermediary sees the content")
	}
	if _, err := osci.OpenContent(got.Message.ContentPackage, &xmlsec.Decrypter{Key: intermediary.Key}, client.Cert, nil); !errors.Is(err, xmlsec.ErrNotForThisKey) {
		t.Fatalf("intermediary decrypting content: %v", err)
	}
	// Reader: decrypts and verifies the author.
	contents, err := osci.OpenContent(got.Message.ContentPackage, &xmlsec.Decrypter{Key: reader.Key, Cert: reader.Cert}, client.Cert, nil)
	if err != nil || len(contents) != 1 || string(contents[0].Data) != "<antrag>geheim</antrag>" {
		t.Fatalf("%q %v", contents, err)
	}
}

func TestTamperingRejected(t *testing.T) {
	t.Run("wrong intermediary key", func(t *testing.T) {
		enc := storeDeliveryBody(t, []byte("x"))
		_, err := osci.Decode(enc.Body, osci.DecodeOptions{Decrypter: &xmlsec.Decrypter{Key: other.Key}})
		if !errors.Is(err, osci.ErrDecryptFailed) || !errors.Is(err, xmlsec.ErrNotForThisKey) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("wrong reader key", func(t *testing.T) {
		enc := storeDeliveryBody(t, []byte("x"))
		got, err := osci.Decode(enc.Body, osci.DecodeOptions{Decrypter: &xmlsec.Decrypter{Key: intermediary.Key}, SignerCert: signer(client.Cert)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = osci.OpenContent(got.Message.ContentPackage, &xmlsec.Decrypter{Key: other.Key}, client.Cert, nil)
		if !errors.Is(err, osci.ErrContent) || !errors.Is(err, xmlsec.ErrNotForThisKey) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("changed byte in signed order", func(t *testing.T) {
		m := &osci.Message{Kind: osci.StoreDelivery, ControlBlock: osci.ControlBlock{ConversationID: -1, SequenceNumber: 0, Challenge: "c1"},
			MessageID: "bWlk", CipherCertAddressee: reader.Cert}
		cp, _ := osci.SealContent("cc1", []osci.Content{{Data: []byte("payload")}}, id(client), nil, nil)
		m.ContentPackage = cp
		enc, err := osci.Encode(m, osci.EncodeOptions{Signer: id(client)})
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Replace(enc.Body, []byte("<osci:Challenge>c1<"), []byte("<osci:Challenge>c2<"), 1)
		if bytes.Equal(bad, enc.Body) {
			t.Fatal("no replacement")
		}
		_, err = osci.Decode(bad, osci.DecodeOptions{SignerCert: signer(client.Cert)})
		if !errors.Is(err, osci.ErrBadSignature) || !errors.Is(err, xmlsec.ErrDigestMismatch) {
			t.Fatalf("err = %v", err)
		}
		// The content level catches a change inside the container too.
		got, err := osci.Decode(enc.Body, osci.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b64 := got.Message.ContentPackage.FindElement(".//Base64Content")
		b64.SetText("cGF5bG9hZA" + "x")
		if _, err := osci.OpenContent(got.Message.ContentPackage, nil, client.Cert, nil); !errors.Is(err, xmlsec.ErrDigestMismatch) {
			t.Fatalf("content tamper: %v", err)
		}
	})
	t.Run("unsigned when a signature is required", func(t *testing.T) {
		m := &osci.Message{Kind: osci.ExitDialog, ControlBlock: osci.ControlBlock{ConversationID: 1, SequenceNumber: 1, Response: "a", Challenge: "b"}}
		enc, _ := osci.Encode(m, osci.EncodeOptions{})
		if _, err := osci.Decode(enc.Body, osci.DecodeOptions{SignerCert: signer(client.Cert)}); !errors.Is(err, osci.ErrUnsigned) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("signed by someone else", func(t *testing.T) {
		m := &osci.Message{Kind: osci.ExitDialog, ControlBlock: osci.ControlBlock{ConversationID: 1, SequenceNumber: 1, Response: "a", Challenge: "b"}}
		enc, _ := osci.Encode(m, osci.EncodeOptions{Signer: id(other)})
		if _, err := osci.Decode(enc.Body, osci.DecodeOptions{SignerCert: signer(client.Cert)}); !errors.Is(err, xmlsec.ErrCertificateMismatch) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("plain when encryption required", func(t *testing.T) {
		m := &osci.Message{Kind: osci.ExitDialog, ControlBlock: osci.ControlBlock{ConversationID: 1, SequenceNumber: 1, Response: "a", Challenge: "b"}}
		enc, _ := osci.Encode(m, osci.EncodeOptions{})
		if _, err := osci.Decode(enc.Body, osci.DecodeOptions{RequireEncryption: true}); !errors.Is(err, osci.ErrNotEncrypted) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestClassifyFeedback(t *testing.T) {
	cases := []struct {
		name  string
		fb    []osci.FeedbackEntry
		ok    bool
		warn  int
		class osci.FeedbackClass
	}{
		{"0800", []osci.FeedbackEntry{{Code: "0800"}}, true, 0, 0},
		{"0801 with 3802 warning", []osci.FeedbackEntry{{Code: "0801"}, {Code: "3802"}}, true, 1, 0},
		{"9xxx hidden in second language", []osci.FeedbackEntry{{Lang: "de", Code: "0800"}, {Lang: "en", Code: "9809"}}, false, 0, osci.FeedbackRetry},
		{"9500 signature", []osci.FeedbackEntry{{Code: "9500"}}, false, 0, osci.FeedbackPermanent},
		{"9810 ambiguous", []osci.FeedbackEntry{{Code: "9810"}}, false, 0, osci.FeedbackAmbiguous},
		{"no success code", []osci.FeedbackEntry{{Code: "3800"}}, false, 1, osci.FeedbackAmbiguous},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := osci.ClassifyFeedback(tc.fb)
			if r.OK != tc.ok || len(r.Warnings) != tc.warn || (r.Err != nil && r.Err.Class != tc.class) {
				t.Fatalf("%+v", r)
			}
		})
	}
}

func FuzzParseMIME(f *testing.F) {
	enc := storeDeliveryBody(f, []byte("x"))
	f.Add(enc.Body)
	f.Add([]byte("MIME-Version: 1.0\r\nContent-Type: Multipart/Related; boundary=b; type=text/xml\r\n\r\n--b\r\nContent-Type: text/xml\r\nContent-ID: <osci@message>\r\n\r\n<a/>\r\n--b--\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parts, err := osci.ParseMIME(data)
		if err == nil && len(parts) == 0 {
			t.Fatal("no parts without error")
		}
	})
}

func FuzzParseEnvelope(f *testing.F) {
	for _, m := range sampleMessages(&testing.T{}) {
		enc, err := osci.Encode(m, osci.EncodeOptions{})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc.Envelope)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, _, err := osci.ParseEnvelope(data)
		if err == nil && m.Kind == "" {
			t.Fatal("message without kind")
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add(storeDeliveryBody(f, []byte("x")).Body)
	dec := &xmlsec.Decrypter{Key: intermediary.Key}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = osci.Decode(data, osci.DecodeOptions{Decrypter: dec, SignerCert: signer(client.Cert)})
	})
}
