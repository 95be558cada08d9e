package natsjs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
)

// ctxT returns a context that ends with the test or after 10 s.
func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// renamed builds a realistic TokenRenamed event of command cmd on token.
func renamed(account, token string, cmd uuid.UUID, from, to string) domain.Event {
	return domain.Event{
		ID:            domain.EventID(cmd, 0),
		Type:          domain.TokenRenamed,
		SchemaVersion: domain.SchemaVersion,
		AccountID:     account,
		TokenID:       token,
		CommandID:     cmd,
		Actor:         domain.Actor{Kind: domain.ActorLicense, ID: "lic-7f3c2a"},
		At:            time.Date(2026, 11, 26, 21, 0, 0, 123456789, time.UTC),
		Data: domain.EventData{Changes: domain.Changes{
			Name: &domain.Change[string]{From: &from, To: &to},
		}},
	}
}

// newRenamed is renamed with a fresh command id.
func newRenamed(account, token string, n int) domain.Event {
	return renamed(account, token, uuid.New(), fmt.Sprintf("name %d", n), fmt.Sprintf("name %d", n+1))
}

// modelRegistered builds an account-level event.
func modelRegistered(account, model string) domain.Event {
	name := "gpt-" + model
	return domain.Event{
		ID:            domain.EventID(uuid.New(), 0),
		Type:          domain.ModelRegistered,
		SchemaVersion: domain.SchemaVersion,
		AccountID:     account,
		CommandID:     uuid.New(),
		Actor:         domain.SystemActor,
		At:            time.Now().UTC(),
		Data: domain.EventData{
			Changes: domain.Changes{ModelID: &domain.Change[string]{To: &model}, ModelName: &domain.Change[string]{To: &name}},
			ModelID: model,
		},
	}
}

// mustAppend appends ev and fails the test on error or duplicate.
func mustAppend(t testing.TB, s *natsjs.EventStore, ev domain.Event, expected uint64) uint64 {
	t.Helper()
	seq, dup, err := s.Append(ctxT(t), ev, expected)
	if err != nil {
		t.Fatalf("Append(%s, expected %d): %v", ev.Subject(), expected, err)
	}
	if dup {
		t.Fatalf("Append(%s, expected %d): unexpected duplicate", ev.Subject(), expected)
	}
	return seq
}

// rawMsg is a message as the stream leader stores it.
type rawMsg struct {
	Subject string
	Seq     uint64
	Header  nats.Header
	Data    []byte
}

// getRaw reads the stored message at seq through $JS.API.STREAM.MSG.GET,
// which returns its headers exactly as stored (direct get adds its own).
func getRaw(t testing.TB, nc *nats.Conn, seq uint64) rawMsg {
	t.Helper()
	req, _ := json.Marshal(map[string]uint64{"seq": seq})
	resp, err := nc.Request("$JS.API.STREAM.MSG.GET."+natsjs.EventsStream, req, 5*time.Second)
	if err != nil {
		t.Fatalf("get message %d: %v", seq, err)
	}
	var r struct {
		Error   any `json:"error"`
		Message struct {
			Subject string `json:"subject"`
			Seq     uint64 `json:"seq"`
			Hdrs    []byte `json:"hdrs"`
			Data    []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil || r.Error != nil {
		t.Fatalf("get message %d: %v %v", seq, err, r.Error)
	}
	hdr, err := nats.DecodeHeadersMsg(r.Message.Hdrs)
	if err != nil {
		t.Fatalf("get message %d: headers: %v", seq, err)
	}
	return rawMsg{Subject: r.Message.Subject, Seq: r.Message.Seq, Header: hdr, Data: r.Message.Data}
}
