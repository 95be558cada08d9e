package domain

import (
	"github.com/google/uuid"
)

// CommandType names a command; on NATS it is the last token of
// tokens.commands.<Type>.
type CommandType string

// The command types of API.md, and the account commands the service issues
// itself or from the account endpoints.
const (
	CmdIssueToken       CommandType = "IssueToken"
	CmdRenameToken      CommandType = "RenameToken"
	CmdChangeNote       CommandType = "ChangeNote"
	CmdChangeExpiration CommandType = "ChangeExpiration"
	CmdSuspendToken     CommandType = "SuspendToken"
	CmdReactivateToken  CommandType = "ReactivateToken"
	CmdCancelToken      CommandType = "CancelToken"
	CmdAssignModel      CommandType = "AssignModel"
	CmdUnassignModel    CommandType = "UnassignModel"
	CmdDeleteToken      CommandType = "DeleteToken"
	CmdUpdateToken      CommandType = "UpdateToken"

	CmdCreateAccount CommandType = "CreateAccount"
	CmdIssueLicense  CommandType = "IssueLicense"
	CmdRevokeLicense CommandType = "RevokeLicense"
	CmdRegisterModel CommandType = "RegisterModel"
)

// TokenCommandTypes lists the commands a client may send about tokens.
var TokenCommandTypes = []CommandType{
	CmdIssueToken, CmdRenameToken, CmdChangeNote, CmdChangeExpiration,
	CmdSuspendToken, CmdReactivateToken, CmdCancelToken, CmdAssignModel,
	CmdUnassignModel, CmdDeleteToken, CmdUpdateToken,
}

// Command is a request to change one aggregate: a token (TokenID set) or an
// account (TokenID empty). Its ID makes it idempotent: the ids of the events
// it emits derive from it.
type Command struct {
	ID        uuid.UUID
	AccountID string
	TokenID   string
	Actor     Actor
	// ExpectedVersion, when set, is the token version the caller last saw
	// (If-Match); the command fails with version_conflict if the token moved on.
	ExpectedVersion *int64
	Body            CommandBody
}

// Type returns the body's command type.
func (c Command) Type() CommandType { return c.Body.CommandType() }

// CommandBody is one of the command structs below.
type CommandBody interface{ CommandType() CommandType }

// Opt is an optional input: Set is false when the field was absent.
type Opt[T any] struct {
	Set   bool
	Value T
}

// Some returns a present Opt.
func Some[T any](v T) Opt[T] { return Opt[T]{Set: true, Value: v} }

// IssueToken creates a token. The service draws the secret and passes only
// its hash and hint, so that Decide stays pure and the secret never reaches
// an event.
type IssueToken struct {
	Name           string
	Note           string // "" is no note
	ExpirationDate int64
	ModelID        string // "" is unassigned
	SecretSha256   string
	SecretHint     string
}

// DrawSecret draws the token's secret (crypto/rand) and sets the command's
// hash and hint from it: the one way every intake issues a token. The
// secret is returned to be shown once; only its hash travels on.
func (b *IssueToken) DrawSecret() (string, error) {
	secret, err := NewSecret(TokenSecretPrefix)
	if err != nil {
		return "", err
	}
	b.SecretSha256, b.SecretHint = HashSecret(secret), Hint(secret)
	return secret, nil
}

// RenameToken sets the name.
type RenameToken struct{ Name string }

// ChangeNote sets or clears ("") the note.
type ChangeNote struct{ Note string }

// ChangeExpiration sets the expiration date (Unix seconds).
type ChangeExpiration struct{ ExpirationDate int64 }

// SuspendToken moves an ACTIVE token to SUSPENDED.
type SuspendToken struct{}

// ReactivateToken moves a SUSPENDED token to ACTIVE.
type ReactivateToken struct{}

// CancelToken moves a token to CANCELED, for good.
type CancelToken struct{}

// AssignModel assigns an unassigned token to a model of its account.
type AssignModel struct{ ModelID string }

// UnassignModel removes the token's model.
type UnassignModel struct{}

// DeleteToken removes the token from every list and lookup.
type DeleteToken struct{}

// UpdateToken changes several fields at once, all or nothing. An absent
// field is unchanged; Note "" clears the note; ModelID nil unassigns.
type UpdateToken struct {
	Name           Opt[string]
	Note           Opt[string]
	ExpirationDate Opt[int64]
	Status         Opt[string]
	ModelID        Opt[*string]
}

// CreateAccount creates an account with its first license.
type CreateAccount struct {
	Name          string
	LicenseID     string
	LicenseSha256 string
}

// IssueLicense adds a license to an account.
type IssueLicense struct {
	LicenseID     string
	LicenseSha256 string
}

// RevokeLicense makes a license stop working.
type RevokeLicense struct{ LicenseID string }

// RegisterModel adds a model to an account.
type RegisterModel struct {
	ModelID string
	Name    string
}

func (IssueToken) CommandType() CommandType       { return CmdIssueToken }
func (RenameToken) CommandType() CommandType      { return CmdRenameToken }
func (ChangeNote) CommandType() CommandType       { return CmdChangeNote }
func (ChangeExpiration) CommandType() CommandType { return CmdChangeExpiration }
func (SuspendToken) CommandType() CommandType     { return CmdSuspendToken }
func (ReactivateToken) CommandType() CommandType  { return CmdReactivateToken }
func (CancelToken) CommandType() CommandType      { return CmdCancelToken }
func (AssignModel) CommandType() CommandType      { return CmdAssignModel }
func (UnassignModel) CommandType() CommandType    { return CmdUnassignModel }
func (DeleteToken) CommandType() CommandType      { return CmdDeleteToken }
func (UpdateToken) CommandType() CommandType      { return CmdUpdateToken }
func (CreateAccount) CommandType() CommandType    { return CmdCreateAccount }
func (IssueLicense) CommandType() CommandType     { return CmdIssueLicense }
func (RevokeLicense) CommandType() CommandType    { return CmdRevokeLicense }
func (RegisterModel) CommandType() CommandType    { return CmdRegisterModel }
