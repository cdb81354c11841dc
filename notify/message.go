package notify

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hearthiot/hearth/store"
)

// States of a message.
const (
	StateActive  = "active"  // an alarm was raised
	StateCleared = "cleared" // an alarm cleared
	StateRule    = "rule"    // a message rule's result
	StateTest    = "test"    // a test message an operator asked for
)

// Message is one notification: what happened, to whom it goes (channels of
// its customer) and how it groups with others.
type Message struct {
	// Key is the idempotency key: a key a channel already has in the
	// outbox is not enqueued again, and receivers see it as the
	// CloudEvents id and the Idempotency-Key header.
	Key      string `json:"key"`
	Customer string `json:"customer"`
	Site     string `json:"site,omitempty"`
	Device   string `json:"device,omitempty"`
	Rule     string `json:"rule,omitempty"`
	Severity string `json:"severity,omitempty"`
	State    string `json:"state"`
	Title    string `json:"title"`
	Text     string `json:"text,omitempty"`
	// Link is the page to open; empty links to the device's page.
	Link string         `json:"link,omitempty"`
	Time time.Time      `json:"time"`
	Data map[string]any `json:"data,omitempty"`
	// Channels names channels of Customer.
	Channels []string `json:"channels,omitempty"`
	// Group is the grouping key (customer/site/kind, say): messages of
	// one group and state reaching a channel within the group window are
	// sent as one when there are more than a few.
	Group string `json:"group,omitempty"`
}

// Data keys of a grouped message, which carries others.
const (
	DataCount    = "count"     // how many messages it carries
	DataDevices  = "devices"   // their devices, at most maxListed
	DataKeys     = "keys"      // their keys, at most maxListed
	DataSiteName = "site_name" // a message's site as people know it, when the sender gives it
	DataValue    = "value"     // the value that raised the alarm, when the sender gives it
	DataUnit     = "unit"      // the unit of DataValue
	// DataOffline marks a message about a device going offline (true), so
	// that a grouped one says "devices offline" whatever the rule's name.
	DataOffline = "offline"
)

// maxListed bounds the devices and keys a grouped message names.
const maxListed = 100

// Limits of a message's texts.
const (
	maxKeyLen   = 512
	maxTitleLen = 1024
	maxTextLen  = 16 << 10
)

// check refuses a message that cannot be delivered, naming the field.
func (m Message) check() error {
	switch {
	case m.Key == "" || len(m.Key) > maxKeyLen || !utf8.ValidString(m.Key):
		return invalid(`message field "key": 1 to %d bytes of UTF-8 are required`, maxKeyLen)
	case m.Customer == "":
		return invalid(`message %q: field "customer" is required`, m.Key)
	case len(m.Channels) == 0:
		return invalid(`message %q: field "channels" names no channel`, m.Key)
	case m.State != StateActive && m.State != StateCleared && m.State != StateTest && m.State != StateRule:
		return invalid(`message %q: field "state" %q: %q, %q, %q or %q is accepted`, m.Key, m.State, StateActive, StateCleared, StateTest, StateRule)
	case m.Title == "":
		return invalid(`message %q: field "title" is required`, m.Key)
	case len(m.Title) > maxTitleLen || len(m.Text) > maxTextLen:
		return invalid(`message %q: title up to %d and text up to %d bytes are accepted`, m.Key, maxTitleLen, maxTextLen)
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), store.ErrInvalid)
}

// grouped reports whether m carries other messages.
func (m Message) grouped() bool {
	_, ok := m.Data[DataCount]
	return ok
}

// count is how many messages a grouped message carries.
func (m Message) count() int {
	switch n := m.Data[DataCount].(type) {
	case int:
		return n
	case float64:
		return int(n)
	}
	return 0
}

// siteLabel is the site as people know it.
func (m Message) siteLabel() string {
	if s, ok := m.Data[DataSiteName].(string); ok && s != "" {
		return s
	}
	return m.Site
}

// value is the value that raised the alarm, with its unit, or "".
func (m Message) value() string {
	v, ok := m.Data[DataValue]
	if !ok || v == nil {
		return ""
	}
	s := fmt.Sprint(v)
	if u, ok := m.Data[DataUnit].(string); ok && u != "" {
		s += " " + u
	}
	return s
}

// link is the page of m: its own, else its device's page, else the
// dashboard.
func (m Message) link(publicURL string) string {
	switch {
	case m.Link != "":
		return m.Link
	case publicURL == "":
		return ""
	case m.Device != "":
		return strings.TrimSuffix(publicURL, "/") + "/devices/" + url.PathEscape(m.Device)
	}
	return strings.TrimSuffix(publicURL, "/") + "/"
}

// severityRank orders the severities Hearth knows, most urgent first, as
// ITU-T X.733 does: the alarms', then "info" (test messages); others rank
// below them.
var severityRank = append(slices.Clip(store.Severities), "info")

