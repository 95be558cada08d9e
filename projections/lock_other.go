//go:build !unix

package projections

// dirLock is a no-op where flock is missing: Badger's own directory lock
// still refuses a second process, but a rebuild is not kept away from a
// running tokend there.
type dirLock struct{}

func lockDir(dir string) (*dirLock, error) { return &dirLock{}, nil }

func (l *dirLock) release() {}
