package osci

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/dxhub/dxhub/internal/xmlsec"
)

// Identity is a key with its certificate.
type Identity struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
}

// Errors of the security layer.
var (
	ErrUnsigned      = errors.New("osci: message is not signed")
	ErrNotCovered    = errors.New("osci: signature does not cover a required part")
	ErrNotEncrypted  = errors.New("osci: message is not encrypted")
	ErrBadSignature  = errors.New("osci: signature check failed")
	ErrDecryptFailed = errors.New("osci: cannot decrypt message")
)

// EncodeOptions control the order level of security.
type EncodeOptions struct {
	// Signer signs the message (ClientSignature for orders, SupplierSignature for
	// responses). Nil sends it unsigned.
	Signer *Identity
	// EncryptFor is the recipient's cipher certificate (the intermediary for
	// orders, the client for responses). Nil sends it unencrypted.
	EncryptFor *x509.Certificate
	// Attachments are additional MIME parts referenced from the message.
	Attachments []Part
}

// Encoded is an encoded message with its plain envelope for logging and checks.
type Encoded struct {
	Body     []byte // HTTP body (MIME document with its own headers)
	Envelope []byte // the plain, signed SOAP envelope
}

// Encode builds, signs and encrypts m.
func Encode(m *Message, o EncodeOptions) (*Encoded, error) {
	doc, err := Build(m)
	if err != nil {
		return nil, err
	}
	if o.Signer != nil {
		if err := signEnvelope(doc, m.Kind, *o.Signer, o.Attachments); err != nil {
			return nil, err
		}
	}
	env, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	parts := append([]Part{{ContentID: ContentIDMessage, ContentType: "text/xml; charset=UTF-8", Data: env}}, o.Attachments...)
	inner := WriteMIME(parts)
	if o.EncryptFor == nil {
		return &Encoded{Body: inner, Envelope: env}, nil
	}
	outer, err := SealTransport(inner, o.EncryptFor)
	if err != nil {
		return nil, err
	}
	return &Encoded{Body: outer, Envelope: env}, nil
}

// SealTransport encrypts a whole OSCI MIME document for recipient: the result is
// a MIME document whose envelope holds only xenc:EncryptedData with a
// CipherReference to the osci_enc part (soapMessageEncrypted.xsd).
func SealTransport(inner []byte, recipient *x509.Certificate) ([]byte, error) {
	enc := &xmlsec.Encrypter{Cert: recipient, KeyTransport: xmlsec.OAEP11SHA256, IvLength: true}
	ed, ct, err := enc.EncryptData(inner, "", "multipart/related", "cid:"+ContentIDEncrypted)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	env := doc.CreateElement("soap:Envelope")
	env.CreateAttr("xmlns:soap", NSSOAP)
	env.CreateAttr("xmlns:xsi", NSXSI)
	env.CreateAttr("xsi:schemaLocation", NSSOAP+" soapMessageEncrypted.xsd")
	env.CreateElement("soap:Body").AddChild(ed)
	b, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	return WriteMIME([]Part{
		{ContentID: ContentIDMessage, ContentType: "text/xml; charset=UTF-8", Data: b},
		{ContentID: ContentIDEncrypted, ContentType: "application/octet-stream", Data: ct},
	}), nil
}

// DecodeOptions control how a received message is opened and checked.
type DecodeOptions struct {
	// Decrypter opens transport-encrypted messages; nil rejects them.
	Decrypter *xmlsec.Decrypter
	// RequireEncryption rejects plain messages.
	RequireEncryption bool
	// SignerCert returns the certificate the message must be signed with (from
	// configuration or the directory, never from the message); nil or a nil
	// result means a signature is not required (an unverifiable one is then
	// ignored and Signed stays false).
	SignerCert func(m *Message) (*x509.Certificate, error)
	// AllowDeprecated accepts deprecated algorithms.
	AllowDeprecated bool
}

// Decoded is a received, opened and checked message.
type Decoded struct {
	Message     *Message
	Doc         *etree.Document
	Envelope    []byte
	Attachments []Part
	Encrypted   bool
}

// Decode opens an HTTP body: MIME framing, transport decryption, parsing, and the
// Client/SupplierSignature check.
func Decode(body []byte, o DecodeOptions) (*Decoded, error) {
	parts, err := ParseMIME(body)
	if err != nil {
		return nil, err
	}
	out := &Decoded{}
	if ed := encryptedEnvelope(parts[0].Data); ed != nil {
		if o.Decrypter == nil {
			return nil, fmt.Errorf("%w: encrypted message but no key configured", ErrDecryptFailed)
		}
		d := *o.Decrypter
		d.AllowDeprecated = d.AllowDeprecated || o.AllowDeprecated
		d.Resolver = func(uri string) ([]byte, error) {
			p, ok := PartByID(parts, uri)
			if !ok {
				return nil, fmt.Errorf("no MIME part %s", uri)
			}
			return p.Data, nil
		}
		inner, err := d.Decrypt(ed)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrDecryptFailed, err)
		}
		if parts, err = ParseMIME(inner); err != nil {
			return nil, fmt.Errorf("decrypted content: %w", err)
		}
		out.Encrypted = true
	} else if o.RequireEncryption {
		return nil, ErrNotEncrypted
	}
	m, doc, err := ParseEnvelope(parts[0].Data)
	if err != nil {
		return nil, err
	}
	out.Message, out.Doc, out.Envelope, out.Attachments = m, doc, parts[0].Data, parts[1:]
	var cert *x509.Certificate
	if o.SignerCert != nil {
		if cert, err = o.SignerCert(m); err != nil {
			return nil, err
		}
	}
	if cert != nil {
		if err := verifyEnvelope(doc, m.Kind, cert, parts[1:], o.AllowDeprecated); err != nil {
			return nil, err
		}
		m.Signed = true
	}
	return out, nil
}

