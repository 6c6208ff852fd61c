package dvdv

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // DVDV names client certificates by their SHA-1 fingerprint.
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Standalone authentication (dvdv-api.yaml, createToken): the client posts a
// client-credentials grant whose client_assertion is an RS256 JWT with the
// subject "fp:<SHA-1 fingerprint of a client certificate registered in
// DVDV>", signed with that certificate's key. The token it gets back goes into
// "Authorization: EmbeddedBearer <token>".

// Token endpoint constants.
const (
	TokenPath           = "extern/standaloneauth/token"
	GrantType           = "client_credentials"
	ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	AuthScheme          = "EmbeddedBearer"
)

// Fingerprint returns the SHA-1 fingerprint of a DER certificate as DVDV
// writes it: 40 lower-case hex digits.
func Fingerprint(der []byte) string {
	sum := sha1.Sum(der) //nolint:gosec // identifier, not a security decision
	return hex.EncodeToString(sum[:])
}

// NormalizeFingerprint lower-cases a fingerprint and drops ':' and blanks, so
// "AB:CD:…" and "abcd…" compare equal.
func NormalizeFingerprint(fp string) string {
	return strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(fp))
}

// AssertionClaims are the claims of the client assertion.
type AssertionClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	IssuedAt int64  `json:"iat"`
	Expires  int64  `json:"exp"`
	ID       string `json:"jti"`
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	X5T string `json:"x5t,omitempty"`
}

var b64 = base64.RawURLEncoding

// SignAssertion builds the RS256 client assertion for cert, signed with key,
// for the token endpoint audience. It is valid for lifetime from now.
func SignAssertion(cert *x509.Certificate, key crypto.Signer, audience string, now time.Time, lifetime time.Duration) (string, error) {
	if _, ok := key.Public().(*rsa.PublicKey); !ok {
		return "", errors.New("dvdv: the client key must be an RSA key (RS256)")
	}
	sub := "fp:" + Fingerprint(cert.Raw)
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	x5t := sha1.Sum(cert.Raw) //nolint:gosec // x5t is defined as the SHA-1 thumbprint
	h, _ := json.Marshal(jwtHeader{Alg: "RS256", Typ: "JWT", X5T: b64.EncodeToString(x5t[:])})
	c, _ := json.Marshal(AssertionClaims{Issuer: sub, Subject: sub, Audience: audience, IssuedAt: now.Unix(),
		Expires: now.Add(lifetime).Unix(), ID: hex.EncodeToString(jti[:])})
	signing := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	digest := sha256.Sum256([]byte(signing))
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("dvdv: sign client assertion: %w", err)
	}
	return signing + "." + b64.EncodeToString(sig), nil
}

// ParseAssertion splits a compact JWS, checks that it is RS256 and decodes
// its claims without verifying the signature. The server verifies with
// VerifyAssertion once it knows the certificate the subject names.
func ParseAssertion(token string) (AssertionClaims, error) {
	var c AssertionClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, fmt.Errorf("client assertion: want 3 dot-separated parts, got %d", len(parts))
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return c, fmt.Errorf("client assertion header: %w", err)
	}
	var h jwtHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return c, fmt.Errorf("client assertion header: %w", err)
	}
	if h.Alg != "RS256" {
		return c, fmt.Errorf("client assertion: alg %q, want RS256", h.Alg)
	}
	cb, err := b64.DecodeString(parts[1])
	if err != nil {
		return c, fmt.Errorf("client assertion claims: %w", err)
	}
	if err := json.Unmarshal(cb, &c); err != nil {
		return c, fmt.Errorf("client assertion claims: %w", err)
	}
	if !strings.HasPrefix(c.Subject, "fp:") {
		return c, fmt.Errorf("client assertion: subject %q does not start with \"fp:\"", c.Subject)
	}
	return c, nil
}

// VerifyAssertion checks the RS256 signature of token with pub and the time
// claims against now (with skew tolerance).
func VerifyAssertion(token string, pub *rsa.PublicKey, now time.Time, skew time.Duration) (AssertionClaims, error) {
	c, err := ParseAssertion(token)
	if err != nil {
		return c, err
	}
	i := strings.LastIndexByte(token, '.')
	sig, err := b64.DecodeString(token[i+1:])
	if err != nil {
		return c, fmt.Errorf("client assertion signature: %w", err)
	}
	digest := sha256.Sum256([]byte(token[:i]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		return c, fmt.Errorf("client assertion signature does not verify: %w", err)
	}
	if c.Expires == 0 || now.After(time.Unix(c.Expires, 0).Add(skew)) {
		return c, fmt.Errorf("client assertion expired at %s", time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	}
	if c.IssuedAt != 0 && time.Unix(c.IssuedAt, 0).After(now.Add(skew)) {
		return c, errors.New("client assertion issued in the future")
	}
	return c, nil
}

// LoadKeyPair reads the hub's DVDV client certificate and its RSA private key
// (PEM; PKCS#1 or PKCS#8) and checks that they belong together.
func LoadKeyPair(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("dvdv: client certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, fmt.Errorf("dvdv: client certificate %s: %w", certFile, err)
	}
	key, ok := pair.PrivateKey.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("dvdv: %s is not an RSA key (DVDV needs RS256)", keyFile)
	}
	return cert, key, nil
}
