//go:build cluster

package clustertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/tokend/tokend/adapters/natsjs"
)

// TestNATSCommandsOnACluster: the NATS intake on three replicas of a
// three-node cluster, its streams and outcomes bucket at replicas 3. A
// command is accepted; a refused one, published again past JetStream's
// duplicate detection (another Nats-Msg-Id), gets its first outcome from
// the bucket — looked up with the batched direct get, which the bucket's
// followers may answer — and does not run again.
func TestNATSCommandsOnACluster(t *testing.T) {
	c := newCluster(t)
	c.start()
	nc, _ := c.connect()
	defer nc.Close()

	issueID := uuid.NewString()
	issued := c.natsCommand(t, nc, "IssueToken", issueID, issueID,
		fmt.Sprintf(`{"commandId":%q,"data":{"name":"on a cluster","expirationDate":%d}}`, issueID, time.Now().Add(time.Hour).Unix()))
	if issued["status"] != "accepted" || issued["tokenId"] == "" {
		t.Fatalf("IssueToken: %v", issued)
	}
	tokenID := issued["tokenId"].(string)

	renameID := uuid.NewString()
	body := fmt.Sprintf(`{"commandId":%q,"tokenId":%q,"expectedVersion":7,"data":{"name":"renamed"}}`, renameID, tokenID)
	first := c.natsCommand(t, nc, "RenameToken", renameID, renameID, body)
	if first["status"] != "rejected" {
		t.Fatalf("a rename expecting version 7 of a version-1 token: %v", first)
	}
	before := c.repeatedCommands(t)
	again := c.natsCommand(t, nc, "RenameToken", renameID, "again-"+renameID, body)
	if fmt.Sprint(again) != fmt.Sprint(first) {
		t.Fatalf("the repeat got %v, the first outcome was %v", again, first)
	}
	if after := c.repeatedCommands(t); after != before+1 {
		t.Fatalf("the repeat was decided again, not answered from the bucket: %d repeats counted, then %d", before, after)
	}
}

// natsCommand publishes a command on tokens.commands.<typ> with the given
// Nats-Msg-Id and the admin license, and returns its outcome.
func (c *cluster) natsCommand(t *testing.T, nc *nats.Conn, typ, commandID, msgID, body string) map[string]any {
	t.Helper()
	sub, err := nc.SubscribeSync("tokens.outcomes." + commandID)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	msg := &nats.Msg{Subject: natsjs.CommandSubject(typ), Data: []byte(body), Header: nats.Header{
		nats.MsgIdHdr: {msgID}, "Authorization": {"Bearer " + c.license}}}
	if _, err := nc.RequestMsg(msg, 10*time.Second); err != nil {
		t.Fatalf("publish %s: %v", typ, err)
	}
	m, err := sub.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatalf("no outcome of %s: %v", typ, err)
	}
	var o map[string]any
	if err := json.Unmarshal(m.Data, &o); err != nil {
		t.Fatalf("outcome of %s: %v: %s", typ, err, m.Data)
	}
	return o
}

var repeatedRenames = regexp.MustCompile(`(?m)^tokend_commands_total\{[^}]*outcome="repeated"[^}]*type="RenameToken"[^}]*\} (\d+)$|^tokend_commands_total\{[^}]*type="RenameToken"[^}]*outcome="repeated"[^}]*\} (\d+)$`)

// repeatedCommands sums, over the replicas, the RenameToken commands
// answered with a remembered outcome.
func (c *cluster) repeatedCommands(t *testing.T) int {
	t.Helper()
	total := 0
	for _, r := range c.replicas {
		resp, err := http.Get(r.url() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range repeatedRenames.FindAllStringSubmatch(string(b), -1) {
			for _, g := range m[1:] {
				if n, err := strconv.Atoi(g); err == nil {
					total += n
				}
			}
		}
	}
	return total
}
