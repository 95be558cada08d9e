package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/tokend/tokend/sdk"
	"github.com/tokend/tokend/sdk/natscmd"
)

// defaultNATSURL is the embedded JetStream server of `tokend serve`.
const defaultNATSURL = "nats://127.0.0.1:4222"

// auditTailCommand is `tokenctl audit tail`: the account's events read
// straight from the event stream through a durable consumer
// (natscmd.SubscribeAudit), printed as they arrive. It learns the account
// from GET /v1/account, so it needs the usual --url and license besides
// the NATS URL.
func (a *app) auditTailCommand() *cobra.Command {
	var (
		natsURL, durable string
		follow           bool
		fromSeq          uint64
	)
	cmd := &cobra.Command{
		Use:   "tail [--follow] [--from-seq N]",
		Short: "Print the account's events from the event stream as they arrive",
		Long: `Print the account's events straight from the event stream (NATS JetStream),
oldest first. Without --follow it prints the events there are and exits;
with --follow it keeps printing new ones until interrupted.

It reads through a durable consumer (--durable, default tokenctl-<account>)
and resumes after the last event it printed, also after being killed; an
event printed just before a kill may be printed again. --from-seq N starts
at stream sequence N instead, for a new consumer or an existing one.

The stream is reached at --nats-url (env TOKEND_NATS_URL, default
` + defaultNATSURL + `, where tokend serve's embedded server listens).`,
		Args: args(),
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			acct, err := c.Account(cmd.Context())
			if err != nil {
				return err
			}
			nc, err := nats.Connect(natsURL, nats.Name("tokenctl"), nats.Timeout(a.timeout))
			if err != nil {
				return fmt.Errorf("connect to NATS at %s: %w", natsURL, err)
			}
			defer nc.Close()
			nc2, err := natscmd.New(nc, "")
			if err != nil {
				return err
			}
			if durable == "" {
				durable = "tokenctl-" + acct.ID
			}
			opts := []natscmd.AuditOption{natscmd.Durable(durable)}
			if cmd.Flags().Changed("from-seq") {
				opts = append(opts, natscmd.Restart())
			}
			if !follow {
				opts = append(opts, natscmd.StopWhenCaughtUp())
			}
			p := &tailPrinter{a: a}
			err = nc2.SubscribeAudit(cmd.Context(), acct.ID, fromSeq, p.print, opts...)
			if errors.Is(err, context.Canceled) || cmd.Context().Err() != nil {
				return nil // interrupted: what was printed stands
			}
			return err
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new events until interrupted")
	f.Uint64Var(&fromSeq, "from-seq", 0, "start at this stream sequence (default: where this consumer stopped, or the first event)")
	f.StringVar(&natsURL, "nats-url", envOr("TOKEND_NATS_URL", defaultNATSURL), "NATS URL of the event stream (env TOKEND_NATS_URL)")
	f.StringVar(&durable, "durable", "", "name of the durable consumer (default tokenctl-<account id>)")
	return cmd
}

// tailPrinter prints events one line each, as they come: a table row
// without alignment across rows (a stream has no end to align on), or one
// JSON object a line with -o json, in the shape of the HTTP audit entries.
// It skips an event it has printed in this run (a redelivery).
type tailPrinter struct {
	a      *app
	last   uint64
	header bool
}

func (p *tailPrinter) print(_ context.Context, ev natscmd.AuditEvent) error {
	if ev.Sequence <= p.last {
		return nil
	}
	p.last = ev.Sequence
	var data struct {
		Changes map[string]sdk.Change `json:"changes"`
	}
	_ = json.Unmarshal(ev.Data, &data) // a body this version cannot read prints without changes
	entry := sdk.AuditEntry{
		Sequence: ev.Sequence, EventID: ev.ID, Type: ev.Type, TokenID: ev.TokenID, At: ev.At,
		Actor: ev.Actor, CommandID: ev.CommandID, Changes: data.Changes,
	}
	if p.a.output == "json" {
		b, err := json.Marshal(entry)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.a.stdout, "%s\n", b)
		return err
	}
	if !p.header {
		p.header = true
		fmt.Fprintln(p.a.stdout, strings.Join([]string{"SEQ", "AT", "TYPE", "TOKEN", "ACTOR", "CHANGES"}, "  "))
	}
	actor := entry.Actor.Kind
	if entry.Actor.ID != "" {
		actor += ":" + entry.Actor.ID
	}
	_, err := fmt.Fprintln(p.a.stdout, strings.Join([]string{
		fmt.Sprint(entry.Sequence), entry.At.UTC().Format(time.RFC3339), clean(entry.Type),
		clean(orDash(entry.TokenID)), clean(actor), clean(orDash(changesText(entry.Changes))),
	}, "  "))
	return err
}
