package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/hearthiot/hearth/store"
)

// HeaderMessageKey carries the message key in e-mail, for filters and
// for telling a repeat from a new message.
const HeaderMessageKey = "X-Hearth-Key"

// recipient is one address of an e-mail channel and what its user, if it
// is one, wants.
type recipient struct {
	addr  string
	lang  string
	loc   *time.Location
	prefs *store.NotificationPrefs
}

// recipient looks addr up among the users.
func (s *Service) recipient(addr string) recipient {
	r := recipient{addr: addr, lang: "en", loc: s.cfg.Location}
	u, err := s.st.GetUser(addr)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.logger.Warn("cannot read a recipient's preferences; sending as to a stranger", "error", err)
		}
		return r
	}
	if u.Disabled {
		r.prefs = &store.NotificationPrefs{Severities: []string{"-"}} // wants nothing
		return r
	}
	if u.Language != "" {
		r.lang = u.Language
	}
	if loc, err := time.LoadLocation(u.TimeZone); u.TimeZone != "" && err == nil {
		r.loc = loc
	}
	r.prefs = u.Notifications
	return r
}

// wants says why r should not get m now, or "" when it should: a severity
// the user did not ask for, or the user's quiet hours.
func (r recipient) wants(m Message, now time.Time) string {
	p := r.prefs
	if p == nil {
		return ""
	}
	if len(p.Severities) > 0 && !slices.Contains(p.Severities, m.Severity) {
		if slices.Equal(p.Severities, []string{"-"}) {
			return "user disabled"
		}
		return "severity " + m.Severity + " not wanted"
	}
	q := p.QuietHours
	if q == nil || slices.Contains(q.Allow, m.Severity) {
		return ""
	}
	loc := r.loc
	if l, err := time.LoadLocation(q.TimeZone); q.TimeZone != "" && err == nil {
		loc = l
	}
	if inQuietHours(q.From, q.To, now.In(loc)) {
		return "quiet hours"
	}
	return ""
}

// inQuietHours reports whether the local time of t is within from to to
// ("HH:MM", to excluded; from after to runs over midnight).
func inQuietHours(from, to string, t time.Time) bool {
	f, err1 := store.ParseClock(from)
	e, err2 := store.ParseClock(to)
	if err1 != nil || err2 != nil {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	if f < e {
		return m >= f && m < e
	}
	return m >= f || m < e
}

func (s *Service) sendEmail(ctx context.Context, c store.NotificationChannel, m Message, d *store.Delivery, prefs bool) Result {
	if s.cfg.SMTP.Host == "" {
		return Result{Error: "e-mail is not set up on this server: start it with --smtp-host and --smtp-from"}
	}
	now := s.now()
	var (
		msgs    []*mail.Msg
		to      []string
		skipped []string
	)
	for _, addr := range c.To {
		if slices.Contains(d.Sent, addr) {
			continue
		}
		r := s.recipient(addr)
		if why := r.wants(m, now); prefs && m.State != StateTest && why != "" {
			skipped = append(skipped, addr+" ("+why+")")
			continue
		}
		msg, err := s.email(m, r)
		if err != nil {
			skipped = append(skipped, addr+" ("+err.Error()+")")
			continue
		}
		msgs = append(msgs, msg)
		to = append(to, addr)
	}
	if len(skipped) > 0 {
		d.Note = "left out: " + strings.Join(skipped, ", ")
	}
	if len(msgs) == 0 {
		return Result{Delivered: true, Skipped: skipped}
	}
	client, err := s.smtpClient()
	if err != nil {
		return Result{Error: err.Error(), Skipped: skipped}
	}
	sendErr := client.DialAndSendWithContext(ctx, msgs...)
	res := Result{Skipped: skipped}
	if sendErr == nil {
		res.Delivered, res.Recipients = true, to
		d.Sent = append(d.Sent, to...)
		return res
	}
	// go-mail blames each message it could not send; when it blames none,
	// the connection failed before any went.
	blamed, permanent := anySendError(msgs), true
	var failed []string
	for i, msg := range msgs {
		if blamed && !msg.HasSendError() {
			res.Recipients = append(res.Recipients, to[i])
			d.Sent = append(d.Sent, to[i])
			continue
		}
		failed = append(failed, to[i])
		if !msg.HasSendError() || msg.SendErrorIsTemp() {
			permanent = false
		}
	}
	res.Error = fmt.Sprintf("e-mail to %s not sent: %v", strings.Join(failed, ", "), sendErr)
	res.Permanent = permanent
	return res
}

// anySendError reports whether go-mail blamed any of msgs.
func anySendError(msgs []*mail.Msg) bool {
	return slices.ContainsFunc(msgs, (*mail.Msg).HasSendError)
}

func (s *Service) smtpClient() (*mail.Client, error) {
	c := s.cfg.SMTP
	opts := []mail.Option{
		mail.WithPort(c.Port),
		mail.WithTLSPolicy(mail.TLSMandatory),
		mail.WithTimeout(s.cfg.Timeout),
	}
	if c.TLS != nil {
		t := c.TLS.Clone()
		if t.ServerName == "" {
			t.ServerName = c.Host
		}
		opts = append(opts, mail.WithTLSConfig(t))
	}
	if c.User != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(c.User), mail.WithPassword(c.Password))
	}
	client, err := mail.NewClient(c.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("e-mail client for %s: %w", c.Host, err)
	}
	return client, nil
}

