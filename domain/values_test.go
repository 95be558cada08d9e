package domain_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/domain"
)

// nameCase is one input for a name. want is the stored (trimmed) name when
// the input is accepted; msg is the whole message when it is refused.
type nameCase struct {
	name string
	raw  string
	want string
	msg  string
}

const (
	msgNameEmpty   = "name: must not be empty"
	msgNameUTF8    = "name: must be valid UTF-8"
	msgNameTooLong = "name: must be at most 200 characters, got 201"
)

func msgNameControl(r rune) string {
	return fmt.Sprintf("name: must not contain control characters (found U+%04X)", r)
}

var nameCases = []nameCase{
	{name: "plain", raw: "beta", want: "beta"},
	{name: "spaces around are trimmed", raw: "  beta \t", want: "beta"},
	{name: "whitespace controls at the edges are trimmed", raw: "\r\n\u00a0beta\v\f\n", want: "beta"},
	{name: "NEL at the end is refused, not trimmed", raw: "beta\u0085", msg: msgNameControl(0x85)},
	{name: "NEL at the start is refused, not trimmed", raw: "\u0085beta", msg: msgNameControl(0x85)},
	{name: "inner spaces are kept", raw: "my  token", want: "my  token"},
	{name: "no-break space inside", raw: "a\u00a0b", want: "a\u00a0b"},
	{name: "letters of any script", raw: " 日本語のトークン ", want: "日本語のトークン"},
	{name: "emoji", raw: "🔑 key", want: "🔑 key"},
	{name: "format characters are not Cc", raw: "a\u200db\ufeffc", want: "a\u200db\ufeffc"},
	{name: "line separator inside is not Cc", raw: "a\u2028b", want: "a\u2028b"},
	{name: "200 ASCII characters", raw: strings.Repeat("x", 200), want: strings.Repeat("x", 200)},
	{name: "200 two-byte code points", raw: strings.Repeat("é", 200), want: strings.Repeat("é", 200)},
	{name: "200 four-byte code points", raw: strings.Repeat("🔑", 200), want: strings.Repeat("🔑", 200)},
	{name: "200 after trimming", raw: "   " + strings.Repeat("x", 200) + "\t\n", want: strings.Repeat("x", 200)},
	{name: "201 ASCII characters", raw: strings.Repeat("x", 201), msg: msgNameTooLong},
	{name: "201 two-byte code points", raw: strings.Repeat("é", 201), msg: msgNameTooLong},
	{name: "201 four-byte code points", raw: strings.Repeat("🔑", 201), msg: msgNameTooLong},
	{name: "201 after trimming", raw: " " + strings.Repeat("y", 201) + " ", msg: msgNameTooLong},
	{name: "empty", raw: "", msg: msgNameEmpty},
	{name: "spaces only", raw: "     ", msg: msgNameEmpty},
	{name: "whitespace only", raw: " \t\n\r\v\f\u00a0\u2003\u3000 ", msg: msgNameEmpty},
	{name: "invalid UTF-8 byte", raw: "ab\xffcd", msg: msgNameUTF8},
	{name: "truncated UTF-8 sequence", raw: "ab\xe6\x97", msg: msgNameUTF8},
	{name: "UTF-8 encoded surrogate", raw: "a\xed\xa0\x80b", msg: msgNameUTF8},
	{name: "overlong UTF-8", raw: "a\xc0\xafb", msg: msgNameUTF8},
	{name: "invalid UTF-8 in trimmed space", raw: "name \xff", msg: msgNameUTF8},
	{name: "NUL inside", raw: "a\x00b", msg: msgNameControl(0)},
	{name: "NUL at the start is not trimmed", raw: "\x00ab", msg: msgNameControl(0)},
	{name: "C0 unit separator", raw: "a\x1fb", msg: msgNameControl(0x1f)},
	{name: "escape", raw: "red\x1b[31m", msg: msgNameControl(0x1b)},
	{name: "tab inside", raw: "a\tb", msg: msgNameControl('\t')},
	{name: "newline inside", raw: "line\nbreak", msg: msgNameControl('\n')},
	{name: "DEL inside", raw: "a\x7fb", msg: msgNameControl(0x7f)},
	{name: "DEL at the end", raw: "ab\x7f", msg: msgNameControl(0x7f)},
	{name: "C1 first (U+0080)", raw: "a\u0080b", msg: msgNameControl(0x80)},
	{name: "NEL (U+0085) inside", raw: "a\u0085b", msg: msgNameControl(0x85)},
	{name: "C1 last (U+009F)", raw: "a\u009fb", msg: msgNameControl(0x9f)},
}

