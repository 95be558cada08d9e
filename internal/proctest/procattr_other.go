//go:build !linux

package proctest

import "os/exec"

// dieWithParent has no portable equivalent off Linux: t.Cleanup's kill is
// all there is.
func dieWithParent(*exec.Cmd) {}
