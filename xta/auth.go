package xta

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// CertMapping maps client certificates to the organisation keys they may act
// for. A certificate matches when its SHA-256 fingerprint (hex, colons
// allowed) equals Fingerprint, or, without Fingerprint, when its subject
// common name equals SubjectCN.
type CertMapping struct {
	SubjectCN   string
	Fingerprint string
	Identities  []string
}

// CertAuthority authenticates Fachverfahren by TLS client certificate
// (XTA's sp:HttpsToken RequireClientCertificate). The TLS layer only asks
// for a certificate (see ServerTLSConfig); verification happens here, so
// the caller gets an XTA fault with the precise Fehlernummer instead of a
// failed handshake: 9010 for an expired (or not yet valid) certificate,
// 9014 for a missing or untrusted one or one not authorising the identity,
// 9012 for a trusted certificate without a mapping.
type CertAuthority struct {
	Roots    *x509.CertPool
	Mappings []CertMapping
}

// NewCertAuthority reads the client CA bundle (PEM) and returns an authority.
func NewCertAuthority(clientCAFile string, mappings []CertMapping) (*CertAuthority, error) {
	pem, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("xta: client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("xta: client CA %s holds no PEM certificate", clientCAFile)
	}
	for i, m := range mappings {
		if m.Fingerprint == "" && m.SubjectCN == "" {
			return nil, fmt.Errorf("xta: client certificate mapping %d names neither fingerprint nor subject CN", i)
		}
		if len(m.Identities) == 0 {
			return nil, fmt.Errorf("xta: client certificate mapping %d has no identities", i)
		}
	}
	return &CertAuthority{Roots: pool, Mappings: mappings}, nil
}

// Fingerprint returns the SHA-256 fingerprint of cert as lower-case hex.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// Identities verifies the peer certificate of a TLS connection at time now
// and returns the identities it authorises, or an XTA fault.
func (a *CertAuthority) Identities(cs *tls.ConnectionState, now time.Time) ([]string, error) {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return nil, NewFault(CodeCertSenderMismatch, "no TLS client certificate presented")
	}
	cert := cs.PeerCertificates[0]
	if now.After(cert.NotAfter) {
		return nil, NewFault(CodeCertExpired, fmt.Sprintf("client certificate %q expired on %s", cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339)))
	}
	if now.Before(cert.NotBefore) {
		return nil, NewFault(CodeCertExpired, fmt.Sprintf("client certificate %q is valid only from %s", cert.Subject.CommonName, cert.NotBefore.UTC().Format(time.RFC3339)))
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cert.Verify(x509.VerifyOptions{Roots: a.Roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return nil, NewFault(CodeCertExpired, fmt.Sprintf("client certificate chain of %q: %v", cert.Subject.CommonName, err))
		}
		return nil, NewFault(CodeCertSenderMismatch, fmt.Sprintf("client certificate %q is not trusted: %v", cert.Subject.CommonName, err))
	}
	fp := Fingerprint(cert)
	var ids []string
	for _, m := range a.Mappings {
		if m.Fingerprint != "" {
			if strings.EqualFold(strings.ReplaceAll(m.Fingerprint, ":", ""), fp) {
				ids = append(ids, m.Identities...)
			}
		} else if m.SubjectCN == cert.Subject.CommonName {
			ids = append(ids, m.Identities...)
		}
	}
	if len(ids) == 0 {
		return nil, NewFault(CodeAccountMissing, fmt.Sprintf("no account for client certificate %q (SHA-256 %s)", cert.Subject.CommonName, fp))
	}
	return ids, nil
}

// ServerTLSConfig returns the listener configuration for an XTA server with
// client certificates: it asks every client for a certificate but leaves
// verification to CertAuthority.Identities (so the client gets an XTA fault
// instead of a handshake error). Minimum version TLS 1.2.
func ServerTLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("xta: server certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS12}, nil
}

// ClientTLSConfig returns the TLS configuration of an XTA client: its client
// certificate (certFile/keyFile, PEM; both empty for none) and the CA bundle
// that verifies the server (empty: the system roots).
func ClientTLSConfig(certFile, keyFile, serverCAFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("xta: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if serverCAFile != "" {
		pem, err := os.ReadFile(serverCAFile)
		if err != nil {
			return nil, fmt.Errorf("xta: server CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("xta: server CA %s holds no PEM certificate", serverCAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
