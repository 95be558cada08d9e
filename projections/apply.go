package projections

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tokend/tokend/domain"
)

// envelope is one message of the stream, decoded: its stream sequence and
// its event. Skip is set for a message that cannot be applied (a body that
// is not an event, an id that cannot be stored): it still moves the
// checkpoint, in the live projector and in a rebuild alike.
type envelope struct {
	Seq   uint64
	Event domain.Event
	Skip  string
}

// errSchema is returned for an event written by a newer tokend: applying
// it by guesswork would corrupt the read model, so the projector stops.
var errSchema = errors.New("projections: event schema version unknown to this tokend")

// decodeEvent decodes a message body. It returns errSchema (wrapped) for a
// schemaVersion this code does not know, and an envelope with Skip set for
// a body that is not an event at all.
func decodeEvent(seq uint64, data []byte) (envelope, error) {
	env := envelope{Seq: seq}
	var w wireEvent
	if err := unmarshalWire(data, &w); err != nil {
		env.Skip = "undecodable body: " + err.Error()
		return env, nil
	}
	at, err := time.Parse(time.RFC3339Nano, w.At)
	if err != nil && w.SchemaVersion != 0 && w.SchemaVersion <= domain.SchemaVersion {
		env.Skip = "undecodable time: " + err.Error()
		return env, nil
	}
	env.Event = domain.Event{ID: w.ID, Type: w.Type, SchemaVersion: w.SchemaVersion, AccountID: w.AccountID,
		TokenID: w.TokenID, CommandID: w.CommandID, Actor: w.Actor, At: at.UTC(), Data: w.Data}
	e := &env.Event
	if e.SchemaVersion == 0 {
		env.Skip = "no schemaVersion"
		return env, nil
	}
	if e.SchemaVersion != domain.SchemaVersion {
		return env, fmt.Errorf("%w: sequence %d has schemaVersion %d, this tokend reads %d: upgrade it",
			errSchema, seq, e.SchemaVersion, domain.SchemaVersion)
	}
	switch {
	case !validID(e.AccountID):
		env.Skip = "invalid account id"
	case !e.Type.IsAccountEvent() && !validID(e.TokenID):
		env.Skip = "invalid token id"
	case !knownType(e.Type):
		env.Skip = "unknown event type " + string(e.Type)
	}
	return env, nil
}

func knownType(t domain.EventType) bool {
	for _, k := range domain.AllEventTypes {
		if k == t {
			return true
		}
	}
	return false
}

// foldState is what applying an event reads and writes. The live projector
// implements it on a Badger transaction (txnState); the rebuild on maps in
// memory that it writes out once at the end (memState). Both run the same
// applyEvent, which is what makes their keys and values identical.
type foldState interface {
	token(acct, id string) (tokenRecord, bool, error)
	putToken(old *tokenRecord, rec *tokenRecord) error
	account(acct string) (accountRecord, bool, error)
	putAccount(acct string, rec *accountRecord) error
	modelName(acct, model string) (string, bool, error)
	putModel(acct, model, name string) error
	licenseSha(acct, licenseID string) (string, bool, error)
	putLicense(sha string, rec *LicenseRecord) error
	// put writes a key that is written once and never changes (audit
	// entries, outcomes).
	put(k, v []byte) error
}

// applyEvent folds one event into st: the token's or account's state, the
// audit entries and the command's outcome.
func applyEvent(st foldState, env *envelope) error {
	if env.Skip != "" {
		return nil
	}
	e := &env.Event
	var version int64
	var err error
	if e.Type.IsAccountEvent() {
		version, err = applyAccountEvent(st, env.Seq, e)
	} else {
		version, err = applyTokenEvent(st, env.Seq, e)
	}
	if err != nil {
		return err
	}
	if err := st.put(accountAuditKey(e.AccountID, env.Seq), encodeAudit(e)); err != nil {
		return err
	}
	if !e.Type.IsAccountEvent() {
		if err := st.put(tokenAuditKey(e.AccountID, e.TokenID, env.Seq), []byte{}); err != nil {
			return err
		}
	}
	o := Outcome{
		CommandID: e.CommandID,
		AccountID: e.AccountID,
		TokenID:   e.TokenID,
		EventType: e.Type,
		Sequence:  env.Seq,
		Version:   version,
	}
	if e.Type.IsAccountEvent() {
		o.TokenID = ""
	}
	return st.put(outcomeKey(e.CommandID), encodeOutcome(&o))
}

