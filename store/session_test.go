package store_test

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

func TestSessions(t *testing.T) {
	t.Parallel()
	s, path := openStore(t)
	now := time.Now()
	token := "a-very-secret-session-token-0123456789"
	mustOK(t, s.PutSession(token, []byte(`{"email":"fm@acme.example"}`), now.Add(time.Hour)))
	data, expiry, err := s.GetSession(token, now)
	mustOK(t, err)
	if string(data) != `{"email":"fm@acme.example"}` || !expiry.Equal(now.Add(time.Hour)) {
		t.Errorf("GetSession = %s, %v", data, expiry)
	}
	if _, _, err := s.GetSession(token, now.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired session: %v, want ErrNotFound", err)
	}
	if _, _, err := s.GetSession("other", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown token: %v, want ErrNotFound", err)
	}
	// Replacing keeps one record.
	mustOK(t, s.PutSession(token, []byte(`{}`), now.Add(2*time.Hour)))
	if data, _, _ := s.GetSession(token, now.Add(90*time.Minute)); string(data) != `{}` {
		t.Errorf("after replacing: %s", data)
	}
	if err := s.PutSession("", nil, now); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("empty token: %v", err)
	}
	if err := s.PutSession("t", make([]byte, 17<<10), now); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("oversized data: %v", err)
	}

	// Pruning deletes only what expired, in batches.
	for i := range 5 {
		mustOK(t, s.PutSession(string(rune('a'+i))+"-old", []byte("x"), now.Add(-time.Minute)))
	}
	n, err := s.PruneSessions(now, 3)
	mustOK(t, err)
	if n != 3 {
		t.Errorf("first prune deleted %d, want 3", n)
	}
	n, err = s.PruneSessions(now, 3)
	mustOK(t, err)
	if n != 2 {
		t.Errorf("second prune deleted %d, want 2", n)
	}
	if _, _, err := s.GetSession(token, now); err != nil {
		t.Errorf("a live session was pruned: %v", err)
	}
	mustOK(t, s.DeleteSession(token))
	mustOK(t, s.DeleteSession(token))
	if _, _, err := s.GetSession(token, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}

	// The file never holds a token a thief could present.
	mustOK(t, s.PutSession(token, []byte("y"), now.Add(time.Hour)))
	mustOK(t, s.Close())
	raw, err := os.ReadFile(path)
	mustOK(t, err)
	if bytes.Contains(raw, []byte(token)) {
		t.Error("the store file contains a session token")
	}
	s2, err := store.Open(path, store.Options{})
	mustOK(t, err)
	defer s2.Close()
	if _, _, err := s2.GetSession(token, now); err != nil {
		t.Errorf("a session did not survive reopening: %v", err)
	}
}
