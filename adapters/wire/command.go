package wire

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/tokend/tokend/domain"
)

// Envelope is the body of a command published on tokens.commands.<Type>
// (API.md "Commands"): {"commandId","tokenId"?,"expectedVersion"?,"data":{…}}.
type Envelope struct {
	CommandID uuid.UUID
	// TokenID is the token the command is about, "" when absent (an
	// IssueToken, whose token id derives from the command id).
	TokenID string
	// ExpectedVersion, when set, is the version the token must still have
	// (the HTTP If-Match); the command fails with version_conflict otherwise.
	ExpectedVersion *int64
	// Data is the command's "data" object, decoded by DecodeData against the
	// command type's fields.
	Data json.RawMessage
	// wellFormed: Data is a member of a body DecodeEnvelope found to be
	// valid UTF-8 and JSON, so DecodeData need not scan it again.
	wellFormed bool
}

// ErrMalformed marks a command body that is not a command at all: not one
// well-formed JSON object, or one without a usable commandId. Such a message
// cannot be answered by the command's id, so the NATS intake dead-letters it
// instead of refusing it.
var ErrMalformed = errors.New("malformed command")

// malformedError is a refusal (an invalid_argument naming what is wrong)
// that is also ErrMalformed.
type malformedError struct{ refusal *domain.Error }

func (e malformedError) Error() string   { return e.refusal.Error() }
func (e malformedError) Unwrap() []error { return []error{e.refusal, ErrMalformed} }

func malformedCommand(err *domain.Error) error { return malformedError{err} }

var envelopeSpec = BodySpec{
	Fields: map[string]FieldRule{
		"commandId":       {Kind: KindUUID, Required: true},
		"tokenId":         {Kind: KindString},
		"expectedVersion": {Kind: KindVersion},
		"data":            {Kind: KindObject, Required: true},
	},
}

// DecodeEnvelope decodes a command body as strictly as an HTTP body: one
// JSON object, no unknown or repeated field, each of its type. It returns
// an error matching ErrMalformed when body is not one well-formed JSON
// object or has no valid commandId; any other refusal is an
// invalid_argument with the envelope's CommandID set, so that the refusal
// can be answered on the command's outcome subject.
func DecodeEnvelope(body []byte) (Envelope, error) {
	if !WellFormed(body) {
		_, err := DecodeBody(body, envelopeSpec) // for its message
		var de *domain.Error
		if !errors.As(err, &de) {
			de = domain.Invalid("body", "must be one JSON object")
		}
		return Envelope{}, malformedCommand(de)
	}
	d, err := decodeWellFormed(body, envelopeSpec) // WellFormed: not scanned again
	if err != nil {
		env := Envelope{CommandID: peekCommandID(body)}
		var de *domain.Error
		if env.CommandID == uuid.Nil && errors.As(err, &de) {
			return Envelope{}, malformedCommand(de)
		}
		return env, err
	}
	env := Envelope{
		CommandID:  uuid.MustParse(d.Get("commandId").Str),
		TokenID:    d.Get("tokenId").Str,
		Data:       d.Get("data").Raw,
		wellFormed: true,
	}
	if f := d.Get("expectedVersion"); f.Set {
		v := f.Num
		env.ExpectedVersion = &v
	}
	if f := d.Get("tokenId"); f.Set && f.Str == "" {
		return env, domain.Invalid("tokenId", "must not be empty")
	}
	return env, nil
}

// peekCommandID returns the commandId of a well-formed body whose other
// fields were refused, or uuid.Nil when it has none that is valid.
func peekCommandID(body []byte) uuid.UUID {
	var p struct {
		CommandID string `json:"commandId"`
	}
	if json.Unmarshal(body, &p) != nil || len(p.CommandID) != 36 {
		return uuid.Nil
	}
	id, err := uuid.Parse(p.CommandID)
	if err != nil {
		return uuid.Nil
	}
	return id
}

// CommandType returns the token command type named by the last token of a
// command subject, and whether it is one of API.md's.
func CommandType(name string) (domain.CommandType, bool) {
	for _, t := range domain.TokenCommandTypes {
		if string(t) == name {
			return t, true
		}
	}
	return "", false
}