func TestParseName(t *testing.T) {
	for _, tc := range nameCases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := domain.ParseName("name", tc.raw)
			if tc.msg != "" {
				wantRefused(t, nil, err, domain.CodeInvalidArgument, tc.msg)
				var de *domain.Error
				if errors.As(err, &de) && de.Field != "name" {
					t.Errorf("field %q, want name", de.Field)
				}
				if n != (domain.Name{}) {
					t.Errorf("a refused name is %q, want the zero Name", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if n.String() != tc.want {
				t.Errorf("stored %q, want %q", n, tc.want)
			}
		})
	}
}

// TestParseNameField: the message and Field name the field the caller gives.
func TestParseNameField(t *testing.T) {
	_, err := domain.ParseName("modelName", " ")
	wantRefused(t, nil, err, domain.CodeInvalidArgument, "modelName: must not be empty")
	var de *domain.Error
	if !errors.As(err, &de) || de.Field != "modelName" {
		t.Errorf("field %+v", de)
	}
}

// TestNameRules runs every name case through every command that takes a
// name: RenameToken, IssueToken, UpdateToken, and the account side's
// CreateAccount and RegisterModel.
func TestNameRules(t *testing.T) {
	r := rules(t)
	for _, tc := range nameCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("RenameToken", func(t *testing.T) {
				cmd := tokenCmd(uid(7), domain.RenameToken{Name: tc.raw})
				evs, err := domain.Decide(issued(t), cmd, r)
				if tc.msg != "" {
					wantRefused(t, evs, err, domain.CodeInvalidArgument, tc.msg)
					return
				}
				wantEvent(t, evs, err, cmd, r, domain.TokenRenamed, domain.Changes{Name: chStr(str(firstName), str(tc.want))})
			})
			t.Run("IssueToken", func(t *testing.T) {
				b := issueBody()
				b.Name = tc.raw
				cmd := tokenCmd(uid(7), b)
				evs, err := domain.Decide(domain.Token{}, cmd, r)
				if tc.msg != "" {
					wantRefused(t, evs, err, domain.CodeInvalidArgument, tc.msg)
					return
				}
				e := wantEvent(t, evs, err, cmd, r, domain.TokenIssued, domain.Changes{
					Name:           chStr(nil, str(tc.want)),
					ExpirationDate: &domain.Change[int64]{To: i64(firstExp)},
					Status:         &domain.Change[domain.Status]{To: ptrStatus(domain.StatusActive)},
				})
				if got := domain.Evolve(domain.Token{}, e).Name(); got != tc.want {
					t.Errorf("issued token's name %q, want %q", got, tc.want)
				}
			})
			t.Run("UpdateToken", func(t *testing.T) {
				cmd := tokenCmd(uid(7), domain.UpdateToken{Name: domain.Some(tc.raw)})
				evs, err := domain.Decide(issued(t), cmd, r)
				if tc.msg != "" {
					wantRefused(t, evs, err, domain.CodeInvalidArgument, tc.msg)
					return
				}
				wantEvent(t, evs, err, cmd, r, domain.TokenRenamed, domain.Changes{Name: chStr(str(firstName), str(tc.want))})
			})
			t.Run("CreateAccount", func(t *testing.T) {
				evs, err := domain.DecideAccount(domain.Account{}, accountCmd(uid(7), "acc-9", domain.CreateAccount{Name: tc.raw, LicenseID: "l", LicenseSha256: "h"}), now)
				if tc.msg != "" {
					wantRefused(t, evs, err, domain.CodeInvalidArgument, tc.msg)
					return
				}
				if err != nil || len(evs) != 1 {
					t.Fatalf("events %v, error %v", evs, err)
				}
				if got := domain.EvolveAccount(domain.Account{}, evs[0]).Name(); got != tc.want {
					t.Errorf("account name %q, want %q", got, tc.want)
				}
			})
			t.Run("RegisterModel", func(t *testing.T) {
				a := theAccount(t)
				evs, err := domain.DecideAccount(a, accountCmd(uid(7), accountID, domain.RegisterModel{ModelID: "m-9", Name: tc.raw}), now)
				if tc.msg != "" {
					wantRefused(t, evs, err, domain.CodeInvalidArgument, tc.msg)
					return
				}
				if err != nil || len(evs) != 1 {
					t.Fatalf("events %v, error %v", evs, err)
				}
				if got, _ := domain.EvolveAccount(a, evs[0]).ModelName("m-9"); got != tc.want {
					t.Errorf("model name %q, want %q", got, tc.want)
				}
			})
		})
	}
}

