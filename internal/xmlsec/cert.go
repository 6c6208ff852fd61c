package xmlsec

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// Certificate check errors.
var (
	ErrCertExpired     = errors.New("xmlsec: certificate expired")
	ErrCertNotYetValid = errors.New("xmlsec: certificate not yet valid")
	ErrCertKeyUsage    = errors.New("xmlsec: certificate key usage does not permit this use")
	ErrCertUntrusted   = errors.New("xmlsec: certificate does not chain to a trusted root")
	ErrCertRevoked     = errors.New("xmlsec: certificate revoked")
)

// Usage is what a certificate is used for.
type Usage int

// Certificate uses.
const (
	UsageSignature Usage = iota + 1
	UsageEncryption
)

func (u Usage) String() string {
	switch u {
	case UsageSignature:
		return "signature"
	case UsageEncryption:
		return "encryption"
	}
	return fmt.Sprintf("usage(%d)", int(u))
}

// CheckCertificate checks the validity period at now and the key usage. A
// certificate without a key-usage extension is unrestricted.
func CheckCertificate(cert *x509.Certificate, usage Usage, now time.Time) error {
	if cert == nil {
		return fmt.Errorf("xmlsec: no certificate")
	}
	subject := cert.Subject.String()
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("%w: %s valid from %s", ErrCertNotYetValid, subject, cert.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("%w: %s valid until %s", ErrCertExpired, subject, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if cert.KeyUsage != 0 {
		var need x509.KeyUsage
		switch usage {
		case UsageSignature:
			need = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		case UsageEncryption:
			need = x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment
		}
		if cert.KeyUsage&need == 0 {
			return fmt.Errorf("%w: %s for %s", ErrCertKeyUsage, subject, usage)
		}
	}
	return nil
}

// RevocationChecker is the extension point for revocation status (OCSP, CRL,
// LDAP as the OSCI InspectionReport names them). It returns an error wrapping
// ErrCertRevoked for a revoked certificate and another error when the status
// cannot be determined.
type RevocationChecker interface {
	CheckRevocation(ctx context.Context, cert *x509.Certificate, chain []*x509.Certificate) error
}

// TrustStore decides whether a peer certificate is acceptable: validity and key
// usage always; the chain to Roots when Roots is set; revocation when a
// RevocationChecker is configured.
type TrustStore struct {
	Roots         *x509.CertPool
	Intermediates *x509.CertPool
	Revocation    RevocationChecker
	// Now defaults to time.Now.
	Now func() time.Time
}

// Check validates cert for usage.
func (ts *TrustStore) Check(ctx context.Context, cert *x509.Certificate, usage Usage) error {
	now := time.Now()
	if ts != nil && ts.Now != nil {
		now = ts.Now()
	}
	if err := CheckCertificate(cert, usage, now); err != nil {
		return err
	}
	if ts == nil {
		return nil
	}
	var chain []*x509.Certificate
	if ts.Roots != nil {
		chains, err := cert.Verify(x509.VerifyOptions{
			Roots: ts.Roots, Intermediates: ts.Intermediates, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrCertUntrusted, cert.Subject, err)
		}
		chain = chains[0]
	}
	if ts.Revocation != nil {
		if err := ts.Revocation.CheckRevocation(ctx, cert, chain); err != nil {
			return fmt.Errorf("xmlsec: revocation check for %s: %w", cert.Subject, err)
		}
	}
	return nil
}

// ParseCertificatePEM parses the first CERTIFICATE block of a PEM text.
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("xmlsec: no CERTIFICATE block in PEM")
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("xmlsec: parse certificate: %w", err)
			}
			return c, nil
		}
	}
}

// ParseCertPoolPEM parses every CERTIFICATE block into a pool.
func ParseCertPoolPEM(data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("xmlsec: no certificates in PEM")
	}
	return pool, nil
}

// ParseRSAKeyPEM parses an RSA private key (PKCS#1 or PKCS#8).
func ParseRSAKeyPEM(data []byte) (*rsa.PrivateKey, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("xmlsec: no private key block in PEM")
		}
		switch b.Type {
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(b.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("xmlsec: parse private key: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("%w: private key is %T, not RSA", ErrUnsupportedAlgorithm, k)
			}
			return rk, nil
		}
	}
}
