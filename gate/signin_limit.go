package gate

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Failed password checks per account (sign-ins and password changes,
// counted together): after accountFailures failures
// with no more than accountQuiet between them, each further attempt waits
// a delay that starts at accountDelay and doubles with every failure after
// it, up to accountMaxDelay; a success, or accountQuiet without a failure
// after the wait, forgets the account. Guessing one account's password
// from many addresses is then slow, while an attacker who knows a
// person's e-mail can keep them from signing in with a password for
// accountMaxDelay at most after their own failures stop, never for good.
const (
	accountFailures  = 5
	accountQuiet     = 15 * time.Minute
	accountDelay     = time.Minute
	accountMaxDelay  = 15 * time.Minute
	maxAccountsKept  = 10_000
	maxSignInNameLen = 254 // the longest e-mail address the store keeps
)

// ErrSignInDelayed is what SignIn and ChangePassword answer, as a
// *SignInDelay, while an account's password checks wait after failures.
// SignIn answers it for every e-mail address alike, stored or not.
var ErrSignInDelayed = errors.New("too many wrong passwords for this account")

// SignInDelay says how long an account's password checks wait.
type SignInDelay struct{ Wait time.Duration }

func (d *SignInDelay) Error() string {
	return fmt.Sprintf("%v: try again in %s", ErrSignInDelayed, d.Wait.Round(time.Second))
}

// Is makes errors.Is(err, ErrSignInDelayed) true.
func (d *SignInDelay) Is(target error) bool { return target == ErrSignInDelayed }

// accountLimiter counts failed sign-ins by e-mail address, in memory: a
// restart forgets them, which costs an attacker a restart they cannot
// cause.
type accountLimiter struct {
	mu sync.Mutex
	by map[string]*accountState
}

type accountState struct {
	failures int
	last     time.Time     // the last failure
	until    time.Time     // attempts wait until then
	delay    time.Duration // the last wait
}

func newAccountLimiter() *accountLimiter {
	return &accountLimiter{by: map[string]*accountState{}}
}

// attempt counts an attempt for key as a failure before its password
// is checked, so that attempts sent all at once cannot pass the count
// together; a success then forgets it. It returns how long the attempt
// must still wait (it is refused, and not counted), or else the wait
// that this attempt starts for the next ones (0 for none) and the
// failures counted.
func (l *accountLimiter) attempt(key string, now time.Time) (wait, started time.Duration, failures int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.by[key]
	if s != nil && now.Before(s.until) {
		return s.until.Sub(now), 0, s.failures
	}
	if s == nil || s.quiet(now) {
		if s == nil && len(l.by) >= maxAccountsKept {
			l.evict(now)
		}
		s = &accountState{}
		l.by[key] = s
	}
	s.failures++
	s.last = now
	if s.failures < accountFailures {
		return 0, 0, s.failures
	}
	s.delay = min(max(2*s.delay, accountDelay), accountMaxDelay)
	s.until = now.Add(s.delay)
	return 0, s.delay, s.failures
}

// succeeded forgets key's failures.
func (l *accountLimiter) succeeded(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.by, key)
}

// quiet: no failure for accountQuiet after the last one and its wait.
func (s *accountState) quiet(now time.Time) bool {
	return now.Sub(s.last) > accountQuiet && now.Sub(s.until) > accountQuiet
}

// evict makes room: accounts gone quiet first, else any not waiting, else
// any. l.mu is held.
func (l *accountLimiter) evict(now time.Time) {
	for k, s := range l.by {
		if s.quiet(now) {
			delete(l.by, k)
		}
	}
	if len(l.by) < maxAccountsKept {
		return
	}
	for k, s := range l.by {
		if !now.Before(s.until) {
			delete(l.by, k)
			return
		}
	}
	for k := range l.by {
		delete(l.by, k)
		return
	}
}
