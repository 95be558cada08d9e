package natsjs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tokend/tokend/domain"
)

// An upcaster lifts the body of an event of one schema version to the next
// version: it gets the body's top-level fields and rewrites them in place
// (renames a field, fills a new one with its documented default, splits
// one). It must be pure and total on every body that version allowed,
// because it runs on every read of the log, forever: by the command service
// loading an aggregate and by every decoder of events.
type upcaster func(body map[string]json.RawMessage) error

// upcasters holds, for each schema version older than domain.SchemaVersion,
// the step to the version after it: upcasters[1] lifts version 1 to 2. It is
// empty while version 1 is the only one. When version 2 comes, the change
// lands in this order (docs/events.md "Versioning"): readers first, with
// upcasters[1] added here and domain.Event grown to version 2's shape;
// then, once every reader is deployed, writers switch
// domain.SchemaVersion to 2. The log is never rewritten: version 1 bodies
// stay as they were appended and are lifted on every read.
var upcasters = map[int]upcaster{}

// Upcast returns an event body at domain.SchemaVersion: data itself when it
// is already at that version, else the body lifted one version at a time by
// the registered upcasters. A body without a schemaVersion, with one that is
// not a positive integer, or with one newer than this build reads, is an
// error naming it.
func Upcast(data []byte) ([]byte, error) {
	return upcast(data, domain.SchemaVersion, upcasters)
}

// upcast is Upcast with the target version and the steps as arguments, so
// that tests can exercise a chain this build does not have yet.
func upcast(data []byte, target int, steps map[int]upcaster) ([]byte, error) {
	var head struct {
		ID            json.RawMessage  `json:"id"`
		SchemaVersion *json.RawMessage `json:"schemaVersion"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	id := string(bytes.Trim(head.ID, `"`))
	if head.SchemaVersion == nil || string(*head.SchemaVersion) == "null" {
		return nil, fmt.Errorf("decode event %s: no schemaVersion", id)
	}
	raw := string(*head.SchemaVersion)
	v, err := strconv.Atoi(raw)
	switch {
	case err != nil || v < 0:
		return nil, fmt.Errorf("decode event %s: unsupported schemaVersion %s (this build reads %d)", id, raw, target)
	case v == 0:
		return nil, fmt.Errorf("decode event %s: no schemaVersion", id)
	case v > target:
		return nil, fmt.Errorf("decode event %s: unsupported schemaVersion %d (this build reads %d): upgrade the reader", id, v, target)
	case v == target:
		return data, nil
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(data, &body); err != nil {
		return nil, fmt.Errorf("decode event %s: %w", id, err)
	}
	for ; v < target; v++ {
		step, ok := steps[v]
		if !ok {
			return nil, fmt.Errorf("decode event %s: no upcaster from schemaVersion %d to %d", id, v, v+1)
		}
		if err := step(body); err != nil {
			return nil, fmt.Errorf("decode event %s: upcast schemaVersion %d to %d: %w", id, v, v+1, err)
		}
		body["schemaVersion"] = json.RawMessage(strconv.Itoa(v + 1))
	}
	out, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("decode event %s: %w", id, err)
	}
	return out, nil
}
