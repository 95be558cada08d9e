package domain_test

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/tokend/tokend/domain"
)

// An independent implementation of API.md's secret format, to check the
// domain's against: prefix, 43 base62 digits (most significant first) of
// 256 random bits, 6 base62 digits of the CRC32 (IEEE) of all before them.
const b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

var (
	two256    = new(big.Int).Lsh(big.NewInt(1), 256)
	secretRE  = regexp.MustCompile(`^(tkn_|lic_)[0-9A-Za-z]{49}$`)
	lowerHex  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	b62Digits = func() map[byte]int64 {
		m := map[byte]int64{}
		for i := 0; i < len(b62); i++ {
			m[b62[i]] = int64(i)
		}
		return m
	}()
)

func toBase62(n *big.Int, width int) string {
	n = new(big.Int).Set(n)
	out := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		var d big.Int
		n.DivMod(n, big.NewInt(62), &d)
		out[i] = b62[d.Int64()]
	}
	if n.Sign() != 0 {
		panic("does not fit")
	}
	return string(out)
}

// fromBase62 decodes digits; ok is false for a character outside base62.
func fromBase62(s string) (*big.Int, bool) {
	n := new(big.Int)
	for i := 0; i < len(s); i++ {
		d, ok := b62Digits[s[i]]
		if !ok {
			return nil, false
		}
		n.Mul(n, big.NewInt(62))
		n.Add(n, big.NewInt(d))
	}
	return n, true
}

func crcDigits(body string) string {
	return toBase62(new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(body)))), 6)
}

// secretWith builds a secret whose random part encodes n, with a valid checksum.
func secretWith(prefix string, n *big.Int) string {
	body := prefix + toBase62(n, 43)
	return body + crcDigits(body)
}

func secretFromBytes(prefix string, b []byte) string {
	return secretWith(prefix, new(big.Int).SetBytes(b))
}

// wellFormed is API.md's rule, written independently of CheckSecret.
func wellFormed(prefix, s string) bool {
	if len(s) != 53 || !strings.HasPrefix(s, prefix) || len(prefix) != 4 {
		return false
	}
	n, ok := fromBase62(s[4:47])
	if !ok || n.Cmp(two256) >= 0 {
		return false
	}
	sum, ok := fromBase62(s[47:])
	return ok && sum.IsUint64() && sum.Uint64() == uint64(crc32.ChecksumIEEE([]byte(s[:47])))
}

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for _, prefix := range []string{domain.TokenSecretPrefix, domain.LicensePrefix} {
		for i := 0; i < 200; i++ {
			s, err := domain.NewSecret(prefix)
			if err != nil {
				t.Fatal(err)
			}
			if len(s) != 53 || domain.SecretLength != 53 || !secretRE.MatchString(s) || !strings.HasPrefix(s, prefix) {
				t.Fatalf("secret %q has the wrong shape", s)
			}
			if !domain.CheckSecret(prefix, s) || !wellFormed(prefix, s) {
				t.Fatalf("secret %q refused", s)
			}
			if s[47:] != crcDigits(s[:47]) {
				t.Fatalf("secret %q: checksum %s, want %s", s, s[47:], crcDigits(s[:47]))
			}
			other := map[string]string{domain.TokenSecretPrefix: domain.LicensePrefix, domain.LicensePrefix: domain.TokenSecretPrefix}[prefix]
			if domain.CheckSecret(other, s) {
				t.Fatalf("%q accepted as a %s", s, other)
			}
			if seen[s] {
				t.Fatalf("secret %q drawn twice", s)
			}
			seen[s] = true
		}
	}
	if domain.TokenSecretPrefix != "tkn_" || domain.LicensePrefix != "lic_" {
		t.Errorf("prefixes %q %q", domain.TokenSecretPrefix, domain.LicensePrefix)
	}
}

// TestSecretKnownValues pins the encoding on values whose digits are known.
func TestSecretKnownValues(t *testing.T) {
	max := new(big.Int).Sub(two256, big.NewInt(1))
	cases := []struct {
		name string
		s    string
		ok   bool
	}{
		{"zero", secretWith("tkn_", big.NewInt(0)), true},
		{"one", secretWith("tkn_", big.NewInt(1)), true},
		{"2^256-1", secretWith("tkn_", max), true},
		{"2^256-1 license", secretWith("lic_", max), true},
		{"2^256", secretWith("tkn_", two256), false},
		{"2^256+1", secretWith("tkn_", new(big.Int).Add(two256, big.NewInt(1))), false},
		{"62^43-1 (all z)", secretWith("tkn_", new(big.Int).Sub(new(big.Int).Exp(big.NewInt(62), big.NewInt(43), nil), big.NewInt(1))), false},
	}
	if got := cases[0].s[:47]; got != "tkn_"+strings.Repeat("0", 43) {
		t.Fatalf("zero encodes as %q", got)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.CheckSecret(tc.s[:4], tc.s); got != tc.ok {
				t.Errorf("CheckSecret(%q) = %v, want %v", tc.s, got, tc.ok)
			}
		})
	}
}

