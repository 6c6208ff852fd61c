package osci

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/beevik/etree"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/dxhub/dxhub/internal/xmlsec"
)

// Content is one Content element of a ContentContainer: inline data (carried as
// osci:Base64Content) or a reference to an attachment part.
type Content struct {
	Data []byte
	Href string // "cid:…" of an attachment; Data is then the attachment's bytes
}

// ErrContent marks a content-level (Author/Reader) failure.
var ErrContent = errors.New("osci: content check failed")

// SealContent builds a ContentPackage: the ContentContainer with the contents is
// signed by author (when set, covering every Content and every referenced
// attachment) and then encrypted for reader's cipher certificate (when set).
func SealContent(containerID string, contents []Content, author *Identity, reader *x509.Certificate, attachments []Part) (*etree.Element, error) {
	return sealContent(containerID, contents, author, reader, attachments, xmlsec.OAEP11SHA256)
}

func sealContent(containerID string, contents []Content, author *Identity, reader *x509.Certificate, attachments []Part, kt xmlsec.KeyTransport) (*etree.Element, error) {
	cp := etree.NewElement("osci:ContentPackage")
	cp.CreateAttr("xmlns:osci", NSOSCI)
	// The container is signed standalone, with each namespace declared where it
	// is first used, so the inclusive C14N the OSCI schema prescribes gives the
	// same octets wherever the container travels (see minimalNS).
	cc := etree.NewElement("osci:ContentContainer")
	cc.CreateAttr("xmlns:osci", NSOSCI)
	cc.CreateAttr("Id", containerID)
	var refs []xmlsec.Reference
	for i, c := range contents {
		ce := cc.CreateElement("osci:Content")
		id := containerID + "_content_" + strconv.Itoa(i+1)
		ce.CreateAttr("Id", id)
		refs = append(refs, xmlsec.Reference{URI: "#" + id})
		if c.Href != "" {
			ce.CreateAttr("href", c.Href)
			refs = append(refs, xmlsec.Reference{URI: c.Href})
			continue
		}
		b := ce.CreateElement("osci:Base64Content")
		b.CreateAttr("Id", id+"_b64")
		b.SetText(base64.StdEncoding.EncodeToString(c.Data))
	}
	if author != nil {
		s := &xmlsec.Signer{Key: author.Key, Cert: author.Cert, C14N: xmlsec.C14N10, Resolver: partResolver(attachments)}
		if _, err := s.Sign(cc, 0, refs); err != nil {
			return nil, fmt.Errorf("osci: author signature: %w", err)
		}
	}
	cp.AddChild(cc)
	if reader != nil {
		enc := &xmlsec.Encrypter{Cert: reader, KeyTransport: kt, IvLength: true}
		if _, err := enc.ReplaceWithEncrypted(cc); err != nil {
			return nil, fmt.Errorf("osci: encrypt for reader: %w", err)
		}
	}
	return cp, nil
}

