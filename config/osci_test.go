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

// TestOSCIRelativePaths: certificate and key files of the osci section are
// relative to the configuration file's directory, not to the working
// directory; absolute paths and values from the environment stay as given.
func TestOSCIRelativePaths(t *testing.T) {
	base := t.TempDir()
	pki := filepath.Join(base, "pki")
	if err := os.Mkdir(pki, 0o700); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sc, sk := writePair(t, pki, "sig", x509.KeyUsageDigitalSignature, now.Add(-time.Hour), now.Add(time.Hour))
	writePair(t, pki, "enc", x509.KeyUsageKeyEncipherment, now.Add(-time.Hour), now.Add(time.Hour))
	yaml := `osci:
  signing: {certFile: pki/sig.crt, keyFile: ` + sk + `}
  decryption: {certFile: pki/enc.crt, keyFile: pki/enc.key}
  trustStore: {caFile: pki/sig.crt}
  intermediaries:
    - url: https://osci.example/i
      cipherCertFile: pki/enc.crt
      signatureCertFile: ./pki/sig.crt
`
	path := filepath.Join(base, "hub.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	// Run from elsewhere: the relative names would not resolve against the
	// working directory.
	t.Chdir(t.TempDir())
	t.Setenv("DXHUB_OSCI_DECRYPTION_KEYFILE", "from-env.key")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	o := c.OSCI
	for _, tt := range []struct{ key, got, want string }{
		{"signing.certFile", o.Signing.CertFile, sc},
		{"signing.keyFile (absolute)", o.Signing.KeyFile, sk},
		{"decryption.certFile", o.Decryption.CertFile, filepath.Join(pki, "enc.crt")},
		{"decryption.keyFile (environment)", o.Decryption.KeyFile, "from-env.key"},
		{"trustStore.caFile", o.TrustStore.CAFile, sc},
		{"intermediaries[0].cipherCertFile", o.Intermediaries[0].CipherCertFile, filepath.Join(pki, "enc.crt")},
		{"intermediaries[0].signatureCertFile", o.Intermediaries[0].SignatureCertFile, sc},
	} {
		if tt.got != tt.want {
			t.Errorf("osci.%s = %q, want %q", tt.key, tt.got, tt.want)
		}
	}
	// The resolved files validate; only the environment's relative key is
	// missing (relative to the working directory).
	var keys []string
	for _, fe := range FieldErrors(c.Validate()) {
		if strings.HasPrefix(fe.Key, "osci.") {
			keys = append(keys, fe.Key)
		}
	}
	if strings.Join(keys, ",") != "osci.decryption.keyFile" {
		t.Fatalf("osci validation errors %v, want only osci.decryption.keyFile", keys)
	}
}
