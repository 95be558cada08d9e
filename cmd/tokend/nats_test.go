package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokend/tokend/sdk"
	"github.com/tokend/tokend/sdk/natscmd"
)

// tokend serve carries out commands published on NATS, answers them on
// tokens.outcomes.<id>, serves their outcomes at GET /v1/commands/{id},
// counts them in its metrics, and stops cleanly with the intake running.
func TestServeCarriesOutNATSCommands(t *testing.T) {
	p := newProcess(t)
	p.start()
	nc, err := nats.Connect("nats://" + p.natsAddr)
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
	tok, err := sdk.New("http://"+p.httpAddr, p.license()).GetToken(ctx, out.TokenID, sdk.MinSequence(out.Sequence))
	if err != nil || tok.Name != "over NATS" || tok.Version != out.Version {
		t.Fatalf("token %+v, %v", tok, err)
	}

	resp, err := http.Get("http://" + p.httpAddr + "/metrics")
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
