package xmlsec

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des" //nolint:gosec // Triple-DES only behind AllowDeprecated
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SHA-1 OAEP (rsa-oaep-mgf1p) is still the common form
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/beevik/etree"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// KeyTransport selects the RSA-OAEP form used to wrap the session key.
type KeyTransport int

// Key transport forms.
const (
	// OAEP11SHA256 is xmlenc11#rsa-oaep with SHA-256 digest and MGF1-SHA-256 (the
	// OSCI 1.2 default).
	OAEP11SHA256 KeyTransport = iota
	// OAEPMGF1P is xmlenc#rsa-oaep-mgf1p: SHA-1 digest and MGF1-SHA-1.
	OAEPMGF1P
)

// Encrypter encrypts XML or octets for one recipient certificate with AES-GCM
// (12-byte IV, stored as IV‖ciphertext‖tag) and RSA-OAEP key transport.
type Encrypter struct {
	Cert         *x509.Certificate
	KeyTransport KeyTransport
	// Cipher is AES256GCM (default), AES192GCM or AES128GCM.
	Cipher string
	// IvLength adds the OSCI element osci128:IvLength Value="12" to the
	// EncryptionMethod, as OSCI 1.2 requires for AES-GCM.
	IvLength bool
	// Rand defaults to crypto/rand.
	Rand io.Reader
}

// EncryptElement encrypts el (with its in-scope namespaces) and returns an
// xenc:EncryptedData element of Type Element with the ciphertext inline; the caller
// puts it where el was (ReplaceWithEncrypted does both).
func (e *Encrypter) EncryptElement(el *etree.Element) (*etree.Element, error) {
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, err
	}
	det, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.SetRoot(det)
	plain, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	ed, _, err := e.EncryptData(plain, TypeElement, "", "")
	return ed, err
}

// ReplaceWithEncrypted encrypts el and replaces it in its parent by the
// EncryptedData element.
func (e *Encrypter) ReplaceWithEncrypted(el *etree.Element) (*etree.Element, error) {
	parent := el.Parent()
	if parent == nil {
		return nil, fmt.Errorf("xmlsec: element to encrypt has no parent")
	}
	ed, err := e.EncryptElement(el)
	if err != nil {
		return nil, err
	}
	parent.InsertChildAt(el.Index(), ed)
	parent.RemoveChild(el)
	return ed, nil
}

// EncryptData encrypts arbitrary octets. typ is the EncryptedData Type (may be
// empty), mimeType its MimeType. With cipherRef set, the EncryptedData carries a
// CipherReference to that URI and the ciphertext is returned separately (for a
// MIME part); otherwise it is inline as CipherValue and the returned slice is nil.
func (e *Encrypter) EncryptData(plain []byte, typ, mimeType, cipherRef string) (*etree.Element, []byte, error) {
	if e.Cert == nil {
		return nil, nil, fmt.Errorf("xmlsec: encrypter needs the recipient certificate")
	}
	pub, ok := e.Cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("%w: recipient key is %T, not RSA", ErrUnsupportedAlgorithm, e.Cert.PublicKey)
	}
	alg := or(e.Cipher, AES256GCM)
	keyLen, err := gcmKeyLen(alg)
	if err != nil {
		return nil, nil, err
	}
	rnd := e.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	key := make([]byte, keyLen)
	iv := make([]byte, 12)
	if _, err := io.ReadFull(rnd, key); err != nil {
		return nil, nil, err
	}
	if _, err := io.ReadFull(rnd, iv); err != nil {
		return nil, nil, err
	}
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	ct := gcm.Seal(append([]byte(nil), iv...), iv, plain, nil)

	var wrapped []byte
	ed := etree.NewElement("xenc:EncryptedData")
	ed.CreateAttr("xmlns:xenc", NSXEnc)
	if typ != "" {
		ed.CreateAttr("Type", typ)
	}
	if mimeType != "" {
		ed.CreateAttr("MimeType", mimeType)
	}
	em := ed.CreateElement("xenc:EncryptionMethod")
	em.CreateAttr("Algorithm", alg)
	if e.IvLength {
		iv := em.CreateElement("osci128:IvLength")
		iv.CreateAttr("xmlns:osci128", NSOSCI128)
		iv.CreateAttr("Value", "12")
	}
	ki := ed.CreateElement("ds:KeyInfo")
	ki.CreateAttr("xmlns:ds", NSDSig)
	ek := ki.CreateElement("xenc:EncryptedKey")
	kem := ek.CreateElement("xenc:EncryptionMethod")
	switch e.KeyTransport {
	case OAEP11SHA256:
		wrapped, err = rsa.EncryptOAEP(sha256.New(), rnd, pub, key, nil)
		kem.CreateAttr("Algorithm", RSAOAEP11)
		kem.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", SHA256)
		mgf := kem.CreateElement("xenc11:MGF")
		mgf.CreateAttr("xmlns:xenc11", NSXEnc11)
		mgf.CreateAttr("Algorithm", MGF1SHA256)
	case OAEPMGF1P:
		wrapped, err = rsa.EncryptOAEP(sha1.New(), rnd, pub, key, nil) //nolint:gosec
		kem.CreateAttr("Algorithm", RSAOAEPMGF)
		kem.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", SHA1)
	default:
		return nil, nil, fmt.Errorf("%w: key transport %d", ErrUnsupportedAlgorithm, e.KeyTransport)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("xmlsec: wrap session key: %w", err)
	}
	ek.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
		SetText(base64.StdEncoding.EncodeToString(e.Cert.Raw))
	ek.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(wrapped))
	cd := ed.CreateElement("xenc:CipherData")
	if cipherRef != "" {
		cd.CreateElement("xenc:CipherReference").CreateAttr("URI", cipherRef)
		return ed, ct, nil
	}
	cd.CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(ct))
	return ed, nil, nil
}

