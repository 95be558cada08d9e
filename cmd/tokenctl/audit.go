package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tokend/tokend/sdk"
)

func (a *app) printAuditPage(p sdk.AuditPage) error {
	if a.output == "json" {
		return emitJSON(a.stdout, p)
	}
	if err := printAudit(a.stdout, p.Entries); err != nil {
		return err
	}
	if p.NextCursor != "" {
		fmt.Fprintf(a.stderr, "tokenctl: more entries: add --cursor %s (or use --all)\n", clean(p.NextCursor))
	}
	return nil
}

func (a *app) tokensAuditCommand() *cobra.Command {
	var (
		o   sdk.PageOptions
		all bool
	)
	cmd := &cobra.Command{
		Use:   "audit ID",
		Short: "Show a token's audit trail, oldest first (also of a deleted token)",
		Args:  args("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			var p sdk.AuditPage
			if all {
				for e, err := range c.AllTokenAudit(cmd.Context(), args[0], o) {
					if err != nil {
						return err
					}
					p.Entries = append(p.Entries, e)
				}
			} else if p, err = c.TokenAudit(cmd.Context(), args[0], o); err != nil {
				return err
			}
			return a.printAuditPage(p)
		}),
	}
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "page size (default: the service's)")
	cmd.Flags().StringVar(&o.Cursor, "cursor", "", "continue from a previous page")
	cmd.Flags().BoolVar(&all, "all", false, "fetch every page")
	return cmd
}

func (a *app) auditCommand() *cobra.Command {
	var (
		o            sdk.AuditOptions
		since, until string
		all          bool
	)
	cmd := &cobra.Command{
		Use:   "audit [--since WHEN] [--until WHEN] [--type TYPE]",
		Short: "Show the account's whole audit trail, oldest first",
		Long: `Show the account's audit trail, oldest first: its tokens' events and its own
(accounts, licenses, models). --since and --until are inclusive and take Unix
seconds, RFC 3339, or a duration before now such as 24h or 7d.`,
		Args: args(),
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			var err error
			if since != "" {
				if o.Since, err = parseWhen("since", since, a.now(), -1); err != nil {
					return err
				}
			}
			if until != "" {
				if o.Until, err = parseWhen("until", until, a.now(), -1); err != nil {
					return err
				}
			}
			c, err := a.client(true)
			if err != nil {
				return err
			}
			var p sdk.AuditPage
			if all {
				for e, err := range c.AllAudit(cmd.Context(), o) {
					if err != nil {
						return err
					}
					p.Entries = append(p.Entries, e)
				}
			} else if p, err = c.Audit(cmd.Context(), o); err != nil {
				return err
			}
			return a.printAuditPage(p)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "only events at or after this time")
	f.StringVar(&until, "until", "", "only events at or before this time")
	f.StringVar(&o.Type, "type", "", "only events of this type, e.g. TokenRenamed")
	f.IntVar(&o.Limit, "limit", 0, "page size (default: the service's)")
	f.StringVar(&o.Cursor, "cursor", "", "continue from a previous page")
	f.BoolVar(&all, "all", false, "fetch every page")
	cmd.AddCommand(a.auditTailCommand())
	return cmd
}
