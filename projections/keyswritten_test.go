package projections

import (
	"path/filepath"
	"testing"
)

// TestKeysWrittenCountsEveryCommittedKey: KeysWritten adds up the keys of
// every committed batch, checkpoints included, and nothing for a batch that
// was already applied.
func TestKeysWrittenCountsEveryCommittedKey(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), ReadModelDir), baseTime)
	envs := envelopes(historyEvents("acct", 20, 4), 1)
	total := 0
	for j := 0; j < len(envs); j += 16 {
		n, err := s.applyBatch(envs[j:min(j+16, len(envs))])
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total == 0 || s.KeysWritten() != uint64(total) {
		t.Fatalf("KeysWritten() = %d, the batches wrote %d", s.KeysWritten(), total)
	}
	if _, err := s.applyBatch(envs[:16]); err != nil {
		t.Fatal(err)
	}
	if s.KeysWritten() != uint64(total) {
		t.Fatalf("a redelivered batch counted: KeysWritten() = %d, want %d", s.KeysWritten(), total)
	}
}
