package projections

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/tokend/tokend/domain"
)

// Values are a small binary encoding rather than JSON: decoding a token view
// must cost a fraction of the Badger read it follows (the Introspect goal is
// 70% of a raw Get), and a fixed field order makes the bytes a pure function
// of the state, so a rebuild writes the very same values. Every value starts
// with a format byte so that a later layout can be told apart.
const codecV1 = 1

var errCorrupt = errors.New("projections: corrupt read-model value")

// tokenRecord is what the read model keeps per token, deleted ones included:
// the domain state, the stream sequence of its last event (for the command
// service's expected-last-subject-sequence) and its model's name,
// denormalised so that a view is one read. Models are never renamed, so the
// name cannot go stale.
type tokenRecord struct {
	domain.TokenSnapshot
	Seq       uint64
	ModelName string
}

type encoder struct{ b []byte }

func (e *encoder) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *encoder) i64(v int64)  { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) raw(p []byte) { e.b = append(e.b, p...) }
func (e *encoder) flag(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// decoder reads from one string that holds a whole value, so every string
// field it returns is a substring of it: one allocation per value decoded.
type decoder struct {
	s   string
	err bool
}

func (d *decoder) uvarint() uint64 {
	var v uint64
	var shift uint
	for i := 0; i < len(d.s) && i < binary.MaxVarintLen64; i++ {
		c := d.s[i]
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			d.s = d.s[i+1:]
			return v
		}
		shift += 7
	}
	d.err = true
	d.s = ""
	return 0
}

