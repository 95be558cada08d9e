// Command tokenctl is the command-line twin of the Go SDK: it manages a
// tokend account's tokens, models, licenses and audit trail over the HTTP
// API. See docs/sdk.md for its commands and exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
