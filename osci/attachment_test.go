package osci_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"

	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/osci"
)

var (
	planPDF  = []byte("%PDF-1.4 Lageplan (vertraulich)")
	photoJPG = []byte("\xff\xd8\xff\xe0 Foto der Baustelle")
)

// sealedStoreDelivery builds a storeDelivery whose content references two
// attachments, encrypted for the reader as separate MIME parts, and returns
// what the intermediary decodes.
func sealedStoreDelivery(t *testing.T, kt xmlsec.KeyTransport) (*osci.Decoded, []osci.Part) {
	t.Helper()
	atts := []osci.Part{{ContentID: "plan@dxhub", ContentType: "application/pdf", Data: planPDF},
		{ContentID: "foto@dxhub", ContentType: "image/jpeg", Data: photoJPG}}
	cp, parts, err := osci.SealContentAttachments("cc1", []osci.Content{{Data: []byte("<antrag>geheim</antrag>")},
		{Href: "cid:plan@dxhub"}, {Href: "cid:foto@dxhub"}}, id(client), reader.Cert, atts, kt)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 {
		t.Fatalf("%d parts to send", len(parts))
	}
	for _, p := range parts {
		if bytes.Contains(p.Data, []byte("vertraulich")) || bytes.Contains(p.Data, []byte("Baustelle")) {
			t.Fatalf("part %s is not encrypted", p.ContentID)
		}
	}
	m := &osci.Message{Kind: osci.StoreDelivery, ControlBlock: osci.ControlBlock{ConversationID: -1, SequenceNumber: 0, Challenge: "c1"},
		MessageID: "bWlk", CipherCertAddressee: reader.Cert, ContentPackage: cp}
	enc, err := osci.Encode(m, osci.EncodeOptions{Signer: id(client), EncryptFor: intermediary.Cert, Attachments: parts})
	if err != nil {
		t.Fatal(err)
	}
	// The schema admits only the xmlenc11 OAEP form (mgf1p is what xmlsec1
	// 1.2 can check independently).
	if kt == xmlsec.OAEP11SHA256 {
		if err := checker(t).Validate(m.Kind.SchemaFile(), enc.Envelope); err != nil {
			t.Fatalf("%v", err)
		}
	}
	got, err := osci.Decode(enc.Body, osci.DecodeOptions{Decrypter: &xmlsec.Decrypter{Key: intermediary.Key}, RequireEncryption: true,
		SignerCert: signer(client.Cert)})
	if err != nil {
		t.Fatal(err)
	}
	return got, parts
}

