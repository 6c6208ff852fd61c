package xmlsec

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SHA-1 only behind AllowDeprecated
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// Reference names one thing a signature covers.
type Reference struct {
	// URI is "" (the whole document), "#id" (an element with that Id, ID or
	// wsu:Id attribute) or any other URI (for example "cid:attachment1"), which is
	// digested as raw bytes obtained from the Signer's Resolver.
	URI string
	// Enveloped adds the enveloped-signature transform: the signature itself is
	// inside the referenced element and is left out of the digest.
	Enveloped bool
	// C14N is the canonicalization transform for element references; empty means
	// the Signer's C14N.
	C14N string
}

// Resolver returns the octets of an external reference (such as "cid:…").
type Resolver func(uri string) ([]byte, error)

// Signer creates XML signatures with RSA keys.
type Signer struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
	// C14N is the canonicalization of SignedInfo and the default transform of
	// element references; default exclusive C14N.
	C14N string
	// SignatureMethod defaults to RSASHA256, Digest to SHA256.
	SignatureMethod string
	Digest          string
	// Resolver supplies the bytes of non-XML references.
	Resolver Resolver
	// Prefix is the namespace prefix of the signature elements; default "ds".
	Prefix string
}

// Sign builds a ds:Signature covering refs, inserts it into parent at position
// index (-1 appends) and computes it in place, so canonicalization sees the
// signature's final namespace context. It returns the Signature element.
func (s *Signer) Sign(parent *etree.Element, index int, refs []Reference) (*etree.Element, error) {
	if s.Key == nil || s.Cert == nil {
		return nil, fmt.Errorf("xmlsec: signer needs a key and a certificate")
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("xmlsec: nothing to sign")
	}
	c14n := or(s.C14N, ExcC14N)
	sigMethod := or(s.SignatureMethod, RSASHA256)
	digestAlg := or(s.Digest, SHA256)
	p := or(s.Prefix, "ds")
	q := func(n string) string { return p + ":" + n }

	sig := etree.NewElement(q("Signature"))
	sig.CreateAttr("xmlns:"+p, NSDSig)
	si := sig.CreateElement(q("SignedInfo"))
	si.CreateElement(q("CanonicalizationMethod")).CreateAttr("Algorithm", c14n)
	si.CreateElement(q("SignatureMethod")).CreateAttr("Algorithm", sigMethod)
	refEls := make([]*etree.Element, len(refs))
	for i, r := range refs {
		re := si.CreateElement(q("Reference"))
		re.CreateAttr("URI", r.URI)
		if isElementRef(r.URI) {
			tr := re.CreateElement(q("Transforms"))
			if r.Enveloped {
				tr.CreateElement(q("Transform")).CreateAttr("Algorithm", TransformEnveloped)
			}
			tr.CreateElement(q("Transform")).CreateAttr("Algorithm", or(r.C14N, c14n))
		}
		re.CreateElement(q("DigestMethod")).CreateAttr("Algorithm", digestAlg)
		re.CreateElement(q("DigestValue"))
		refEls[i] = re
	}
	sig.CreateElement(q("SignatureValue"))
	sig.CreateElement(q("KeyInfo")).CreateElement(q("X509Data")).CreateElement(q("X509Certificate")).
		SetText(base64.StdEncoding.EncodeToString(s.Cert.Raw))

	if index < 0 || index > len(parent.ChildElements()) {
		parent.AddChild(sig)
	} else {
		insertChildElementAt(parent, sig, index)
	}
	fail := func(err error) (*etree.Element, error) {
		parent.RemoveChild(sig)
		return nil, err
	}
	for i, r := range refs {
		data, err := referencedOctets(sig, refEls[i], s.Resolver, true)
		if err != nil {
			return fail(fmt.Errorf("xmlsec: reference %q: %w", r.URI, err))
		}
		h, err := digestHash(digestAlg, true)
		if err != nil {
			return fail(err)
		}
		h.Write(data)
		refEls[i].SelectElement(q("DigestValue")).SetText(base64.StdEncoding.EncodeToString(h.Sum(nil)))
	}
	canon, err := canonicalizeInContext(si, c14n, "")
	if err != nil {
		return fail(err)
	}
	hashAlg, err := signatureHash(sigMethod, true)
	if err != nil {
		return fail(err)
	}
	h := hashAlg.New()
	h.Write(canon)
	value, err := rsa.SignPKCS1v15(rand.Reader, s.Key, hashAlg, h.Sum(nil))
	if err != nil {
		return fail(fmt.Errorf("xmlsec: sign: %w", err))
	}
	sig.SelectElement(q("SignatureValue")).SetText(base64.StdEncoding.EncodeToString(value))
	return sig, nil
}