func rank(sev string) int {
	if i := slices.Index(severityRank, sev); i >= 0 {
		return i
	}
	return len(severityRank)
}

// summarize makes the message that carries ms, all of one group and state
// to one channel.
func summarize(key string, ms []Message, at time.Time) Message {
	first := ms[0]
	out := Message{
		Key: key, Customer: first.Customer, Site: first.Site, Rule: first.Rule, Severity: first.Severity,
		State: first.State, Group: first.Group, Time: at,
		Data: map[string]any{DataCount: len(ms)},
	}
	var devices, keys []string
	offline := true
	for _, m := range ms {
		offline = offline && m.offline()
		if m.Site != out.Site {
			out.Site = ""
		}
		if m.Rule != out.Rule {
			out.Rule = ""
		}
		if rank(m.Severity) < rank(out.Severity) {
			out.Severity = m.Severity
		}
		if len(keys) < maxListed {
			keys = append(keys, m.Key)
		}
		if m.Device != "" && len(devices) < maxListed && !slices.Contains(devices, m.Device) {
			devices = append(devices, m.Device)
		}
	}
	out.Data[DataDevices], out.Data[DataKeys] = devices, keys
	if offline {
		out.Data[DataOffline] = true
	}
	if out.Site != "" {
		if s := first.siteLabel(); s != out.Site {
			out.Data[DataSiteName] = s
		}
	}
	out.Title = out.title("en")
	return out
}

// title is m's title in lang: a grouped message's is made here, in the
// reader's language; others are the sender's.
func (m Message) title(lang string) string {
	if !m.grouped() {
		return m.Title
	}
	where := m.siteLabel()
	if where == "" {
		where = m.Customer
	}
	n, rule, offline := m.count(), m.Rule, m.offline()
	if lang == "ja" {
		switch {
		case m.State == StateCleared && offline:
			return fmt.Sprintf("%s: %d 台の機器がオンラインに戻りました", where, n)
		case m.State == StateCleared && rule != "":
			return fmt.Sprintf("%s: %d 台の機器が復旧しました (%s)", where, n, rule)
		case m.State == StateCleared:
			return fmt.Sprintf("%s: %d 件のアラームが解除されました", where, n)
		case offline:
			return fmt.Sprintf("%s: %d 台の機器がオフライン", where, n)
		case rule != "":
			return fmt.Sprintf("%s: %d 台の機器で %s", where, n, rule)
		}
		return fmt.Sprintf("%s: %d 件のアラーム", where, n)
	}
	switch {
	case m.State == StateCleared && offline:
		return fmt.Sprintf("%s: %d devices back online", where, n)
	case m.State == StateCleared && rule != "":
		return fmt.Sprintf("%s: %d devices back to normal (%s)", where, n, rule)
	case m.State == StateCleared:
		return fmt.Sprintf("%s: %d alarms cleared", where, n)
	case offline:
		return fmt.Sprintf("%s: %d devices offline", where, n)
	case rule != "":
		return fmt.Sprintf("%s: %s on %d devices", where, rule, n)
	}
	return fmt.Sprintf("%s: %d alarms", where, n)
}

// offline tells whether a message is about devices going offline: marked
// so by its sender (DataOffline).
func (m Message) offline() bool {
	b, _ := m.Data[DataOffline].(bool)
	return b
}

// devices lists a grouped message's devices.
func (m Message) devices() []string {
	switch ds := m.Data[DataDevices].(type) {
	case []string:
		return ds
	case []any:
		out := make([]string, 0, len(ds))
		for _, d := range ds {
			if s, ok := d.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// labels are the words around a message, in each language.
type labels struct {
	Severity, Device, Site, Rule, Value, State, Time, Open, Devices, More string
	States                                                                map[string]string
	Severities                                                            map[string]string
}

var words = map[string]labels{
	"en": {
		Severity: "Severity", Device: "Device", Site: "Site", Rule: "Rule", Value: "Value", State: "State",
		Time: "Time", Open: "Open in Hearth", Devices: "Devices", More: "and %d more",
		States:     map[string]string{StateActive: "active", StateCleared: "cleared", StateTest: "test"},
		Severities: map[string]string{},
	},
	"ja": {
		Severity: "重大度", Device: "機器", Site: "サイト", Rule: "ルール", Value: "値", State: "状態",
		Time: "時刻", Open: "Hearth で開く", Devices: "機器", More: "ほか %d 台",
		States:     map[string]string{StateActive: "発生", StateCleared: "解除", StateTest: "テスト"},
		Severities: map[string]string{"critical": "重大", "major": "重要", "warning": "警告", "minor": "軽微", "info": "情報"},
	},
}

func wordsFor(lang string) labels {
	if l, ok := words[lang]; ok {
		return l
	}
	return words["en"]
}

func (l labels) severity(s string) string {
	if t, ok := l.Severities[s]; ok {
		return t
	}
	return s
}

func (l labels) state(s string) string {
	if t, ok := l.States[s]; ok {
		return t
	}
	return s
}
