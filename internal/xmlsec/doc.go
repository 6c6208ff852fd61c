// Package xmlsec implements the XML security dxhub needs for OSCI-Transport 1.2 and
// other signed or encrypted XML: XML-DSig signatures with several references
// (enveloped, by Id, or to external parts such as MIME attachments) built on the
// canonicalizers of github.com/russellhaering/goxmldsig, XML Encryption with
// AES-GCM content encryption and RSA-OAEP key transport (both the xmlenc11#rsa-oaep
// form and the older rsa-oaep-mgf1p form), and certificate checks with a trust
// store.
//
// Security rules the package enforces:
//
//   - Signatures are verified against a certificate the caller supplies (from the
//     directory or configuration). Keys embedded in a message are never trusted; an
//     embedded certificate that differs from the expected one is an error.
//   - Referenced elements are resolved by a unique Id (Id, ID or wsu:Id); duplicate Ids
//     are rejected (signature-wrapping defence). Verify returns the verified elements
//     so callers check that what they rely on is covered.
//   - Subtrees are detached (with their in-scope namespaces) before they are
//     canonicalized, so signing and verifying work on elements inside a document.
//   - Deprecated algorithms (SHA-1 digests and signatures, CBC ciphers, Triple-DES,
//     RSA PKCS#1 v1.5 key transport) are rejected on input unless explicitly allowed.
//
// Revocation checking is an extension point: TrustStore.Revocation accepts any
// RevocationChecker (OCSP, CRL); none is built in.
package xmlsec

import "errors"

// Namespaces.
const (
	NSDSig    = "http://www.w3.org/2000/09/xmldsig#"
	NSXEnc    = "http://www.w3.org/2001/04/xmlenc#"
	NSXEnc11  = "http://www.w3.org/2009/xmlenc11#"
	NSOSCI128 = "http://xoev.de/transport/osci12/8"
)

// Canonicalization and transform algorithms.
const (
	C14N10             = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
	C14N10WithComments = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
	ExcC14N            = "http://www.w3.org/2001/10/xml-exc-c14n#"
	ExcC14NWithComment = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
	C14N11             = "http://www.w3.org/2006/12/xml-c14n11"
	C14N11WithComments = "http://www.w3.org/2006/12/xml-c14n11#WithComments"
	TransformEnveloped = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
)

// Signature and digest algorithms.
const (
	RSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	RSASHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
	RSASHA1   = "http://www.w3.org/2000/09/xmldsig#rsa-sha1" // deprecated
	SHA256    = "http://www.w3.org/2001/04/xmlenc#sha256"
	SHA512    = "http://www.w3.org/2001/04/xmlenc#sha512"
	SHA1      = "http://www.w3.org/2000/09/xmldsig#sha1" // deprecated for signatures
)

// Encryption algorithms.
const (
	AES128GCM   = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
	AES192GCM   = "http://www.w3.org/2009/xmlenc11#aes192-gcm"
	AES256GCM   = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
	AES128CBC   = "http://www.w3.org/2001/04/xmlenc#aes128-cbc" // deprecated
	AES192CBC   = "http://www.w3.org/2001/04/xmlenc#aes192-cbc" // deprecated
	AES256CBC   = "http://www.w3.org/2001/04/xmlenc#aes256-cbc" // deprecated
	TripleDES   = "http://www.w3.org/2001/04/xmlenc#tripledes-cbc"
	RSAOAEP11   = "http://www.w3.org/2009/xmlenc11#rsa-oaep"
	RSAOAEPMGF  = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
	RSA15       = "http://www.w3.org/2001/04/xmlenc#rsa-1_5" // deprecated
	MGF1SHA1    = "http://www.w3.org/2009/xmlenc11#mgf1sha1"
	MGF1SHA256  = "http://www.w3.org/2009/xmlenc11#mgf1sha256"
	MGF1SHA384  = "http://www.w3.org/2009/xmlenc11#mgf1sha384"
	MGF1SHA512  = "http://www.w3.org/2009/xmlenc11#mgf1sha512"
	TypeElement = "http://www.w3.org/2001/04/xmlenc#Element"
	TypeContent = "http://www.w3.org/2001/04/xmlenc#Content"
)

// Errors callers can test for with errors.Is.
var (
	ErrUnsupportedAlgorithm = errors.New("xmlsec: unsupported algorithm")
	ErrDeprecatedAlgorithm  = errors.New("xmlsec: deprecated algorithm not allowed")
	ErrReferenceNotFound    = errors.New("xmlsec: referenced element not found")
	ErrDuplicateID          = errors.New("xmlsec: duplicate Id")
	ErrDigestMismatch       = errors.New("xmlsec: digest mismatch (referenced content changed)")
	ErrSignatureInvalid     = errors.New("xmlsec: signature value does not verify")
	ErrCertificateMismatch  = errors.New("xmlsec: embedded certificate is not the expected one")
	ErrMalformed            = errors.New("xmlsec: malformed security element")
	ErrNotForThisKey        = errors.New("xmlsec: data is not encrypted for this key")
	ErrDecrypt              = errors.New("xmlsec: decryption failed (ciphertext or tag corrupted)")
)
