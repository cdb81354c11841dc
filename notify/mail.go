package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/wneessen/go-mail"
)

// ErrNoMail is what SendMail answers on a server without an SMTP host.
var ErrNoMail = errors.New("e-mail is not set up on this server: start it with --smtp-host and --smtp-from")

// CanMail reports whether e-mail can be sent: an SMTP host is set.
func (s *Service) CanMail() bool { return s.cfg.SMTP.Host != "" }

// PublicURL is Hearth's address in links (https://hearth.example:8443).
func (s *Service) PublicURL() string { return s.publicURL() }

// SendMail sends one plain-text e-mail at once, outside the outbox: for
// messages a person waits for (a set-password link), which are shown
// instead when they cannot be sent.
func (s *Service) SendMail(ctx context.Context, to, subject, body string) error {
	if !s.CanMail() {
		return ErrNoMail
	}
	msg := mail.NewMsg()
	if err := msg.From(s.cfg.SMTP.From); err != nil {
		return fmt.Errorf("sender %q: %w", s.cfg.SMTP.From, err)
	}
	if err := msg.To(to); err != nil {
		return fmt.Errorf("address %q refused: %w", to, err)
	}
	msg.Subject(subject)
	msg.SetDate()
	msg.SetUserAgent(userAgent)
	msg.SetBodyString(mail.TypeTextPlain, body)
	client, err := s.smtpClient()
	if err != nil {
		return err
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("e-mail to %s not sent: %w", to, err)
	}
	return nil
}