func ptrStatus(s domain.Status) *domain.Status { return &s }

// noteCase is one input for a note: want is the stored note ("" none).
type noteCase struct {
	name string
	raw  string
	want string
	msg  string
}

const (
	msgNoteUTF8    = "note: must be valid UTF-8"
	msgNoteTooLong = "note: must be at most 2000 characters, got 2001"
)

var noteCases = []noteCase{
	{name: "empty is none", raw: "", want: ""},
	{name: "plain", raw: "for the mobile app", want: "for the mobile app"},
	{name: "not trimmed", raw: "  spaced  ", want: "  spaced  "},
	{name: "only spaces is a note", raw: "   ", want: "   "},
	{name: "control characters are allowed", raw: "line 1\nline 2\t\x00\x7f\u0085", want: "line 1\nline 2\t\x00\x7f\u0085"},
	{name: "2000 ASCII characters", raw: strings.Repeat("n", 2000), want: strings.Repeat("n", 2000)},
	{name: "2000 two-byte code points", raw: strings.Repeat("é", 2000), want: strings.Repeat("é", 2000)},
	{name: "2000 four-byte code points", raw: strings.Repeat("🔑", 2000), want: strings.Repeat("🔑", 2000)},
	{name: "2001 ASCII characters", raw: strings.Repeat("n", 2001), msg: msgNoteTooLong},
	{name: "2001 two-byte code points", raw: strings.Repeat("é", 2001), msg: msgNoteTooLong},
	{name: "2001 code points with spaces (no trimming)", raw: " " + strings.Repeat("n", 1999) + " ", msg: msgNoteTooLong},
	{name: "invalid UTF-8", raw: "note \xff", msg: msgNoteUTF8},
	{name: "truncated UTF-8", raw: "\xe6\x97", msg: msgNoteUTF8},
}

func TestParseNote(t *testing.T) {
	for _, tc := range noteCases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := domain.ParseNote(tc.raw)
			if tc.msg != "" {
				wantRefused(t, nil, err, domain.CodeInvalidArgument, tc.msg)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if n.String() != tc.want || n.IsSet() != (tc.want != "") {
				t.Errorf("note %q set %v, want %q", n, n.IsSet(), tc.want)
			}
		})
	}
}

// TestNoteRules runs every note case through ChangeNote, IssueToken and
// UpdateToken.
func TestNoteRules(t *testing.T) {
	r := rules(t)
	for _, tc := range noteCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, body := range []domain.CommandBody{domain.ChangeNote{Note: tc.raw}, domain.UpdateToken{Note: domain.Some(tc.raw)}} {
				t.Run(string(body.CommandType()), func(t *testing.T) {
					cmd := tokenCmd(uid(7), body)
					evs, err := domain.Decide(issued(t), cmd, r)
					switch {
					case tc.msg != "":
						wantRefused(t, evs, err, domain.CodeInvalidArgument, tc.msg)
					case tc.want == "":
						wantNoEvent(t, evs, err) // no note, still none
					default:
						wantEvent(t, evs, err, cmd, r, domain.TokenNoteChanged, domain.Changes{Note: chStr(nil, str(tc.want))})
					}
				})
			}
			t.Run("IssueToken", func(t *testing.T) {
				b := issueBody()
				b.Note = tc.raw
				cmd := tokenCmd(uid(7), b)
				evs, err := domain.Decide(domain.Token{}, cmd, r)
				if tc.msg != "" {
					wantRefused(t, evs, err, domain.CodeInvalidArgument, tc.msg)
					return
				}
				want := domain.Changes{
					Name:           chStr(nil, str(firstName)),
					ExpirationDate: &domain.Change[int64]{To: i64(firstExp)},
					Status:         &domain.Change[domain.Status]{To: ptrStatus(domain.StatusActive)},
				}
				if tc.want != "" {
					want.Note = chStr(nil, str(tc.want))
				}
				e := wantEvent(t, evs, err, cmd, r, domain.TokenIssued, want)
				if got := domain.Evolve(domain.Token{}, e).Note(); got != tc.want {
					t.Errorf("issued token's note %q, want %q", got, tc.want)
				}
			})
		})
	}
}

