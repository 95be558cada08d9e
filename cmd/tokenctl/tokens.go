package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tokend/tokend/sdk"
)

func (a *app) tokensCommand() *cobra.Command {
	cmd := group("tokens", "Issue, list, change and delete end users' tokens")
	cmd.AddCommand(
		a.tokensCreateCommand(), a.tokensListCommand(), a.tokensGetCommand(), a.tokensUpdateCommand(),
		a.tokenWriteCommand("rename ID NAME", "Rename a token", []string{"ID", "NAME"},
			func(ctx context.Context, c *sdk.Client, args []string, o []sdk.CallOption) (sdk.Token, error) {
				return c.UpdateToken(ctx, args[0], sdk.UpdateTokenRequest{Name: sdk.Some(args[1])}, o...)
			}),
		a.tokenWriteCommand("suspend ID", "Suspend an active token", []string{"ID"},
			func(ctx context.Context, c *sdk.Client, args []string, o []sdk.CallOption) (sdk.Token, error) {
				return c.UpdateToken(ctx, args[0], sdk.UpdateTokenRequest{Status: sdk.Some(sdk.StatusSuspended)}, o...)
			}),
		a.tokenWriteCommand("reactivate ID", "Reactivate a suspended token", []string{"ID"},
			func(ctx context.Context, c *sdk.Client, args []string, o []sdk.CallOption) (sdk.Token, error) {
				return c.UpdateToken(ctx, args[0], sdk.UpdateTokenRequest{Status: sdk.Some(sdk.StatusActive)}, o...)
			}),
		a.tokenWriteCommand("cancel ID", "Cancel a token for good (it can still be deleted)", []string{"ID"},
			func(ctx context.Context, c *sdk.Client, args []string, o []sdk.CallOption) (sdk.Token, error) {
				return c.CancelToken(ctx, args[0], o...)
			}),
		a.tokenWriteCommand("assign ID MODEL", "Assign an unassigned token to a model", []string{"ID", "MODEL"},
			func(ctx context.Context, c *sdk.Client, args []string, o []sdk.CallOption) (sdk.Token, error) {
				return c.AssignModel(ctx, args[0], args[1], o...)
			}),
		a.tokenWriteCommand("unassign ID", "Remove a token's model", []string{"ID"},
			func(ctx context.Context, c *sdk.Client, args []string, o []sdk.CallOption) (sdk.Token, error) {
				return c.UnassignModel(ctx, args[0], o...)
			}),
		a.tokensDeleteCommand(), a.tokensAuditCommand(),
	)
	return cmd
}

func (a *app) printToken(tok sdk.Token) error {
	if a.output == "json" {
		return emitJSON(a.stdout, tok)
	}
	return printToken(a.stdout, tok)
}

