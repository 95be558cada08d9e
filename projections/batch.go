package projections

import (
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// applyBatch applies envs, in stream order, together with the new
// checkpoint in ONE Badger transaction, so that after a crash either all of
// them and the checkpoint are there or none is. Envelopes at or below the
// checkpoint are skipped: that is what makes a redelivery harmless. It
// returns the number of keys written. A batch too big for one transaction
// is split in halves, each still committed with its own checkpoint.
func (s *Store) applyBatch(envs []envelope) (int, error) {
	n, err := s.applyTxn(envs)
	if errors.Is(err, badger.ErrTxnTooBig) && len(envs) > 1 {
		half := len(envs) / 2
		a, err := s.applyBatch(envs[:half])
		if err != nil {
			return a, err
		}
		b, err := s.applyBatch(envs[half:])
		return a + b, err
	}
	return n, err
}

func (s *Store) applyTxn(envs []envelope) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, errClosed
	}
	cp := s.checkpointID()
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	st := newTxnState(txn, s.records)
	last := cp
	for i := range envs {
		env := &envs[i]
		if env.Seq <= last.Seq {
			continue
		}
		if err := applyEvent(st, env); err != nil {
			return 0, fmt.Errorf("apply sequence %d: %w", env.Seq, err)
		}
		last = checkpoint{Seq: env.Seq, EventID: env.Event.ID}
	}
	if last == cp {
		return 0, nil
	}
	if err := st.w.Set(keyCheckpoint, encodeCheckpoint(last)); err != nil {
		return 0, err
	}
	if err := txn.Commit(); err != nil {
		s.records.clear()
		s.licenses.clear()
		s.endUsers.clear()
		return 0, fmt.Errorf("commit sequences up to %d: %w", last.Seq, err)
	}
	s.records.add(st.written)
	s.licenses.drop(st.licenses)
	s.endUsers.drop(st.secrets)
	s.keysWritten.Add(uint64(st.w.n))
	s.setCheckpoint(last)
	return st.w.n, nil
}
