package gate_test

import (
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/ca"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/gate/secret"
	"github.com/hearthiot/hearth/store"
)

// newGate is a gate over a real store and registry in a temporary
// directory, with customer acme.
func newGate(t *testing.T) (*gate.Gate, *store.Store) {
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
	if _, err := reg.CreateCustomer(store.Customer{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	g, err := gate.New(gate.Deps{Store: st, Registry: reg, GroupsOperator: "ops", GroupsCustomerPrefix: "customer:", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return g, st
}

func TestDisabledUserCannotSignIn(t *testing.T) {
	t.Parallel()
	g, st := newGate(t)
	const email, password = "fm@acme.example", "long enough secret"
	hash, err := secret.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(store.User{Email: email, Role: store.RoleCustomer, Customer: "acme", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	sess, err := g.SignIn(email, password)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if _, err := g.Account(sess); err != nil {
		t.Fatalf("account: %v", err)
	}
	admin := g.Scope(gate.Local())
	if _, err := admin.SetUserDisabled(email, true); err != nil {
		t.Fatal(err)
	}
	if _, err := g.SignIn(email, password); !errors.Is(err, gate.ErrSignInFailed) {
		t.Errorf("a disabled user signed in: %v", err)
	}
	if _, err := g.Account(sess); !errors.Is(err, gate.ErrSignedOut) {
		t.Errorf("a disabled user's session goes on: %v", err)
	}
	if _, err := g.SignInWithIdentity(gate.Identity{Provider: "corp", Email: email, EmailVerified: true}, ""); err == nil {
		t.Error("a disabled user signed in through single sign-on")
	}
	if _, err := admin.SetUserDisabled(email, false); err != nil {
		t.Fatal(err)
	}
	if _, err := g.SignIn(email, password); err != nil {
		t.Errorf("an enabled user cannot sign in again: %v", err)
	}
}

// TestIdentityMapping: who an identity provider's answer makes a person.
func TestIdentityMapping(t *testing.T) {
	t.Parallel()
	g, st := newGate(t)
	if err := st.CreateUser(store.User{Email: "op@hearth.example", Role: store.RoleOperator}); err != nil {
		t.Fatal(err)
	}
	// Stored by a customer's admin under addresses the provider's groups
	// admit otherwise, and under its own group's.
	for _, email := range []string{"ops-person@corp.example", "globex-person@globex.example", "fm@acme.example"} {
		if err := st.CreateUser(store.User{Email: email, Role: store.RoleCustomer, Customer: "acme", Access: store.AccessViewer}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		id         gate.Identity
		limit      string
		wantSource string
		wantRole   string
		wantCust   string
	}{
		{"stored user", gate.Identity{Email: "OP@hearth.example", EmailVerified: true}, "", gate.SourceUser, "", ""},
		{"unverified e-mail falls to groups", gate.Identity{Email: "op@hearth.example", Groups: []string{"customer:acme"}}, "", gate.SourceGroups, store.RoleCustomer, "acme"},
		{"operator group", gate.Identity{Email: "x@corp.example", Groups: []string{"ops"}}, "", gate.SourceGroups, store.RoleOperator, ""},
		{"a customer's provider never makes an operator", gate.Identity{Email: "x@acme.example", Groups: []string{"ops"}}, "acme", "", "", ""},
		{"a customer's provider may not sign in an operator user", gate.Identity{Email: "op@hearth.example", EmailVerified: true}, "acme", "", "", ""},
		{"a customer's provider vouches for its own group", gate.Identity{Email: "x@acme.example", Groups: []string{"customer:acme"}}, "acme", gate.SourceGroups, store.RoleCustomer, "acme"},
		{"nor for another customer's", gate.Identity{Email: "x@acme.example", Groups: []string{"customer:globex"}}, "acme", "", "", ""},
		{"a customer's user stored over an operator stays an operator", gate.Identity{Email: "ops-person@corp.example", EmailVerified: true, Groups: []string{"ops"}}, "", gate.SourceGroups, store.RoleOperator, ""},
		{"nor makes another customer's person its own", gate.Identity{Email: "globex-person@globex.example", EmailVerified: true, Groups: []string{"customer:globex"}}, "", gate.SourceGroups, store.RoleCustomer, "globex"},
		{"its own group's person is its stored user", gate.Identity{Email: "fm@acme.example", EmailVerified: true, Groups: []string{"customer:acme"}}, "", gate.SourceUser, "", ""},
		{"no e-mail", gate.Identity{Groups: []string{"ops"}}, "", "", "", ""},
		{"no group", gate.Identity{Email: "x@corp.example", Groups: []string{"staff"}}, "", "", "", ""},
	}
	for _, tt := range tests {
		sess, err := g.SignInWithIdentity(tt.id, tt.limit)
		if tt.wantSource == "" {
			if err == nil {
				t.Errorf("%s: admitted as %+v", tt.name, sess)
			}
			continue
		}
		if err != nil || sess.Source != tt.wantSource || sess.Role != tt.wantRole || sess.Customer != tt.wantCust {
			t.Errorf("%s: %+v, %v; want source %q role %q customer %q", tt.name, sess, err, tt.wantSource, tt.wantRole, tt.wantCust)
		}
	}
}
