package commands

import "github.com/tokend/tokend/domain"

// Outcome labels of a command that did not fail, for metrics.
const (
	OutcomeAccepted  = "accepted"  // the command emitted its event
	OutcomeUnchanged = "unchanged" // it asked for the current values: no event
	OutcomeRepeated  = "repeated"  // a retry of a command already carried out
)

// OutcomeLabel names what a command did, the same way for every intake
// (the tokend_commands_total metric's outcome label): the error's API code
// (internal for an error without one), else repeated, accepted or unchanged.
func OutcomeLabel(res Result, err error) string {
	switch {
	case err != nil:
		return string(domain.CodeOf(err))
	case res.Repeated:
		return OutcomeRepeated
	case len(res.Emitted) > 0:
		return OutcomeAccepted
	}
	return OutcomeUnchanged
}
