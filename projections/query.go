package projections

import (
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"

	"github.com/tokend/tokend/domain"
)

func notFound(format string, args ...any) error {
	return &domain.Error{Code: domain.CodeNotFound, Message: fmt.Sprintf(format, args...)}
}

// getValue reads one key in txn and hands its value to fn (valid only
// during fn). It reports whether the key exists.
func (s *Store) getValue(txn *badger.Txn, key []byte, fn func(v []byte) error) (bool, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, item.Value(fn)
}

// lookup reads one key in its own read transaction: the one-read path of
// Token, Introspect and the other point lookups.
func (s *Store) lookup(key []byte, fn func(v []byte) error) (bool, error) {
	var found bool
	err := s.view(func(txn *badger.Txn) error {
		var err error
		found, err = s.getValue(txn, key, fn)
		return err
	})
	s.keysRead.Add(1)
	return found, err
}

func (s *Store) tokenRecord(acct, id string) (tokenRecord, bool, error) {
	if !validID(acct) || !validID(id) {
		return tokenRecord{}, false, nil
	}
	var rec tokenRecord
	found, err := s.lookup(tokenKey(acct, id), func(v []byte) error {
		var err error
		rec, err = decodeToken(v)
		return err
	})
	if err != nil {
		return tokenRecord{}, false, fmt.Errorf("read token %s: %w", id, err)
	}
	return rec, found, nil
}

// Token returns the provider's view of a token of accountID. A token that
// does not exist, belongs to another account or was deleted is an error
// with code not_found, the same for all three. Expired is computed from
// the Store's clock.
func (s *Store) Token(accountID, tokenID string) (TokenView, error) {
	rec, found, err := s.tokenRecord(accountID, tokenID)
	if err != nil {
		return TokenView{}, err
	}
	if !found || rec.Deleted {
		return TokenView{}, notFound("token %s not found", tokenID)
	}
	return viewOf(&rec, s.now()), nil
}

// TokenState returns the domain state of a token, deleted ones included,
// and the stream sequence of its last event, for the command service's
// expected-last-subject-sequence. A token that never existed in accountID
// is the zero Token and sequence 0, with no error.
func (s *Store) TokenState(accountID, tokenID string) (domain.Token, uint64, error) {
	rec, found, err := s.tokenRecord(accountID, tokenID)
	if err != nil || !found {
		return domain.Token{}, 0, err
	}
	return domain.RestoreToken(rec.TokenSnapshot), rec.Seq, nil
}

// endUserEntry is a cached end-user view with its account.
type endUserEntry struct {
	acct string
	view EndUserView
}

// Introspect answers whether a token secret, given as its SHA-256 in hex,
// is active: it exists, is not deleted, its status is ACTIVE and it has not
// expired by the Store's clock. It costs one Badger read, or none when the
// view is cached (readcache.go): the end-user view is kept under the
// secret's hash. A hash of the wrong form is simply not active.
func (s *Store) Introspect(secretSha256 string) (Introspection, error) {
	key := secretKey(secretSha256)
	if key == nil {
		return Introspection{}, nil
	}
	e, found, gen := s.endUsers.get(string(key))
	if !found {
		var err error
		found, err = s.lookup(key, func(v []byte) error {
			var err error
			e.acct, e.view, err = decodeEndUser(v)
			return err
		})
		if err != nil {
			return Introspection{}, fmt.Errorf("introspect: %w", err)
		}
		if found {
			s.endUsers.put(string(key), e, gen)
		}
	}
	acct, u := e.acct, e.view
	if !found || u.Status != domain.StatusActive || expired(u.ExpirationDate, s.now()) {
		return Introspection{}, nil
	}
	return Introspection{Active: true, View: &u, AccountID: acct}, nil
}

// Models returns the models of an account, by id. An unknown account has
// none.
func (s *Store) Models(accountID string) ([]Model, error) {
	models := []Model{}
	if !validID(accountID) {
		return models, nil
	}
	prefix := modelPrefix(accountID)
	reads := 0
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			reads++
			item := it.Item()
			m := Model{ID: string(item.Key()[len(prefix):])}
			if err := item.Value(func(v []byte) error { m.Name = string(v); return nil }); err != nil {
				return err
			}
			models = append(models, m)
		}
		return nil
	})
	s.keysRead.Add(uint64(reads))
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	return models, nil
}

// Model returns one model of an account; another account's model is
// not_found, like a missing one.
func (s *Store) Model(accountID, modelID string) (Model, error) {
	if !validID(accountID) || !validID(modelID) {
		return Model{}, notFound("model %s not found", modelID)
	}
	m := Model{ID: modelID}
	found, err := s.lookup(modelKey(accountID, modelID), func(v []byte) error { m.Name = string(v); return nil })
	if err != nil {
		return Model{}, fmt.Errorf("read model: %w", err)
	}
	if !found {
		return Model{}, notFound("model %s not found", modelID)
	}
	return m, nil
}

// Account returns an account's view, or not_found.
func (s *Store) Account(accountID string) (AccountView, error) {
	if !validID(accountID) {
		return AccountView{}, notFound("account %s not found", accountID)
	}
	var a accountRecord
	found, err := s.lookup(accountKey(accountID), func(v []byte) error {
		var err error
		a, err = decodeAccount(v)
		return err
	})
	if err != nil {
		return AccountView{}, fmt.Errorf("read account: %w", err)
	}
	if !found {
		return AccountView{}, notFound("account %s not found", accountID)
	}
	return AccountView{ID: accountID, Name: a.Name}, nil
}

// License returns the record of a license given its SHA-256 in hex, and
// whether there is one. Revoked licenses are returned with Revoked set: the
// caller refuses them.
func (s *Store) License(licenseSha256 string) (LicenseRecord, bool, error) {
	key := licenseKey(licenseSha256)
	if key == nil {
		return LicenseRecord{}, false, nil
	}
	l, ok, gen := s.licenses.get(string(key))
	if ok {
		return l, true, nil
	}
	found, err := s.lookup(key, func(v []byte) error {
		var err error
		l, err = decodeLicense(v)
		return err
	})
	if err != nil {
		return LicenseRecord{}, false, fmt.Errorf("read license: %w", err)
	}
	if found {
		s.licenses.put(string(key), l, gen)
	}
	return l, found, nil
}

// CommandOutcome returns what a command did, recorded from its event, and
// whether it did anything the read model has applied. A command that
// emitted no event (a no-op) has no outcome here.
func (s *Store) CommandOutcome(commandID uuid.UUID) (Outcome, bool, error) {
	var o Outcome
	found, err := s.lookup(outcomeKey(commandID), func(v []byte) error {
		var err error
		o, err = decodeOutcome(commandID, v)
		return err
	})
	if err != nil {
		return Outcome{}, false, fmt.Errorf("read outcome: %w", err)
	}
	return o, found, nil
}

func seqOf(key []byte) uint64 { return binary.BigEndian.Uint64(key[len(key)-8:]) }

// accountVersion returns an account's version (its number of account
// events) and the sequence of its last one.
func (s *Store) accountVersion(accountID string) (int64, uint64, error) {
	if !validID(accountID) {
		return 0, 0, nil
	}
	var a accountRecord
	_, err := s.lookup(accountKey(accountID), func(v []byte) error {
		var err error
		a, err = decodeAccount(v)
		return err
	})
	return a.Version, a.Seq, err
}
