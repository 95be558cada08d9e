package projections

import (
	"encoding/binary"
	"strings"

	"github.com/google/uuid"

	"github.com/tokend/tokend/domain"
)

// Key prefixes. Each family of keys starts with one printable byte so that a
// dump of the store reads well; docs/readmodel.md lists them all. Strings
// inside keys end with sep (0x00): ids are NATS subject tokens and names have
// no control characters, so neither holds a 0x00, and a terminated string
// sorts before every longer string it is a prefix of, which keeps the name
// order right.
const (
	pfxMeta         = '!' // !checkpoint
	pfxToken        = 't' // t acct 0 token            -> token record
	pfxSecret       = 's' // s sha256(32)               -> end-user record
	pfxIndex        = 'x' // x acct 0 family sort key id -> ""
	pfxAccountAudit = 'u' // u acct 0 seq(8)            -> audit record
	pfxTokenAudit   = 'v' // v acct 0 token 0 seq(8)    -> ""
	pfxOutcome      = 'o' // o command(16)              -> outcome record
	pfxAccount      = 'c' // c acct                     -> account record
	pfxModel        = 'd' // d acct 0 model             -> model name
	pfxLicense      = 'l' // l sha256(32)               -> license record
	pfxLicenseID    = 'k' // k acct 0 license id        -> sha256 (hex)

	sep = 0x00
)

// keyCheckpoint holds the last applied stream sequence and its event id.
var keyCheckpoint = []byte{pfxMeta, 'c', 'h', 'e', 'c', 'k', 'p', 'o', 'i', 'n', 't'}

// keyLayout holds the version of the key layout and value encodings the
// read model was written with. A tokend that finds another version (or
// none beside a checkpoint) rebuilds rather than misread it.
var keyLayout = []byte{pfxMeta, 'l', 'a', 'y', 'o', 'u', 't'}

// layoutVersion is the layout this code writes; change it with the layout.
const layoutVersion = "1"

// Index families: every live (not deleted) token has one key in each of its
// families for each of the three sort orders.
const (
	famStatus   = 's' // s + status byte (A, S, C)
	famAssigned = 'a' // a + '0' (unassigned) or '1' (assigned)
	famModel    = 'm' // m + model id + 0, only for assigned tokens
)

// Sort orders inside a family.
const (
	sortCreated    = 'c' // createdAt (Unix s, 8 bytes) then id
	sortName       = 'n' // lower-cased name, 0, then id
	sortExpiration = 'e' // expirationDate (Unix s, 8 bytes) then id
)

var sortBytes = [...]byte{sortCreated, sortName, sortExpiration}

// validID reports whether s can be stored inside a key: non-empty and free
// of the separator byte.
func validID(s string) bool { return s != "" && strings.IndexByte(s, sep) < 0 }

func appendStr(b []byte, s string) []byte { return append(append(b, s...), sep) }

// appendInt64 appends v so that byte order is numeric order (sign bit
// flipped, big-endian).
func appendInt64(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(v)^(1<<63))
}

