package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/adapters/wire"
	"github.com/tokend/tokend/domain"
)

// idempotencyNamespace scopes client-chosen Idempotency-Keys: a key becomes
// a command id only together with the account, the route and the path's id,
// so that two accounts (or two endpoints) using the same key never name the
// same command.
var idempotencyNamespace = uuid.MustParse("6f1d7c3e-2b8a-5d4f-9e0a-7c3b1a2d4e5f")

// commandID returns the id of the command a write carries out: derived from
// the Idempotency-Key header when the client sent one (a UUID), so that a
// retried request is the same command and answers its first outcome, else a
// new random id.
func commandID(r *http.Request, p principal) (uuid.UUID, error) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return uuid.New(), nil
	}
	k, err := uuid.Parse(key)
	if err != nil || len(key) != 36 {
		return uuid.Nil, domain.Invalid("Idempotency-Key", "must be a UUID such as 3b241101-e2bb-4255-8caf-4136c566a962")
	}
	name := p.AccountID + "\x00" + r.Pattern + "\x00" + r.PathValue("id") + "\x00" + k.String()
	return uuid.NewSHA1(idempotencyNamespace, []byte(name)), nil
}

// ifMatch reads If-Match: `"<version>"` becomes the command's expected
// version (a mismatch is 412 version_conflict); `*` asks only that the token
// exist, which every token write asks anyway. Weak tags and lists are
// refused: a version is one exact number.
func ifMatch(r *http.Request) (*int64, error) {
	vs := r.Header.Values("If-Match")
	if len(vs) == 0 {
		return nil, nil
	}
	v := strings.TrimSpace(vs[0])
	if len(vs) == 1 && v == "*" {
		return nil, nil
	}
	if len(vs) == 1 && len(v) >= 3 && v[0] == '"' && v[len(v)-1] == '"' {
		if n, err := wire.ParseDigits(v[1 : len(v)-1]); err == nil {
			return &n, nil
		}
	}
	return nil, domain.Invalid("If-Match", `must be one version in quotes, such as "3", or *`)
}

// execute carries out cmd and counts it by type and outcome.
func (s *Server) execute(r *http.Request, cmd domain.Command) (commands.Result, error) {
	run := s.cmds.Execute
	if r.Header.Get("Idempotency-Key") == "" {
		// commandID drew the id at random: no earlier run of it exists.
		run = s.cmds.ExecuteNew
	}
	res, err := run(r.Context(), cmd)
	s.metrics.ObserveCommand(string(cmd.Type()), commands.OutcomeLabel(res, err))
	return res, err
}

// setWriteHeaders sets ETag (the aggregate's version after the write) and
// X-Sequence (the stream sequence of its last event), which every write
// answers with (API.md "Concurrency"). A repeated token command answers the
// token as it is now, so its ETag is the current version: an ETag always
// describes the body it comes with, and a client may send it as If-Match.
func setWriteHeaders(w http.ResponseWriter, res commands.Result) {
	h := w.Header()
	version := res.Version
	if res.Repeated && res.Token.Exists() {
		version = res.Token.Version()
	}
	h.Set("ETag", etag(version))
	h.Set("X-Sequence", strconv.FormatUint(res.Sequence, 10))
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// awaitSequence makes a read wait until the read model has applied the
// X-Min-Sequence the client asks for: at most MinSequenceWait, then 503
// projection_behind with Retry-After.
func (s *Server) awaitSequence(r *http.Request) error {
	v := r.Header.Get("X-Min-Sequence")
	if v == "" {
		return nil
	}
	n, err := wire.ParseDigits(strings.TrimSpace(v))
	if err != nil {
		return domain.Invalid("X-Min-Sequence", "must be a stream sequence: a whole, non-negative number")
	}
	return s.waitFor(r.Context(), uint64(n))
}

// waitFor waits until the read model has applied seq.
func (s *Server) waitFor(ctx context.Context, seq uint64) error {
	if s.store.Checkpoint() >= seq {
		return nil
	}
	err := s.store.WaitFor(ctx, seq, s.cfg.MinSequenceWait)
	if err != nil && domain.CodeOf(err) == domain.CodeProjectionBehind {
		return withRetryAfter(domain.ErrProjectionBehind, 1)
	}
	return err
}

// pathID returns the {id} of the path if it can name something: 1 to 128
// bytes of UTF-8 that can stand as one token of a NATS subject. Anything
// else names nothing, so it is not found, exactly like a missing id — and
// never reaches a subject, where "a.b" or "*" would name other aggregates.
// For tokens, "account" is refused too: it is the subject of the account's
// own events, not a token.
func pathID(r *http.Request, token bool) (string, error) {
	id := r.PathValue("id")
	if len(id) == 0 || len(id) > 128 || !utf8.ValidString(id) || natsjs.ValidSubjectToken("id", id) != nil {
		return "", domain.ErrNotFound
	}
	for _, c := range id {
		if c < 0x20 || c == 0x7f {
			return "", domain.ErrNotFound
		}
	}
	if token && id == domain.AccountSubject {
		return "", domain.ErrNotFound
	}
	return id, nil
}

// decode reads and decodes the request body against spec.
func decode(w http.ResponseWriter, r *http.Request, spec wire.BodySpec) (wire.Body, error) {
	body, _, err := readBody(w, r, needJSON)
	if err != nil {
		return nil, err
	}
	return wire.DecodeBody(body, spec)
}

// noBody checks that a bodiless write got no body, or only {}.
func noBody(w http.ResponseWriter, r *http.Request) error {
	body, kind, err := readBody(w, r, needNothing)
	if err != nil || kind == bodyEmpty {
		return err
	}
	_, err = wire.DecodeBody(body, wire.EmptySpec)
	return err
}
