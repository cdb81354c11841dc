package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/hearthiot/hearth/store"
)

// TestInviteInBrowser: in a real browser, a customer's admin opens Users
// from the menu and invites a viewer; the page shows the one-time
// set-password link (this server sends no e-mail). Signed out, the
// invited person follows the link, chooses a password and signs in with
// it; as a viewer they have no Users page in their menu.
func TestInviteInBrowser(t *testing.T) {
	e := newEnv(t, envOptions{})
	account, err := e.st.GetUser(acmeUser)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateUser(store.User{Email: acmeAdmin, Role: store.RoleCustomer, Customer: "acme", Access: store.AccessAdmin, PasswordHash: account.PasswordHash}); err != nil {
		t.Fatal(err)
	}
	step, js := signedInBrowser(t, e, acmeAdmin)
	type css = chromedp.CSS
	step("open Users from the menu",
		chromedp.Click(css(`nav a[href="/account/users"]`)),
		chromedp.WaitVisible(css(`form[action="/account/users"] #email`)),
	)
	step("invite a viewer",
		chromedp.SendKeys(css(`#email`), "new@acme.example"),
		chromedp.SetValue(css(`#access`), "viewer"),
		chromedp.Click(css(`form[action="/account/users"] button[type=submit]`)),
		chromedp.WaitVisible(css(`code.secret`)),
	)
	link := js("the link", `document.querySelector('code.secret').innerText`)
	if !strings.HasPrefix(link, "/set-password/") {
		t.Fatalf("the page shows %q; want a set-password link", link)
	}
	if u, err := e.st.GetUser("new@acme.example"); err != nil || u.Customer != "acme" || u.Access != store.AccessViewer || u.PasswordHash != "" {
		t.Fatalf("the invited user: %+v %v; want acme's viewer without a password", u, err)
	}
	listed := js("the list", `document.querySelector('table').innerText`)
	if !strings.Contains(listed, "new@acme.example") || !strings.Contains(listed, "invited, no password yet") {
		t.Errorf("the list after inviting reads %q", listed)
	}
	step("sign out",
		chromedp.Click(css(`form.signout button[type=submit]`)),
		chromedp.WaitVisible(css(`form[action="/login"] #password`)),
	)
	const chosen = "a password of my own choosing"
	step("follow the link",
		chromedp.Navigate(e.srv.URL+link),
		chromedp.WaitVisible(css(`#new`)),
	)
	step("choose a password",
		chromedp.SendKeys(css(`#new`), chosen),
		chromedp.SendKeys(css(`#again`), chosen),
		chromedp.Click(css(`button[type=submit]`)),
	)
	step("the password is set", chromedp.WaitVisible(css(`#setpw-signin`)))
	step("sign in with it",
		chromedp.Click(css(`#setpw-signin`)),
		chromedp.WaitVisible(css(`#email`)),
		chromedp.SendKeys(css(`#email`), "new@acme.example"),
		chromedp.SendKeys(css(`#password`), chosen),
		chromedp.Click(css(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`nav[aria-label="main"]`)),
	)
	who := js("who is signed in", `document.querySelector('a.who').innerText`)
	users := js("a Users link", `String(document.querySelector('nav a[href="/account/users"]') !== null)`)
	if who != "new@acme.example" || users != "false" {
		t.Errorf("signed in as %q, Users in the menu %s; want the invited viewer without it", who, users)
	}
	step("the link works once",
		chromedp.Navigate(e.srv.URL+link),
		chromedp.WaitVisible(css(`p.error`)),
	)
	if gone := js("the spent link's page", `document.querySelector('p.error').innerText`); !strings.Contains(gone, "unknown, used or expired") {
		t.Errorf("a spent link's page reads %q", gone)
	}
}
