package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/adapters/natsjs/natstest"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/internal/proctest"
	"github.com/tokend/tokend/sdk"
)

// appendRename appends a TokenRenamed event of account to the stream and
// returns its sequence.
func appendRename(t *testing.T, js jetstream.JetStream, account, token string, n int) uint64 {
	t.Helper()
	from, to := fmt.Sprintf("name %d", n), fmt.Sprintf("name %d", n+1)
	cmd := uuid.New()
	ev := domain.Event{
		ID: domain.EventID(cmd, 0), Type: domain.TokenRenamed, SchemaVersion: domain.SchemaVersion,
		AccountID: account, TokenID: token, CommandID: cmd, Actor: domain.Actor{Kind: domain.ActorLicense, ID: "l1"},
		At:   time.Date(2026, 11, 26, 21, 0, n, 0, time.UTC),
		Data: domain.EventData{Changes: domain.Changes{Name: &domain.Change[string]{From: &from, To: &to}}},
	}
	body, err := natsjs.EncodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: natsjs.EventSubject(account, token), Header: natsjs.EventHeaders(ev), Data: body})
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

func jsonLines(t *testing.T, out string) []sdk.AuditEntry {
	t.Helper()
	var entries []sdk.AuditEntry
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var e sdk.AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		entries = append(entries, e)
	}
	return entries
}

// audit tail prints the account's events from the stream (the account from
// GET /v1/account), resumes where it stopped, restarts at --from-seq, and
// with --follow prints new events until interrupted.
func TestAuditTail(t *testing.T) {
	f := newFakeTokend(t) // GET /v1/account answers acct1
	emb, _, js := natstest.Start(t)
	var seqs []uint64
	for i := range 5 {
		seqs = append(seqs, appendRename(t, js, "acct1", "t1", i))
		appendRename(t, js, "other", "t9", i)
	}
	nats := "--nats-url=" + emb.ClientURL()

	code, out, errOut := f.run(t, "", "-o", "json", "audit", "tail", nats)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	entries := jsonLines(t, out)
	if len(entries) != 5 || entries[0].Sequence != seqs[0] || entries[4].Sequence != seqs[4] || entries[0].Type != "TokenRenamed" ||
		entries[0].TokenID != "t1" || string(entries[0].Changes["name"].To) != `"name 1"` {
		t.Fatalf("tail printed %+v", entries)
	}
	if code, out, _ := f.run(t, "", "-o", "json", "audit", "tail", nats); code != 0 || out != "" {
		t.Fatalf("a second tail resumed with %q (exit %d), want nothing new", out, code)
	}
	code, out, _ = f.run(t, "", "audit", "tail", nats, "--from-seq", fmt.Sprint(seqs[2]))
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "SEQ  AT  TYPE") ||
		!strings.Contains(lines[1], `name: "name 2" -> "name 3"`) || !strings.Contains(lines[1], "license:l1") {
		t.Fatalf("--from-seq %d: exit %d\n%s", seqs[2], code, out)
	}

	// --follow prints what arrives until interrupted.
	var stdout proctest.Buffer // read while tokenctl writes it
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--url", f.srv.URL, "--license", fakeLicense, "-o", "json", "audit", "tail", "--follow", nats, "--durable", "follower"},
			strings.NewReader(""), &stdout, &bytes.Buffer{})
	}()
	late := appendRename(t, js, "acct1", "t2", 7)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), fmt.Sprintf(`"sequence":%d`, late)) {
		if time.Now().After(deadline) {
			t.Fatalf("--follow did not print the new event:\n%s", stdout.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("--follow exited %d when interrupted", code)
	}
	if n := len(jsonLines(t, stdout.String())); n != 6 {
		t.Fatalf("--follow printed %d events, want 6", n)
	}

	if code, _, _ := f.run(t, "", "audit", "tail", "--nats-url=nats://127.0.0.1:1"); code == 0 {
		t.Fatal("an unreachable NATS server exited 0")
	}
}
