package notify

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/hearthiot/hearth/store"
)

// SelfFunc reports whether host and port (a name or an IP, and a decimal
// port) reach Hearth itself: a webhook there would call Hearth's own API
// with whatever it was sent. The server builds it from its listeners and
// names; nil treats nothing as Hearth.
type SelfFunc func(host, port string) bool

// CheckURL checks the address of a webhook or Slack channel: an absolute
// http:// or https:// URL with a host, no credentials, and not Hearth
// itself. field names it in the refusal, which wraps store.ErrInvalid.
func CheckURL(field, raw string, self SelfFunc) error {
	if raw == "" {
		return invalid(`field %q: required, an https:// address`, field)
	}
	if len(raw) > store.MaxChannelURLLen {
		return invalid(`field %q: %d bytes long, at most %d are accepted`, field, len(raw), store.MaxChannelURLLen)
	}
	if i := strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
		return invalid(`field %q: white space or a control character at byte %d`, field, i)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid(`field %q: not a URL: %v`, field, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "http":
	case "":
		return invalid(`field %q %q: an absolute https:// or http:// address is required`, field, raw)
	default:
		return invalid(`field %q: scheme %q is not accepted, only https:// and http://`, field, u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return invalid(`field %q %q: an address with a host (https://host/path) is required`, field, raw)
	}
	if u.User != nil {
		return invalid(`field %q: credentials in the address are not accepted; webhooks are signed instead`, field)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return invalid(`field %q %q: the host is empty`, field, raw)
	}
	if strings.Contains(u.Host, ":") && port == "" && !strings.HasSuffix(u.Host, "]") {
		return invalid(`field %q: the port is empty`, field)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return invalid(`field %q: port %q is not 1 to 65535`, field, port)
		}
	} else if strings.EqualFold(u.Scheme, "http") {
		port = "80"
	} else {
		port = "443"
	}
	if ip := net.ParseIP(host); ip == nil && strings.ContainsAny(host, "%") {
		return invalid(`field %q: host %q is not a name or an IP address`, field, host)
	}
	if self != nil && self(host, port) {
		return invalid(`field %q: %s points at Hearth itself; a notification must go to another service`, field, net.JoinHostPort(host, port))
	}
	return nil
}

// CheckChannel checks what a channel may do before it is stored: its URL
// (CheckURL) for a webhook or Slack channel. The store checks the rest of
// its shape.
func (s *Service) CheckChannel(c store.NotificationChannel) error {
	switch c.Kind {
	case store.ChannelWebhook, store.ChannelSlack:
		return CheckURL("url", c.URL, s.cfg.Self)
	case store.ChannelEmail:
		if len(c.To) == 0 {
			return invalid(`field "to": required for an e-mail channel, a list of addresses`)
		}
		return nil
	}
	return invalid(`field "kind" %q: %q, %q and %q are accepted`, c.Kind, store.ChannelWebhook, store.ChannelSlack, store.ChannelEmail)
}