func TestCheckSecretRefuses(t *testing.T) {
	good, err := domain.NewSecret(domain.TokenSecretPrefix)
	if err != nil {
		t.Fatal(err)
	}
	set := func(s string, i int, c byte) string { b := []byte(s); b[i] = c; return string(b) }
	cases := []struct {
		name   string
		prefix string
		s      string
	}{
		{"empty", "tkn_", ""},
		{"prefix only", "tkn_", "tkn_"},
		{"license prefix for a token", "tkn_", "lic_" + good[4:]},
		{"token for a license", "lic_", good},
		{"upper-case prefix", "tkn_", "TKN_" + good[4:]},
		{"dash prefix", "tkn_", "tkn-" + good[4:]},
		{"no prefix", "tkn_", good[4:]},
		{"52 characters", "tkn_", good[:52]},
		{"54 characters", "tkn_", good + "0"},
		{"leading space", "tkn_", " " + good},
		{"trailing newline", "tkn_", good + "\n"},
		{"'-' in the random part", "tkn_", set(good, 10, '-')},
		{"'_' in the random part", "tkn_", set(good, 4, '_')},
		{"'+' in the checksum", "tkn_", set(good, 50, '+')},
		{"'/' at the end", "tkn_", set(good, 52, '/')},
		{"NUL", "tkn_", set(good, 20, 0)},
		{"byte 0xff", "tkn_", set(good, 30, 0xff)},
		{"a multi-byte letter of the same byte length", "tkn_", good[:10] + "é" + good[12:]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if domain.CheckSecret(tc.prefix, tc.s) {
				t.Errorf("CheckSecret(%q, %q) accepted", tc.prefix, tc.s)
			}
		})
	}
	// Any single changed digit is caught by the CRC: every position of the
	// random part and of the checksum, to every other base62 digit.
	for i := 4; i < 53; i++ {
		for j := 0; j < len(b62); j++ {
			if b62[j] == good[i] {
				continue
			}
			if s := set(good, i, b62[j]); domain.CheckSecret("tkn_", s) {
				t.Fatalf("digit %d changed to %c accepted: %q", i, b62[j], s)
			}
		}
	}
	// Two digits swapped in the random part.
	for i := 4; i < 46; i++ {
		if good[i] == good[i+1] {
			continue
		}
		b := []byte(good)
		b[i], b[i+1] = b[i+1], b[i]
		if domain.CheckSecret("tkn_", string(b)) {
			t.Fatalf("digits %d and %d swapped accepted", i, i+1)
		}
	}
}

func TestHashSecret(t *testing.T) {
	if got := domain.HashSecret("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("HashSecret(abc) = %s", got)
	}
	s, _ := domain.NewSecret("tkn_")
	sum := sha256.Sum256([]byte(s))
	if got := domain.HashSecret(s); got != hex.EncodeToString(sum[:]) || !lowerHex.MatchString(got) {
		t.Errorf("HashSecret(%q) = %s", s, got)
	}
}

func TestHint(t *testing.T) {
	s, _ := domain.NewSecret("tkn_")
	if got := domain.Hint(s); got != s[:8] || len(got) != domain.HintLength || !strings.HasPrefix(got, "tkn_") {
		t.Errorf("Hint(%q) = %q", s, got)
	}
	for _, short := range []string{"", "tkn", "tkn_abc"} {
		if got := domain.Hint(short); got != short {
			t.Errorf("Hint(%q) = %q", short, got)
		}
	}
}

// FuzzCheckSecret: CheckSecret never panics, and accepts exactly the strings
// that are well formed by an independent reading of API.md (so anything it
// accepts has the right shape and a matching CRC32).
func FuzzCheckSecret(f *testing.F) {
	for _, p := range []string{"tkn_", "lic_"} {
		s, _ := domain.NewSecret(p)
		f.Add(s)
		f.Add(s[:52])
		f.Add(s + "0")
		f.Add(s[:47] + "000000")
		f.Add(secretWith(p, two256))
		f.Add(secretWith(p, new(big.Int).Sub(two256, big.NewInt(1))))
	}
	f.Add("")
	f.Add("tkn_" + strings.Repeat("z", 49))
	f.Add("tkn_" + strings.Repeat("é", 24) + "a")
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range []string{"tkn_", "lic_"} {
			got := domain.CheckSecret(p, s)
			if want := wellFormed(p, s); got != want {
				t.Fatalf("CheckSecret(%q, %q) = %v, want %v", p, s, got, want)
			}
			if got {
				if len(s) != 53 || !secretRE.MatchString(s) || s[:4] != p || s[47:] != crcDigits(s[:47]) {
					t.Fatalf("accepted %q of the wrong shape", s)
				}
			}
		}
	})
}