func (d *decoder) i64() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.s)) {
		d.err = true
		d.s = ""
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

func (d *decoder) bytes(n int) string {
	if n > len(d.s) {
		d.err = true
		d.s = ""
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

func (d *decoder) flag() bool { return d.bytes(1) == "\x01" }

func (d *decoder) uuid() uuid.UUID {
	var u uuid.UUID
	copy(u[:], d.bytes(16))
	return u
}

func (d *decoder) version() {
	if d.bytes(1) != string(rune(codecV1)) {
		d.err = true
	}
}

// status returns the status constant for s without keeping s.
func status(s string) domain.Status {
	switch s {
	case string(domain.StatusActive):
		return domain.StatusActive
	case string(domain.StatusSuspended):
		return domain.StatusSuspended
	case string(domain.StatusCanceled):
		return domain.StatusCanceled
	}
	return domain.Status(s)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func encodeToken(r *tokenRecord) []byte {
	e := encoder{b: make([]byte, 0, 160+len(r.Name)+len(r.Note))}
	e.b = append(e.b, codecV1)
	e.u64(r.Seq)
	e.str(r.ID)
	e.str(r.AccountID)
	e.str(r.Name)
	e.str(r.Note)
	e.i64(r.ExpirationDate)
	e.str(string(r.Status))
	e.str(r.ModelID)
	e.str(r.ModelName)
	e.str(r.SecretSha256)
	e.str(r.SecretHint)
	e.i64(unixNano(r.CreatedAt))
	e.i64(unixNano(r.UpdatedAt))
	e.i64(r.Version)
	e.raw(r.IssuedBy[:])
	e.flag(r.Deleted)
	return e.b
}

func decodeToken(v []byte) (tokenRecord, error) {
	d := decoder{s: string(v)}
	var r tokenRecord
	d.version()
	r.Seq = d.uvarint()
	r.ID = d.str()
	r.AccountID = d.str()
	r.Name = d.str()
	r.Note = d.str()
	r.ExpirationDate = d.i64()
	r.Status = status(d.str())
	r.ModelID = d.str()
	r.ModelName = d.str()
	r.SecretSha256 = d.str()
	r.SecretHint = d.str()
	r.CreatedAt = fromUnixNano(d.i64())
	r.UpdatedAt = fromUnixNano(d.i64())
	r.Version = d.i64()
	r.IssuedBy = d.uuid()
	r.Deleted = d.flag()
	if d.err {
		return tokenRecord{}, errCorrupt
	}
	return r, nil
}

// encodeEndUser returns the end-user record kept under the secret's hash:
// exactly what introspection answers, plus the account id, so that it is
// served by one read.
func encodeEndUser(r *tokenRecord) []byte {
	e := encoder{b: make([]byte, 0, 64+len(r.Name)+len(r.ID)+len(r.AccountID))}
	e.b = append(e.b, codecV1)
	e.str(r.AccountID)
	e.str(r.ID)
	e.str(r.Name)
	e.i64(r.ExpirationDate)
	e.str(string(r.Status))
	e.str(r.ModelID)
	e.str(r.ModelName)
	e.i64(r.CreatedAt.Unix())
	e.i64(r.UpdatedAt.Unix())
	return e.b
}

func decodeEndUser(v []byte) (acct string, u EndUserView, err error) {
	d := decoder{s: string(v)}
	d.version()
	acct = d.str()
	u.ID = d.str()
	u.Name = d.str()
	u.ExpirationDate = d.i64()
	u.Status = status(d.str())
	if m := d.str(); m != "" {
		u.ModelID = &m
	}
	if m := d.str(); u.ModelID != nil {
		u.ModelName = &m
	}
	u.CreatedAt = d.i64()
	u.UpdatedAt = d.i64()
	if d.err {
		return "", EndUserView{}, errCorrupt
	}
	return acct, u, nil
}

// encodeAudit returns the audit record of an event: the time and type
// first, so that filters read them without decoding the rest, then the
// ids, the actor and the changes, all in the binary encoding (JSON was a
// sixth of a rebuild's time).
func encodeAudit(e *domain.Event) []byte {
	enc := encoder{b: make([]byte, 0, 96+len(e.Type)+len(e.TokenID)+len(e.Actor.ID))}
	enc.b = append(enc.b, codecV1)
	enc.i64(unixNano(e.At))
	enc.str(string(e.Type))
	enc.raw(e.ID[:])
	enc.raw(e.CommandID[:])
	enc.str(e.TokenID)
	enc.str(e.Actor.Kind)
	enc.str(e.Actor.ID)
	encodeChanges(&enc, &e.Data.Changes)
	return enc.b
}

// Changes: a byte of flags saying which fields changed, then for each of
// them, in the order of domain.Changes, a byte saying whether from and to
// are set, and the values that are.
const (
	chName = 1 << iota
	chNote
	chExpiration
	chStatus
	chModelID
	chLicenseID
	chModelName
)

func encodeChanges(e *encoder, c *domain.Changes) {
	var flags byte
	for i, set := range [...]bool{c.Name != nil, c.Note != nil, c.ExpirationDate != nil, c.Status != nil,
		c.ModelID != nil, c.LicenseID != nil, c.ModelName != nil} {
		if set {
			flags |= 1 << i
		}
	}
	e.b = append(e.b, flags)
	strChange(e, c.Name)
	strChange(e, c.Note)
	if ch := c.ExpirationDate; ch != nil {
		e.b = append(e.b, presence(ch.From != nil, ch.To != nil))
		if ch.From != nil {
			e.i64(*ch.From)
		}
		if ch.To != nil {
			e.i64(*ch.To)
		}
	}
	if ch := c.Status; ch != nil {
		e.b = append(e.b, presence(ch.From != nil, ch.To != nil))
		if ch.From != nil {
			e.str(string(*ch.From))
		}
		if ch.To != nil {
			e.str(string(*ch.To))
		}
	}
	strChange(e, c.ModelID)
	strChange(e, c.LicenseID)
	strChange(e, c.ModelName)
}

func presence(from, to bool) byte {
	var b byte
	if from {
		b |= 1
	}
	if to {
		b |= 2
	}
	return b
}

func strChange(e *encoder, ch *domain.Change[string]) {
	if ch == nil {
		return
	}
	e.b = append(e.b, presence(ch.From != nil, ch.To != nil))
	if ch.From != nil {
		e.str(*ch.From)
	}
	if ch.To != nil {
		e.str(*ch.To)
	}
}

func decodeChanges(d *decoder) domain.Changes {
	var c domain.Changes
	flags := d.bytes(1)
	if flags == "" {
		d.err = true
		return c
	}
	f := flags[0]
	str := func() *domain.Change[string] {
		p := d.bytes(1)
		ch := &domain.Change[string]{}
		if p == "" {
			d.err = true
			return ch
		}
		if p[0]&1 != 0 {
			v := d.str()
			ch.From = &v
		}
		if p[0]&2 != 0 {
			v := d.str()
			ch.To = &v
		}
		return ch
	}
	if f&chName != 0 {
		c.Name = str()
	}
	if f&chNote != 0 {
		c.Note = str()
	}
	if f&chExpiration != 0 {
		ch := &domain.Change[int64]{}
		if p := d.bytes(1); p != "" {
			if p[0]&1 != 0 {
				v := d.i64()
				ch.From = &v
			}
			if p[0]&2 != 0 {
				v := d.i64()
				ch.To = &v
			}
		}
		c.ExpirationDate = ch
	}
	if f&chStatus != 0 {
		ch := &domain.Change[domain.Status]{}
		if p := d.bytes(1); p != "" {
			if p[0]&1 != 0 {
				v := status(d.str())
				ch.From = &v
			}
			if p[0]&2 != 0 {
				v := status(d.str())
				ch.To = &v
			}
		}
		c.Status = ch
	}
	if f&chModelID != 0 {
		c.ModelID = str()
	}
	if f&chLicenseID != 0 {
		c.LicenseID = str()
	}
	if f&chModelName != 0 {
		c.ModelName = str()
	}
	return c
}

// auditHead decodes the time and type of an audit record.
func auditHead(v []byte) (at int64, typ string, ok bool) {
	d := decoder{s: string(v[:min(len(v), 64)])}
	d.version()
	at = d.i64()
	typ = d.str()
	return at, typ, !d.err
}

func decodeAudit(seq uint64, v []byte) (AuditEntry, error) {
	d := decoder{s: string(v)}
	d.version()
	at := d.i64()
	a := AuditEntry{Sequence: seq}
	a.Type = domain.EventType(d.str())
	a.EventID = d.uuid()
	a.CommandID = d.uuid()
	a.TokenID = d.str()
	a.Actor.Kind = d.str()
	a.Actor.ID = d.str()
	a.Changes = decodeChanges(&d)
	if d.err || d.s != "" {
		return AuditEntry{}, errCorrupt
	}
	a.At = domain.FormatTime(fromUnixNano(at))
	return a, nil
}

func encodeOutcome(o *Outcome) []byte {
	e := encoder{b: make([]byte, 0, 48+len(o.AccountID)+len(o.TokenID)+len(o.EventType))}
	e.b = append(e.b, codecV1)
	e.str(o.AccountID)
	e.str(o.TokenID)
	e.str(string(o.EventType))
	e.u64(o.Sequence)
	e.i64(o.Version)
	return e.b
}

func decodeOutcome(cmd uuid.UUID, v []byte) (Outcome, error) {
	d := decoder{s: string(v)}
	d.version()
	o := Outcome{CommandID: cmd}
	o.AccountID = d.str()
	o.TokenID = d.str()
	o.EventType = domain.EventType(d.str())
	o.Sequence = d.uvarint()
	o.Version = d.i64()
	if d.err {
		return Outcome{}, errCorrupt
	}
	return o, nil
}

// accountRecord is an account's name and version (the number of its
// account-level events), with the sequence of its last event.
type accountRecord struct {
	Name    string
	Version int64
	Seq     uint64
}

func encodeAccount(a *accountRecord) []byte {
	e := encoder{b: make([]byte, 0, 24+len(a.Name))}
	e.b = append(e.b, codecV1)
	e.str(a.Name)
	e.i64(a.Version)
	e.u64(a.Seq)
	return e.b
}

func decodeAccount(v []byte) (accountRecord, error) {
	d := decoder{s: string(v)}
	d.version()
	a := accountRecord{Name: d.str(), Version: d.i64(), Seq: d.uvarint()}
	if d.err {
		return accountRecord{}, errCorrupt
	}
	return a, nil
}

func encodeLicense(l *LicenseRecord) []byte {
	e := encoder{b: make([]byte, 0, 8+len(l.AccountID)+len(l.LicenseID))}
	e.b = append(e.b, codecV1)
	e.str(l.AccountID)
	e.str(l.LicenseID)
	e.flag(l.Revoked)
	return e.b
}

func decodeLicense(v []byte) (LicenseRecord, error) {
	d := decoder{s: string(v)}
	d.version()
	l := LicenseRecord{AccountID: d.str(), LicenseID: d.str(), Revoked: d.flag()}
	if d.err {
		return LicenseRecord{}, errCorrupt
	}
	return l, nil
}

// checkpoint is the last applied stream sequence and the id of the event at
// it, which is how a log that lost its tail (or was replaced) is noticed.
type checkpoint struct {
	Seq     uint64
	EventID uuid.UUID
}

func encodeCheckpoint(c checkpoint) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 24), c.Seq)
	return append(b, c.EventID[:]...)
}

func decodeCheckpoint(v []byte) (checkpoint, error) {
	if len(v) != 24 {
		return checkpoint{}, errCorrupt
	}
	var c checkpoint
	c.Seq = binary.BigEndian.Uint64(v)
	copy(c.EventID[:], v[8:])
	return c, nil
}