func applyTokenEvent(st foldState, seq uint64, e *domain.Event) (int64, error) {
	old, found, err := st.token(e.AccountID, e.TokenID)
	if err != nil {
		return 0, err
	}
	if !found && e.Type != domain.TokenIssued {
		// An event for a token that was never issued cannot be folded
		// (domain.Evolve would make a token without id or name); it is kept
		// in the audit trail only.
		return 0, nil
	}
	t := domain.Evolve(domain.RestoreToken(old.TokenSnapshot), *e)
	rec := tokenRecord{TokenSnapshot: t.Snapshot(), Seq: seq}
	switch {
	case rec.ModelID == "":
	case found && rec.ModelID == old.ModelID:
		rec.ModelName = old.ModelName
	default:
		name, _, err := st.modelName(e.AccountID, rec.ModelID)
		if err != nil {
			return 0, err
		}
		rec.ModelName = name
	}
	var prev *tokenRecord
	if found {
		prev = &old
	}
	if err := st.putToken(prev, &rec); err != nil {
		return 0, err
	}
	return rec.Version, nil
}

func applyAccountEvent(st foldState, seq uint64, e *domain.Event) (int64, error) {
	acct, _, err := st.account(e.AccountID)
	if err != nil {
		return 0, err
	}
	d := &e.Data
	switch e.Type {
	case domain.AccountCreated:
		acct = accountRecord{}
		if c := d.Changes.Name; c != nil && c.To != nil {
			acct.Name = *c.To
		}
		if err := st.putLicense(d.LicenseSha256, &LicenseRecord{AccountID: e.AccountID, LicenseID: d.LicenseID}); err != nil {
			return 0, err
		}
	case domain.LicenseIssued:
		if err := st.putLicense(d.LicenseSha256, &LicenseRecord{AccountID: e.AccountID, LicenseID: d.LicenseID}); err != nil {
			return 0, err
		}
	case domain.LicenseRevoked:
		sha, ok, err := st.licenseSha(e.AccountID, d.LicenseID)
		if err != nil {
			return 0, err
		}
		if ok {
			if err := st.putLicense(sha, &LicenseRecord{AccountID: e.AccountID, LicenseID: d.LicenseID, Revoked: true}); err != nil {
				return 0, err
			}
		}
	case domain.ModelRegistered:
		name := ""
		if c := d.Changes.ModelName; c != nil && c.To != nil {
			name = *c.To
		}
		if validID(d.ModelID) {
			if err := st.putModel(e.AccountID, d.ModelID, name); err != nil {
				return 0, err
			}
		}
	}
	acct.Version++
	acct.Seq = seq
	if err := st.putAccount(e.AccountID, &acct); err != nil {
		return 0, err
	}
	return acct.Version, nil
}

// kvWriter is what both *badger.Txn and *badger.WriteBatch offer.
type kvWriter interface {
	Set(k, v []byte) error
	Delete(k []byte) error
}

// countingWriter counts the keys written, for the projector's metrics and
// the benchmarks' keys-per-event figure.
type countingWriter struct {
	w kvWriter
	n int
}

func (c *countingWriter) Set(k, v []byte) error { c.n++; return c.w.Set(k, v) }
func (c *countingWriter) Delete(k []byte) error { c.n++; return c.w.Delete(k) }

// writeToken writes a token's record and moves its secret entry and index
// keys from old (nil when new) to rec: only keys that change are written.
func writeToken(w kvWriter, old, rec *tokenRecord) error {
	oldKeys, newKeys := indexKeys(old), indexKeys(rec)
	for _, k := range oldKeys {
		if !containsKey(newKeys, k) {
			if err := w.Delete(k); err != nil {
				return err
			}
		}
	}
	for _, k := range newKeys {
		if !containsKey(oldKeys, k) {
			if err := w.Set(k, []byte{}); err != nil {
				return err
			}
		}
	}
	if err := w.Set(tokenKey(rec.AccountID, rec.ID), encodeToken(rec)); err != nil {
		return err
	}
	live := !rec.Deleted
	if old != nil && !old.Deleted && old.SecretSha256 != "" && (!live || old.SecretSha256 != rec.SecretSha256) {
		if k := secretKey(old.SecretSha256); k != nil {
			if err := w.Delete(k); err != nil {
				return err
			}
		}
	}
	if live {
		if k := secretKey(rec.SecretSha256); k != nil {
			if err := w.Set(k, encodeEndUser(rec)); err != nil {
				return err
			}
		}
	}
	return nil
}