// email is m as the e-mail r gets, in r's language.
func (s *Service) email(m Message, r recipient) (*mail.Msg, error) {
	l := wordsFor(r.lang)
	msg := mail.NewMsg()
	if err := msg.From(s.cfg.SMTP.From); err != nil {
		return nil, fmt.Errorf("sender %q: %w", s.cfg.SMTP.From, err)
	}
	if err := msg.To(r.addr); err != nil {
		return nil, fmt.Errorf("address refused: %w", err)
	}
	title := m.title(r.lang)
	what := l.severity(m.Severity)
	switch m.State {
	case StateCleared:
		what = l.state(StateCleared)
	case StateTest:
		what = l.state(StateTest)
	}
	subject := "[Hearth] " + title
	if what != "" {
		if r.lang == "en" {
			what = strings.ToUpper(what)
		}
		subject = "[Hearth] " + what + ": " + title
	}
	msg.Subject(subject)
	sum := sha256.Sum256([]byte(m.Key + "\x00" + r.addr))
	msg.SetMessageIDWithValue(hex.EncodeToString(sum[:16]) + "@hearth")
	msg.SetGenHeader(HeaderMessageKey, m.Key)
	msg.SetDateWithValue(m.Time)
	msg.SetUserAgent(userAgent)

	var b strings.Builder
	b.WriteString(title + "\n\n")
	line := func(label, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", label, v)
		}
	}
	line(l.Severity, l.severity(m.Severity))
	line(l.State, l.state(m.State))
	line(l.Device, m.Device)
	line(l.Site, m.siteLabel())
	line(l.Rule, m.Rule)
	line(l.Value, m.value())
	line(l.Time, m.Time.In(r.loc).Format("2006-01-02 15:04 MST"))
	if m.grouped() {
		ds := m.devices()
		list := strings.Join(ds, ", ")
		if more := m.count() - len(ds); more > 0 {
			list += " " + fmt.Sprintf(l.More, more)
		}
		line(l.Devices, list)
	}
	if m.Text != "" {
		b.WriteString("\n" + m.Text + "\n")
	}
	if link := m.link(s.publicURL()); link != "" {
		fmt.Fprintf(&b, "\n%s: %s\n", l.Open, link)
	}
	msg.SetBodyString(mail.TypeTextPlain, b.String())
	return msg, nil
}
