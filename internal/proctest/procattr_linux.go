package proctest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill tokend if the test process dies first
// (a panic, a timeout, a kill -9 of go test), so no tokend outlives its test
// even when t.Cleanup never runs.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
