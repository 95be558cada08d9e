//go:build unix

package natsjs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive, non-blocking flock on dir/.tokend.lock.
// nats-server does not lock its store, and two servers recovering the same
// files would damage them. The lock dies with the process, so a kill -9
// leaves nothing to clean up.
func lockDir(dir string) (func(), error) {
	name := filepath.Join(dir, ".tokend.lock")
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("JetStream store %s is in use by another process (a tokend or nats-server already runs on this data directory)", dir)
		}
		return nil, fmt.Errorf("store lock %s: %w", name, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
