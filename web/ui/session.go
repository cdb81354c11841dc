package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/hearthiot/hearth/store"
)

// SessionStore keeps browser sessions; *store.Store implements it.
type SessionStore interface {
	PutSession(token string, data []byte, expiry time.Time) error
	GetSession(token string, now time.Time) ([]byte, time.Time, error)
	DeleteSession(token string) error
}

// Session timeouts: a session ends after IdleTimeout without a request, and
// AbsoluteTimeout after sign-in whatever happens.
const (
	DefaultIdleTimeout     = 2 * time.Hour
	DefaultAbsoluteTimeout = 12 * time.Hour
	// sessionCookie is the cookie's name. The __Host- prefix makes
	// browsers refuse it unless Secure, without Domain and for path /, so
	// no other host can plant one.
	sessionCookie = "__Host-hearth_session"
	// sessionCookieInsecure is the name used when Secure cookies are
	// turned off (tests over plain HTTP), since the prefix requires Secure.
	sessionCookieInsecure = "hearth_session"
	// idleSlack is how stale the stored expiry of an idle timeout may get:
	// a request that changes nothing rewrites the session only when its
	// expiry moved by more than this, so pages that refresh themselves do
	// not turn every poll into a disk write. A session may end up to this
	// much before its idle timeout.
	idleSlack = time.Minute
)

// Keys of the session's values.
const (
	keyEmail    = "email"
	keyRole     = "role"
	keyCustomer = "customer"
	keySource   = "source"   // how the role was decided: "user" (a stored user) or "groups"
	keyProvider = "provider" // OIDC provider of the sign-in, "" for a local account
	keyIDToken  = "id_token" // for the provider's end-session endpoint
	keyPending  = "oidc_pending"
	keyFlash    = "flash"
	// keyScheduleFlash is the message for a device page's operating
	// calendar, apart from its settings' keyFlash.
	keyScheduleFlash = "schedule_flash"
	// keyAlarmFlash is the message of an alarm acknowledged or cleared,
	// for the list, the alarm's page or the device's page it was done on.
	keyAlarmFlash = "alarm_flash"
)

func newSessions(st SessionStore, idle, absolute time.Duration, secure bool, now func() time.Time) *scs.SessionManager {
	m := scs.New()
	m.Store = &sessionStore{st: st, now: now, written: map[[32]byte]written{}}
	m.Codec = sessionCodec{}
	m.IdleTimeout = idle
	m.Lifetime = absolute
	m.Cookie.Name = sessionCookie
	if !secure {
		m.Cookie.Name = sessionCookieInsecure
	}
	m.Cookie.HttpOnly = true
	m.Cookie.Secure = secure
	m.Cookie.SameSite = http.SameSiteLaxMode // the provider's redirect back is a cross-site navigation
	m.Cookie.Path = "/"
	m.Cookie.Persist = false
	return m
}

// sessionCodec encodes a session as JSON, so that the same session encodes
// to the same bytes every time (JSON objects are written with their keys
// sorted) and sessionStore can tell that nothing changed. scs's default,
// encoding/gob, writes a map in random order: nearly every page view then
// rewrote its session, which cost about 10 ms of waiting for the store
// per request. Sessions hold strings only; Encode refuses anything else,
// which JSON would bring back as another type.
type sessionCodec struct{}

type sessionJSON struct {
	Deadline time.Time         `json:"deadline"`
	Values   map[string]string `json:"values"`
}

func (sessionCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	s := sessionJSON{Deadline: deadline, Values: make(map[string]string, len(values))}
	for k, v := range values {
		str, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("encode session value %q: a %T, want a string", k, v)
		}
		s.Values[k] = str
	}
	return json.Marshal(s)
}

func (sessionCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	if !bytes.HasPrefix(b, []byte("{")) {
		// Written by an earlier version, with scs's gob codec.
		return scs.GobCodec{}.Decode(b)
	}
	var s sessionJSON
	if err := json.Unmarshal(b, &s); err != nil {
		return time.Time{}, nil, fmt.Errorf("decode session: %w", err)
	}
	values := make(map[string]any, len(s.Values))
	for k, v := range s.Values {
		values[k] = v
	}
	return s.Deadline, values, nil
}

// sessionStore adapts the store to scs, and skips rewriting a session
// whose data did not change and whose expiry moved by less than idleSlack.
type sessionStore struct {
	st  SessionStore
	now func() time.Time

	mu      sync.Mutex
	written map[[32]byte]written // by SHA-256 of the token
}

type written struct {
	sum    [32]byte // of the data
	expiry time.Time
}

// maxWrittenEntries bounds the memory of what was written; past it the
// expired entries are dropped, and if none are, all (the next commit of
// each session then writes once more).
const maxWrittenEntries = 100_000

func (s *sessionStore) Find(token string) ([]byte, bool, error) {
	data, _, err := s.st.GetSession(token, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

func (s *sessionStore) Commit(token string, b []byte, expiry time.Time) error {
	key := sha256.Sum256([]byte(token))
	sum := sha256.Sum256(b)
	s.mu.Lock()
	w, ok := s.written[key]
	s.mu.Unlock()
	if ok && w.sum == sum && expiry.Sub(w.expiry) < idleSlack && expiry.After(w.expiry.Add(-idleSlack)) {
		return nil
	}
	if err := s.st.PutSession(token, b, expiry); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.written) >= maxWrittenEntries {
		now := s.now()
		for k, v := range s.written {
			if !now.Before(v.expiry) {
				delete(s.written, k)
			}
		}
		if len(s.written) >= maxWrittenEntries {
			clear(s.written)
		}
	}
	s.written[key] = written{sum: sum, expiry: expiry}
	return nil
}

func (s *sessionStore) Delete(token string) error {
	key := sha256.Sum256([]byte(token))
	s.mu.Lock()
	delete(s.written, key)
	s.mu.Unlock()
	return s.st.DeleteSession(token)
}