func gcmKeyLen(alg string) (int, error) {
	switch alg {
	case AES128GCM:
		return 16, nil
	case AES192GCM:
		return 24, nil
	case AES256GCM:
		return 32, nil
	}
	return 0, fmt.Errorf("%w: content encryption %q", ErrUnsupportedAlgorithm, alg)
}

// Decrypter decrypts EncryptedData addressed to one RSA key.
type Decrypter struct {
	Key *rsa.PrivateKey
	// Cert, when set, selects the EncryptedKey whose X509Certificate is this one;
	// EncryptedKeys naming another certificate are skipped.
	Cert *x509.Certificate
	// AllowDeprecated accepts CBC ciphers, Triple-DES and RSA PKCS#1 v1.5.
	AllowDeprecated bool
	// Resolver supplies the octets of a CipherReference (for example a MIME part).
	Resolver Resolver
}

// Decrypt returns the plaintext octets of the xenc:EncryptedData ed.
func (d *Decrypter) Decrypt(ed *etree.Element) ([]byte, error) {
	if d.Key == nil {
		return nil, fmt.Errorf("xmlsec: decrypter needs a private key")
	}
	if ed == nil || ed.Tag != "EncryptedData" || ed.NamespaceURI() != NSXEnc {
		return nil, fmt.Errorf("%w: not an xenc:EncryptedData", ErrMalformed)
	}
	em := childNS(ed, NSXEnc, "EncryptionMethod")
	if em == nil {
		return nil, fmt.Errorf("%w: EncryptedData without EncryptionMethod", ErrMalformed)
	}
	alg := em.SelectAttrValue("Algorithm", "")
	keyLen, err := d.contentKeyLen(alg)
	if err != nil {
		return nil, err
	}
	ki := childNS(ed, NSDSig, "KeyInfo")
	if ki == nil {
		return nil, fmt.Errorf("%w: EncryptedData without KeyInfo/EncryptedKey", ErrMalformed)
	}
	eks := childrenNS(ki, NSXEnc, "EncryptedKey")
	if len(eks) == 0 {
		return nil, fmt.Errorf("%w: EncryptedData without KeyInfo/EncryptedKey", ErrMalformed)
	}
	var key []byte
	var lastErr error = ErrNotForThisKey
	for _, ek := range eks {
		if d.Cert != nil && !names(ek, d.Cert) {
			continue
		}
		key, lastErr = d.unwrap(ek)
		if lastErr == nil {
			break
		}
		if !errors.Is(lastErr, ErrNotForThisKey) {
			return nil, lastErr
		}
	}
	if key == nil {
		return nil, lastErr
	}
	if len(key) != keyLen {
		return nil, fmt.Errorf("%w: session key has %d bytes, %s needs %d", ErrDecrypt, len(key), alg, keyLen)
	}
	ct, err := cipherOctets(ed, d.Resolver)
	if err != nil {
		return nil, err
	}
	return decryptContent(alg, key, ct)
}