func readInt64(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

func appendSeq(b []byte, seq uint64) []byte { return binary.BigEndian.AppendUint64(b, seq) }

func tokenKey(acct, token string) []byte {
	b := make([]byte, 0, 3+len(acct)+len(token))
	return append(appendStr(append(b, pfxToken), acct), token...)
}

// secretKey returns the key of the end-user record of a secret hash, or nil
// when the hash is not 64 hex digits.
func secretKey(sha256Hex string) []byte { return hashKey(pfxSecret, sha256Hex) }

func licenseKey(sha256Hex string) []byte { return hashKey(pfxLicense, sha256Hex) }

func hashKey(prefix byte, hexHash string) []byte {
	if len(hexHash) != 64 {
		return nil
	}
	b := make([]byte, 33)
	b[0] = prefix
	for i := 0; i < 32; i++ {
		hi, ok1 := unhex(hexHash[2*i])
		lo, ok2 := unhex(hexHash[2*i+1])
		if !ok1 || !ok2 {
			return nil
		}
		b[1+i] = hi<<4 | lo
	}
	return b
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func accountAuditPrefix(acct string) []byte {
	return appendStr([]byte{pfxAccountAudit}, acct)
}

func accountAuditKey(acct string, seq uint64) []byte {
	return appendSeq(accountAuditPrefix(acct), seq)
}

func tokenAuditPrefix(acct, token string) []byte {
	return appendStr(appendStr([]byte{pfxTokenAudit}, acct), token)
}

func tokenAuditKey(acct, token string, seq uint64) []byte {
	return appendSeq(tokenAuditPrefix(acct, token), seq)
}

func outcomeKey(cmd uuid.UUID) []byte { return append([]byte{pfxOutcome}, cmd[:]...) }

func accountKey(acct string) []byte { return append([]byte{pfxAccount}, acct...) }

func modelPrefix(acct string) []byte { return appendStr([]byte{pfxModel}, acct) }

func modelKey(acct, model string) []byte { return append(modelPrefix(acct), model...) }

func licenseIDKey(acct, id string) []byte {
	return append(appendStr([]byte{pfxLicenseID}, acct), id...)
}

// statusByte maps a status to its one-byte family argument.
func statusByte(s domain.Status) byte {
	switch s {
	case domain.StatusActive:
		return 'A'
	case domain.StatusSuspended:
		return 'S'
	case domain.StatusCanceled:
		return 'C'
	}
	return '?'
}

// familyPrefix returns x acct 0 <family> <arg> <sort>: the prefix of one
// family's keys in one sort order. For famModel, arg is the model id.
func familyPrefix(acct string, family byte, arg string, sort byte) []byte {
	b := make([]byte, 0, 8+len(acct)+len(arg))
	b = appendStr(append(b, pfxIndex), acct)
	b = append(b, family)
	if family == famModel {
		b = appendStr(b, arg)
	} else {
		b = append(b, arg...)
	}
	return append(b, sort)
}

// sortSuffix returns the part of an index key after its family prefix: the
// sort key and the token id. Suffixes of one sort order compare the same way
// in every family, which is what lets a list merge several families.
func sortSuffix(sort byte, r *tokenRecord) []byte {
	var b []byte
	switch sort {
	case sortCreated:
		b = appendInt64(make([]byte, 0, 8+len(r.ID)), r.CreatedAt.Unix())
	case sortExpiration:
		b = appendInt64(make([]byte, 0, 8+len(r.ID)), r.ExpirationDate)
	case sortName:
		b = appendStr(make([]byte, 0, len(r.Name)+1+len(r.ID)), strings.ToLower(r.Name))
	}
	return append(b, r.ID...)
}

// suffixTokenID returns the token id at the end of an index key suffix.
func suffixTokenID(sort byte, suffix []byte) string {
	switch sort {
	case sortCreated, sortExpiration:
		if len(suffix) < 8 {
			return ""
		}
		return string(suffix[8:])
	default:
		for i, c := range suffix {
			if c == sep {
				return string(suffix[i+1:])
			}
		}
		return ""
	}
}

// indexKeys returns every index key of a live token: for each family it is
// in, one key per sort order. A deleted token has none.
func indexKeys(r *tokenRecord) [][]byte {
	if r == nil || r.Deleted || r.Version == 0 {
		return nil
	}
	type fam struct {
		f   byte
		arg string
	}
	fams := []fam{{famStatus, string(statusByte(r.Status))}}
	if r.ModelID == "" {
		fams = append(fams, fam{famAssigned, "0"})
	} else {
		fams = append(fams, fam{famAssigned, "1"}, fam{famModel, r.ModelID})
	}
	keys := make([][]byte, 0, len(fams)*len(sortBytes))
	for _, so := range sortBytes {
		suffix := sortSuffix(so, r)
		for _, f := range fams {
			keys = append(keys, append(familyPrefix(r.AccountID, f.f, f.arg, so), suffix...))
		}
	}
	return keys
}
