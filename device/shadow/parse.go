package shadow

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"unicode/utf8"
)

// Update is a parsed update request. Inside Desired and Reported a nil value
// is a deletion, as the request's null was; DeleteDesired and DeleteReported
// record a whole section set to null.
type Update struct {
	Desired        map[string]any
	Reported       map[string]any
	DeleteDesired  bool
	DeleteReported bool
	ClientToken    string
	HasClientToken bool
	Version        int64
	HasVersion     bool
}

// ParseUpdate parses an update request document
// {"state": {"desired": {…}|null, "reported": {…}|null}, "clientToken": "…", "version": N}.
//
// Rejections are *Error with AWS's codes and messages: 415 for bytes that are
// not UTF-8; 400 for invalid JSON, a missing or non-object state, a desired or
// reported that is neither an object nor null, any other key inside state
// ("State contains an invalid node", which also covers a null inside an
// array), a version that is not a non-negative integer, a clientToken that is
// not a string or is longer than the limit, nesting deeper than the limit,
// an empty key and a number outside the range of a 64-bit float (these two
// with a message naming the path, "state.reported.x: …"); 413 when the compact encoding of state exceeds MaxStateBytes.
// Top-level keys other than state, clientToken and version are ignored, as
// AWS ignores everything outside desired and reported.
//
// On a rejection the returned Update still carries the clientToken when it
// could be read, so the rejected message can echo it as AWS's does.
func ParseUpdate(body []byte, lim Limits) (Update, error) {
	lim = lim.withDefaults()
	if !utf8.Valid(body) {
		return Update{}, &Error{Code: http.StatusUnsupportedMediaType, Message: msgNotUTF8}
	}
	var top map[string]any
	if err := decodeStrict(body, &top); err != nil || top == nil {
		return Update{}, errBadRequest(msgInvalidJSON)
	}
	var u Update
	if raw, ok := top["clientToken"]; ok {
		tok, isString := raw.(string)
		if !isString || len(tok) > lim.MaxClientTokenBytes {
			return Update{}, errBadRequest(msgInvalidToken)
		}
		u.ClientToken, u.HasClientToken = tok, true
	}
	if raw, ok := top["version"]; ok {
		n, isNumber := raw.(json.Number)
		v, err := n.Int64()
		if !isNumber || err != nil || v < 0 {
			return onlyToken(u), errBadRequest(msgInvalidVersion)
		}
		u.Version, u.HasVersion = v, true
	}
	rawState, ok := top["state"]
	if !ok {
		return onlyToken(u), errBadRequest(msgMissingState)
	}
	state, ok := rawState.(map[string]any)
	if !ok {
		return onlyToken(u), errBadRequest(msgStateNotObject)
	}
	for k, v := range state {
		switch k {
		case SectionDesired:
			m, del, ok := section(v)
			if !ok {
				return onlyToken(u), errBadRequest(msgDesiredNotObject)
			}
			u.Desired, u.DeleteDesired = m, del
		case SectionReported:
			m, del, ok := section(v)
			if !ok {
				return onlyToken(u), errBadRequest(msgReportedNotObj)
			}
			u.Reported, u.DeleteReported = m, del
		default:
			return onlyToken(u), errBadRequest(msgInvalidNode)
		}
	}
	if err := u.check(lim); err != nil {
		return onlyToken(u), err
	}
	return u, nil
}

// check applies the limits that do not depend on the stored document. Apply
// calls it too, so an Update built in code obeys the same rules.
func (u Update) check(lim Limits) *Error {
	if len(u.ClientToken) > lim.MaxClientTokenBytes {
		return errBadRequest(msgInvalidToken)
	}
	if u.HasVersion && u.Version < 0 {
		return errBadRequest(msgInvalidVersion)
	}
	if err := checkSection(SectionDesired, u.Desired, lim.MaxDepth); err != nil {
		return err
	}
	if err := checkSection(SectionReported, u.Reported, lim.MaxDepth); err != nil {
		return err
	}
	if len(marshal(u.requestState())) > lim.MaxStateBytes {
		return &Error{Code: http.StatusRequestEntityTooLarge, Message: msgTooLarge}
	}
	return nil
}

// requestState is the update's state node as the request carried it, nulls
// included; the accepted message echoes it.
func (u Update) requestState() map[string]any {
	s := map[string]any{}
	switch {
	case u.DeleteDesired:
		s[SectionDesired] = nil
	case u.Desired != nil:
		s[SectionDesired] = u.Desired
	}
	switch {
	case u.DeleteReported:
		s[SectionReported] = nil
	case u.Reported != nil:
		s[SectionReported] = u.Reported
	}
	return s
}

func onlyToken(u Update) Update {
	return Update{ClientToken: u.ClientToken, HasClientToken: u.HasClientToken}
}

// section reads desired or reported: an object, or null to delete it.
func section(v any) (m map[string]any, del, ok bool) {
	if v == nil {
		return nil, true, true
	}
	m, ok = v.(map[string]any)
	return m, false, ok
}

// decodeStrict decodes exactly one JSON value, keeping numbers exact.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}
