package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/hearthiot/hearth/store"
)

// Result is what one attempt to deliver came to.
type Result struct {
	Delivered bool `json:"delivered"`
	// Status is the HTTP status the receiver answered, 0 when it
	// answered none.
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
	// Recipients lists the e-mail addresses sent to, Skipped those left
	// out and why.
	Recipients []string `json:"recipients,omitempty"`
	Skipped    []string `json:"skipped,omitempty"`
	DurationMS int64    `json:"duration_ms"`
	// Permanent is set when trying again cannot help (the receiver said
	// the address is wrong, say): the delivery is given up at once.
	Permanent bool `json:"-"`
	// RetryAfter is the receiver's Retry-After, when it sent one.
	RetryAfter time.Duration `json:"-"`
}

// Headers of webhook requests.
const (
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256 of the
	// request body under the channel's secret.
	HeaderSignature = "X-Hearth-Signature-256"
	// HeaderIdempotencyKey repeats the message key (the CloudEvents id),
	// the same on every attempt, so receivers can drop repeats.
	HeaderIdempotencyKey = "Idempotency-Key"
)

// CloudEvents attributes of webhook events.
const (
	EventSource     = "hearth"
	EventTypePrefix = "io.hearth.alarm."       // + state: io.hearth.alarm.active, io.hearth.alarm.cleared
	EventTypeGroup  = "io.hearth.alarm.group." // + state: a grouped message
	EventTypeTest   = "io.hearth.notification.test"
	EventTypeRule   = "io.hearth.rule.result" // a message rule's webhook action
	ContentTypeCE   = "application/cloudevents+json"
)

const userAgent = "Hearth-Notifications/1"

// send delivers m to c once. For e-mail it updates d.Sent with the
// recipients sent to, so that a retry skips them, and d.Note with those
// left out; prefs says whether users' preferences apply.
func (s *Service) send(ctx context.Context, c store.NotificationChannel, m Message, d *store.Delivery, prefs bool) Result {
	t0 := time.Now()
	var res Result
	switch c.Kind {
	case store.ChannelWebhook:
		res = s.sendWebhook(ctx, c, m)
	case store.ChannelSlack:
		res = s.sendSlack(ctx, c, m)
	case store.ChannelEmail:
		res = s.sendEmail(ctx, c, m, d, prefs)
	default:
		res = Result{Error: fmt.Sprintf("channel kind %q is not one Hearth sends to", c.Kind), Permanent: true}
	}
	res.DurationMS = time.Since(t0).Milliseconds()
	return res
}

// Sign is the value of HeaderSignature for body under secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Event is m as the CloudEvents 1.0 event a webhook receives: id the
// message key, source "hearth", type io.hearth.alarm.STATE (or
// io.hearth.alarm.group.STATE for a grouped message,
// io.hearth.notification.test for a test, io.hearth.rule.result for a
// message rule's result), subject the device, data the message's fields.
func (s *Service) Event(m Message) (cloudevents.Event, error) {
	e := cloudevents.New()
	e.SetID(m.Key)
	e.SetSource(EventSource)
	switch {
	case m.State == StateTest:
		e.SetType(EventTypeTest)
	case m.State == StateRule:
		e.SetType(EventTypeRule)
	case m.grouped():
		e.SetType(EventTypeGroup + m.State)
	default:
		e.SetType(EventTypePrefix + m.State)
	}
	e.SetTime(m.Time)
	if m.Device != "" {
		e.SetSubject(m.Device)
	}
	data := m
	data.Link = m.link(s.publicURL())
	data.Channels = nil
	if err := e.SetData("application/json", data); err != nil {
		return e, fmt.Errorf("event data: %w", err)
	}
	if err := e.Validate(); err != nil {
		return e, fmt.Errorf("event: %w", err)
	}
	return e, nil
}

func (s *Service) sendWebhook(ctx context.Context, c store.NotificationChannel, m Message) Result {
	e, err := s.Event(m)
	if err != nil {
		return Result{Error: err.Error(), Permanent: true}
	}
	body, err := json.Marshal(e)
	if err != nil {
		return Result{Error: "encode event: " + err.Error(), Permanent: true}
	}
	h := http.Header{}
	h.Set("Content-Type", ContentTypeCE)
	h.Set(HeaderIdempotencyKey, m.Key)
	h.Set(HeaderSignature, Sign(c.Secret, body))
	return s.post(ctx, c.URL, body, h)
}

// post sends body to url and reads the answer: 2xx is delivered; a
// network error, 408, 425, 429 and 5xx are worth another attempt; any
// other answer (a redirect, which is never followed, or a 4xx) is not.
func (s *Service) post(ctx context.Context, url string, body []byte, h http.Header) Result {
	if err := CheckURL("url", url, s.cfg.Self); err != nil {
		return Result{Error: err.Error(), Permanent: true}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Result{Error: err.Error(), Permanent: true}
	}
	req.Header = h
	req.Header.Set("User-Agent", userAgent)
	resp, err := s.client.Do(req)
	if err != nil {
		return Result{Error: err.Error(), Permanent: errors.Is(err, errSelf)}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	res := Result{Status: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		res.Delivered = true
		return res
	}
	res.Error = fmt.Sprintf("the receiver answered %s", resp.Status)
	if t := strings.TrimSpace(strings.ToValidUTF8(string(snippet), "")); t != "" {
		res.Error += ": " + truncate(t, 200)
	}
	switch code := resp.StatusCode; {
	case code >= 300 && code < 400:
		res.Error += " (redirects are not followed: give the final address)"
		res.Permanent = true
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests, code >= 500:
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			res.RetryAfter = time.Duration(secs) * time.Second
		}
	default:
		res.Permanent = true
	}
	return res
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