// TestEncryptedAttachments: attachments travel as separate MIME parts,
// encrypted for the reader and referenced from the ContentPackage by
// xenc:CipherReference; the intermediary (which holds the parts) cannot read
// them, the reader decrypts them and the Author signature covers their
// plaintext.
func TestEncryptedAttachments(t *testing.T) {
	got, _ := sealedStoreDelivery(t, xmlsec.OAEP11SHA256)
	if len(got.Attachments) != 2 {
		t.Fatalf("intermediary sees %d attachment parts", len(got.Attachments))
	}
	for _, p := range got.Attachments {
		if bytes.Contains(p.Data, []byte("vertraulich")) || bytes.Contains(p.Data, []byte("Baustelle")) {
			t.Fatal("the intermediary can read an attachment")
		}
	}
	refs := got.Message.ContentPackage.FindElements("./EncryptedData/CipherData/CipherReference")
	if len(refs) != 2 || refs[0].SelectAttrValue("URI", "") != "cid:plan@dxhub" {
		t.Fatalf("CipherReferences %v", refs)
	}
	open := func(key *xmlsec.Decrypter, parts []osci.Part) ([]osci.Content, error) {
		return osci.OpenContent(got.Message.ContentPackage.Copy(), key, client.Cert, parts)
	}
	contents, err := open(&xmlsec.Decrypter{Key: reader.Key, Cert: reader.Cert}, got.Attachments)
	if err != nil {
		t.Fatal(err)
	}
	if len(contents) != 3 || string(contents[0].Data) != "<antrag>geheim</antrag>" || !bytes.Equal(contents[1].Data, planPDF) ||
		contents[1].Href != "cid:plan@dxhub" || !bytes.Equal(contents[2].Data, photoJPG) {
		t.Fatalf("contents %q", contents)
	}

	t.Run("wrong reader key", func(t *testing.T) {
		if _, err := open(&xmlsec.Decrypter{Key: intermediary.Key}, got.Attachments); !errors.Is(err, osci.ErrContent) || !errors.Is(err, xmlsec.ErrNotForThisKey) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no reader key", func(t *testing.T) {
		if _, err := open(nil, got.Attachments); !errors.Is(err, osci.ErrContent) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("tampered ciphertext", func(t *testing.T) {
		parts := append([]osci.Part(nil), got.Attachments...)
		parts[1].Data = append([]byte(nil), parts[1].Data...)
		parts[1].Data[20] ^= 1
		if _, err := open(&xmlsec.Decrypter{Key: reader.Key}, parts); !errors.Is(err, osci.ErrContent) || !errors.Is(err, xmlsec.ErrDecrypt) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("missing part", func(t *testing.T) {
		if _, err := open(&xmlsec.Decrypter{Key: reader.Key}, got.Attachments[:1]); !errors.Is(err, osci.ErrContent) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("part swapped for another encrypted for the reader", func(t *testing.T) {
		// Validly encrypted for the reader, but not what the Author signed.
		_, other, err := osci.SealContentAttachments("x", []osci.Content{{Href: "cid:plan@dxhub"}}, nil, reader.Cert,
			[]osci.Part{{ContentID: "plan@dxhub", Data: []byte("%PDF-1.4 forged")}}, xmlsec.OAEP11SHA256)
		if err != nil {
			t.Fatal(err)
		}
		parts := []osci.Part{other[0], got.Attachments[1]}
		// The forged part has its own session key: the original EncryptedData
		// cannot open it.
		if _, err := open(&xmlsec.Decrypter{Key: reader.Key}, parts); !errors.Is(err, osci.ErrContent) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown attachment", func(t *testing.T) {
		_, _, err := osci.SealContentAttachments("x", []osci.Content{{Href: "cid:nope"}}, id(client), reader.Cert, nil, xmlsec.OAEP11SHA256)
		if err == nil {
			t.Fatal("sealed a reference to a missing attachment")
		}
	})
}

// TestXmlsec1DecryptsEncryptedAttachment: an independent implementation
// (xmlsec1, with the SHA-1 OAEP form Debian's xmlsec1 1.2 supports) decrypts
// an attachment part with the reader key, given the part's octets in place of
// the CipherReference (xmlsec1 cannot resolve cid: URIs).
func TestXmlsec1DecryptsEncryptedAttachment(t *testing.T) {
	bin, err := exec.LookPath("xmlsec1")
	if err != nil {
		t.Fatalf("xmlsec1 not installed (apt-get install xmlsec1): %v", err)
	}
	got, _ := sealedStoreDelivery(t, xmlsec.OAEPMGF1P)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "reader.pem")
	if err := os.WriteFile(keyFile, reader.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	want := [][]byte{planPDF, photoJPG}
	n := 0
	for _, ed := range got.Message.ContentPackage.SelectElements("EncryptedData") {
		cr := ed.FindElement("./CipherData/CipherReference")
		if cr == nil {
			continue // the ContentContainer
		}
		p, ok := osci.PartByID(got.Attachments, cr.SelectAttrValue("URI", ""))
		if !ok {
			t.Fatalf("no part for %s", cr.SelectAttrValue("URI", ""))
		}
		ed = ed.Copy()
		cd := ed.FindElement("./CipherData")
		cd.RemoveChild(cd.FindElement("./CipherReference"))
		cd.CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(p.Data))
		// The OSCI IvLength extension is not XML-Enc; xmlsec1 infers the IV.
		if iv := ed.FindElement("./EncryptionMethod/IvLength"); iv != nil {
			iv.Parent().RemoveChild(iv)
		}
		doc := etree.NewDocument()
		doc.SetRoot(ed)
		b, err := doc.WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, "att.xml")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "--decrypt", "--privkey-pem", keyFile, f)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("xmlsec1 --decrypt: %v\n%s", err, stderr.Bytes())
		}
		if !bytes.Equal(out, want[n]) {
			t.Fatalf("xmlsec1 decrypted %q, want %q", out, want[n])
		}
		n++
	}
	if n != len(want) {
		t.Fatalf("xmlsec1 decrypted %d attachments, want %d", n, len(want))
	}
}

// FuzzOpenContent: a reader opens a ContentPackage (XML) with one attachment
// part from outside; it must never panic, and success means the Author
// signature held.
func FuzzOpenContent(f *testing.F) {
	cp, parts, err := osci.SealContentAttachments("cc1", []osci.Content{{Data: []byte("<a/>")}, {Href: "cid:p"}}, id(client), reader.Cert,
		[]osci.Part{{ContentID: "p", ContentType: "application/pdf", Data: []byte("pdf")}}, xmlsec.OAEP11SHA256)
	if err != nil {
		f.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(cp)
	b, err := doc.WriteToBytes()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, parts[0].Data)
	f.Add([]byte(`<osci:ContentPackage xmlns:osci="http://www.osci.de/2002/04/osci"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"><xenc:CipherData><xenc:CipherReference URI="cid:p"/></xenc:CipherData></xenc:EncryptedData></osci:ContentPackage>`), []byte("x"))
	dec := &xmlsec.Decrypter{Key: reader.Key, Cert: reader.Cert}
	f.Fuzz(func(t *testing.T, xml, part []byte) {
		d := etree.NewDocument()
		if d.ReadFromBytes(xml) != nil || d.Root() == nil {
			return
		}
		signed := bytes.Contains(xml, []byte("SignatureValue")) || bytes.Contains(xml, []byte("EncryptedData"))
		contents, err := osci.OpenContent(d.Root(), dec, client.Cert, []osci.Part{{ContentID: "p", Data: part}})
		if err == nil && len(contents) > 0 && !signed {
			t.Fatalf("contents accepted without an Author signature: %q", contents)
		}
	})
}
