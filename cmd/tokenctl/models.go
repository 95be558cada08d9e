package main

import (
	"github.com/spf13/cobra"

	"github.com/tokend/tokend/sdk"
)

func (a *app) modelsCommand() *cobra.Command {
	cmd := group("models", "Register, list and show the account's models")
	printModel := func(m sdk.Model) error {
		if a.output == "json" {
			return emitJSON(a.stdout, m)
		}
		t := newTable(a.stdout)
		t.row("ID", m.ID)
		t.row("Name", m.Name)
		return t.flush()
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "create NAME",
		Short: "Register a model",
		Args:  args("NAME"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			m, err := c.CreateModel(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			a.settle(cmd.Context(), c)
			return printModel(m)
		}),
	}, &cobra.Command{
		Use:   "list",
		Short: "List the account's models",
		Args:  args(),
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			ms, err := c.Models(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return emitJSON(a.stdout, map[string]any{"models": nonNil(ms)})
			}
			return printModels(a.stdout, ms)
		}),
	}, &cobra.Command{
		Use:   "get ID",
		Short: "Show a model",
		Args:  args("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			m, err := c.Model(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printModel(m)
		}),
	})
	return cmd
}
