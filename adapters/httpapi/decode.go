package httpapi

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/tokend/tokend/adapters/wire"
	"github.com/tokend/tokend/domain"
)

// MaxBodyBytes is the largest request body read (API.md: 65,536 bytes; a
// longer one answers 413), the same limit as a command's on NATS.
const MaxBodyBytes = wire.MaxBodyBytes

// bodyKind says how a request body was encoded.
type bodyKind uint8

const (
	bodyEmpty bodyKind = iota // no body at all
	bodyJSON
	bodyURLEncoded // application/x-www-form-urlencoded (introspection only)
)

// bodyNeed says what an endpoint expects of its request body.
type bodyNeed uint8

const (
	needJSON       bodyNeed = iota + 1 // a JSON object
	needJSONOrForm                     // a JSON object or form encoding (introspection)
	needNothing                        // nothing; an empty JSON object is tolerated
)

// The body's JSON is decoded by package wire (DecodeBody and the specs of
// every endpoint's body), which the NATS command intake shares, so that a
// body means the same over HTTP and as a command's "data".

// readBody reads the request body after checking its media type and size.
// A JSON body needs Content-Type application/json (a charset parameter is
// accepted if it says UTF-8). The media type is checked before the size: a
// client sending the wrong type learns that first, whatever the length.
//
// For needNothing an empty body is fine whatever the headers say, so that
// bodiless writes (cancel, DELETE) work from clients that always send a
// Content-Type; a non-empty one must still be JSON (and the caller then
// decodes it against an empty spec, so only {} passes).
func readBody(w http.ResponseWriter, r *http.Request, need bodyNeed) ([]byte, bodyKind, error) {
	empty := r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
	if need == needNothing && empty {
		return nil, bodyEmpty, nil
	}
	kind := mediaForm(r.Header.Get("Content-Type"), need == needJSONOrForm)
	if kind == bodyEmpty && need != needNothing {
		return nil, 0, unsupportedMedia(need)
	}
	if r.ContentLength > MaxBodyBytes {
		if kind == bodyEmpty {
			return nil, 0, unsupportedMedia(need)
		}
		return nil, 0, domain.ErrPayloadTooLarge
	}
	var body []byte
	if !empty {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if !errors.As(err, &tooBig) {
				return nil, 0, domain.Invalid("body", "could not be read")
			}
			if kind == bodyEmpty {
				return nil, 0, unsupportedMedia(need)
			}
			return nil, 0, domain.ErrPayloadTooLarge
		}
	}
	if need == needNothing {
		if len(body) == 0 {
			return nil, bodyEmpty, nil
		}
		if kind == bodyEmpty {
			return nil, 0, unsupportedMedia(need)
		}
	}
	return body, kind, nil
}

func unsupportedMedia(need bodyNeed) error {
	if need == needJSONOrForm {
		return &domain.Error{Code: domain.CodeUnsupportedMediaType, Message: "the request body must be application/json or application/x-www-form-urlencoded"}
	}
	return domain.ErrUnsupportedMediaType
}

// mediaForm classifies a Content-Type header: bodyJSON, bodyURLEncoded (when
// allowed) or bodyEmpty for anything else.
func mediaForm(contentType string, allowForm bool) bodyKind {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return bodyEmpty
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return bodyEmpty // the body is read as UTF-8; another charset would be misread
	}
	switch {
	case mt == "application/json":
		return bodyJSON
	case allowForm && mt == "application/x-www-form-urlencoded":
		return bodyURLEncoded
	}
	return bodyEmpty
}