// DecryptElement decrypts an EncryptedData of Type Element, parses the
// plaintext and replaces ed in its parent (if any) by the decrypted element.
func (d *Decrypter) DecryptElement(ed *etree.Element) (*etree.Element, error) {
	plain, err := d.Decrypt(ed)
	if err != nil {
		return nil, err
	}
	doc, err := ReadDoc(plain)
	if err != nil {
		return nil, fmt.Errorf("%w: decrypted content: %w", ErrMalformed, err)
	}
	root := doc.Root()
	if root == nil {
		return nil, fmt.Errorf("%w: decrypted content has no element", ErrMalformed)
	}
	doc.RemoveChild(root)
	if parent := ed.Parent(); parent != nil {
		parent.InsertChildAt(ed.Index(), root)
		parent.RemoveChild(ed)
	}
	return root, nil
}

func names(ek *etree.Element, cert *x509.Certificate) bool {
	ki := childNS(ek, NSDSig, "KeyInfo")
	if ki == nil {
		return true
	}
	certs := 0
	for _, xd := range childrenNS(ki, NSDSig, "X509Data") {
		for _, xc := range childrenNS(xd, NSDSig, "X509Certificate") {
			certs++
			raw, err := base64.StdEncoding.DecodeString(compact(xc.Text()))
			if err == nil && string(raw) == string(cert.Raw) {
				return true
			}
		}
	}
	return certs == 0 // no certificate named: try the key
}

func (d *Decrypter) contentKeyLen(alg string) (int, error) {
	switch alg {
	case AES128GCM, AES192GCM, AES256GCM:
		return gcmKeyLen(alg)
	case AES128CBC, AES192CBC, AES256CBC, TripleDES:
		if !d.AllowDeprecated {
			return 0, fmt.Errorf("%w: content encryption %q", ErrDeprecatedAlgorithm, alg)
		}
		return map[string]int{AES128CBC: 16, AES192CBC: 24, AES256CBC: 32, TripleDES: 24}[alg], nil
	}
	return 0, fmt.Errorf("%w: content encryption %q", ErrUnsupportedAlgorithm, alg)
}

func (d *Decrypter) unwrap(ek *etree.Element) ([]byte, error) {
	em := childNS(ek, NSXEnc, "EncryptionMethod")
	cd := childNS(ek, NSXEnc, "CipherData")
	if em == nil || cd == nil || childNS(cd, NSXEnc, "CipherValue") == nil {
		return nil, fmt.Errorf("%w: EncryptedKey without EncryptionMethod or CipherValue", ErrMalformed)
	}
	wrapped, err := base64.StdEncoding.DecodeString(compact(childNS(cd, NSXEnc, "CipherValue").Text()))
	if err != nil {
		return nil, fmt.Errorf("%w: EncryptedKey CipherValue: %v", ErrMalformed, err)
	}
	alg := em.SelectAttrValue("Algorithm", "")
	digest := ""
	if dm := childNS(em, NSDSig, "DigestMethod"); dm != nil {
		digest = dm.SelectAttrValue("Algorithm", "")
	}
	mgf := ""
	if m := childNS(em, NSXEnc11, "MGF"); m != nil {
		mgf = m.SelectAttrValue("Algorithm", "")
	}
	var opts *rsa.OAEPOptions
	switch alg {
	case RSAOAEP11:
		h, err := oaepHash(or(digest, SHA1))
		if err != nil {
			return nil, err
		}
		mh, err := mgfHash(or(mgf, MGF1SHA1))
		if err != nil {
			return nil, err
		}
		opts = &rsa.OAEPOptions{Hash: h, MGFHash: mh}
	case RSAOAEPMGF:
		h, err := oaepHash(or(digest, SHA1))
		if err != nil {
			return nil, err
		}
		opts = &rsa.OAEPOptions{Hash: h, MGFHash: crypto.SHA1}
	case RSA15:
		if !d.AllowDeprecated {
			return nil, fmt.Errorf("%w: key transport %q", ErrDeprecatedAlgorithm, alg)
		}
		key, err := rsa.DecryptPKCS1v15(nil, d.Key, wrapped) //nolint:staticcheck // deprecated input, opt-in
		if err != nil {
			return nil, ErrNotForThisKey
		}
		return key, nil
	default:
		return nil, fmt.Errorf("%w: key transport %q", ErrUnsupportedAlgorithm, alg)
	}
	key, err := d.Key.Decrypt(nil, wrapped, opts)
	if err != nil {
		return nil, ErrNotForThisKey
	}
	return key, nil
}