func containsKey(keys [][]byte, k []byte) bool {
	for _, x := range keys {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}

// txnState is foldState on a Badger read-write transaction: reads see the
// transaction's own earlier writes, so a batch of several events of one
// token folds correctly.
type txnState struct {
	txn *badger.Txn
	w   countingWriter
	// records are the token records committed before this transaction
	// (records.go); written, the ones this transaction wrote, which enter
	// records once it commits.
	records *recordCache
	written map[string]tokenRecord
	// licenses and secrets are the license and secret keys this
	// transaction wrote: Store.License and Store.Introspect forget them once
	// it commits.
	licenses, secrets []string
}

func newTxnState(txn *badger.Txn, records *recordCache) *txnState {
	return &txnState{txn: txn, w: countingWriter{w: txn}, records: records}
}

func (t *txnState) get(k []byte) ([]byte, bool, error) {
	item, err := t.txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := item.ValueCopy(nil)
	return v, err == nil, err
}

func (t *txnState) token(acct, id string) (tokenRecord, bool, error) {
	k := tokenKey(acct, id)
	if r, ok := t.written[string(k)]; ok {
		return r, true, nil
	}
	if r, ok := t.records.get(k); ok {
		return r, true, nil
	}
	v, ok, err := t.get(k)
	if !ok || err != nil {
		return tokenRecord{}, false, err
	}
	r, err := decodeToken(v)
	return r, err == nil, err
}

func (t *txnState) putToken(old, rec *tokenRecord) error {
	if err := writeToken(&t.w, old, rec); err != nil {
		return err
	}
	if t.written == nil {
		t.written = make(map[string]tokenRecord)
	}
	t.written[string(tokenKey(rec.AccountID, rec.ID))] = *rec
	if old != nil && old.SecretSha256 != rec.SecretSha256 {
		if k := secretKey(old.SecretSha256); k != nil {
			t.secrets = append(t.secrets, string(k))
		}
	}
	if k := secretKey(rec.SecretSha256); k != nil {
		t.secrets = append(t.secrets, string(k))
	}
	return nil
}

func (t *txnState) account(acct string) (accountRecord, bool, error) {
	v, ok, err := t.get(accountKey(acct))
	if !ok || err != nil {
		return accountRecord{}, false, err
	}
	a, err := decodeAccount(v)
	return a, err == nil, err
}

func (t *txnState) putAccount(acct string, rec *accountRecord) error {
	return t.w.Set(accountKey(acct), encodeAccount(rec))
}

func (t *txnState) modelName(acct, model string) (string, bool, error) {
	if !validID(model) {
		return "", false, nil
	}
	v, ok, err := t.get(modelKey(acct, model))
	return string(v), ok, err
}

func (t *txnState) putModel(acct, model, name string) error {
	return t.w.Set(modelKey(acct, model), []byte(name))
}

func (t *txnState) licenseSha(acct, id string) (string, bool, error) {
	if !validID(id) {
		return "", false, nil
	}
	v, ok, err := t.get(licenseIDKey(acct, id))
	return string(v), ok, err
}

func (t *txnState) putLicense(sha string, rec *LicenseRecord) error {
	k := licenseKey(sha)
	if k == nil || !validID(rec.LicenseID) {
		return nil
	}
	if err := t.w.Set(k, encodeLicense(rec)); err != nil {
		return err
	}
	t.licenses = append(t.licenses, string(k))
	return t.w.Set(licenseIDKey(rec.AccountID, rec.LicenseID), []byte(sha))
}

func (t *txnState) put(k, v []byte) error { return t.w.Set(k, v) }
