package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) introspectCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "introspect SECRET|-",
		Short: "Show what an end user's token secret is worth (no license needed)",
		Long: `Show what an end user's token secret is worth, as the service tells end users:
never the note. An unknown, deleted, expired, suspended or canceled token is
just "active false".

Give the secret as "-" to read it from the first line of standard input, which
keeps it out of the shell's history and the process list.`,
		Args: args("SECRET|-"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			secret := args[0]
			if secret == "-" {
				line, err := bufio.NewReader(a.stdin).ReadString('\n')
				if err != nil && line == "" {
					return usagef("introspect -: no secret on standard input")
				}
				secret = strings.TrimSpace(line)
			}
			c, err := a.client(false)
			if err != nil {
				return err
			}
			in, err := c.Introspect(cmd.Context(), secret)
			if err != nil {
				return err
			}
			if a.output == "json" {
				return emitJSON(a.stdout, in)
			}
			t := newTable(a.stdout)
			t.row("Active", fmt.Sprint(in.Active))
			if in.Active {
				t.row("ID", in.ID)
				t.row("Name", in.Name)
				t.row("Status", string(in.Status))
				t.row("Expires", unixTime(in.ExpirationDate))
				t.row("Model", modelText(in.ModelName, in.ModelID))
				t.row("Created", unixTime(in.CreatedAt))
				t.row("Updated", unixTime(in.UpdatedAt))
			}
			return t.flush()
		}),
	}
}
