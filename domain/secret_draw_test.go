package domain_test

import (
	"testing"

	"github.com/tokend/tokend/domain"
)

// DrawSecret gives a well-formed token secret and puts only its hash and
// hint in the command.
func TestIssueTokenDrawSecret(t *testing.T) {
	var b domain.IssueToken
	secret, err := b.DrawSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !domain.CheckSecret(domain.TokenSecretPrefix, secret) {
		t.Fatalf("drawn secret %q is not well formed", secret)
	}
	if b.SecretSha256 != domain.HashSecret(secret) || b.SecretHint != secret[:domain.HintLength] {
		t.Fatalf("hash %q, hint %q for %q", b.SecretSha256, b.SecretHint, secret)
	}
}
