package dvdvtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// NewKey generates an RSA key for test certificates (2048 bits).
func NewKey() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }

// NewCertificate issues a self-signed certificate for cn, valid from
// notBefore to notAfter, with key's public key. Several certificates may share
// one key; each gets a random serial and so its own fingerprint.
func NewCertificate(cn string, notBefore, notAfter time.Time, key *rsa.PrivateKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Oeffentliche Verwaltung"}, OrganizationalUnit: []string{"dvdvtest"}},
		NotBefore:    notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("dvdvtest: certificate %s: %w", cn, err)
	}
	return x509.ParseCertificate(der)
}
