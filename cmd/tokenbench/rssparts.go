package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/projections"
)

// The parts' own memory: what tokend is built on holds, measured alone in
// child processes under the same load, so that the RSS target can be read
// against them (docs/performance.md "Memory with 1,000,000 tokens").
const (
	rowRSSJetStream = "peak RSS of JetStream alone (the NATS server of the --nats-url child, in a process of its own)"
	rowRSSBadger    = "peak RSS of raw Badger reads (the read model opened with its settings, random Gets of secret and token keys)"
	// keysFile holds the raw Badger child's keys: as many random secret
	// keys and token keys as the HTTP load's introspections and GETs.
	keysFile = "badger-keys.json"
)

// jetStreamChild is a child process that runs only the embedded JetStream
// server on the RSS phase's store: the server a --nats-url tokend talks to.
type jetStreamChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	url   string
}

// spawnJetStream starts the JetStream child and returns once its server
// listens.
func (b *bench) spawnJetStream(ctx context.Context, dir string) (*jetStreamChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "-child", "jetstream", "-child-dir", dir, "-progress=false")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &jetStreamChild{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	line, err := c.out.ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "url ")
	if err != nil || !ok {
		stdin.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("jetstream child: no url (%q, %v)", line, err)
	}
	c.url = url
	return c, nil
}

// stop ends the child (closing its stdin) and returns what it measured.
func (c *jetStreamChild) stop() (childResult, error) {
	c.stdin.Close()
	var res childResult
	decodeErr := json.NewDecoder(c.out).Decode(&res)
	if err := c.cmd.Wait(); err != nil {
		return res, fmt.Errorf("jetstream child: %w", err)
	}
	return res, decodeErr
}

// childJetStream serves the RSS phase's JetStream store until stdin closes,
// sampling its RSS.
func (b *bench) childJetStream(stdout io.Writer) (childResult, error) {
	emb, err := natsjs.StartEmbedded(natsjs.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: filepath.Join(b.childDir, "jetstream"), Logger: b.quiet})
	if err != nil {
		return childResult{}, err
	}
	defer emb.Shutdown()
	res := childResult{IdleRSS: procStatus()["VmRSS"]}
	sampler := startRSSSampler(&res, "serving")
	defer sampler.close()
	if _, err := fmt.Fprintf(stdout, "url %s\n", emb.ClientURL()); err != nil {
		return res, err
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
	sampler.close()
	return res, nil
}

// writeBadgerKeys picks, from the read model in dir (closed), n random
// secret keys and n random token keys for the raw Badger child, reading
// keys only.
func writeBadgerKeys(dir string, n int) error {
	db, err := badger.Open(badgerOptions(filepath.Join(dir, projections.ReadModelDir)))
	if err != nil {
		return err
	}
	defer db.Close()
	byPrefix := map[byte][][]byte{}
	err = db.View(func(txn *badger.Txn) error {
		for _, p := range []byte{'s', 't'} {
			opts := badger.DefaultIteratorOptions
			opts.PrefetchValues, opts.Prefix = false, []byte{p}
			it := txn.NewIterator(opts)
			for it.Rewind(); it.Valid(); it.Next() {
				byPrefix[p] = append(byPrefix[p], it.Item().KeyCopy(nil))
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		return err
	}
	rnd := rand.New(rand.NewPCG(5, 6))
	var keys struct{ Secret, Token [][]byte }
	for p, dst := range map[byte]*[][]byte{'s': &keys.Secret, 't': &keys.Token} {
		all := byPrefix[p]
		if len(all) == 0 {
			return fmt.Errorf("no %q keys in the read model", p)
		}
		for range n {
			*dst = append(*dst, all[rnd.IntN(len(all))])
		}
	}
	data, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, keysFile), data, 0o600)
}

// childBadger opens the read model with the read model's Badger settings
// and reads the keys writeBadgerKeys picked, from as many goroutines as the
// HTTP load has connections: the memory Badger itself takes for the reads
// tokend's introspections and GETs make.
func (b *bench) childBadger(ctx context.Context) (childResult, error) {
	data, err := os.ReadFile(filepath.Join(b.childDir, keysFile))
	if err != nil {
		return childResult{}, err
	}
	var keys struct{ Secret, Token [][]byte }
	if err := json.Unmarshal(data, &keys); err != nil {
		return childResult{}, err
	}
	data = nil
	start := time.Now()
	db, err := badger.Open(badgerOptions(filepath.Join(b.childDir, projections.ReadModelDir)))
	if err != nil {
		return childResult{}, err
	}
	defer db.Close()
	res := childResult{IdleRSS: procStatus()["VmRSS"]}
	sampler := startRSSSampler(&res, "open")
	defer sampler.close()
	for _, l := range []struct {
		name string
		keys [][]byte
	}{{"secret keys", keys.Secret}, {"token keys", keys.Token}} {
		sampler.setStep(l.name)
		m, err := b.load("raw Badger: "+l.name, len(l.keys), b.clients, func(_, i int) error {
			return db.View(func(txn *badger.Txn) error {
				item, err := txn.Get(l.keys[i])
				if err != nil {
					return fmt.Errorf("key %s: %w", strconv.Quote(string(l.keys[i])), err)
				}
				return item.Value(func([]byte) error { return nil })
			})
		})
		if err != nil {
			return res, err
		}
		res.Rows = append(res.Rows, &Row{Name: "raw Badger Get, " + l.name + fmt.Sprintf(" (%d goroutines)", b.clients),
			Value: m.Rate(), Unit: "gets/s", P50Ms: ms(m.P50), P99Ms: ms(m.P99)})
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}