// TestNoteClear: "" clears a note (to: null), through ChangeNote and UpdateToken.
func TestNoteClear(t *testing.T) {
	r := rules(t)
	for _, body := range []domain.CommandBody{domain.ChangeNote{}, domain.UpdateToken{Note: domain.Some("")}} {
		t.Run(string(body.CommandType()), func(t *testing.T) {
			tok := issued(t, domain.ChangeNote{Note: "hello"})
			cmd := tokenCmd(uid(7), body)
			evs, err := domain.Decide(tok, cmd, r)
			e := wantEvent(t, evs, err, cmd, r, domain.TokenNoteChanged, domain.Changes{Note: chStr(str("hello"), nil)})
			if after := domain.Evolve(tok, e); after.Note() != "" {
				t.Errorf("note %q after clearing", after.Note())
			}
		})
	}
	t.Run("same note again", func(t *testing.T) {
		evs, err := domain.Decide(issued(t, domain.ChangeNote{Note: "hello"}), tokenCmd(uid(7), domain.ChangeNote{Note: "hello"}), r)
		wantNoEvent(t, evs, err)
	})
}

// expCase is one expiration date against a clock and a maximum lifetime.
type expCase struct {
	name string
	unix int64
	now  time.Time
	max  time.Duration // as given in Rules: <= 0 is the default
	msg  string
}

func msgPast(at time.Time) string {
	return fmt.Sprintf("expirationDate: must be in the future (Unix seconds after %d)", at.Unix())
}

func msgTooFar(lifetime string, limit int64) string {
	return fmt.Sprintf("expirationDate: must be at most %s from now (at most %d)", lifetime, limit)
}

func expCases() []expCase {
	s := now.Unix()
	year := int64(365 * 24 * 3600)
	frac := now.Add(500 * time.Millisecond) // between two seconds
	return []expCase{
		{name: "now", unix: s, now: now, msg: msgPast(now)},
		{name: "one second ago", unix: s - 1, now: now, msg: msgPast(now)},
		{name: "long ago", unix: 1, now: now, msg: msgPast(now)},
		{name: "zero", unix: 0, now: now, msg: msgPast(now)},
		{name: "negative", unix: -1, now: now, msg: msgPast(now)},
		{name: "min int64", unix: math.MinInt64, now: now, msg: msgPast(now)},
		{name: "now + 1 s", unix: s + 1, now: now},
		{name: "30 days", unix: s + 30*86400, now: now},
		{name: "exactly the default maximum", unix: s + year, now: now},
		{name: "default maximum + 1 s", unix: s + year + 1, now: now, msg: msgTooFar("365 days", s+year)},
		{name: "max int64 is too far, not in the past", unix: math.MaxInt64, now: now, msg: msgTooFar("365 days", s+year)},
		{name: "half a second before now", unix: s, now: frac, msg: msgPast(frac)},
		{name: "half a second after now", unix: s + 1, now: frac},
		{name: "maximum, with now between seconds", unix: s + year, now: frac},
		{name: "maximum + 1 s, with now between seconds", unix: s + year + 1, now: frac, msg: msgTooFar("365 days", s+year)},
		{name: "custom 1h: exactly", unix: s + 3600, now: now, max: time.Hour},
		{name: "custom 1h: + 1 s", unix: s + 3601, now: now, max: time.Hour, msg: msgTooFar("1h0m0s", s+3600)},
		{name: "custom 1 day: + 1 s", unix: s + 86401, now: now, max: 24 * time.Hour, msg: msgTooFar("1 day", s+86400)},
		{name: "custom 30 days: exactly", unix: s + 30*86400, now: now, max: 30 * day},
		{name: "custom 30 days: + 1 s", unix: s + 30*86400 + 1, now: now, max: 30 * day, msg: msgTooFar("30 days", s+30*86400)},
		{name: "custom 2 years: beyond the default", unix: s + 2*year, now: now, max: 2 * 365 * day},
		{name: "custom 2 years: + 1 s", unix: s + 2*year + 1, now: now, max: 2 * 365 * day, msg: msgTooFar("730 days", s+2*year)},
		{name: "zero maximum is the default", unix: s + year + 1, now: now, max: 0, msg: msgTooFar("365 days", s+year)},
		{name: "negative maximum is the default", unix: s + year, now: now, max: -time.Hour},
	}
}