func (a *app) tokensCreateCommand() *cobra.Command {
	var name, note, expires, model, key string
	cmd := &cobra.Command{
		Use:   "create --name NAME --expires WHEN [--note NOTE] [--model ID]",
		Short: "Issue a token and show its secret, once",
		Long: `Issue a token and show its secret. The secret is shown this once: the
service keeps only its hash.

--expires takes Unix seconds, an RFC 3339 time, or a duration from now
such as 720h or 30d.`,
		Args: args(),
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			exp, err := parseWhen("expires", expires, a.now(), +1)
			if err != nil {
				return err
			}
			c, err := a.client(true)
			if err != nil {
				return err
			}
			var opts []sdk.CallOption
			if key != "" {
				opts = append(opts, sdk.IdempotencyKey(key))
			}
			created, err := c.CreateToken(cmd.Context(), sdk.CreateTokenRequest{Name: name, Note: note, ExpirationDate: exp, ModelID: model}, opts...)
			if err != nil {
				return err
			}
			a.settle(cmd.Context(), c)
			if created.Secret != "" {
				fmt.Fprintf(a.stderr, secretWarning, "secret")
			} else {
				fmt.Fprintln(a.stderr, "tokenctl: warning: this idempotency key was used before: the token exists, and its secret was shown to the first request only")
			}
			if a.output == "json" {
				return emitJSON(a.stdout, created)
			}
			if err := printToken(a.stdout, created.Token); err != nil {
				return err
			}
			if created.Secret != "" {
				fmt.Fprintf(a.stdout, "\nSecret: %s\n", created.Secret)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "the token's name, shown to its end user (required)")
	f.StringVar(&note, "note", "", "a private note, never shown to the end user")
	f.StringVar(&expires, "expires", "", "expiration: Unix seconds, RFC 3339, or a duration from now such as 720h or 30d (required)")
	f.StringVar(&model, "model", "", "id of the model to assign the token to")
	f.StringVar(&key, "idempotency-key", "", "a UUID that makes a repeat of this command issue no second token")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("expires")
	return cmd
}

func (a *app) tokensListCommand() *cobra.Command {
	var (
		o                        sdk.ListOptions
		statuses                 []string
		assigned, all            bool
		sort, before, after, cur string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens, with filters and an order",
		Long: `List the account's tokens, newest first unless --sort says otherwise.

Without --all one page is shown (--limit, at most 1000); the command to see
the next one is printed on standard error. With --all every page is fetched.
--expires-before and --expires-after take Unix seconds, RFC 3339 or a
duration from now.`,
		Args: args(),
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			for _, s := range statuses {
				for p := range strings.SplitSeq(s, ",") {
					if p = strings.TrimSpace(p); p != "" {
						o.Status = append(o.Status, sdk.Status(strings.ToUpper(p)))
					}
				}
			}
			if cmd.Flags().Changed("assigned") {
				o.Assigned = &assigned
			}
			o.Sort, o.Cursor = sdk.Sort(sort), cur
			var err error
			if before != "" {
				if o.ExpiresBefore, err = parseWhen("expires-before", before, a.now(), +1); err != nil {
					return err
				}
			}
			if after != "" {
				if o.ExpiresAfter, err = parseWhen("expires-after", after, a.now(), +1); err != nil {
					return err
				}
			}
			c, err := a.client(true)
			if err != nil {
				return err
			}
			var page sdk.Page
			if all {
				for tok, err := range c.AllTokens(cmd.Context(), o) {
					if err != nil {
						return err
					}
					page.Tokens = append(page.Tokens, tok)
				}
			} else if page, err = c.ListTokens(cmd.Context(), o); err != nil {
				return err
			}
			if a.output == "json" {
				return emitJSON(a.stdout, page)
			}
			if err := printTokens(a.stdout, page.Tokens); err != nil {
				return err
			}
			if page.NextCursor != "" {
				fmt.Fprintf(a.stderr, "tokenctl: more tokens: add --cursor %s (or use --all)\n", clean(page.NextCursor))
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringSliceVar(&statuses, "status", nil, "keep these statuses: active, suspended, canceled (repeat or separate with commas)")
	f.StringVar(&o.ModelID, "model", "", "keep the tokens assigned to this model id")
	f.BoolVar(&assigned, "assigned", false, "keep assigned tokens (--assigned) or unassigned ones (--assigned=false)")
	f.StringVarP(&o.Query, "query", "q", "", "keep the tokens whose name contains this, ignoring case")
	f.StringVar(&before, "expires-before", "", "keep the tokens expiring before this time")
	f.StringVar(&after, "expires-after", "", "keep the tokens expiring after this time")
	f.StringVar(&sort, "sort", "", "order: createdAt, name, expirationDate, each with a leading - for descending (default -createdAt)")
	f.IntVar(&o.Limit, "limit", 0, "page size, 1 to 1000 (default 50)")
	f.StringVar(&cur, "cursor", "", "continue from a previous page")
	f.BoolVar(&all, "all", false, "fetch every page")
	return cmd
}

func (a *app) tokensGetCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a token",
		Args:  args("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			tok, err := c.GetToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printToken(tok)
		}),
	}
}

