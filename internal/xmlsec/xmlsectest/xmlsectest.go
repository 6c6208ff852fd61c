// Package xmlsectest creates throw-away RSA identities (key and self-signed or
// CA-issued certificate) for tests and test peers such as osci/oscitest.
package xmlsectest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync/atomic"
	"time"
)

// Identity is a key with its certificate.
type Identity struct {
	Key     *rsa.PrivateKey
	Cert    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte
}

// Options tune a generated certificate.
type Options struct {
	NotBefore, NotAfter time.Time // default: now-1h … now+24h
	KeyUsage            x509.KeyUsage
	IsCA                bool
	Issuer              *Identity // nil: self-signed
	Bits                int       // default 2048
}

var serial atomic.Int64

// New creates an identity with the given common name, usable for signatures and
// encryption.
func New(cn string) *Identity {
	return MustNew(cn, Options{})
}

// MustNew creates an identity and panics on failure (key generation does not fail
// in practice).
func MustNew(cn string, o Options) *Identity {
	bits := o.Bits
	if bits == 0 {
		bits = 2048
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	now := time.Now()
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.Add(24 * time.Hour)
	}
	ku := o.KeyUsage
	if ku == 0 {
		ku = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment
	}
	if o.IsCA {
		ku |= x509.KeyUsageCertSign
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1) + now.UnixNano()%1e9),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"dxhub test"}},
		NotBefore:    o.NotBefore, NotAfter: o.NotAfter,
		KeyUsage: ku, BasicConstraintsValid: true, IsCA: o.IsCA,
	}
	parent, signer := tmpl, key
	if o.Issuer != nil {
		parent, signer = o.Issuer.Cert, o.Issuer.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return &Identity{
		Key: key, Cert: cert,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
	}
}