// Verifier checks XML signatures against one expected certificate.
type Verifier struct {
	// Cert is the only certificate whose key is accepted.
	Cert *x509.Certificate
	// AllowDeprecated accepts SHA-1 digests and RSA-SHA1 signatures.
	AllowDeprecated bool
	// Resolver supplies the bytes of non-XML references.
	Resolver Resolver
}

// VerifiedReference is one reference that verified.
type VerifiedReference struct {
	URI string
	// Element is the referenced element in the document (nil for external
	// references); Canonical the octets that were digested.
	Element   *etree.Element
	Canonical []byte
}

// Verify checks the signature element sig, which must be attached to the document
// that holds the elements it references. It returns the verified references in
// order.
func (v *Verifier) Verify(sig *etree.Element) ([]VerifiedReference, error) {
	if v.Cert == nil {
		return nil, fmt.Errorf("xmlsec: verifier needs the expected certificate")
	}
	if sig == nil || sig.Tag != "Signature" || sig.NamespaceURI() != NSDSig {
		return nil, fmt.Errorf("%w: not a ds:Signature", ErrMalformed)
	}
	pub, ok := v.Cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: certificate key is %T, not RSA", ErrUnsupportedAlgorithm, v.Cert.PublicKey)
	}
	si := childNS(sig, NSDSig, "SignedInfo")
	sv := childNS(sig, NSDSig, "SignatureValue")
	if si == nil || sv == nil {
		return nil, fmt.Errorf("%w: Signature without SignedInfo or SignatureValue", ErrMalformed)
	}
	if ki := childNS(sig, NSDSig, "KeyInfo"); ki != nil {
		for _, xd := range childrenNS(ki, NSDSig, "X509Data") {
			for _, xc := range childrenNS(xd, NSDSig, "X509Certificate") {
				raw, err := base64.StdEncoding.DecodeString(compact(xc.Text()))
				if err != nil {
					return nil, fmt.Errorf("%w: X509Certificate: %v", ErrMalformed, err)
				}
				if !bytes.Equal(raw, v.Cert.Raw) {
					return nil, ErrCertificateMismatch
				}
			}
		}
	}
	cm := childNS(si, NSDSig, "CanonicalizationMethod")
	sm := childNS(si, NSDSig, "SignatureMethod")
	if cm == nil || sm == nil {
		return nil, fmt.Errorf("%w: SignedInfo without CanonicalizationMethod or SignatureMethod", ErrMalformed)
	}
	hashAlg, err := signatureHash(sm.SelectAttrValue("Algorithm", ""), v.AllowDeprecated)
	if err != nil {
		return nil, err
	}
	canon, err := canonicalizeInContext(si, cm.SelectAttrValue("Algorithm", ""), inclusivePrefixes(cm))
	if err != nil {
		return nil, err
	}
	value, err := base64.StdEncoding.DecodeString(compact(sv.Text()))
	if err != nil {
		return nil, fmt.Errorf("%w: SignatureValue: %v", ErrMalformed, err)
	}
	h := hashAlg.New()
	h.Write(canon)
	if err := rsa.VerifyPKCS1v15(pub, hashAlg, h.Sum(nil), value); err != nil {
		return nil, ErrSignatureInvalid
	}
	refs := childrenNS(si, NSDSig, "Reference")
	if len(refs) == 0 {
		return nil, fmt.Errorf("%w: SignedInfo without Reference", ErrMalformed)
	}
	out := make([]VerifiedReference, 0, len(refs))
	for _, re := range refs {
		uri := re.SelectAttrValue("URI", "")
		dm := childNS(re, NSDSig, "DigestMethod")
		dv := childNS(re, NSDSig, "DigestValue")
		if dm == nil || dv == nil {
			return nil, fmt.Errorf("%w: Reference %q without DigestMethod or DigestValue", ErrMalformed, uri)
		}
		data, err := referencedOctets(sig, re, v.Resolver, v.AllowDeprecated)
		if err != nil {
			return nil, fmt.Errorf("reference %q: %w", uri, err)
		}
		dh, err := digestHash(dm.SelectAttrValue("Algorithm", ""), v.AllowDeprecated)
		if err != nil {
			return nil, err
		}
		dh.Write(data)
		want, err := base64.StdEncoding.DecodeString(compact(dv.Text()))
		if err != nil {
			return nil, fmt.Errorf("%w: DigestValue: %v", ErrMalformed, err)
		}
		if subtle.ConstantTimeCompare(dh.Sum(nil), want) != 1 {
			return nil, fmt.Errorf("reference %q: %w", uri, ErrDigestMismatch)
		}
		vr := VerifiedReference{URI: uri, Canonical: data}
		if isElementRef(uri) {
			vr.Element, _ = resolveElement(sig, uri)
		}
		out = append(out, vr)
	}
	return out, nil
}

