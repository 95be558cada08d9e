package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/internal/proctest"
)

type tokenView struct {
	ID      string  `json:"id"`
	Name    string  `json:"name"`
	Note    *string `json:"note"`
	Status  string  `json:"status"`
	Version int64   `json:"version"`
}

type created struct {
	Token  tokenView `json:"token"`
	Secret string    `json:"secret"`
}

// streamEvents reads every event of TOKEN_EVENTS from the NATS server at addr.
func streamEvents(t *testing.T, addr string) []natsjs.StoredEvent {
	t.Helper()
	nc, err := nats.Connect("nats://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, natsjs.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []natsjs.StoredEvent
	for uint64(len(out)) < info.State.Msgs {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("reading event %d of %d: %v", len(out)+1, info.State.Msgs, err)
		}
		meta, _ := msg.Metadata()
		ev, err := natsjs.DecodeEvent(msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, natsjs.StoredEvent{Sequence: meta.Sequence.Stream, Event: ev})
	}
	return out
}

// tokend killed with SIGKILL in the middle of a burst of multi-field
// updates: after a restart every acknowledged update is in the stream
// exactly once and whole, and no token shows half of an update.
func TestKillDuringUpdateBurstLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts tokend as a subprocess")
	}
	p := newProcess(t)
	p.start()
	exp := time.Now().Add(24 * time.Hour).Unix()
	var tokens []string
	for i := range 8 {
		var c created
		p.mustCall("POST", "/v1/tokens", map[string]any{"name": fmt.Sprintf("token-%d", i), "expirationDate": exp}, &c)
		tokens = append(tokens, c.Token.ID)
	}

	// Each update sets name and note to the same marker k, so a token that
	// showed half of one would have a name and a note that disagree.
	var (
		mu    sync.Mutex
		acked = map[string]string{} // marker -> token id
		next  atomic.Int64
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := strconv.FormatInt(next.Add(1), 10)
				id := tokens[(w+int(next.Load()))%len(tokens)]
				resp, err := p.call("PATCH", "/v1/tokens/"+id, map[string]any{"name": "n-" + k, "note": "note-" + k, "status": []string{"ACTIVE", "SUSPENDED"}[len(k)%2]}, nil)
				if err != nil {
					if resp == nil {
						return // the connection broke: tokend is gone
					}
					continue // refused (it cannot be: the fields are valid) or a 5xx
				}
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked[k] = id
					mu.Unlock()
				}
			}
		}()
	}
	// Kill once a good number of updates went through, with more in flight.
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.kill()
	close(stop)
	wg.Wait()

	p.start()
	events := streamEvents(t, p.NATSAddr)
	seen := map[string]int{}
	for _, se := range events {
		c := se.Event.Data.Changes
		if se.Event.Type != domain.TokenUpdated && se.Event.Type != domain.TokenRenamed && se.Event.Type != domain.TokenNoteChanged {
			continue
		}
		if c.Name == nil || c.Note == nil {
			t.Errorf("event %d (%s) changes only part of an update: %+v", se.Sequence, se.Event.Type, c)
			continue
		}
		k := strings.TrimPrefix(*c.Name.To, "n-")
		if *c.Note.To != "note-"+k {
			t.Errorf("event %d: name %q with note %q", se.Sequence, *c.Name.To, *c.Note.To)
		}
		seen[k]++
	}
	for k, id := range acked {
		if seen[k] != 1 {
			t.Errorf("acknowledged update %s of token %s is in the stream %d times, want once", k, id, seen[k])
		}
	}
	for _, id := range tokens {
		var v tokenView
		p.mustCall("GET", "/v1/tokens/"+id, nil, &v)
		if v.Note == nil || "n-"+strings.TrimPrefix(*v.Note, "note-") != v.Name {
			t.Errorf("token %s shows name %q with note %v", id, v.Name, v.Note)
		}
	}
	t.Logf("%d updates acknowledged before the kill, %d events in the stream", len(acked), len(events))
}

// A restart keeps everything; a second tokend on the same data directory
// exits at once with a clear message.
func TestRestartKeepsEverythingAndDataDirIsExclusive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts tokend as a subprocess")
	}
	p := newProcess(t)
	p.start()
	license := p.license()
	var model struct{ ID, Name string }
	p.mustCall("POST", "/v1/models", map[string]any{"name": "gpt-large"}, &model)
	var c created
	p.mustCall("POST", "/v1/tokens", map[string]any{"name": "kept", "note": "private", "expirationDate": time.Now().Add(time.Hour).Unix(), "modelId": model.ID}, &c)

	second := &proctest.Tokend{Exe: p.Exe, Env: p.Env, DataDir: p.DataDir, HTTPAddr: proctest.FreeAddr(t), NATSAddr: proctest.FreeAddr(t)}
	out, err := runOnce(second)
	if err == nil || !strings.Contains(out, "in use") {
		t.Fatalf("a second tokend on the same data directory: err %v, output:\n%s", err, out)
	}

	p.stop()
	p.start()
	if p.license() != license {
		t.Fatal("the admin license changed across a restart")
	}
	var v tokenView
	p.mustCall("GET", "/v1/tokens/"+c.Token.ID, nil, &v)
	if v.Name != "kept" || v.Note == nil || *v.Note != "private" || v.Version != 1 {
		t.Fatalf("after a restart: %+v", v)
	}
	var models struct{ Models []struct{ ID, Name string } }
	p.mustCall("GET", "/v1/models", nil, &models)
	if len(models.Models) != 1 || models.Models[0].Name != "gpt-large" {
		t.Fatalf("models after a restart: %+v", models)
	}
	if n := len(streamEvents(t, p.NATSAddr)); n != 3 {
		t.Fatalf("%d events after a restart, want 3 (account, model, token)", n)
	}
	if p.grepStderr(license) || p.grepStderr(c.Secret) {
		t.Fatal("tokend's log holds a license or a secret")
	}

	// tokend rebuild, with the service stopped, swaps in a read model that
	// answers the same.
	p.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rebuild := exec.CommandContext(ctx, p.Exe, "rebuild", "--data-dir", p.DataDir, "--nats-listen", p.NATSAddr, "--sort-memory", "64MiB")
	rebuild.Env = p.Env
	if out, err := rebuild.CombinedOutput(); err != nil || !strings.Contains(string(out), "read model rebuilt") {
		t.Fatalf("tokend rebuild: %v\n%s", err, out)
	}
	p.start()
	var again tokenView
	p.mustCall("GET", "/v1/tokens/"+c.Token.ID, nil, &again)
	if !reflect.DeepEqual(again, v) {
		t.Fatalf("after a rebuild: %+v, before: %+v", again, v)
	}
}

// runOnce runs tokend serve to its end and returns its output.
func runOnce(d *proctest.Tokend) (string, error) {
	out, err := d.Command().CombinedOutput()
	return string(out), err
}