func encryptedEnvelope(data []byte) *etree.Element {
	doc, err := readDoc(data)
	if err != nil {
		return nil
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" {
		return nil
	}
	body := child(env, NSSOAP, "Body")
	if body == nil {
		return nil
	}
	return child(body, xmlsec.NSXEnc, "EncryptedData")
}

func signatureBlockName(k Kind) string {
	if k.Response() {
		return "SupplierSignature"
	}
	return "ClientSignature"
}

func signEnvelope(doc *etree.Document, k Kind, id Identity, attachments []Part) error {
	env := doc.Root()
	h := child(env, NSSOAP, "Header")
	var refs []xmlsec.Reference
	for _, e := range h.ChildElements() {
		if id := e.SelectAttrValue("Id", ""); id != "" {
			refs = append(refs, xmlsec.Reference{URI: "#" + id})
		}
	}
	refs = append(refs, xmlsec.Reference{URI: "#body"})
	for _, a := range attachments {
		refs = append(refs, xmlsec.Reference{URI: "cid:" + a.ContentID})
	}
	name := signatureBlockName(k)
	blk := etree.NewElement("osci:" + name)
	blk.CreateAttr("Id", name)
	blk.CreateAttr("soap:mustUnderstand", "1")
	blk.CreateAttr("soap:actor", ActorNext)
	h.InsertChildAt(h.ChildElements()[0].Index()+1, blk)
	s := &xmlsec.Signer{Key: id.Key, Cert: id.Cert, C14N: xmlsec.C14N10, Resolver: partResolver(attachments)}
	if _, err := s.Sign(blk, -1, refs); err != nil {
		h.RemoveChild(blk)
		return fmt.Errorf("osci: sign %s: %w", k, err)
	}
	return nil
}

func partResolver(parts []Part) xmlsec.Resolver {
	return func(uri string) ([]byte, error) {
		p, ok := PartByID(parts, uri)
		if !ok {
			return nil, fmt.Errorf("no MIME part %s", uri)
		}
		return p.Data, nil
	}
}

// verifyEnvelope checks the Client/SupplierSignature against cert and insists
// that it covers every header block, the body and every attachment.
func verifyEnvelope(doc *etree.Document, k Kind, cert *x509.Certificate, attachments []Part, allowDeprecated bool) error {
	env := doc.Root()
	h := child(env, NSSOAP, "Header")
	body := child(env, NSSOAP, "Body")
	name := signatureBlockName(k)
	var blk *etree.Element
	if h != nil {
		blk = child(h, NSOSCI, name)
	}
	if blk == nil {
		return fmt.Errorf("%w: no %s", ErrUnsigned, name)
	}
	sig := child(blk, xmlsec.NSDSig, "Signature")
	if sig == nil {
		return fmt.Errorf("%w: %s without ds:Signature", ErrUnsigned, name)
	}
	v := &xmlsec.Verifier{Cert: cert, AllowDeprecated: allowDeprecated, Resolver: partResolver(attachments)}
	refs, err := v.Verify(sig)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadSignature, name, err)
	}
	for _, e := range h.ChildElements() {
		if e == blk {
			continue
		}
		if !xmlsec.Covers(refs, e) {
			return fmt.Errorf("%w: header %s", ErrNotCovered, e.Tag)
		}
	}
	if !xmlsec.Covers(refs, body) {
		return fmt.Errorf("%w: soap:Body", ErrNotCovered)
	}
	for _, a := range attachments {
		found := false
		for _, r := range refs {
			if strings.TrimPrefix(r.URI, "cid:") == a.ContentID && strings.HasPrefix(r.URI, "cid:") {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%w: attachment %s", ErrNotCovered, a.ContentID)
		}
	}
	return nil
}

// Verify checks the Client/SupplierSignature of a decoded message against
// cert (as Decode does with DecodeOptions.SignerCert), for callers that pick
// the certificate only after reading the message.
func (d *Decoded) Verify(cert *x509.Certificate, allowDeprecated bool) error {
	if err := verifyEnvelope(d.Doc, d.Message.Kind, cert, d.Attachments, allowDeprecated); err != nil {
		return err
	}
	d.Message.Signed = true
	return nil
}
