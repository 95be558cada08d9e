//go:build !unix

package natsjs

// lockDir is a no-op where flock does not exist; the read model's Badger
// lock still keeps a second tokend off the data directory.
func lockDir(string) (func(), error) { return func() {}, nil }
