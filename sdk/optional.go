package sdk

import (
	"bytes"
	"encoding/json"
)

// Optional is a field of a partial update that can be absent, set to a value,
// or null. The zero Optional is absent: the field is left out of the request
// and the service leaves it unchanged. Some(v) sends v; Null[T]() sends JSON
// null, which clears the fields that may be cleared (a token's note and
// model).
//
// Optional marshals with the `omitzero` struct tag option, so an absent field
// does not appear on the wire at all: this is what makes "unchanged" and
// "clear" different requests.
type Optional[T any] struct {
	value T
	state optionalState
}

type optionalState uint8

const (
	absent optionalState = iota
	present
	null
)

// Some returns an Optional set to v.
func Some[T any](v T) Optional[T] { return Optional[T]{value: v, state: present} }

// Null returns an Optional set to null.
func Null[T any]() Optional[T] { return Optional[T]{state: null} }

// IsZero reports whether o is absent. encoding/json calls it for `omitzero`.
func (o Optional[T]) IsZero() bool { return o.state == absent }

// IsSet reports whether o holds a value (not absent, not null).
func (o Optional[T]) IsSet() bool { return o.state == present }

// IsNull reports whether o is set to null.
func (o Optional[T]) IsNull() bool { return o.state == null }

// Get returns the value and whether there is one.
func (o Optional[T]) Get() (T, bool) { return o.value, o.state == present }

// MarshalJSON writes the value or null. An absent Optional also marshals as
// null, but only matters outside a struct with `omitzero`.
func (o Optional[T]) MarshalJSON() ([]byte, error) {
	if o.state != present {
		return []byte("null"), nil
	}
	return json.Marshal(o.value)
}

// UnmarshalJSON reads a value or null. A field missing from the input leaves
// the Optional absent, as encoding/json never calls UnmarshalJSON for it.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*o = Null[T]()
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*o = Some(v)
	return nil
}
