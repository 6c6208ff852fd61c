package xmlsec_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/internal/xmlsec/xmlsectest"
)

var (
	alice = xmlsectest.New("alice")
	bob   = xmlsectest.New("bob")
)

const soapDoc = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:osci="http://www.osci.de/2002/04/osci">
  <soap:Header>
    <osci:ControlBlock Id="ControlBlock" soap:mustUnderstand="1"><osci:Challenge>abc</osci:Challenge></osci:ControlBlock>
    <osci:ClientSignature Id="ClientSignature"/>
    <osci:storeDelivery Id="storeDelivery"><osci:MessageId>bWlk</osci:MessageId><osci:Subject>Bauantrag Müller</osci:Subject></osci:storeDelivery>
  </soap:Header>
  <soap:Body Id="body"><osci:ContentPackage><x:Data xmlns:x="urn:x">payload &amp; more</x:Data></osci:ContentPackage></soap:Body>
</soap:Envelope>`

func parse(t testing.TB, s string) *etree.Document {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	return doc
}

func reparse(t testing.TB, doc *etree.Document) *etree.Document {
	t.Helper()
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, string(b))
}

func findSig(doc *etree.Document) *etree.Element {
	return doc.FindElement("//Signature[namespace-uri()='http://www.w3.org/2000/09/xmldsig#']")
}

// signOSCIStyle signs header blocks and body by Id with inclusive C14N, the way
// OSCI 1.2 ClientSignature does, plus an external attachment reference.
func signOSCIStyle(t testing.TB, c14n string, attachment []byte) *etree.Document {
	t.Helper()
	doc := parse(t, soapDoc)
	s := &xmlsec.Signer{Key: alice.Key, Cert: alice.Cert, C14N: c14n, Resolver: func(uri string) ([]byte, error) {
		if uri == "cid:att1" {
			return attachment, nil
		}
		return nil, errors.New("unknown " + uri)
	}}
	refs := []xmlsec.Reference{{URI: "#ControlBlock"}, {URI: "#storeDelivery"}, {URI: "#body"}}
	if attachment != nil {
		refs = append(refs, xmlsec.Reference{URI: "cid:att1"})
	}
	cs := doc.FindElement("//ClientSignature")
	if _, err := s.Sign(cs, -1, refs); err != nil {
		t.Fatal(err)
	}
	return reparse(t, doc)
}

func TestSignVerifyMultipleReferences(t *testing.T) {
	for _, c14n := range []string{xmlsec.C14N10, xmlsec.ExcC14N, xmlsec.C14N11} {
		t.Run(c14n, func(t *testing.T) {
			att := []byte("attachment bytes")
			doc := signOSCIStyle(t, c14n, att)
			v := &xmlsec.Verifier{Cert: alice.Cert, Resolver: func(string) ([]byte, error) { return att, nil }}
			refs, err := v.Verify(findSig(doc))
			if err != nil {
				t.Fatal(err)
			}
			if len(refs) != 4 || !xmlsec.Covers(refs, doc.FindElement("//Body")) {
				t.Fatalf("refs = %+v", refs)
			}
			// The attachment changed: precise error.
			v.Resolver = func(string) ([]byte, error) { return []byte("attachment bytez"), nil }
			if _, err := v.Verify(findSig(doc)); !errors.Is(err, xmlsec.ErrDigestMismatch) || !strings.Contains(err.Error(), "cid:att1") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	att := []byte("a")
	res := func(string) ([]byte, error) { return att, nil }
	cases := []struct {
		name   string
		mutate func(doc *etree.Document)
		cert   *x509.Certificate
		want   error
	}{
		{"changed byte in signed body", func(doc *etree.Document) {
			d := doc.FindElement("//Data")
			d.SetText(strings.Replace(d.Text(), "payload", "paylaod", 1))
		}, alice.Cert, xmlsec.ErrDigestMismatch},
		{"changed attribute in signed header", func(doc *etree.Document) {
			doc.FindElement("//ControlBlock").CreateAttr("SequenceNumber", "1")
		}, alice.Cert, xmlsec.ErrDigestMismatch},
		{"changed SignedInfo", func(doc *etree.Document) {
			doc.FindElement("//DigestMethod").CreateAttr("Foo", "bar")
		}, alice.Cert, xmlsec.ErrSignatureInvalid},
		{"other signer's certificate expected", func(*etree.Document) {}, bob.Cert, xmlsec.ErrCertificateMismatch},
		{"duplicate Id (wrapping)", func(doc *etree.Document) {
			h := doc.FindElement("//Header")
			c := doc.FindElement("//storeDelivery").Copy()
			h.AddChild(c)
		}, alice.Cert, xmlsec.ErrDuplicateID},
		{"signed element removed", func(doc *etree.Document) {
			sd := doc.FindElement("//storeDelivery")
			sd.Parent().RemoveChild(sd)
		}, alice.Cert, xmlsec.ErrReferenceNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := signOSCIStyle(t, xmlsec.C14N10, att)
			tc.mutate(doc)
			_, err := (&xmlsec.Verifier{Cert: tc.cert, Resolver: res}).Verify(findSig(doc))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEmbeddedKeyIsNotTrusted(t *testing.T) {
	// bob signs and embeds his certificate; the verifier expects alice.
	doc := parse(t, `<r xmlns="urn:r" ID="r1"><a>x</a></r>`)
	s := &xmlsec.Signer{Key: bob.Key, Cert: bob.Cert}
	if _, err := s.Sign(doc.Root(), -1, []xmlsec.Reference{{URI: "", Enveloped: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := (&xmlsec.Verifier{Cert: bob.Cert}).Verify(findSig(doc)); err != nil {
		t.Fatal(err)
	}
	// Drop KeyInfo entirely: still bob's signature, alice expected → invalid.
	ki := doc.FindElement("//KeyInfo")
	ki.Parent().RemoveChild(ki)
	if _, err := (&xmlsec.Verifier{Cert: alice.Cert}).Verify(findSig(doc)); !errors.Is(err, xmlsec.ErrSignatureInvalid) {
		t.Fatalf("err = %v", err)
	}
}

func TestDeprecatedSignatureRejected(t *testing.T) {
	doc := parse(t, `<r xmlns="urn:r"><a>x</a></r>`)
	s := &xmlsec.Signer{Key: alice.Key, Cert: alice.Cert, SignatureMethod: xmlsec.RSASHA1, Digest: xmlsec.SHA1}
	if _, err := s.Sign(doc.Root(), -1, []xmlsec.Reference{{URI: "", Enveloped: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := (&xmlsec.Verifier{Cert: alice.Cert}).Verify(findSig(doc)); !errors.Is(err, xmlsec.ErrDeprecatedAlgorithm) {
		t.Fatalf("err = %v", err)
	}
	if _, err := (&xmlsec.Verifier{Cert: alice.Cert, AllowDeprecated: true}).Verify(findSig(doc)); err != nil {
		t.Fatal(err)
	}
}

func TestEncryptDecrypt(t *testing.T) {
	for _, kt := range []xmlsec.KeyTransport{xmlsec.OAEP11SHA256, xmlsec.OAEPMGF1P} {
		doc := parse(t, soapDoc)
		cp := doc.FindElement("//ContentPackage")
		want, _ := canonicalString(cp.SelectElement("Data"))
		ed, err := (&xmlsec.Encrypter{Cert: bob.Cert, KeyTransport: kt, IvLength: true}).ReplaceWithEncrypted(cp)
		if err != nil {
			t.Fatal(err)
		}
		doc = reparse(t, doc)
		if doc.FindElement("//ContentPackage") != nil || strings.Contains(elString(ed), "payload") {
			t.Fatal("plaintext still present")
		}
		edEl := doc.FindElement("//EncryptedData")
		// Wrong reader key.
		if _, err := (&xmlsec.Decrypter{Key: alice.Key}).Decrypt(edEl); !errors.Is(err, xmlsec.ErrNotForThisKey) {
			t.Fatalf("wrong key: %v", err)
		}
		// Right key, certificate filter naming someone else: nothing for us.
		if _, err := (&xmlsec.Decrypter{Key: bob.Key, Cert: alice.Cert}).Decrypt(edEl); !errors.Is(err, xmlsec.ErrNotForThisKey) {
			t.Fatalf("cert filter: %v", err)
		}
		got, err := (&xmlsec.Decrypter{Key: bob.Key, Cert: bob.Cert}).DecryptElement(edEl)
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := canonicalString(got.SelectElement("Data")); s != want || got.NamespaceURI() != "http://www.osci.de/2002/04/osci" {
			t.Fatalf("round trip:\n%s\n%s", s, want)
		}
		if got.Parent() == nil || doc.FindElement("//Data").Text() != "payload & more" {
			t.Fatal("decrypted element not back in the document")
		}
	}
}

func TestDecryptRejectsTamperedCiphertext(t *testing.T) {
	ed, _, err := (&xmlsec.Encrypter{Cert: bob.Cert}).EncryptData([]byte("secret"), "", "text/plain", "")
	if err != nil {
		t.Fatal(err)
	}
	cv := ed.FindElement("./CipherData/CipherValue")
	raw, _ := base64.StdEncoding.DecodeString(cv.Text())
	raw[len(raw)-20] ^= 1
	cv.SetText(base64.StdEncoding.EncodeToString(raw))
	if _, err := (&xmlsec.Decrypter{Key: bob.Key}).Decrypt(ed); !errors.Is(err, xmlsec.ErrDecrypt) {
		t.Fatalf("err = %v", err)
	}
}

func TestCipherReference(t *testing.T) {
	ed, ct, err := (&xmlsec.Encrypter{Cert: bob.Cert}).EncryptData([]byte("mime body"), "", "", "cid:osci_enc")
	if err != nil || ct == nil {
		t.Fatal(err)
	}
	d := &xmlsec.Decrypter{Key: bob.Key, Resolver: func(uri string) ([]byte, error) {
		if uri != "cid:osci_enc" {
			t.Fatalf("uri %s", uri)
		}
		return ct, nil
	}}
	plain, err := d.Decrypt(ed)
	if err != nil || string(plain) != "mime body" {
		t.Fatalf("%q %v", plain, err)
	}
}

func TestCheckCertificate(t *testing.T) {
	now := time.Now()
	expired := xmlsectest.MustNew("old", xmlsectest.Options{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour), Bits: 1024})
	future := xmlsectest.MustNew("new", xmlsectest.Options{NotBefore: now.Add(time.Hour), Bits: 1024})
	signOnly := xmlsectest.MustNew("sig", xmlsectest.Options{KeyUsage: x509.KeyUsageDigitalSignature, Bits: 1024})
	ca := xmlsectest.MustNew("ca", xmlsectest.Options{IsCA: true, Bits: 1024})
	leaf := xmlsectest.MustNew("leaf", xmlsectest.Options{Issuer: ca, Bits: 1024})
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	ts := &xmlsec.TrustStore{Roots: roots}
	revoked := revocationFunc(func(c *x509.Certificate) error {
		if c.Subject.CommonName == "leaf" {
			return xmlsec.ErrCertRevoked
		}
		return nil
	})
	cases := []struct {
		name  string
		ts    *xmlsec.TrustStore
		cert  *x509.Certificate
		usage xmlsec.Usage
		want  error
	}{
		{"expired", nil, expired.Cert, xmlsec.UsageSignature, xmlsec.ErrCertExpired},
		{"not yet valid", nil, future.Cert, xmlsec.UsageSignature, xmlsec.ErrCertNotYetValid},
		{"signature-only key used for encryption", nil, signOnly.Cert, xmlsec.UsageEncryption, xmlsec.ErrCertKeyUsage},
		{"signature-only key used for signature", nil, signOnly.Cert, xmlsec.UsageSignature, nil},
		{"chains to root", ts, leaf.Cert, xmlsec.UsageEncryption, nil},
		{"self-signed not in store", ts, alice.Cert, xmlsec.UsageEncryption, xmlsec.ErrCertUntrusted},
		{"revoked", &xmlsec.TrustStore{Roots: roots, Revocation: revoked}, leaf.Cert, xmlsec.UsageSignature, xmlsec.ErrCertRevoked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.ts.Check(t.Context(), tc.cert, tc.usage)
			if (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

type revocationFunc func(*x509.Certificate) error

func (f revocationFunc) CheckRevocation(_ context.Context, c *x509.Certificate, _ []*x509.Certificate) error {
	return f(c)
}

func canonicalString(el *etree.Element) (string, error) {
	d := etree.NewDocument()
	d.SetRoot(el.Copy())
	return d.WriteToString()
}

func elString(el *etree.Element) string { s, _ := canonicalString(el); return s }

// ---- independent check with xmlsec1 ----

func xmlsec1(t *testing.T, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("xmlsec1")
	if err != nil {
		t.Fatalf("xmlsec1 not installed (apt-get install xmlsec1): %v", err)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("xmlsec1 %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestXmlsec1VerifiesOurSignatures(t *testing.T) {
	certPEM := writeFile(t, "cert.pem", alice.CertPEM)
	idAttrs := []string{
		"--id-attr:Id", "http://www.osci.de/2002/04/osci:ControlBlock",
		"--id-attr:Id", "http://www.osci.de/2002/04/osci:storeDelivery",
		"--id-attr:Id", "http://schemas.xmlsoap.org/soap/envelope/:Body",
	}
	for _, c14n := range []string{xmlsec.C14N10, xmlsec.ExcC14N} {
		doc := signOSCIStyle(t, c14n, nil)
		b, _ := doc.WriteToBytes()
		f := writeFile(t, "signed.xml", b)
		xmlsec1(t, append(append([]string{"--verify", "--trusted-pem", certPEM}, idAttrs...), f)...)
		// And xmlsec1 rejects a tampered copy, so the check can fail.
		bad := writeFile(t, "bad.xml", bytes.Replace(b, []byte("payload"), []byte("paylaod"), 1))
		cmd := exec.Command("xmlsec1", append(append([]string{"--verify", "--trusted-pem", certPEM}, idAttrs...), bad)...)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Fatalf("xmlsec1 accepted a tampered document:\n%s", out)
		}
	}
	// Enveloped signature over the whole document.
	doc := parse(t, `<r:Root xmlns:r="urn:r"><r:a xml:lang="de">x</r:a></r:Root>`)
	if _, err := (&xmlsec.Signer{Key: alice.Key, Cert: alice.Cert}).Sign(doc.Root(), -1, []xmlsec.Reference{{URI: "", Enveloped: true}}); err != nil {
		t.Fatal(err)
	}
	b, _ := doc.WriteToBytes()
	xmlsec1(t, "--verify", "--trusted-pem", certPEM, writeFile(t, "env.xml", b))
}

const xmlsec1Template = `<?xml version="1.0"?>
<r:Root xmlns:r="urn:r"><r:Part Id="p1"><r:v>signed by xmlsec1</r:v></r:Part>
<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>
<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
<ds:Reference URI="#p1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/></ds:Transforms>
<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>
<ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>
<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>
</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature></r:Root>`

func TestWeVerifyXmlsec1Signatures(t *testing.T) {
	key := writeFile(t, "key.pem", alice.KeyPEM)
	cert := writeFile(t, "cert.pem", alice.CertPEM)
	tmpl := writeFile(t, "tmpl.xml", []byte(xmlsec1Template))
	out := filepath.Join(t.TempDir(), "out.xml")
	xmlsec1(t, "--sign", "--privkey-pem", key+","+cert, "--id-attr:Id", "urn:r:Part", "--output", out, tmpl)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	doc := parse(t, string(b))
	refs, err := (&xmlsec.Verifier{Cert: alice.Cert}).Verify(findSig(doc))
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if len(refs) != 2 || refs[0].Element.SelectAttrValue("Id", "") != "p1" {
		t.Fatalf("refs %+v", refs)
	}
	doc = parse(t, strings.Replace(string(b), "signed by", "signed bx", 1))
	if _, err := (&xmlsec.Verifier{Cert: alice.Cert}).Verify(findSig(doc)); !errors.Is(err, xmlsec.ErrDigestMismatch) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := (&xmlsec.Verifier{Cert: bob.Cert}).Verify(findSig(parse(t, string(b)))); !errors.Is(err, xmlsec.ErrCertificateMismatch) {
		t.Fatalf("wrong cert: %v", err)
	}
}

func TestXmlsec1DecryptsOurEncryption(t *testing.T) {
	doc := parse(t, `<r:Root xmlns:r="urn:r"><r:Secret Id="s"><r:v>geheim äöü</r:v></r:Secret></r:Root>`)
	if _, err := (&xmlsec.Encrypter{Cert: bob.Cert, KeyTransport: xmlsec.OAEPMGF1P}).ReplaceWithEncrypted(doc.FindElement("//Secret")); err != nil {
		t.Fatal(err)
	}
	b, _ := doc.WriteToBytes()
	out := xmlsec1(t, "--decrypt", "--privkey-pem", writeFile(t, "key.pem", bob.KeyPEM), writeFile(t, "enc.xml", b))
	i := strings.Index(string(out), "<?xml")
	if i < 0 {
		t.Fatalf("xmlsec1 output:\n%s", out)
	}
	dec := parse(t, string(out[i:]))
	if v := dec.FindElement("//Secret/v"); v == nil || v.Text() != "geheim äöü" || dec.FindElement("//EncryptedData") != nil {
		t.Fatalf("xmlsec1 output:\n%s", out)
	}
}

const encTemplate = `<?xml version="1.0"?>
<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">
<xenc:EncryptionMethod Algorithm="ALG"/>
<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey>
<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>
<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>
<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>`

func TestWeDecryptXmlsec1Encryption(t *testing.T) {
	data := writeFile(t, "data.xml", []byte(`<?xml version="1.0"?><r:Root xmlns:r="urn:r"><r:secret>from xmlsec1</r:secret></r:Root>`))
	cert := writeFile(t, "cert.pem", bob.CertPEM)
	for _, tc := range []struct {
		alg, session string
		deprecated   bool
	}{{xmlsec.AES256GCM, "aes-256", false}, {xmlsec.AES256CBC, "aes-256", true}} {
		tmpl := writeFile(t, "tmpl.xml", []byte(strings.Replace(encTemplate, "ALG", tc.alg, 1)))
		out := filepath.Join(t.TempDir(), "enc.xml")
		xmlsec1(t, "--encrypt", "--pubkey-cert-pem", cert, "--session-key", tc.session, "--xml-data", data,
			"--node-name", "urn:r:secret", "--output", out, tmpl)
		b, _ := os.ReadFile(out)
		doc := parse(t, string(b))
		ed := doc.FindElement("//EncryptedData")
		_, err := (&xmlsec.Decrypter{Key: bob.Key}).DecryptElement(ed)
		if tc.deprecated {
			if !errors.Is(err, xmlsec.ErrDeprecatedAlgorithm) {
				t.Fatalf("%s: err = %v", tc.alg, err)
			}
			_, err = (&xmlsec.Decrypter{Key: bob.Key, AllowDeprecated: true}).DecryptElement(ed)
		}
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.alg, err, b)
		}
		if got := doc.FindElement("//secret"); got == nil || got.Text() != "from xmlsec1" {
			s, _ := doc.WriteToString()
			t.Fatalf("%s: decrypted doc:\n%s", tc.alg, s)
		}
	}
}
