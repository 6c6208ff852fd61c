package portal

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Managed API keys (dxhub portal key create) look like
//
//	dxhk_<key id>_<secret>
//
// with a key ID of 16 base32 characters (80 random bits; public: listed,
// logged and audited) and a secret of 43 base64url characters (256 random
// bits). The hub stores only the SHA-256 of the whole string. A slow password
// hash (bcrypt, argon2) exists to make guessing low-entropy passwords from a
// stolen hash expensive; a 256-bit random secret cannot be guessed at any
// speed (2^255 SHA-256 evaluations on average), so a fast hash loses nothing
// and keeps every request's check in the microseconds.
const (
	// KeyPrefix starts every managed key.
	KeyPrefix   = "dxhk_"
	keyIDLen    = 16
	secretBytes = 32
)

var keyIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// GeneratedKey is a new managed key: the secret to hand to the portal once,
// and what the store keeps.
type GeneratedKey struct {
	ID     string // key ID
	Prefix string // KeyPrefix + ID, the public beginning of Secret
	Secret string // the whole key; never stored, printed once
	Hash   string // HashKey(Secret)
}

// GenerateKey draws a new managed key from crypto/rand.
func GenerateKey() (GeneratedKey, error) {
	idb := make([]byte, 10)
	sec := make([]byte, secretBytes)
	if _, err := rand.Read(idb); err != nil {
		return GeneratedKey{}, fmt.Errorf("portal: key ID: %w", err)
	}
	if _, err := rand.Read(sec); err != nil {
		return GeneratedKey{}, fmt.Errorf("portal: key secret: %w", err)
	}
	id := strings.ToLower(keyIDEncoding.EncodeToString(idb))
	secret := KeyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(sec)
	return GeneratedKey{ID: id, Prefix: KeyPrefix + id, Secret: secret, Hash: HashKey(secret)}, nil
}

// HashKey is the stored form of a key: hex SHA-256.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// ParseKeyID returns the key ID of a string shaped like a managed key. It
// checks only the shape; the store decides whether the key exists.
func ParseKeyID(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != keyIDLen || len(secret) != base64.RawURLEncoding.EncodedLen(secretBytes) {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return "", false
		}
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", false
	}
	return id, true
}
