package gate_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// TestInvite: an invited user has no password until they follow the
// link; the link sets one once, and the user then signs in with it.
// Used, expired and made-up links do not work.
func TestInvite(t *testing.T) {
	t.Parallel()
	g, st := newGate(t)
	admin := g.Scope(gate.Principal{Role: store.RoleCustomer, Customer: "acme", Access: store.AccessAdmin, Name: "boss@acme.example", User: "boss@acme.example"})
	inv, err := admin.InviteUser(context.Background(), gate.UserSpec{Email: "New@Acme.example", Access: store.AccessViewer})
	if err != nil {
		t.Fatal(err)
	}
	if inv.User.Email != "new@acme.example" || inv.User.Customer != "acme" || inv.User.Role != store.RoleCustomer || inv.Emailed || inv.User.InviteHash != "" {
		t.Fatalf("invitation %+v: want acme's user, the link shown, no hash", inv)
	}
	plain, ok := strings.CutPrefix(inv.Link, gate.InvitePath)
	if !ok {
		t.Fatalf("link %q: want %s…", inv.Link, gate.InvitePath)
	}
	if _, err := g.SignIn("new@acme.example", ""); err == nil {
		t.Fatal("an invited user signed in without a password")
	}
	if email, err := g.Invited(plain); err != nil || email != "new@acme.example" {
		t.Fatalf("Invited: %q %v", email, err)
	}
	if _, err := g.AcceptInvite(plain, "short"); !errors.Is(err, gate.ErrShortPassword) {
		t.Fatalf("a short password: %v, want ErrShortPassword", err)
	}
	if _, err := g.AcceptInvite(plain[:len(plain)-1]+"x", "long enough secret"); !errors.Is(err, gate.ErrInviteUnknown) {
		t.Fatalf("a made-up link: %v, want ErrInviteUnknown", err)
	}
	if _, err := g.AcceptInvite(plain, "long enough secret"); err != nil {
		t.Fatal(err)
	}
	sess, err := g.SignIn("new@acme.example", "long enough secret")
	if err != nil {
		t.Fatalf("sign in with the password set: %v", err)
	}
	if a, err := g.Account(sess); err != nil || a.Level() != store.AccessViewer || a.MustChangePassword {
		t.Fatalf("account %+v %v: want a viewer of acme who need not change the password", a, err)
	}
	if _, err := g.AcceptInvite(plain, "another long secret"); !errors.Is(err, gate.ErrInviteUnknown) {
		t.Fatalf("a used link: %v, want ErrInviteUnknown", err)
	}
	// An expired link.
	inv2, err := admin.InviteUser(context.Background(), gate.UserSpec{Email: "late@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateUser("late@acme.example", func(u *store.User) error { u.InviteExpires = time.Now().Add(-time.Minute); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := g.AcceptInvite(strings.TrimPrefix(inv2.Link, gate.InvitePath), "long enough secret"); !errors.Is(err, gate.ErrInviteUnknown) {
		t.Fatalf("an expired link: %v, want ErrInviteUnknown", err)
	}
	// An editor invites nobody; an admin invites no operator and none
	// above its level.
	editor := g.Scope(gate.Principal{Role: store.RoleCustomer, Customer: "acme", Name: "e", TokenID: "e"})
	if _, err := editor.InviteUser(context.Background(), gate.UserSpec{Email: "x@acme.example"}); gate.Describe(err).Kind != gate.KindForbidden {
		t.Errorf("an editor inviting: %v, want forbidden", err)
	}
	if _, err := admin.InviteUser(context.Background(), gate.UserSpec{Email: "x@acme.example", Role: store.RoleOperator}); gate.Describe(err).Kind != gate.KindForbidden {
		t.Errorf("a customer admin inviting an operator: %v, want forbidden", err)
	}
	if _, err := st.GetUser("x@acme.example"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused invitation left a user: %v", err)
	}
}