// Covers reports whether the verified references include the element el (by
// identity), so callers can insist that what they use was signed.
func Covers(refs []VerifiedReference, el *etree.Element) bool {
	for _, r := range refs {
		if r.Element == el {
			return true
		}
	}
	return false
}

func isElementRef(uri string) bool { return uri == "" || strings.HasPrefix(uri, "#") }

// referencedOctets resolves a Reference and applies its transforms.
func referencedOctets(sig, ref *etree.Element, resolve Resolver, allowDeprecated bool) ([]byte, error) {
	uri := ref.SelectAttrValue("URI", "")
	var transforms []*etree.Element
	if tr := childNS(ref, NSDSig, "Transforms"); tr != nil {
		transforms = childrenNS(tr, NSDSig, "Transform")
	}
	if !isElementRef(uri) {
		if len(transforms) > 0 {
			return nil, fmt.Errorf("%w: transforms on external reference", ErrUnsupportedAlgorithm)
		}
		if resolve == nil {
			return nil, fmt.Errorf("%w: no resolver for external reference", ErrReferenceNotFound)
		}
		data, err := resolve(uri)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrReferenceNotFound, err)
		}
		return data, nil
	}
	target, err := resolveElement(sig, uri)
	if err != nil {
		return nil, err
	}
	enveloped := false
	c14n, prefixes := C14N10, ""
	for i, t := range transforms {
		alg := t.SelectAttrValue("Algorithm", "")
		switch {
		case alg == TransformEnveloped:
			enveloped = true
		case isC14N(alg) && i == len(transforms)-1:
			c14n, prefixes = alg, inclusivePrefixes(t)
		default:
			return nil, fmt.Errorf("%w: transform %q", ErrUnsupportedAlgorithm, alg)
		}
	}
	if uri == "" && c14n != C14N10 && c14n != ExcC14N && c14n != C14N11 && !strings.HasSuffix(c14n, "WithComments") {
		return nil, fmt.Errorf("%w: transform %q", ErrUnsupportedAlgorithm, c14n)
	}
	path, inside := pathFrom(target, sig)
	if !enveloped && inside {
		return nil, fmt.Errorf("%w: signature inside referenced element without enveloped-signature transform", ErrMalformed)
	}
	ctx, err := etreeutils.NSBuildParentContext(target)
	if err != nil {
		return nil, err
	}
	det, err := etreeutils.NSDetatch(ctx, target)
	if err != nil {
		return nil, err
	}
	if enveloped && inside {
		removeAtPath(det, path)
	}
	return canonicalize(det, c14n, prefixes)
}

// canonicalizeInContext canonicalizes el as it sits in its document.
func canonicalizeInContext(el *etree.Element, alg, prefixes string) ([]byte, error) {
	if !isC14N(alg) {
		return nil, fmt.Errorf("%w: canonicalization %q", ErrUnsupportedAlgorithm, alg)
	}
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, err
	}
	det, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		return nil, err
	}
	return canonicalize(det, alg, prefixes)
}

func isC14N(alg string) bool {
	switch alg {
	case C14N10, C14N10WithComments, ExcC14N, ExcC14NWithComment, C14N11, C14N11WithComments:
		return true
	}
	return false
}

