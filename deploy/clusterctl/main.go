// Command clusterctl is the small helper of deploy/local-cluster.sh: it
// draws an admin license, waits for a JetStream cluster to elect its meta
// leader, shows the leaders and replicas of tokend's streams, and waits for
// (or shows) the readiness of tokend replicas. It needs nothing but Go, so
// the script needs neither the nats CLI nor jq.
//
//	clusterctl license                       print a new admin license (lic_…)
//	clusterctl wait-js  NATS_URLS [TIMEOUT]  wait until JetStream answers (default 60s)
//	clusterctl streams  NATS_URLS            leaders and replicas of TOKEN_EVENTS, TOKEN_COMMANDS, KV_TOKEN_OUTCOMES
//	clusterctl wait-ready URL [TIMEOUT]      wait until URL/readyz answers 200 (default 60s)
//	clusterctl readyz URL...                 print each URL's /readyz status and body
//
// NATS_URLS is a comma-separated list, as tokend's --nats-url takes it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "clusterctl:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: clusterctl license | wait-js NATS_URLS [TIMEOUT] | streams NATS_URLS | wait-ready URL [TIMEOUT] | readyz URL...")
	}
	timeout := func(i int) (time.Duration, error) {
		if len(args) <= i {
			return 60 * time.Second, nil
		}
		return time.ParseDuration(args[i])
	}
	switch args[0] {
	case "license":
		l, err := domain.NewSecret(domain.LicensePrefix)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, l)
		return nil
	case "wait-js":
		if len(args) < 2 {
			return errors.New("wait-js: NATS_URLS missing")
		}
		d, err := timeout(2)
		if err != nil {
			return err
		}
		return waitJetStream(args[1], d)
	case "streams":
		if len(args) < 2 {
			return errors.New("streams: NATS_URLS missing")
		}
		return streams(args[1], out)
	case "wait-ready":
		if len(args) < 2 {
			return errors.New("wait-ready: URL missing")
		}
		d, err := timeout(2)
		if err != nil {
			return err
		}
		return waitReady(args[1], d)
	case "readyz":
		for _, u := range args[1:] {
			code, body, err := readyz(u)
			if err != nil {
				fmt.Fprintf(out, "%s: %v\n", u, err)
				continue
			}
			fmt.Fprintf(out, "%s: %d %s\n", u, code, strings.TrimSpace(body))
		}
		return nil
	}
	return fmt.Errorf("unknown subcommand %q", args[0])
}

// waitJetStream waits until every node of urls answers as a member of a
// cluster (so that a stray standalone server on one of the ports is not
// taken for ours) and the cluster answers a JetStream API request, which it
// does once its meta leader is elected.
func waitJetStream(urls string, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		if last = checkJetStream(urls); last == nil {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("JetStream at %s not available after %s: %v", urls, d, last)
}

func checkJetStream(urls string) error {
	for _, u := range strings.Split(urls, ",") {
		nc, err := nats.Connect(u, nats.Name("clusterctl"), nats.Timeout(2*time.Second), nats.NoReconnect(), nats.DontRandomize())
		if err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		cluster, server := nc.ConnectedClusterName(), nc.ConnectedServerName()
		nc.Close()
		if cluster == "" {
			return fmt.Errorf("%s: server %s is not a cluster member", u, server)
		}
	}
	nc, err := nats.Connect(urls, nats.Name("clusterctl"), nats.Timeout(2*time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}

// streams prints, for each of tokend's streams, its leader, its replicas
// (current or not, how far behind) and its last sequence.
func streams(urls string, out io.Writer) error {
	nc, err := nats.Connect(urls, nats.Name("clusterctl"), nats.Timeout(2*time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	// KV_TOKEN_OUTCOMES is the stream of the NATS intake's outcomes bucket
	// (natsintake.OutcomesBucket).
	for _, name := range []string{natsjs.EventsStream, natsjs.CommandsStream, "KV_TOKEN_OUTCOMES"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := js.Stream(ctx, name)
		var info *jetstream.StreamInfo
		if err == nil {
			info, err = st.Info(ctx)
		}
		cancel()
		if err != nil {
			fmt.Fprintf(out, "%-17s %v\n", name, err)
			continue
		}
		leader, peers := "-", ""
		if c := info.Cluster; c != nil {
			leader = c.Leader
			for _, p := range c.Replicas {
				state := "current"
				switch {
				case p.Offline:
					state = "offline"
				case !p.Current:
					state = fmt.Sprintf("behind %d", p.Lag)
				}
				peers += fmt.Sprintf(" %s(%s)", p.Name, state)
			}
		}
		fmt.Fprintf(out, "%-17s replicas=%d leader=%s followers:%s last_seq=%d msgs=%d\n",
			name, info.Config.Replicas, leader, peers, info.State.LastSeq, info.State.Msgs)
	}
	return nil
}

func readyz(base string) (int, string, error) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(strings.TrimRight(base, "/") + "/readyz")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), nil
}

func waitReady(base string, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		code, body, err := readyz(base)
		if err == nil && code == http.StatusOK {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d %s", code, strings.TrimSpace(body))
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("%s/readyz not 200 after %s: %s", base, d, last)
}
