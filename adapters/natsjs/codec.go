package natsjs

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokend/tokend/domain"
)

// Header names of an event message (API.md "Events"). The CloudEvents 1.0
// attributes use the ce- prefix of the CloudEvents NATS binding.
const (
	HeaderMsgID       = jetstream.MsgIDHeader               // Nats-Msg-Id: the event id
	HeaderExpectedSeq = jetstream.ExpectedLastSubjSeqHeader // Nats-Expected-Last-Subject-Sequence
	HeaderCEID        = "ce-id"
	HeaderCEType      = "ce-type"
	HeaderCESource    = "ce-source"
	HeaderCESubject   = "ce-subject"
	HeaderCETime      = "ce-time"
	HeaderCESpec      = "ce-specversion"
	HeaderContentType = "Content-Type"
	CESource          = "tokend"
	CESpecVersion     = "1.0"
	ContentTypeJSON   = "application/json"
)

// EncodeEvent returns the message body of ev: its JSON, with At in UTC. It
// refuses an event without an id or type, or of a schema version this code
// does not write, so that nothing undecodable reaches the log.
func EncodeEvent(ev domain.Event) ([]byte, error) {
	if ev.ID == uuid.Nil {
		return nil, errors.New("encode event: no id")
	}
	if ev.Type == "" {
		return nil, fmt.Errorf("encode event %s: no type", ev.ID)
	}
	if ev.SchemaVersion != domain.SchemaVersion {
		return nil, fmt.Errorf("encode event %s: schemaVersion %d, want %d", ev.ID, ev.SchemaVersion, domain.SchemaVersion)
	}
	ev.At = ev.At.UTC()
	// MarshalJSON directly: json.Marshal(ev) would call it and then check
	// and compact its output again, byte by byte (encoding/json does that to
	// every Marshaler), for the same bytes.
	b, err := ev.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return b, nil
}

// DecodeEvent decodes a message body written by EncodeEvent, or by an
// older build: a body of an older schema version is first lifted to
// domain.SchemaVersion by Upcast, the one place where old versions are
// understood (docs/events.md "Versioning"). A body of a newer version, or of
// none, is an error that names it, so a reader older than the log fails
// loudly instead of misreading. Unknown fields are ignored: within a version
// the body only ever grows.
func DecodeEvent(data []byte) (domain.Event, error) {
	var ev domain.Event
	if err := json.Unmarshal(data, &ev); err == nil && ev.SchemaVersion == domain.SchemaVersion {
		return ev, nil // the common case, decoded once
	}
	data, err := Upcast(data)
	if err != nil {
		return domain.Event{}, err
	}
	ev = domain.Event{}
	if err := json.Unmarshal(data, &ev); err != nil {
		return domain.Event{}, fmt.Errorf("decode event: %w", err)
	}
	return ev, nil
}

// EventHeaders returns the headers of ev's message: Nats-Msg-Id (the event
// id, so JetStream drops a retried append), the CloudEvents attributes and
// Content-Type. Append adds Nats-Expected-Last-Subject-Sequence. ce-time
// always carries nine fractional digits, in UTC.
func EventHeaders(ev domain.Event) nats.Header {
	id := ev.ID.String()
	return nats.Header{
		HeaderMsgID:       {id},
		HeaderCEID:        {id},
		HeaderCEType:      {string(ev.Type)},
		HeaderCESource:    {CESource},
		HeaderCESubject:   {ev.Subject()},
		HeaderCETime:      {FormatCETime(ev.At)},
		HeaderCESpec:      {CESpecVersion},
		HeaderContentType: {ContentTypeJSON},
	}
}

// FormatCETime formats t as ce-time: domain.TimeFormat, RFC 3339 in UTC
// with always nine digits of nanoseconds, the same as the body's "at".
func FormatCETime(t time.Time) string {
	return domain.FormatTime(t)
}
