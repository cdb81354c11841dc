package gate

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/ca"
	"github.com/hearthiot/hearth/gate/secret"
	"github.com/hearthiot/hearth/store"
)

// signInGate is a gate over a real store with a settable clock and the
// users of the sign-in tests, all with password "long enough secret"
// except the single sign-on one.
func signInGate(t *testing.T, now func() time.Time) *Gate {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logger := slog.New(slog.DiscardHandler)
	authority, err := ca.LoadOrCreate(filepath.Join(dir, "ca"), logger)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := device.NewRegistry(st, authority, logger)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := secret.HashPassword("long enough secret")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{
		{Email: "op@hearth.example", Role: store.RoleOperator, PasswordHash: hash},
		{Email: "other@hearth.example", Role: store.RoleOperator, PasswordHash: hash},
		{Email: "gone@hearth.example", Role: store.RoleOperator, PasswordHash: hash, Disabled: true},
		{Email: "sso@hearth.example", Role: store.RoleOperator},
	} {
		if err := st.CreateUser(u); err != nil {
			t.Fatal(err)
		}
	}
	g, err := New(Deps{Store: st, Registry: reg, Logger: logger, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestSignInChecksAPasswordForEveryAddress: a refused sign-in costs one
// argon2 check whether or not the address has a usable password, so the
// time of the answer does not tell which addresses have accounts. The
// check is counted, not timed.
func TestSignInChecksAPasswordForEveryAddress(t *testing.T) {
	t.Parallel()
	g := signInGate(t, nil)
	var mu sync.Mutex
	var checks int
	g.verify = func(encoded, pw string) (bool, error) {
		ok, err := secret.VerifyPassword(encoded, pw)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			t.Errorf("checked against a hash that is no argon2id hash: %v", err)
		}
		checks++
		return ok, err
	}
	for _, email := range []string{"op@hearth.example", "nobody@hearth.example", "gone@hearth.example", "sso@hearth.example"} {
		mu.Lock()
		before := checks
		mu.Unlock()
		if _, err := g.SignIn(email, "wrong guess"); !errors.Is(err, ErrSignInFailed) {
			t.Errorf("%s with a wrong password: %v", email, err)
		}
		mu.Lock()
		if n := checks - before; n != 1 {
			t.Errorf("%s with a wrong password: %d argon2 checks, want 1", email, n)
		}
		mu.Unlock()
	}
	// The right password of a disabled user is checked and refused.
	if _, err := g.SignIn("gone@hearth.example", "long enough secret"); !errors.Is(err, ErrSignInFailed) {
		t.Errorf("a disabled user signed in: %v", err)
	}
	if _, err := g.SignIn("op@hearth.example", "long enough secret"); err != nil {
		t.Errorf("the right password: %v", err)
	}
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestSignInDelayedPerAccount: failures for one address, from wherever
// they come, make its attempts wait, longer with each failure up to a
// cap; a success forgets them; other addresses are not held up.
func TestSignInDelayedPerAccount(t *testing.T) {
	t.Parallel()
	c := &testClock{t: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	g := signInGate(t, c.now)
	checks := 0
	g.verify = func(encoded, pw string) (bool, error) {
		checks++
		return secret.VerifyPassword(encoded, pw)
	}
	waits := func(email string) time.Duration {
		t.Helper()
		_, err := g.SignIn(email, "long enough secret")
		var d *SignInDelay
		if !errors.As(err, &d) || !errors.Is(err, ErrSignInDelayed) {
			t.Fatalf("%s right after failures: %v, want a delay", email, err)
		}
		return d.Wait
	}
	for _, email := range []string{"OP@hearth.example", "nobody@hearth.example"} {
		for i := range accountFailures {
			if _, err := g.SignIn(email, "wrong guess"); !errors.Is(err, ErrSignInFailed) {
				t.Fatalf("%s failure %d: %v", email, i+1, err)
			}
		}
		before := checks
		if w := waits(email); w != time.Minute {
			t.Errorf("%s after %d failures waits %s, want 1m", email, accountFailures, w)
		}
		if checks != before {
			t.Errorf("%s: a delayed attempt checked the password", email)
		}
	}
	// Another account signs in meanwhile.
	if _, err := g.SignIn("other@hearth.example", "long enough secret"); err != nil {
		t.Errorf("another account: %v", err)
	}
	// Each failure after a wait doubles it, up to the cap.
	c.add(30 * time.Second)
	if w := waits("op@hearth.example"); w != 30*time.Second {
		t.Errorf("half-way through the wait: %s left, want 30s", w)
	}
	for _, want := range []time.Duration{2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		c.add(accountMaxDelay)
		if _, err := g.SignIn("op@hearth.example", "wrong guess"); !errors.Is(err, ErrSignInFailed) {
			t.Fatalf("a failure after the wait: %v", err)
		}
		if w := waits("op@hearth.example"); w != want {
			t.Errorf("next wait %s, want %s", w, want)
		}
	}
	// After the wait the right password signs in and forgets the
	// failures: the next failure does not wait.
	c.add(accountMaxDelay)
	if _, err := g.SignIn("op@hearth.example", "long enough secret"); err != nil {
		t.Fatalf("the right password after the wait: %v", err)
	}
	if _, err := g.SignIn("op@hearth.example", "wrong guess"); !errors.Is(err, ErrSignInFailed) {
		t.Fatalf("a failure after a success: %v", err)
	}
	if _, err := g.SignIn("op@hearth.example", "long enough secret"); err != nil {
		t.Errorf("one failure after a success delays: %v", err)
	}
	// Quiet for long enough, an address's failures are forgotten.
	c.add(accountMaxDelay + accountQuiet + time.Second)
	if _, err := g.SignIn("nobody@hearth.example", "wrong guess"); !errors.Is(err, ErrSignInFailed) {
		t.Errorf("an address quiet for long: %v, want a plain refusal", err)
	}
}

// TestAccountLimiterBounded: an attacker naming more addresses than are
// kept cannot grow the memory, and an address whose attempts wait is
// evicted last.
func TestAccountLimiterBounded(t *testing.T) {
	t.Parallel()
	l := newAccountLimiter()
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for range accountFailures {
		l.attempt("victim@hearth.example", now)
	}
	for i := range maxAccountsKept + 100 {
		l.attempt(strconv.Itoa(i)+"@hearth.example", now)
	}
	if n := len(l.by); n > maxAccountsKept {
		t.Errorf("%d addresses kept, want at most %d", n, maxAccountsKept)
	}
	if wait, _, _ := l.attempt("victim@hearth.example", now); wait == 0 {
		t.Error("the waiting address was evicted")
	}
}

// TestSignInDelayedWhenSentAtOnce: guesses sent all at once reach the
// password check no more often than guesses sent one after another.
func TestSignInDelayedWhenSentAtOnce(t *testing.T) {
	t.Parallel()
	g := signInGate(t, nil)
	var checks atomic.Int32
	g.verify = func(encoded, pw string) (bool, error) {
		checks.Add(1)
		return secret.VerifyPassword(encoded, pw)
	}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() { _, _ = g.SignIn("op@hearth.example", "wrong guess "+strconv.Itoa(i)) })
	}
	wg.Wait()
	if n := checks.Load(); n > accountFailures {
		t.Errorf("12 guesses at once: %d password checks, want at most %d", n, accountFailures)
	}
}
