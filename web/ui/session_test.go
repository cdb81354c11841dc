package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearthiot/hearth/web/ui"
)

// countingSessions counts the sessions written to the store.
type countingSessions struct {
	ui.SessionStore
	puts atomic.Int64
}

func (c *countingSessions) PutSession(token string, data []byte, expiry time.Time) error {
	c.puts.Add(1)
	return c.SessionStore.PutSession(token, data, expiry)
}

// Page views that change nothing in the session do not write it again:
// the session encodes to the same bytes each time, and an expiry that
// moved by less than a minute is not worth a write. A change (a flash
// message after saving settings) is written.
func TestPageViewsDoNotRewriteSession(t *testing.T) {
	counted := &countingSessions{}
	e := newEnv(t, envOptions{sessions: func(st ui.SessionStore) ui.SessionStore {
		counted.SessionStore = st
		return counted
	}})
	c := e.signIn(acmeUser)
	before := counted.puts.Load()
	for range 20 {
		for _, path := range []string{"/", "/devices/acme-chiller-1", "/sites/acme/tokyo-tower"} {
			if r := e.get(c, path); r.status != http.StatusOK {
				t.Fatalf("GET %s: %d", path, r.status)
			}
		}
	}
	if n := counted.puts.Load() - before; n != 0 {
		t.Errorf("60 page views wrote the session %d times, want 0", n)
	}
	// A flash message after saving is a change: written when it is set,
	// and again when the next page shows and drops it.
	before = counted.puts.Load()
	if r := e.post(c, "/devices/acme-chiller-1/settings", url.Values{"s.chw_setpoint": {"7.5"}}); r.status != http.StatusSeeOther {
		t.Fatalf("save settings: %d", r.status)
	}
	if r := e.get(c, "/devices/acme-chiller-1"); !strings.Contains(r.body, "Saved.") {
		t.Fatal("the device page after saving lacks the notice")
	}
	if n := counted.puts.Load() - before; n != 2 {
		t.Errorf("saving and showing the notice wrote the session %d times, want 2", n)
	}
}
