package natsjs

import (
	"fmt"
	"strings"
)

// Stream names and the subjects they bind (API.md "NATS").
const (
	// EventsStream holds every event on tokens.events.>, kept forever.
	EventsStream = "TOKEN_EVENTS"
	// CommandsStream holds commands on tokens.commands.>, kept 7 days.
	CommandsStream = "TOKEN_COMMANDS"

	// EventsSubjects is the subject filter bound to EventsStream.
	EventsSubjects = "tokens.events.>"
	// CommandsSubjects is the subject filter bound to CommandsStream.
	CommandsSubjects = "tokens.commands.>"

	eventsPrefix   = "tokens.events."
	commandsPrefix = "tokens.commands."
)

// EventSubject returns the subject of an account's event stream for one
// aggregate: tokens.events.<accountId>.<subjectTail>, where subjectTail is a
// token id or domain.AccountSubject. It does not validate its inputs; use
// ValidSubjectToken where they come from outside.
func EventSubject(accountID, subjectTail string) string {
	return eventsPrefix + accountID + "." + subjectTail
}

// AccountEventsFilter returns the filter that matches exactly one account's
// events, tokens.events.<accountId>.>, for audit consumers and the projector.
func AccountEventsFilter(accountID string) string {
	return eventsPrefix + accountID + ".>"
}

// CommandSubject returns tokens.commands.<commandType>, where commands of
// that type are published.
func CommandSubject(commandType string) string {
	return commandsPrefix + commandType
}

// ValidSubjectToken reports, with a reason, whether s can be one token of a
// NATS subject: non-empty, and free of '.', '*', '>' and whitespace, which
// would split the subject or turn it into a wildcard (an id like "a.b" would
// otherwise write into another token's history).
func ValidSubjectToken(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if i := strings.IndexAny(s, ".*> \t\r\n\f\v"); i >= 0 {
		return fmt.Errorf("%s %q contains %q, which NATS subjects do not allow in a token", what, s, s[i])
	}
	return nil
}