// DecodeData decodes a command's "data" with the fields of the HTTP body of
// the same meaning (API.md: IssueToken {name, note?, expirationDate,
// modelId?}, RenameToken {name}, ChangeNote {note}, ChangeExpiration
// {expirationDate}, AssignModel {modelId}, UpdateToken the PATCH fields, the
// others {}). A refusal names the field as "data.<field>". An IssueToken
// body comes back without its secret, which the intake draws.
func DecodeData(typ domain.CommandType, data json.RawMessage) (domain.CommandBody, error) {
	return decodeData(typ, data, false)
}

// DecodeData is DecodeData of the envelope's own Data.
func (e Envelope) DecodeData(typ domain.CommandType) (domain.CommandBody, error) {
	return decodeData(typ, e.Data, e.wellFormed)
}

func decodeData(typ domain.CommandType, data json.RawMessage, wellFormed bool) (domain.CommandBody, error) {
	spec, ok := dataSpecs[typ]
	if !ok {
		return nil, domain.Invalid("type", "unknown command type %s", QuoteShort(string(typ)))
	}
	decode := DecodeBody
	if wellFormed {
		decode = decodeWellFormed
	}
	d, err := decode(data, spec)
	if err != nil {
		return nil, inData(err)
	}
	switch typ {
	case domain.CmdIssueToken:
		return IssueTokenBody(d), nil
	case domain.CmdRenameToken:
		return domain.RenameToken{Name: d.Get("name").Str}, nil
	case domain.CmdChangeNote:
		return domain.ChangeNote{Note: d.Get("note").Str}, nil // null is "": no note
	case domain.CmdChangeExpiration:
		return domain.ChangeExpiration{ExpirationDate: d.Get("expirationDate").Num}, nil
	case domain.CmdAssignModel:
		return domain.AssignModel{ModelID: d.Get("modelId").Str}, nil
	case domain.CmdUpdateToken:
		return PatchTokenBody(d), nil
	case domain.CmdSuspendToken:
		return domain.SuspendToken{}, nil
	case domain.CmdReactivateToken:
		return domain.ReactivateToken{}, nil
	case domain.CmdCancelToken:
		return domain.CancelToken{}, nil
	case domain.CmdUnassignModel:
		return domain.UnassignModel{}, nil
	case domain.CmdDeleteToken:
		return domain.DeleteToken{}, nil
	}
	return nil, domain.Invalid("type", "unknown command type %s", QuoteShort(string(typ)))
}

var dataSpecs = map[domain.CommandType]BodySpec{
	domain.CmdIssueToken:       IssueTokenSpec,
	domain.CmdRenameToken:      renameTokenSpec,
	domain.CmdChangeNote:       changeNoteSpec,
	domain.CmdChangeExpiration: changeExpirationSpec,
	domain.CmdAssignModel:      AssignModelSpec,
	domain.CmdUpdateToken:      PatchTokenSpec,
	domain.CmdSuspendToken:     EmptySpec,
	domain.CmdReactivateToken:  EmptySpec,
	domain.CmdCancelToken:      EmptySpec,
	domain.CmdUnassignModel:    EmptySpec,
	domain.CmdDeleteToken:      EmptySpec,
}

// inData prefixes the field a refusal names with "data.", so that a NATS
// client knows the field is inside the command's data.
func inData(err error) error {
	var de *domain.Error
	if !errors.As(err, &de) {
		return err
	}
	field := de.Field
	if field == "" {
		field, _, _ = strings.Cut(de.Message, ":")
	}
	if field == "body" {
		field = ""
	}
	prefixed := "data"
	if field != "" {
		prefixed += "." + field
	}
	msg := strings.TrimPrefix(de.Message, field+": ")
	if field == "" {
		msg = strings.TrimPrefix(de.Message, "body: ")
	}
	return &domain.Error{Code: de.Code, Field: prefixed, Message: prefixed + ": " + msg}
}