func TestValidateExpiration(t *testing.T) {
	for _, tc := range expCases() {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			if max <= 0 {
				max = domain.DefaultMaxLifetime
			}
			err := domain.ValidateExpiration(tc.unix, tc.now, max)
			if tc.msg != "" {
				wantRefused(t, nil, err, domain.CodeInvalidArgument, tc.msg)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
	if domain.DefaultMaxLifetime != 365*24*time.Hour {
		t.Errorf("DefaultMaxLifetime %v", domain.DefaultMaxLifetime)
	}
}

// TestExpirationRules runs every expiration case through ChangeExpiration,
// IssueToken and UpdateToken, with the clock and lifetime in Rules.
func TestExpirationRules(t *testing.T) {
	for _, tc := range expCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := domain.Rules{Now: tc.now, MaxLifetime: tc.max, Models: theAccount(t)}
			for _, body := range []domain.CommandBody{domain.ChangeExpiration{ExpirationDate: tc.unix}, domain.UpdateToken{ExpirationDate: domain.Some(tc.unix)}} {
				t.Run(string(body.CommandType()), func(t *testing.T) {
					cmd := tokenCmd(uid(7), body)
					evs, err := domain.Decide(issued(t), cmd, r)
					if tc.msg != "" {
						wantRefused(t, evs, err, domain.CodeInvalidArgument, tc.msg)
						return
					}
					if tc.unix == firstExp {
						wantNoEvent(t, evs, err)
						return
					}
					wantEvent(t, evs, err, cmd, r, domain.TokenExpirationChanged, domain.Changes{ExpirationDate: chExp(firstExp, tc.unix)})
				})
			}
			t.Run("IssueToken", func(t *testing.T) {
				b := issueBody()
				b.ExpirationDate = tc.unix
				cmd := tokenCmd(uid(7), b)
				evs, err := domain.Decide(domain.Token{}, cmd, r)
				if tc.msg != "" {
					wantRefused(t, evs, err, domain.CodeInvalidArgument, tc.msg)
					return
				}
				wantEvent(t, evs, err, cmd, r, domain.TokenIssued, domain.Changes{
					Name:           chStr(nil, str(firstName)),
					ExpirationDate: &domain.Change[int64]{To: i64(tc.unix)},
					Status:         &domain.Change[domain.Status]{To: ptrStatus(domain.StatusActive)},
				})
			})
		})
	}
}

// TestExpirationUnchangedInThePast: setting the date a token already has is a
// no-op even once that date has passed; another past date is refused.
func TestExpirationUnchangedInThePast(t *testing.T) {
	tok := issued(t)
	later := domain.Rules{Now: time.Unix(firstExp+3600, 0), Models: theAccount(t)}
	if !tok.Expired(later.Now) || tok.Expired(now) {
		t.Fatalf("Expired: at %v %v, at now %v", later.Now, tok.Expired(later.Now), tok.Expired(now))
	}
	for _, body := range []domain.CommandBody{domain.ChangeExpiration{ExpirationDate: firstExp}, domain.UpdateToken{ExpirationDate: domain.Some(firstExp)}} {
		evs, err := domain.Decide(tok, tokenCmd(uid(7), body), later)
		wantNoEvent(t, evs, err)
	}
	evs, err := domain.Decide(tok, tokenCmd(uid(7), domain.ChangeExpiration{ExpirationDate: firstExp + 1}), later)
	wantRefused(t, evs, err, domain.CodeInvalidArgument, msgPast(later.Now))
}

func TestParseStatus(t *testing.T) {
	const msg = "status: must be one of ACTIVE, SUSPENDED, CANCELED"
	cases := []struct {
		raw  string
		want domain.Status // "" is refused
	}{
		{"ACTIVE", domain.StatusActive},
		{"active", domain.StatusActive},
		{"Active", domain.StatusActive},
		{"aCtIvE", domain.StatusActive},
		{"SUSPENDED", domain.StatusSuspended},
		{"suspended", domain.StatusSuspended},
		{"Suspended", domain.StatusSuspended},
		{"CANCELED", domain.StatusCanceled},
		{"canceled", domain.StatusCanceled},
		{"Canceled", domain.StatusCanceled},
		{"CANCELLED", domain.StatusCanceled},
		{"cancelled", domain.StatusCanceled},
		{"CanCelLed", domain.StatusCanceled},
		{"", ""},
		{" active", ""},
		{"ACTIVE ", ""},
		{"ACTIVE\x00", ""},
		{"activ", ""},
		{"actives", ""},
		{"paused", ""},
		{"EXPIRED", ""},
		{"CANCELLLED", ""},
		{"DELETED", ""},
		{"ſuspended", ""}, // U+017F LATIN SMALL LETTER LONG S upper-cases to S
		{"actıve", ""},    // U+0131 LATIN SMALL LETTER DOTLESS I upper-cases to I
		{"ＡＣＴＩＶＥ", ""},    // fullwidth
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%q", tc.raw), func(t *testing.T) {
			s, err := domain.ParseStatus(tc.raw)
			if tc.want == "" {
				wantRefused(t, nil, err, domain.CodeInvalidArgument, msg)
				if s != "" {
					t.Errorf("refused status is %q", s)
				}
				return
			}
			if err != nil || s != tc.want {
				t.Fatalf("ParseStatus(%q) = %q, %v; want %q", tc.raw, s, err, tc.want)
			}
		})
	}
}

