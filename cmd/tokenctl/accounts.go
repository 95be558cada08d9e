package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// secretWarning goes to stderr, so that it reaches a person even when stdout
// is piped into a file or a JSON parser.
const secretWarning = "tokenctl: warning: this is the only time the %s is shown: store it now, it cannot be shown again\n"

func (a *app) accountCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "account",
		Short: "Show the account of the license",
		Args:  args(),
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			acct, err := c.Account(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return emitJSON(a.stdout, acct)
			}
			t := newTable(a.stdout)
			t.row("ID", acct.ID)
			t.row("Name", acct.Name)
			return t.flush()
		}),
	}
}

func (a *app) accountsCommand() *cobra.Command {
	cmd := group("accounts", "Manage accounts (admin license only)")
	cmd.AddCommand(&cobra.Command{
		Use:   "create NAME",
		Short: "Create an account and its first license",
		Args:  args("NAME"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			created, err := c.CreateAccount(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			a.settle(cmd.Context(), c)
			if created.License != "" {
				fmt.Fprintf(a.stderr, secretWarning, "license")
			}
			if a.output == "json" {
				return emitJSON(a.stdout, created)
			}
			t := newTable(a.stdout)
			t.row("ID", created.Account.ID)
			t.row("Name", created.Account.Name)
			t.row("License", orDash(created.License))
			return t.flush()
		}),
	})
	return cmd
}

func (a *app) licensesCommand() *cobra.Command {
	cmd := group("licenses", "List, issue and revoke the account's licenses")
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the account's licenses",
		Args:  args(),
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			lics, err := c.Licenses(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return emitJSON(a.stdout, map[string]any{"licenses": nonNil(lics)})
			}
			t := newTable(a.stdout, "ID", "REVOKED")
			for _, l := range lics {
				t.row(l.ID, fmt.Sprint(l.Revoked))
			}
			return t.flush()
		}),
	}, &cobra.Command{
		Use:   "issue",
		Short: "Issue another license for the account",
		Args:  args(),
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			lic, err := c.IssueLicense(cmd.Context())
			if err != nil {
				return err
			}
			a.settle(cmd.Context(), c)
			if lic.License != "" {
				fmt.Fprintf(a.stderr, secretWarning, "license")
			}
			if a.output == "json" {
				return emitJSON(a.stdout, lic)
			}
			t := newTable(a.stdout)
			t.row("ID", lic.ID)
			t.row("License", orDash(lic.License))
			return t.flush()
		}),
	}, &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a license: it stops working at once",
		Args:  args("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			if err := c.RevokeLicense(cmd.Context(), args[0]); err != nil {
				return err
			}
			// No settle: the service answers a revocation once it is in
			// force, and the license may have been this one.
			if a.output == "json" {
				return emitJSON(a.stdout, map[string]any{"id": args[0], "revoked": true})
			}
			fmt.Fprintf(a.stdout, "license %s revoked\n", clean(args[0]))
			return nil
		}),
	})
	return cmd
}

// nonNil makes an empty list print as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