func oaepHash(alg string) (crypto.Hash, error) {
	switch alg {
	case SHA1:
		return crypto.SHA1, nil
	case SHA256:
		return crypto.SHA256, nil
	case "http://www.w3.org/2001/04/xmldsig-more#sha384":
		return crypto.SHA384, nil
	case SHA512:
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("%w: OAEP digest %q", ErrUnsupportedAlgorithm, alg)
}

func mgfHash(alg string) (crypto.Hash, error) {
	switch alg {
	case MGF1SHA1:
		return crypto.SHA1, nil
	case MGF1SHA256:
		return crypto.SHA256, nil
	case MGF1SHA384:
		return crypto.SHA384, nil
	case MGF1SHA512:
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("%w: MGF %q", ErrUnsupportedAlgorithm, alg)
}

func cipherOctets(ed *etree.Element, resolve Resolver) ([]byte, error) {
	cd := childNS(ed, NSXEnc, "CipherData")
	if cd == nil {
		return nil, fmt.Errorf("%w: EncryptedData without CipherData", ErrMalformed)
	}
	if cv := childNS(cd, NSXEnc, "CipherValue"); cv != nil {
		ct, err := base64.StdEncoding.DecodeString(compact(cv.Text()))
		if err != nil {
			return nil, fmt.Errorf("%w: CipherValue: %v", ErrMalformed, err)
		}
		return ct, nil
	}
	if cr := childNS(cd, NSXEnc, "CipherReference"); cr != nil {
		uri := cr.SelectAttrValue("URI", "")
		if resolve == nil {
			return nil, fmt.Errorf("%w: no resolver for CipherReference %q", ErrReferenceNotFound, uri)
		}
		ct, err := resolve(uri)
		if err != nil {
			return nil, fmt.Errorf("%w: CipherReference %q: %w", ErrReferenceNotFound, uri, err)
		}
		return ct, nil
	}
	return nil, fmt.Errorf("%w: CipherData without CipherValue or CipherReference", ErrMalformed)
}

func decryptContent(alg string, key, ct []byte) ([]byte, error) {
	switch alg {
	case AES128GCM, AES192GCM, AES256GCM:
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		gcm, _ := cipher.NewGCM(block)
		if len(ct) < 12+gcm.Overhead() {
			return nil, fmt.Errorf("%w: ciphertext too short", ErrDecrypt)
		}
		plain, err := gcm.Open(nil, ct[:12], ct[12:], nil)
		if err != nil {
			return nil, ErrDecrypt
		}
		return plain, nil
	case AES128CBC, AES192CBC, AES256CBC, TripleDES:
		var block cipher.Block
		var err error
		if alg == TripleDES {
			block, err = des.NewTripleDESCipher(key)
		} else {
			block, err = aes.NewCipher(key)
		}
		if err != nil {
			return nil, err
		}
		bs := block.BlockSize()
		if len(ct) < 2*bs || len(ct)%bs != 0 {
			return nil, fmt.Errorf("%w: CBC ciphertext length %d", ErrDecrypt, len(ct))
		}
		plain := make([]byte, len(ct)-bs)
		cipher.NewCBCDecrypter(block, ct[:bs]).CryptBlocks(plain, ct[bs:])
		pad := int(plain[len(plain)-1])
		if pad < 1 || pad > bs {
			return nil, fmt.Errorf("%w: bad CBC padding", ErrDecrypt)
		}
		return plain[:len(plain)-pad], nil
	}
	return nil, fmt.Errorf("%w: content encryption %q", ErrUnsupportedAlgorithm, alg)
}
