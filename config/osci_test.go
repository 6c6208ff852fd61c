package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writePair(t *testing.T, dir, name string, ku x509.KeyUsage, notBefore, notAfter time.Time) (string, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: notBefore, NotAfter: notAfter, KeyUsage: ku}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cf, kf := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cf, kf
}

func TestOSCIValidate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	sig := x509.KeyUsageDigitalSignature
	enc := x509.KeyUsageKeyEncipherment
	sc, sk := writePair(t, dir, "sig", sig, now.Add(-time.Hour), now.Add(time.Hour))
	ec, ek := writePair(t, dir, "enc", enc, now.Add(-time.Hour), now.Add(time.Hour))
	oldc, oldk := writePair(t, dir, "old", sig, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	good := func() *Config {
		c := Default()
		c.OSCI.Signing = OSCIKeyPair{CertFile: sc, KeyFile: sk}
		c.OSCI.Decryption = OSCIKeyPair{CertFile: ec, KeyFile: ek}
		c.OSCI.Intermediaries = []OSCIIntermediary{{URL: "https://osci.example/i", CipherCertFile: ec, SignatureCertFile: sc}}
		c.OSCI.Mailbox.Intermediary = "https://osci.example/i"
		return c
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		key    string
		has    string
	}{
		{"mailbox without identities", func(c *Config) {
			c.OSCI.Signing, c.OSCI.Decryption = OSCIKeyPair{}, OSCIKeyPair{}
		}, "osci.signing.certFile", "mailbox"},
		{"expired signing certificate", func(c *Config) { c.OSCI.Signing = OSCIKeyPair{CertFile: oldc, KeyFile: oldk} }, "osci.signing.certFile", "expired"},
		{"signing key usage on the cipher certificate", func(c *Config) { c.OSCI.Decryption = OSCIKeyPair{CertFile: sc, KeyFile: sk} }, "osci.decryption.certFile", "key usage"},
		{"key of another certificate", func(c *Config) { c.OSCI.Signing.KeyFile = ek }, "osci.signing", "pair"},
		{"intermediary cipher certificate for signatures only", func(c *Config) { c.OSCI.Intermediaries[0].CipherCertFile = sc }, "osci.intermediaries[0].cipherCertFile", "key usage"},
		{"no way to check the intermediary signature", func(c *Config) { c.OSCI.Intermediaries[0].SignatureCertFile = "" }, "osci.intermediaries[0].signatureCertFile", "trustStore.caFile"},
		{"mailbox at an unknown intermediary", func(c *Config) { c.OSCI.Mailbox.Intermediary = "https://other.example/" }, "osci.mailbox.intermediary", "not listed"},
		{"mailbox intermediary without cipher certificate", func(c *Config) { c.OSCI.Intermediaries[0].CipherCertFile = "" }, "osci.mailbox.intermediary", "cipherCertFile"},
		{"bad schedule", func(c *Config) { c.OSCI.ProcessCardSchedule = "every now and then" }, "osci.processCardSchedule", "cron"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.mutate(c)
			err := c.Validate()
			var found bool
			for _, fe := range FieldErrors(err) {
				if fe.Key == tt.key && strings.Contains(fe.Problem, tt.has) {
					found = true
				}
			}
			if !found {
				t.Fatalf("want %s (%q), got %v", tt.key, tt.has, err)
			}
		})
	}
}
