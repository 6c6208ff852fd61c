package portal

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
)

// ServerTLSConfig is the TLS configuration of the portal API listener:
// certFile/keyFile (PEM) and TLS 1.2 as the lowest version. With clientCAs
// (the union of the CAs of every portal configured for mTLS) the listener
// asks for a client certificate and verifies one that is given against
// clientCAs (tls.VerifyClientCertIfGiven): portals without mTLS connect
// without one, and which portal a certificate stands for is decided per
// request (ClientCert).
func ServerTLSConfig(certFile, keyFile string, clientCAs *x509.CertPool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("portal: server certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAs != nil {
		cfg.ClientCAs = clientCAs
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}