// TestStatusRules: UpdateToken's status goes through ParseStatus.
func TestStatusRules(t *testing.T) {
	r := rules(t)
	cmd := tokenCmd(uid(7), domain.UpdateToken{Status: domain.Some("ſuspended")})
	evs, err := domain.Decide(issued(t), cmd, r)
	wantRefused(t, evs, err, domain.CodeInvalidArgument, "status: must be one of ACTIVE, SUSPENDED, CANCELED")

	cmd = tokenCmd(uid(7), domain.UpdateToken{Status: domain.Some("cancelled")})
	evs, err = domain.Decide(issued(t), cmd, r)
	wantEvent(t, evs, err, cmd, r, domain.TokenCanceled, domain.Changes{Status: chStatus(domain.StatusActive, domain.StatusCanceled)})
}

func TestCodeOf(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want domain.Code
	}{
		{"nil", nil, ""},
		{"plain error", errors.New("boom"), domain.CodeInternal},
		{"sentinel", domain.ErrNotFound, domain.CodeNotFound},
		{"wrapped", fmt.Errorf("loading: %w", domain.ErrVersionConflict), domain.CodeVersionConflict},
		{"Invalid", domain.Invalid("name", "bad %d", 1), domain.CodeInvalidArgument},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", domain.ErrAlreadyAssigned)), domain.CodeAlreadyAssigned},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.CodeOf(tc.err); got != tc.want {
				t.Errorf("CodeOf = %q, want %q", got, tc.want)
			}
		})
	}
	e := domain.Invalid("expirationDate", "must be %s", "later")
	if e.Message != "expirationDate: must be later" || e.Field != "expirationDate" || !errors.Is(e, domain.ErrInvalidArgument) || errors.Is(e, domain.ErrNotFound) {
		t.Errorf("Invalid: %+v", e)
	}
	sentinels := map[domain.Code]*domain.Error{
		domain.CodeInvalidArgument: domain.ErrInvalidArgument, domain.CodeUnauthenticated: domain.ErrUnauthenticated,
		domain.CodePermissionDenied: domain.ErrPermissionDenied, domain.CodeNotFound: domain.ErrNotFound,
		domain.CodeAlreadyAssigned: domain.ErrAlreadyAssigned, domain.CodeTokenCanceled: domain.ErrTokenCanceled,
		domain.CodeVersionConflict: domain.ErrVersionConflict, domain.CodePayloadTooLarge: domain.ErrPayloadTooLarge,
		domain.CodeUnsupportedMediaType: domain.ErrUnsupportedMediaType, domain.CodeRateLimited: domain.ErrRateLimited,
		domain.CodeProjectionBehind: domain.ErrProjectionBehind, domain.CodeInternal: domain.ErrInternal,
	}
	for code, s := range sentinels {
		if s.Code != code || s.Message == "" || domain.CodeOf(s) != code {
			t.Errorf("sentinel for %s: %+v", code, s)
		}
	}
}

// FuzzParseName: ParseName agrees with an independent reading of API.md's
// name rule, and every refusal is an invalid_argument naming the field.
func FuzzParseName(f *testing.F) {
	for _, tc := range nameCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n, err := domain.ParseName("name", raw)
		want, ok := refNameOK(raw)
		if ok != (err == nil) {
			t.Fatalf("ParseName(%q) = %q, %v; the rule says ok=%v", raw, n, err, ok)
		}
		if err != nil {
			if domain.CodeOf(err) != domain.CodeInvalidArgument || !strings.HasPrefix(err.Error(), "name: ") {
				t.Fatalf("ParseName(%q): %v", raw, err)
			}
			return
		}
		if n.String() != want {
			t.Fatalf("ParseName(%q) = %q, want %q", raw, n, want)
		}
	})
}