func (a *app) tokensUpdateCommand() *cobra.Command {
	var (
		name, note, expires, status, model string
		clearNote, unassign                bool
	)
	cmd := &cobra.Command{
		Use:   "update ID [--name NAME] [--note NOTE | --clear-note] [--expires WHEN] [--status STATUS] [--model ID | --unassign]",
		Short: "Change several of a token's fields at once, all or nothing",
		Long: `Change any of a token's fields in one request, all or nothing; fields not
given stay as they are. A token assigned to a model cannot be moved to
another in one step: --unassign it first, then --model.`,
		Args: args("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			var u sdk.UpdateTokenRequest
			changed := cmd.Flags().Changed
			if changed("name") {
				u.Name = sdk.Some(name)
			}
			switch {
			case changed("note"):
				u.Note = sdk.Some(note)
			case clearNote:
				u.Note = sdk.Null[string]()
			}
			if changed("expires") {
				exp, err := parseWhen("expires", expires, a.now(), +1)
				if err != nil {
					return err
				}
				u.ExpirationDate = sdk.Some(exp)
			}
			if changed("status") {
				u.Status = sdk.Some(sdk.Status(strings.ToUpper(strings.TrimSpace(status))))
			}
			switch {
			case changed("model"):
				u.ModelID = sdk.Some(model)
			case unassign:
				u.ModelID = sdk.Null[string]()
			}
			c, err := a.client(true)
			if err != nil {
				return err
			}
			tok, err := c.UpdateToken(cmd.Context(), args[0], u, writeOpts(cmd)...)
			if err != nil {
				return err
			}
			a.settle(cmd.Context(), c)
			return a.printToken(tok)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name")
	f.StringVar(&note, "note", "", "new private note")
	f.BoolVar(&clearNote, "clear-note", false, "remove the note")
	f.StringVar(&expires, "expires", "", "new expiration: Unix seconds, RFC 3339, or a duration from now")
	f.StringVar(&status, "status", "", "new status: active, suspended or canceled")
	f.StringVar(&model, "model", "", "assign to this model id (the token must be unassigned)")
	f.BoolVar(&unassign, "unassign", false, "remove the token's model")
	ifMatchFlag(cmd)
	cmd.MarkFlagsMutuallyExclusive("note", "clear-note")
	cmd.MarkFlagsMutuallyExclusive("model", "unassign")
	cmd.MarkFlagsOneRequired("name", "note", "clear-note", "expires", "status", "model", "unassign")
	return cmd
}

// tokenWriteCommand builds a one-purpose write on a token (rename, suspend,
// cancel, …) that prints the token after it.
func (a *app) tokenWriteCommand(use, short string, argNames []string,
	do func(ctx context.Context, c *sdk.Client, args []string, o []sdk.CallOption) (sdk.Token, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args(argNames...),
	}
	ifMatchFlag(cmd)
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client(true)
		if err != nil {
			return err
		}
		tok, err := do(cmd.Context(), c, args, writeOpts(cmd))
		if err != nil {
			return err
		}
		a.settle(cmd.Context(), c)
		return a.printToken(tok)
	})
	return cmd
}

func (a *app) tokensDeleteCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a token: its secret stops working, its audit trail stays",
		Args:  args("ID"),
	}
	ifMatchFlag(cmd)
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client(true)
		if err != nil {
			return err
		}
		if err := c.DeleteToken(cmd.Context(), args[0], writeOpts(cmd)...); err != nil {
			return err
		}
		a.settle(cmd.Context(), c)
		if a.output == "json" {
			return emitJSON(a.stdout, map[string]any{"id": args[0], "deleted": true})
		}
		fmt.Fprintf(a.stdout, "token %s deleted\n", clean(args[0]))
		return nil
	})
	return cmd
}
