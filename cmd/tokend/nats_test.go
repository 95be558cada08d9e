package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/tokend/tokend/adapters/natsintake"
	"github.com/tokend/tokend/adapters/natsjs/natstest"
	"github.com/tokend/tokend/sdk"
	"github.com/tokend/tokend/sdk/natscmd"
)

// tokend serve carries out commands published on NATS, answers them on
// tokens.outcomes.<id>, serves their outcomes at GET /v1/commands/{id},
// counts them in its metrics, and stops cleanly with the intake running.
func TestServeCarriesOutNATSCommands(t *testing.T) {
	p := newProcess(t)
	p.start()
	nc, err := nats.Connect("nats://" + p.NATSAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c, err := natscmd.New(nc, p.license())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := c.SendCommand(ctx, natscmd.IssueToken(sdk.CreateTokenRequest{Name: "over NATS", ExpirationDate: time.Now().Add(time.Hour).Unix()}))
	if err != nil || out.Secret == "" {
		t.Fatalf("IssueToken over NATS: %+v, %v", out, err)
	}

	var got map[string]any
	p.mustCall("GET", "/v1/commands/"+out.CommandID, nil, &got)
	if got["status"] != "accepted" || got["tokenId"] != out.TokenID || got["secret"] != nil || got["sequence"] != float64(out.Sequence) {
		t.Fatalf("GET /v1/commands/%s = %v, published %+v", out.CommandID, got, out)
	}
	// The outcome's sequence reads the command's effect over HTTP.
	tok, err := sdk.New(p.URL(), p.license()).GetToken(ctx, out.TokenID, sdk.MinSequence(out.Sequence))
	if err != nil || tok.Name != "over NATS" || tok.Version != out.Version {
		t.Fatalf("token %+v, %v", tok, err)
	}

	resp, err := http.Get(p.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `tokend_commands_total{outcome="accepted",type="IssueToken"} 1`) {
		t.Errorf("the NATS command is not counted in /metrics")
	}
	p.stop()
}

// With --nats-url, commands published while tokend is stopped wait in
// TOKEN_COMMANDS and are carried out when it starts again.
func TestServeCarriesOutCommandsPublishedWhileStopped(t *testing.T) {
	_, nc, js := natstest.Start(t)
	p := newProcess(t)
	env := "TOKEND_NATS_URL=" + nc.ConnectedUrl()
	p.start(env)
	license := p.license()
	p.stop()

	outcomes := make(chan *nats.Msg, 16)
	sub, err := nc.ChanSubscribe("tokens.outcomes.>", outcomes)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	ids := map[string]bool{}
	for i := range 3 {
		id := uuid.NewString()
		ids[id] = true
		body := fmt.Sprintf(`{"commandId":%q,"data":{"name":"while stopped %d","expirationDate":%d}}`, id, i, time.Now().Add(time.Hour).Unix())
		msg := &nats.Msg{Subject: "tokens.commands.IssueToken", Data: []byte(body),
			Header: nats.Header{"Nats-Msg-Id": {id}, "Authorization": {"Bearer " + license}}}
		if _, err := js.PublishMsg(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case m := <-outcomes:
		t.Fatalf("an outcome with tokend stopped: %s", m.Data)
	case <-time.After(200 * time.Millisecond):
	}

	p.start(env)
	for range ids {
		select {
		case m := <-outcomes:
			var o natscmd.Outcome
			if err := json.Unmarshal(m.Data, &o); err != nil || !ids[o.CommandID] || o.Status != "accepted" || o.Secret == "" {
				t.Fatalf("outcome %s (%v)", m.Data, err)
			}
			delete(ids, o.CommandID)
		case <-time.After(natsintake.DefaultAckWait + 15*time.Second):
			// Longer than AckWait: on a starved machine a delivery lost in
			// the client comes again after AckWait (natsintake's tests).
			t.Fatalf("%d commands not carried out after the start", len(ids))
		}
	}
	p.stop()
}
