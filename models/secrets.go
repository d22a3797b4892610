package models

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
)

// newSecret returns a random secret with a readable prefix ("sl_…", "wk_…") and the
// SHA-256 hex digest that is stored in its place.
func newSecret(prefix string) (plain, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	plain = prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	return plain, HashSecret(plain)
}

// HashSecret is how tokens, write keys and session ids are stored: they are high-entropy,
// so a fast hash suffices and lookups stay a single indexed read.
func HashSecret(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// displayPrefix is the part of a secret shown in lists so people can tell them apart.
func displayPrefix(plain string) string {
	if len(plain) > 10 {
		return plain[:10]
	}
	return plain
}
