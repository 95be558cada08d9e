//go:build !linux

package e2e

import "os/exec"

// dieWithParent has no portable equivalent off Linux: t.Cleanup's kill is
// what stops the service there.
func dieWithParent(*exec.Cmd) {}
