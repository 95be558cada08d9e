package natscmd_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/natsintake"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/internal/stacktest"
	"github.com/tokend/tokend/sdk"
	"github.com/tokend/tokend/sdk/natscmd"
)

// service is tokend without HTTP: JetStream, the read model and its
// projector, the command service, and (once started) the NATS intake.
type service struct {
	t     *testing.T
	emb   *natsjs.Embedded
	nc    *nats.Conn
	cfg   natsintake.Config
	admin string
}

func newService(t *testing.T) *service {
	t.Helper()
	core := stacktest.Start(t)
	outcomes := core.Outcomes(t)
	return &service{t: t, emb: core.Server, nc: core.NC, admin: core.Admin, cfg: natsintake.Config{
		URL: core.Server.ClientURL(), JS: core.JS, Commands: core.Commands, Licenses: core.Store, Outcomes: outcomes,
		Logger: slog.New(slog.DiscardHandler), Lanes: 4,
	}}
}

func (s *service) start() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := natsintake.Start(ctx, s.cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { in.Close() })
}

func (s *service) client(license string) *natscmd.Client {
	s.t.Helper()
	nc, err := nats.Connect(s.emb.ClientURL())
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(nc.Close)
	c, err := natscmd.New(nc, license)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSendCommand(t *testing.T) {
	s := newService(t)
	s.start()
	c := s.client(s.admin)
	ctx := ctx10(t)

	issue := natscmd.IssueToken(sdk.CreateTokenRequest{Name: "alice", Note: "vip", ExpirationDate: time.Now().Add(time.Hour).Unix()})
	issue.ID = uuid.NewString()
	out, err := c.SendCommand(ctx, issue)
	if err != nil || out.Status != natscmd.StatusAccepted || !domain.CheckSecret(domain.TokenSecretPrefix, out.Secret) ||
		out.TokenID != commands.TokenIDFor(uuid.MustParse(issue.ID)) || out.Version != 1 || out.Sequence == 0 {
		t.Fatalf("IssueToken: %+v, %v", out, err)
	}
	tok := out.TokenID

	v := int64(1)
	rename := natscmd.RenameToken(tok, "alice (iOS)")
	rename.ExpectedVersion = &v
	if out, err := c.SendCommand(ctx, rename); err != nil || out.Version != 2 {
		t.Fatalf("RenameToken: %+v, %v", out, err)
	}
	if _, err := c.SendCommand(ctx, rename); !errors.Is(err, sdk.ErrVersionConflict) {
		t.Fatalf("a stale ExpectedVersion: %v, want a version conflict", err)
	}
	if out, err := c.SendCommand(ctx, natscmd.ChangeNote(tok, "")); err != nil || out.Version != 3 {
		t.Fatalf("ChangeNote: %+v, %v", out, err)
	}
	if out, err := c.SendCommand(ctx, natscmd.UpdateToken(tok, sdk.UpdateTokenRequest{Name: sdk.Some("bob"), Status: sdk.Some(sdk.StatusSuspended)})); err != nil || out.Version != 4 {
		t.Fatalf("UpdateToken: %+v, %v", out, err)
	}
	for _, cmd := range []natscmd.Command{natscmd.ReactivateToken(tok), natscmd.ChangeExpiration(tok, time.Now().Add(2*time.Hour).Unix()), natscmd.CancelToken(tok), natscmd.DeleteToken(tok)} {
		if _, err := c.SendCommand(ctx, cmd); err != nil {
			t.Fatalf("%s: %v", cmd.Type, err)
		}
	}
	out, err = c.SendCommand(ctx, natscmd.SuspendToken(uuid.NewString()))
	var apiErr *sdk.Error
	if !errors.Is(err, sdk.ErrNotFound) || !errors.As(err, &apiErr) || out.Status != natscmd.StatusRejected {
		t.Fatalf("SuspendToken of nothing: %+v, %v", out, err)
	}
	if _, err := c.SendCommand(ctx, natscmd.AssignModel(tok, "no-such-model")); !errors.Is(err, sdk.ErrTokenCanceled) && !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("AssignModel on a deleted token: %v", err)
	}

	// The same IssueToken again, within JetStream's duplicate window: the
	// first outcome, without the secret, and still one token.
	again, err := c.SendCommand(ctx, issue)
	if err != nil || again.Secret != "" || again.TokenID != tok || again.Version != 1 {
		t.Fatalf("IssueToken again: %+v, %v", again, err)
	}

	if _, err := s.client("").SendCommand(ctx, natscmd.SuspendToken(tok)); !errors.Is(err, sdk.ErrUnauthenticated) {
		t.Fatalf("no license: %v", err)
	}
	if _, err := c.SendCommand(ctx, natscmd.Command{Type: "IssueToken", ID: "not-a-uuid"}); err == nil {
		t.Fatal("a command id that is not a UUID was sent")
	}
}

// A command sent while tokend is down waits in the stream; SendCommand
// returns its outcome once the service is back.
func TestSendCommandWhileTheServiceIsDown(t *testing.T) {
	s := newService(t)
	c := s.client(s.admin)
	res := make(chan error, 1)
	var out natscmd.Outcome
	go func() {
		var err error
		out, err = c.SendCommand(ctx10(t), natscmd.IssueToken(sdk.CreateTokenRequest{Name: "later", ExpirationDate: time.Now().Add(time.Hour).Unix()}))
		res <- err
	}()
	select {
	case err := <-res:
		t.Fatalf("answered with no service running: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	s.start()
	if err := <-res; err != nil || out.Secret == "" {
		t.Fatalf("after the start: %+v, %v", out, err)
	}
}