// SealContentAttachments is SealContent for contents that reference
// attachments (Content href="cid:…", the attachments are the plaintext MIME
// parts): the Author signs the ContentContainer and the plaintext of every
// referenced attachment; the container is encrypted for reader as by
// SealContent, and each referenced attachment is encrypted for reader too
// (AES-256-GCM under its own session key, RSA-OAEP key transport) into a MIME
// part with the same Content-ID, described in the ContentPackage by an
// xenc:EncryptedData whose CipherReference names that part (OSCI 1.2:
// ContentPackage = EncryptedData*, ContentContainer*). It returns the parts to
// send with the order: the encrypted ones, or with reader nil the plaintext
// ones the contents reference. kt is the key transport form for the reader
// (xmlsec.OAEP11SHA256, the OSCI 1.2 default, or xmlsec.OAEPMGF1P for
// readers that lack it).
func SealContentAttachments(containerID string, contents []Content, author *Identity, reader *x509.Certificate, attachments []Part, kt xmlsec.KeyTransport) (*etree.Element, []Part, error) {
	var used []Part
	seen := map[string]bool{}
	for _, c := range contents {
		if c.Href == "" {
			continue
		}
		p, ok := PartByID(attachments, c.Href)
		if !ok {
			return nil, nil, fmt.Errorf("osci: content refers to attachment %s, which is not given", c.Href)
		}
		if !seen[p.ContentID] {
			seen[p.ContentID] = true
			used = append(used, p)
		}
	}
	cp, err := sealContent(containerID, contents, author, reader, used, kt)
	if err != nil || reader == nil {
		return cp, used, err
	}
	enc := &xmlsec.Encrypter{Cert: reader, KeyTransport: kt, IvLength: true}
	out := make([]Part, 0, len(used))
	for _, p := range used {
		ed, ct, err := enc.EncryptData(p.Data, "", orString(p.ContentType, "application/octet-stream"), "cid:"+p.ContentID)
		if err != nil {
			return nil, nil, fmt.Errorf("osci: encrypt attachment %s for reader: %w", p.ContentID, err)
		}
		// EncryptedData come before the ContentContainers (order.xsd).
		cp.InsertChildAt(len(childrenOf(cp, xmlsec.NSXEnc, "EncryptedData")), ed)
		out = append(out, Part{ContentID: p.ContentID, ContentType: "application/octet-stream", Data: ct})
	}
	return cp, out, nil
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func childrenOf(el *etree.Element, ns, tag string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

// isCipherReference reports whether ed carries its ciphertext in another
// MIME part (an encrypted attachment).
func isCipherReference(ed *etree.Element) (string, bool) {
	for _, cd := range childrenOf(ed, xmlsec.NSXEnc, "CipherData") {
		for _, cr := range childrenOf(cd, xmlsec.NSXEnc, "CipherReference") {
			return cr.SelectAttrValue("URI", ""), true
		}
	}
	return "", false
}

// OpenContent decrypts every EncryptedData of a ContentPackage with reader (nil:
// encrypted containers are an error), verifies each container's Author signature
// against author (nil: not required) and returns the contents in order.
func OpenContent(cp *etree.Element, reader *xmlsec.Decrypter, author *x509.Certificate, attachments []Part) ([]Content, error) {
	if cp == nil {
		return nil, fmt.Errorf("%w: no ContentPackage", ErrContent)
	}
	// Encrypted attachments first: their plaintext replaces the ciphertext
	// part (in a copy), so the Author signature is checked over the plaintext.
	for _, ed := range childrenOf(cp, xmlsec.NSXEnc, "EncryptedData") {
		uri, ok := isCipherReference(ed)
		if !ok {
			continue
		}
		if reader == nil {
			return nil, fmt.Errorf("%w: attachment %s is encrypted but no reader key is configured", ErrContent, uri)
		}
		p, found := PartByID(attachments, uri)
		if !found {
			return nil, fmt.Errorf("%w: encrypted attachment %s missing", ErrContent, uri)
		}
		d := *reader
		d.Resolver = partResolver([]Part{p})
		plain, err := d.Decrypt(ed)
		if err != nil {
			return nil, fmt.Errorf("%w: reader decryption of attachment %s: %w", ErrContent, uri, err)
		}
		next := make([]Part, 0, len(attachments))
		for _, a := range attachments {
			if a.ContentID == p.ContentID {
				a = Part{ContentID: a.ContentID, ContentType: orString(ed.SelectAttrValue("MimeType", ""), a.ContentType), Data: plain}
			}
			next = append(next, a)
		}
		attachments = next
		cp.RemoveChild(ed)
	}
	for _, ed := range cp.ChildElements() {
		if ed.Tag != "EncryptedData" || ed.NamespaceURI() != xmlsec.NSXEnc {
			continue
		}
		if reader == nil {
			return nil, fmt.Errorf("%w: content is encrypted but no reader key is configured", ErrContent)
		}
		cc, err := reader.DecryptElement(ed)
		if err != nil {
			return nil, fmt.Errorf("%w: reader decryption: %w", ErrContent, err)
		}
		if cc.Tag != "ContentContainer" || cc.NamespaceURI() != NSOSCI {
			return nil, fmt.Errorf("%w: decrypted element is %s, not osci:ContentContainer", ErrContent, cc.Tag)
		}
	}
	var out []Content
	for _, inDoc := range cp.ChildElements() {
		if inDoc.Tag != "ContentContainer" || inDoc.NamespaceURI() != NSOSCI {
			continue
		}
		cc, err := minimalNS(inDoc)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrContent, err)
		}
		var refs []xmlsec.VerifiedReference
		if author != nil {
			sig := child(cc, xmlsec.NSDSig, "Signature")
			if sig == nil {
				return nil, fmt.Errorf("%w: ContentContainer %s has no Author signature", ErrContent, cc.SelectAttrValue("Id", ""))
			}
			var err error
			refs, err = (&xmlsec.Verifier{Cert: author, Resolver: partResolver(attachments)}).Verify(sig)
			if err != nil {
				return nil, fmt.Errorf("%w: Author signature: %w", ErrContent, err)
			}
		}
		for _, ce := range cc.ChildElements() {
			if ce.Tag != "Content" || ce.NamespaceURI() != NSOSCI {
				continue
			}
			if author != nil && !xmlsec.Covers(refs, ce) {
				return nil, fmt.Errorf("%w: Content %s is not covered by the Author signature", ErrContent, ce.SelectAttrValue("Id", ""))
			}
			if href := ce.SelectAttrValue("href", ""); href != "" {
				if author != nil && !coversURI(refs, href) {
					return nil, fmt.Errorf("%w: attachment %s is not covered by the Author signature", ErrContent, href)
				}
				p, ok := PartByID(attachments, href)
				if !ok {
					return nil, fmt.Errorf("%w: attachment %s missing", ErrContent, href)
				}
				out = append(out, Content{Href: href, Data: p.Data})
				continue
			}
			b := child(ce, NSOSCI, "Base64Content")
			if b == nil {
				return nil, fmt.Errorf("%w: Content %s has neither Base64Content nor href", ErrContent, ce.SelectAttrValue("Id", ""))
			}
			data, err := base64.StdEncoding.DecodeString(strings.Map(dropSpace, b.Text()))
			if err != nil {
				return nil, fmt.Errorf("%w: Base64Content: %v", ErrContent, err)
			}
			out = append(out, Content{Data: data})
		}
	}
	return out, nil
}