// canonicalize runs goxmldsig's canonicalizer on a detached element (which it
// may mutate).
func canonicalize(det *etree.Element, alg, prefixes string) ([]byte, error) {
	var c dsig.Canonicalizer
	switch alg {
	case C14N10:
		c = dsig.MakeC14N10RecCanonicalizer()
	case C14N10WithComments:
		c = dsig.MakeC14N10WithCommentsCanonicalizer()
	case ExcC14N:
		c = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(prefixes)
	case ExcC14NWithComment:
		c = dsig.MakeC14N10ExclusiveWithCommentsCanonicalizerWithPrefixList(prefixes)
	case C14N11:
		c = dsig.MakeC14N11Canonicalizer()
	case C14N11WithComments:
		c = dsig.MakeC14N11WithCommentsCanonicalizer()
	default:
		return nil, fmt.Errorf("%w: canonicalization %q", ErrUnsupportedAlgorithm, alg)
	}
	out, err := c.Canonicalize(det)
	if err != nil {
		return nil, fmt.Errorf("xmlsec: canonicalize: %w", err)
	}
	return out, nil
}

func inclusivePrefixes(t *etree.Element) string {
	for _, c := range t.ChildElements() {
		if c.Tag == "InclusiveNamespaces" {
			return c.SelectAttrValue("PrefixList", "")
		}
	}
	return ""
}

func signatureHash(alg string, allowDeprecated bool) (crypto.Hash, error) {
	switch alg {
	case RSASHA256:
		return crypto.SHA256, nil
	case RSASHA512:
		return crypto.SHA512, nil
	case "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384":
		return crypto.SHA384, nil
	case RSASHA1:
		if allowDeprecated {
			return crypto.SHA1, nil
		}
		return 0, fmt.Errorf("%w: signature method %q", ErrDeprecatedAlgorithm, alg)
	}
	return 0, fmt.Errorf("%w: signature method %q", ErrUnsupportedAlgorithm, alg)
}

func digestHash(alg string, allowDeprecated bool) (hash.Hash, error) {
	switch alg {
	case SHA256:
		return sha256.New(), nil
	case SHA512:
		return sha512.New(), nil
	case "http://www.w3.org/2001/04/xmldsig-more#sha384":
		return sha512.New384(), nil
	case SHA1:
		if allowDeprecated {
			return sha1.New(), nil //nolint:gosec
		}
		return nil, fmt.Errorf("%w: digest %q", ErrDeprecatedAlgorithm, alg)
	}
	return nil, fmt.Errorf("%w: digest %q", ErrUnsupportedAlgorithm, alg)
}

// resolveElement finds the element a same-document URI points at.
func resolveElement(from *etree.Element, uri string) (*etree.Element, error) {
	root := from
	for p := root.Parent(); p != nil && p.Tag != ""; p = root.Parent() {
		root = p
	}
	if uri == "" {
		return root, nil
	}
	id := strings.TrimPrefix(uri, "#")
	var found []*etree.Element
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		if HasID(e, id) {
			found = append(found, e)
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(root)
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: Id %q", ErrReferenceNotFound, id)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%w: %q occurs %d times", ErrDuplicateID, id, len(found))
}

// HasID reports whether e carries id as its Id, ID or wsu:Id attribute.
func HasID(e *etree.Element, id string) bool {
	for _, a := range e.Attr {
		if a.Value != id {
			continue
		}
		if (a.Space == "" && (a.Key == "Id" || a.Key == "ID")) ||
			(a.Key == "Id" && a.NamespaceURI() == "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd") {
			return true
		}
	}
	return false
}

// pathFrom returns the child-index path from ancestor a to descendant d.
func pathFrom(a, d *etree.Element) ([]int, bool) {
	var path []int
	for e := d; e != nil; e = e.Parent() {
		if e == a {
			for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
				path[i], path[j] = path[j], path[i]
			}
			return path, true
		}
		p := e.Parent()
		if p == nil {
			return nil, false
		}
		idx := -1
		for i, c := range p.ChildElements() {
			if c == e {
				idx = i
				break
			}
		}
		path = append(path, idx)
	}
	return nil, false
}

func removeAtPath(root *etree.Element, path []int) {
	e := root
	for i, idx := range path {
		kids := e.ChildElements()
		if idx < 0 || idx >= len(kids) {
			return
		}
		if i == len(path)-1 {
			e.RemoveChild(kids[idx])
			return
		}
		e = kids[idx]
	}
}

func insertChildElementAt(parent, child *etree.Element, index int) {
	kids := parent.ChildElements()
	if index >= len(kids) {
		parent.AddChild(child)
		return
	}
	parent.InsertChildAt(kids[index].Index(), child)
}

func childNS(e *etree.Element, ns, tag string) *etree.Element {
	for _, c := range e.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

func childrenNS(e *etree.Element, ns, tag string) []*etree.Element {
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

func compact(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
