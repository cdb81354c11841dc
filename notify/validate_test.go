package notify_test

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/notify"
	"github.com/hearthiot/hearth/store"
)

// hearthSelf is Hearth on port 8443 of this machine, known as
// hearth.example.
func hearthSelf(host, port string) bool {
	if port != "8443" && port != "8883" {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback() || ip.IsUnspecified()
	}
	return strings.EqualFold(host, "localhost") || strings.EqualFold(host, "hearth.example")
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		want string // in the refusal; "" accepts
	}{
		{"https://hooks.slack.com/services/T0/B0/XYZ", ""},
		{"http://receiver.lan:8080/hearth", ""},
		{"https://[2001:db8::1]:9443/x", ""},
		{"https://127.0.0.1:9000/relay", ""}, // another service on the box
		{"HTTPS://Receiver.example/x", ""},
		{"", "required"},
		{"ftp://receiver.example/x", `scheme "ftp" is not accepted`},
		{"file:///etc/passwd", `scheme "file" is not accepted`},
		{"gopher://x", `scheme "gopher"`},
		{"javascript:alert(1)", `scheme "javascript"`},
		{"mailto:ops@acme.example", `scheme "mailto"`},
		{"//receiver.example/x", "absolute"},
		{"receiver.example/x", "absolute"},
		{"https:receiver.example", "with a host"},
		{"https:///x", "with a host"},
		{"https://user:pw@receiver.example/", "credentials"},
		{"https://receiver.example:0/", "port"},
		{"https://receiver.example:99999/", "port"},
		{"https://receiver.example:/x", "port is empty"},
		{"https://receiver.example/a b", "white space"},
		{"https://receiver.example/\x00", "control character"},
		{"https://hearth.example:8443/api/v1/devices", "Hearth itself"},
		{"https://localhost:8443/", "Hearth itself"},
		{"https://127.0.0.1:8443/", "Hearth itself"},
		{"https://[::1]:8443/", "Hearth itself"},
		{"https://0.0.0.0:8883/", "Hearth itself"},
		{"https://HEARTH.example:8443/", "Hearth itself"},
		{"https://" + strings.Repeat("a", 2050) + ".example/", "at most 2048"},
	} {
		err := notify.CheckURL("url", tc.url, hearthSelf)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q refused: %v", tc.url, err)
		case tc.want != "" && err == nil:
			t.Errorf("%q accepted, want a refusal with %q", tc.url, tc.want)
		case tc.want != "" && (!strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `field "url"`) || !errors.Is(err, store.ErrInvalid)):
			t.Errorf("%q: %v, want ErrInvalid naming the field and %q", tc.url, err, tc.want)
		}
	}
}

// FuzzCheckURL: whatever the input, an accepted URL is an http(s) address
// with a host that is not Hearth, and a refusal names the field.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://hooks.slack.com/services/T0/B0/X", "http://a:1/", "https://localhost:8443/", "ftp://x", "https://[::1]:8443",
		"https://u@h/", "https://h:65536", "https://%31%32%37.0.0.1:8443/", "https://0x7f.1:8443/", "https://[::ffff:127.0.0.1]:8443/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := notify.CheckURL("url", raw, hearthSelf)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), `field "url"`) {
				t.Fatalf("%q: refusal %v does not name the field or wrap ErrInvalid", raw, err)
			}
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("%q accepted but does not parse: %v", raw, perr)
		}
		scheme := strings.ToLower(u.Scheme)
		if scheme != "http" && scheme != "https" || u.Hostname() == "" || u.User != nil {
			t.Fatalf("%q accepted: scheme %q host %q", raw, u.Scheme, u.Hostname())
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[scheme]
		}
		if hearthSelf(u.Hostname(), port) {
			t.Fatalf("%q accepted but reaches Hearth", raw)
		}
		// What a dialer would be given must be what was checked.
		if _, _, err := net.SplitHostPort(net.JoinHostPort(u.Hostname(), port)); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
	})
}

// FuzzChannel: a channel the service accepts is one the store keeps, and
// neither panics on any input.
func FuzzChannel(f *testing.F) {
	f.Add("webhook", "https://receiver.example/x", "")
	f.Add("slack", "https://hooks.slack.com/services/T/B/X", "")
	f.Add("email", "", "fm@acme.example,ops@acme.example")
	f.Add("pager", "https://x", "")
	f.Add("email", "", "not an address")
	st, _ := openStore(f)
	svc, err := notify.New(notify.Config{Self: hearthSelf}, st, nil)
	if err != nil {
		f.Fatal(err)
	}
	n := 0
	f.Fuzz(func(t *testing.T, kind, rawURL, to string) {
		c := store.NotificationChannel{Customer: customer, Name: "c", Kind: kind, URL: rawURL}
		if to != "" {
			c.To = strings.Split(to, ",")
		}
		if err := svc.CheckChannel(c); err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("%+v: %v does not wrap ErrInvalid", c, err)
			}
			return
		}
		n++
		c.Name = "c" + strings.Repeat("x", n%40)
		if _, err := st.CreateNotificationChannel(c); err != nil && !errors.Is(err, store.ErrInvalid) && !errors.Is(err, store.ErrExists) {
			t.Fatalf("%+v accepted by the service, then: %v", c, err)
		}
	})
}
