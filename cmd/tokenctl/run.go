package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokend/tokend/sdk"
)

const defaultURL = "http://127.0.0.1:8080"

// app is one invocation of tokenctl: its streams, global flags and clock.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	now            func() time.Time

	url     string
	license string
	output  string
	timeout time.Duration
	noWait  bool
}

// run executes tokenctl with args (without the program name) and returns its
// exit code. It is main without the process: tests call it in-process. stdin
// is read only by `introspect -`.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	code := exitCode(err)
	if err != nil {
		fmt.Fprintf(stderr, "tokenctl: %s\n", clean(oneLine(err.Error())))
		if code == exitUsage {
			if cmd == nil {
				cmd = root
			}
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
	}
	return code
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "tokenctl",
		Short: "Manage a tokend account's tokens, models, licenses and audit trail",
		Long: `tokenctl manages a tokend account over its HTTP API: the tokens it issues to
end users, its models, its licenses and its audit trail.

The service is TOKEND_URL (or --url, default ` + defaultURL + `) and the
license TOKEND_LICENSE (or --license). Output is a table, or JSON with -o json.
A write returns once the service's reads show it, so the next tokenctl command
sees it.`,
		Version:       sdk.Version,
		SilenceErrors: true,
		SilenceUsage:  true,
		// No completion command: it would be one more thing to keep in
		// step with the SDK for no user who asked.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usagef(err.Error()) })
	pf := root.PersistentFlags()
	pf.StringVar(&a.url, "url", envOr("TOKEND_URL", defaultURL), "base URL of the service (env TOKEND_URL)")
	pf.StringVar(&a.license, "license", os.Getenv("TOKEND_LICENSE"), "license key lic_… (env TOKEND_LICENSE)")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	pf.DurationVar(&a.timeout, "timeout", 30*time.Second, "time limit of each request")
	pf.BoolVar(&a.noWait, "no-wait", false, "return from a write without waiting for the service's reads to show it")

	root.AddCommand(
		a.accountCommand(), a.accountsCommand(), a.licensesCommand(), a.modelsCommand(),
		a.tokensCommand(), a.auditCommand(), a.introspectCommand(),
	)
	return root
}

// action wraps a command's body so that its errors are told apart from
// cobra's usage errors, and checks the global flags first.
func (a *app) action(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if a.output != "table" && a.output != "json" {
			return usagef(fmt.Sprintf("--output must be table or json, not %q", a.output))
		}
		if u, err := url.Parse(a.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef(fmt.Sprintf("--url must be an http or https URL, not %q", a.url))
		}
		if err := f(cmd, args); err != nil {
			var ue *usageError
			if errors.As(err, &ue) {
				return err
			}
			return &runError{err: err}
		}
		return nil
	}
}

// client returns an SDK client for the flags; needLicense says whether the
// command needs a license (every one but introspect).
func (a *app) client(needLicense bool) (*sdk.Client, error) {
	if needLicense && a.license == "" {
		return nil, usagef("no license: set TOKEND_LICENSE or pass --license")
	}
	return sdk.New(a.url, a.license,
		sdk.WithHTTPClient(&http.Client{Timeout: a.timeout}),
		sdk.WithUserAgent("tokenctl/"+sdk.Version+" "+sdk.DefaultUserAgent),
	), nil
}

// settle waits, after a write, until the service's read model shows it, so
// that the next tokenctl process (a new client, which cannot know this one's
// sequence) reads it. The write has succeeded either way: a read model that
// stays behind is only a warning.
func (a *app) settle(ctx context.Context, c *sdk.Client) {
	if a.noWait || c.LastSequence() == 0 {
		return
	}
	if _, err := c.Account(ctx); err != nil {
		fmt.Fprintf(a.stderr, "tokenctl: warning: the write succeeded, but reads may not show it yet: %s\n", oneLine(err.Error()))
	}
}

// ifMatchFlag adds --if-match to a write command.
func ifMatchFlag(cmd *cobra.Command) {
	cmd.Flags().Int64("if-match", 0, "fail with a conflict (exit 4) unless the token is at this version")
}

// writeOpts turns --if-match into a call option when it was given.
func writeOpts(cmd *cobra.Command) []sdk.CallOption {
	if !cmd.Flags().Changed("if-match") {
		return nil
	}
	v, _ := cmd.Flags().GetInt64("if-match")
	return []sdk.CallOption{sdk.IfMatch(v)}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// oneLine keeps an error on one line of the terminal.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// group returns a command that only holds subcommands: alone it shows its
// help, and an unknown subcommand is a usage error (cobra would otherwise
// show the help and exit 0, hiding a typo from a script).
func group(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef(fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath()))
			}
			return cmd.Help()
		},
	}
}

// args checks the number of positional arguments and names them in the
// error, which cobra's own checks do not.
func args(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, got []string) error {
		if len(got) != len(names) {
			want := "no arguments"
			if len(names) > 0 {
				want = strconv.Itoa(len(names)) + " argument(s): " + strings.Join(names, " ")
			}
			return usagef(fmt.Sprintf("%s wants %s, got %d", cmd.CommandPath(), want, len(got)))
		}
		return nil
	}
}
