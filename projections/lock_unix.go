//go:build unix

package projections

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// dirLock is an exclusive flock on <dir>.lock, beside the read-model
// directory rather than inside it, so that it outlives the directory swaps
// of a rebuild and also keeps `tokend rebuild` away from a running tokend.
// flock locks belong to an open file, so a second lock in the same process
// fails too.
type dirLock struct{ f *os.File }

func lockDir(dir string) (*dirLock, error) {
	path := dir + ".lock"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock read model: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data directory %s is in use by another tokend (lock %s is held): stop it first", filepath.Dir(dir), path)
		}
		return nil, fmt.Errorf("lock read model %s: %w", path, err)
	}
	return &dirLock{f: f}, nil
}

func (l *dirLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
