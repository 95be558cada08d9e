package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"io"
	"math/big"
	"strings"
)

// Secret prefixes: end users' token secrets and providers' licenses.
const (
	TokenSecretPrefix = "tkn_"
	LicensePrefix     = "lic_"
)

const (
	base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	randomDigits   = 43 // 256 bits in base62
	checksumDigits = 6  // CRC32 in base62
	// SecretLength is the length of a secret or license: prefix, 43 random
	// digits, 6 checksum digits.
	SecretLength = 4 + randomDigits + checksumDigits
	// HintLength is the length of the hint views show.
	HintLength = 8
)

// maxRandom is 2^256-1 in 43 base62 digits. The alphabet is in ASCII order,
// so fixed-width digit strings compare like the numbers they encode.
var maxRandom = encodeBase62(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)), randomDigits)

// NewSecret draws a secret with the given prefix from crypto/rand.
func NewSecret(prefix string) (string, error) { return newSecretFrom(rand.Reader, prefix) }

func newSecretFrom(r io.Reader, prefix string) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	body := prefix + encodeBase62(new(big.Int).SetBytes(b[:]), randomDigits)
	return body + checksum(body), nil
}

func checksum(body string) string {
	return encodeBase62(new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(body)))), checksumDigits)
}

func encodeBase62(n *big.Int, width int) string {
	out := make([]byte, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	n = new(big.Int).Set(n)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = base62Alphabet[mod.Int64()]
	}
	return string(out)
}

// CheckSecret reports whether s is well formed for prefix: the length, the
// base62 digits, a value below 2^256 and the CRC32 checksum. It reads only
// s, so malformed input is refused before any lookup.
func CheckSecret(prefix, s string) bool {
	if len(s) != SecretLength || !strings.HasPrefix(s, prefix) {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		if !isBase62(s[i]) {
			return false
		}
	}
	digits := s[len(prefix) : len(prefix)+randomDigits]
	if digits > maxRandom {
		return false
	}
	body := s[:len(prefix)+randomDigits]
	return decodeBase62(s[len(body):]) == uint64(crc32.ChecksumIEEE([]byte(body)))
}

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

func decodeBase62(s string) uint64 {
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d byte
		switch {
		case c <= '9':
			d = c - '0'
		case c <= 'Z':
			d = c - 'A' + 10
		default:
			d = c - 'a' + 36
		}
		n = n*62 + uint64(d)
	}
	return n
}

// HashSecret returns the SHA-256 of a secret or license in lower-case hex:
// the only form that is stored or published.
func HashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Hint returns the first 8 characters of a secret, which views show.
func Hint(s string) string {
	if len(s) < HintLength {
		return s
	}
	return s[:HintLength]
}
