package ui_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/auth/oidctest"
)

// prefs are a user's stored notification preferences.
func (e *env) prefs(email string) *store.NotificationPrefs {
	e.t.Helper()
	u, err := e.st.GetUser(email)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.Notifications
}

// checked are the values of a page's checked checkboxes named name.
func checked(body, name string) []string {
	var out []string
	re := regexp.MustCompile(`<input type="checkbox" name="` + name + `" value="([a-z]+)"( checked)?>`)
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		if m[2] != "" {
			out = append(out, m[1])
		}
	}
	return out
}

// TestNotificationPrefsPage: a person reaches their e-mail preferences
// from their account, saves severities and quiet hours, and reads them
// back; a bad time, zone or severity is refused next to the form with
// what was sent, and nothing is stored.
func TestNotificationPrefsPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(acmeUser)

	contains(t, "the account page", e.get(c, "/account"), http.StatusOK, `href="/account/notifications"`, "E-mail notifications")
	r := e.get(c, "/account/notifications")
	contains(t, "no preferences", r, http.StatusOK, "E-mail notifications", "Severities to get by e-mail", "Quiet hours",
		`name="from" type="time" value=""`, `<a class="who" href="/account" aria-current="page">`, "Empty: your own time zone (UTC).")
	if got := checked(r.body, "severity"); !slices.Equal(got, store.Severities) {
		t.Errorf("with no preferences the page checks %v, want every severity", got)
	}
	if got := checked(r.body, "allow"); len(got) != 0 {
		t.Errorf("with no quiet hours the page allows %v", got)
	}

	form := url.Values{"severity": {"critical", "major"}, "from": {"22:00"}, "to": {"07:00"}, "timezone": {"Asia/Tokyo"}, "allow": {"critical"}}
	r = e.post(c, "/account/notifications", form)
	if r.status != http.StatusSeeOther || r.location != "/account/notifications" {
		t.Fatalf("save: %d to %q\n%s", r.status, r.location, excerpt(r.body))
	}
	want := store.NotificationPrefs{Severities: []string{"critical", "major"},
		QuietHours: &store.QuietHours{From: "22:00", To: "07:00", TimeZone: "Asia/Tokyo", Allow: []string{"critical"}}}
	if p := e.prefs(acmeUser); p == nil || !slices.Equal(p.Severities, want.Severities) || p.QuietHours == nil ||
		p.QuietHours.From != "22:00" || p.QuietHours.To != "07:00" || p.QuietHours.TimeZone != "Asia/Tokyo" || !slices.Equal(p.QuietHours.Allow, []string{"critical"}) {
		t.Fatalf("stored: %+v", p)
	}
	r = e.get(c, "/account/notifications")
	contains(t, "the saved preferences", r, http.StatusOK, "Saved.", `value="22:00"`, `value="07:00"`, `value="Asia/Tokyo"`)
	if got := checked(r.body, "severity"); !slices.Equal(got, []string{"critical", "major"}) {
		t.Errorf("read back, severities %v", got)
	}
	if got := checked(r.body, "allow"); !slices.Equal(got, []string{"critical"}) {
		t.Errorf("read back, allowed %v", got)
	}

	// Refused: the gate's text next to the form, what was sent kept.
	for _, bad := range []struct {
		field, value, want, marked string
	}{
		{"from", "7:00", `quiet_hours.from: "7:00": a time of day such as 22:00 is accepted`, "from"},
		{"to", "24:00", `quiet_hours.to: "24:00": a time of day such as 22:00 is accepted`, "to"},
		{"to", "22:00", "quiet_hours: from and to are both 22:00", "from"},
		{"timezone", "Mars/Olympus", `field "quiet_hours.time_zone" "Mars/Olympus": an IANA time zone such as Asia/Tokyo is accepted`, "timezone"},
	} {
		f := url.Values{}
		for k, v := range form {
			f[k] = slices.Clone(v)
		}
		f.Set("severity", "minor")
		f.Set(bad.field, bad.value)
		r := e.post(c, "/account/notifications", f)
		contains(t, "preferences with "+bad.field+" "+bad.value, r, http.StatusBadRequest, `id="form-error"`, bad.want, `value="`+bad.value+`"`)
		if !regexp.MustCompile(`id="quiet-` + bad.marked + `"[^>]*aria-invalid="true"`).MatchString(r.body) {
			t.Errorf("%s %s: the field %s is not marked", bad.field, bad.value, bad.marked)
		}
		if got := checked(r.body, "severity"); !slices.Equal(got, []string{"minor"}) {
			t.Errorf("%s %s: the refused form checks %v, want what was sent", bad.field, bad.value, got)
		}
	}
	for _, bad := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"from": {"22:00"}, "to": {"07:00"}}, "Not saved: choose at least one severity."},
		{url.Values{"severity": {"fatal"}}, `Severity "fatal": one of critical, major, minor, warning is accepted.`},
		{url.Values{"severity": {"major"}, "from": {"22:00"}, "to": {"07:00"}, "allow": {"info"}}, `Severity "info"`},
	} {
		r := e.post(c, "/account/notifications", bad.form)
		contains(t, "preferences "+bad.form.Encode(), r, http.StatusBadRequest, bad.want)
	}
	if p := e.prefs(acmeUser); p == nil || !slices.Equal(p.Severities, want.Severities) || p.QuietHours == nil || p.QuietHours.From != "22:00" {
		t.Errorf("a refused form changed the preferences: %+v", p)
	}

	// Every severity and no times: nothing to keep, the same as none.
	r = e.post(c, "/account/notifications", url.Values{"severity": store.Severities, "from": {""}, "to": {""}, "timezone": {"Asia/Tokyo"}, "allow": {"critical"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("save every severity: %d\n%s", r.status, excerpt(r.body))
	}
	if p := e.prefs(acmeUser); p != nil {
		t.Errorf("every severity without quiet hours stored %+v, want none", p)
	}
	r = e.get(c, "/account/notifications")
	if got := checked(r.body, "severity"); !slices.Equal(got, store.Severities) || strings.Contains(r.body, `value="Asia/Tokyo" aria`) {
		t.Errorf("read back after clearing: severities %v", got)
	}

	// In Japanese, with the person's own zone.
	if _, err := e.st.UpdateUser(acmeUser, func(u *store.User) error { u.Language, u.TimeZone = "ja", "Asia/Tokyo"; return nil }); err != nil {
		t.Fatal(err)
	}
	contains(t, "the preferences in Japanese", e.get(c, "/account/notifications"), http.StatusOK, "メール通知の設定", "メールで受け取る重要度",
		"通知しない時間帯", "空欄の場合はあなたのタイムゾーン（Asia/Tokyo）。", "重大")
	contains(t, "the account in Japanese", e.get(c, "/account"), http.StatusOK, "メール通知の設定")

	// Each person's own: an operator's are theirs, not acme's.
	op := e.signIn(opUser)
	if r := e.post(op, "/account/notifications", url.Values{"severity": {"critical"}}); r.status != http.StatusSeeOther {
		t.Fatalf("an operator's save: %d", r.status)
	}
	if p := e.prefs(opUser); p == nil || !slices.Equal(p.Severities, []string{"critical"}) {
		t.Errorf("the operator's preferences: %+v", p)
	}
	if p := e.prefs(acmeUser); p != nil {
		t.Errorf("an operator's save changed acme's: %+v", p)
	}
}

// TestNotificationPrefsWithoutRecord: a person admitted by a groups claim
// has no user record to keep preferences in; the page says so, offers no
// form, and one sent anyway stores nothing.
func TestNotificationPrefsWithoutRecord(t *testing.T) {
	bob := oidctest.User{Username: "bob", Password: "pw-bob-123456", Email: "bob@acme.example", EmailVerified: true, Groups: []string{"hearth-customer:acme"}}
	e, p := ssoEnv(t, bob)
	c := e.browser()
	if r, _ := e.ssoSignIn(c, p, bob); r.status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", r.status)
	}
	r := e.get(c, "/account/notifications")
	contains(t, "no record", r, http.StatusOK, "there is no account here to keep preferences in")
	if strings.Contains(r.body, `name="severity"`) {
		t.Error("a person without a record is offered the form")
	}
	r = e.post(c, "/account/notifications", url.Values{"severity": {"critical"}})
	contains(t, "a save without a record", r, http.StatusBadRequest, "there is no account here to keep preferences in")
	if _, err := e.st.GetUser(bob.Email); err == nil {
		t.Error("a save made a user record")
	}
}
