package commands

import "github.com/google/uuid"

// The ids of what a command creates derive from the command id (UUIDv5),
// like its events' ids: a retried command names the same token, model,
// license or account, so it cannot create a second one.

// TokenIDFor returns the id of the token an IssueToken command creates.
func TokenIDFor(commandID uuid.UUID) string { return derive(commandID, "token") }

// ModelIDFor returns the id of the model a RegisterModel command creates.
func ModelIDFor(commandID uuid.UUID) string { return derive(commandID, "model") }

// LicenseIDFor returns the id of the license a command issues.
func LicenseIDFor(commandID uuid.UUID) string { return derive(commandID, "license") }

// AccountIDFor returns the id of the account a CreateAccount command creates.
func AccountIDFor(commandID uuid.UUID) string { return derive(commandID, "account") }

func derive(commandID uuid.UUID, what string) string {
	return uuid.NewSHA1(commandID, []byte(what)).String()
}