func coversURI(refs []xmlsec.VerifiedReference, uri string) bool {
	for _, r := range refs {
		if r.URI == uri {
			return true
		}
	}
	return false
}

// minimalNS returns a standalone copy of el in which every namespace prefix is
// declared on the outermost element that uses it and nowhere else: the form in
// which SealContent signs a container.
func minimalNS(el *etree.Element) (*etree.Element, error) {
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, err
	}
	cp := el.Copy()
	var walk func(src, dst *etree.Element, ctx etreeutils.NSContext, declared map[string]bool) error
	walk = func(src, dst *etree.Element, ctx etreeutils.NSContext, declared map[string]bool) error {
		ctx, err := ctx.SubContext(src)
		if err != nil {
			return err
		}
		attrs := dst.Attr[:0:0]
		for _, a := range dst.Attr {
			if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
				continue
			}
			attrs = append(attrs, a)
		}
		dst.Attr = attrs
		local := map[string]bool{}
		for k, v := range declared {
			local[k] = v
		}
		need := []string{dst.Space}
		for _, a := range dst.Attr {
			if a.Space != "" && a.Space != "xml" {
				need = append(need, a.Space)
			}
		}
		for _, p := range need {
			if local[p] {
				continue
			}
			uri, err := ctx.LookupPrefix(p)
			if err != nil {
				return err
			}
			if p == "" {
				dst.CreateAttr("xmlns", uri)
			} else {
				dst.CreateAttr("xmlns:"+p, uri)
			}
			local[p] = true
		}
		sc, dc := src.ChildElements(), dst.ChildElements()
		for i := range sc {
			if err := walk(sc[i], dc[i], ctx, local); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(el, cp, ctx, map[string]bool{}); err != nil {
		return nil, err
	}
	return cp, nil
}
