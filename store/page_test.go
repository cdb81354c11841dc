package store_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

// cursorAt builds a cursor the way the store has always written them: the
// position (big-endian nanoseconds, then a big-endian sequence number) of
// the last entry of a page, in unpadded base64url. Clients keep cursors,
// so one built by hand must keep working.
func cursorAt(t time.Time, seq uint64) string {
	pos := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())), seq)
	return base64.RawURLEncoding.EncodeToString(pos)
}

func TestCursorFormatIsStable(t *testing.T) {
	t.Parallel()
	s, _ := historyFleet(t, 10) // one a second from at(0)
	t0 := at(0)
	for i := range 10 {
		mustOK(t, s.AppendAudit(store.AuditEntry{Time: t0.Add(time.Duration(i) * time.Second), Actor: "local", Channel: "api",
			Action: fmt.Sprintf("POST /%d", i), Status: 200}))
	}
	// Sequence 0 sorts before every entry of that nanosecond, so the page
	// starts with the one a second earlier.
	cursor := cursorAt(t0.Add(6*time.Second), 0)

	hs, next, err := s.History(store.HistoryQuery{Cursor: cursor, Limit: 3})
	mustOK(t, err)
	if got := ids(hs); strings.Join(got, " ") != "d2//5 d1//4 d2/program/3" {
		t.Errorf("History after a hand-made cursor = %v", got)
	}
	// The next cursor is the position of the page's last entry.
	pos, err := base64.RawURLEncoding.DecodeString(next)
	if err != nil || len(pos) != 16 || int64(binary.BigEndian.Uint64(pos)) != t0.Add(3*time.Second).UnixNano() {
		t.Errorf("next cursor %q = %x, %v; want the position of the entry at %s", next, pos, err, t0.Add(3*time.Second))
	}

	as, next, err := s.Audit(store.AuditQuery{Cursor: cursor, Limit: 5})
	mustOK(t, err)
	var actions []string
	for _, e := range as {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, " "); got != "POST /5 POST /4 POST /3 POST /2 POST /1" {
		t.Errorf("Audit after a hand-made cursor = %s", got)
	}
	as, last, err := s.Audit(store.AuditQuery{Cursor: next, Limit: 5})
	mustOK(t, err)
	if len(as) != 1 || as[0].Action != "POST /0" || last != "" {
		t.Errorf("last audit page = %+v, next %q", as, last)
	}
}

func TestBadCursors(t *testing.T) {
	t.Parallel()
	s, _ := historyFleet(t, 3)
	pos := make([]byte, 16)
	slash := bytes.Repeat([]byte{0xff}, 16) // "/////…" in standard base64, "_____…" in base64url
	for _, bad := range []string{
		"!!",
		"AAAA", // 3 bytes
		base64.RawURLEncoding.EncodeToString(pos[:15]),
		base64.RawURLEncoding.EncodeToString(append(pos, 0)),
		base64.URLEncoding.EncodeToString(pos), // padded
		base64.RawStdEncoding.EncodeToString(slash),
		" " + cursorAt(at(0), 1),
	} {
		_, _, err := s.History(store.HistoryQuery{Cursor: bad})
		wantErr(t, err, store.ErrInvalid)
		want := fmt.Sprintf("cursor %q is not one this store returned", bad)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("History error %q does not say %q", err, want)
		}
		_, _, err = s.Audit(store.AuditQuery{Cursor: bad})
		wantErr(t, err, store.ErrInvalid)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Audit error %q does not say %q", err, want)
		}
	}
}

func ids(es []store.HistoryEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = id(e)
	}
	return out
}
