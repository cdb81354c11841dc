package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/hearthiot/hearth/store"
)

// Block Kit documents, as much of them as a notification uses.
type (
	slackMessage struct {
		Text   string       `json:"text"` // the notification's text where blocks are not shown
		Blocks []slackBlock `json:"blocks"`
	}
	slackBlock struct {
		Type     string         `json:"type"`
		Text     *slackText     `json:"text,omitempty"`
		Fields   []slackText    `json:"fields,omitempty"`
		Elements []slackElement `json:"elements,omitempty"`
	}
	slackText struct {
		Type string `json:"type"` // plain_text or mrkdwn
		Text string `json:"text"`
	}
	// slackElement is a button (Text a plain_text object) or, in a
	// context block, a mrkdwn text (Text a string).
	slackElement struct {
		Type string `json:"type"`
		Text any    `json:"text,omitempty"`
		URL  string `json:"url,omitempty"`
	}
)

// Limits of Block Kit: a header's text, a section's text and a field's.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackFieldMax   = 2000
)

// slackEscape escapes the three characters Slack's mrkdwn reads as markup.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

var severityMark = map[string]string{"critical": "🔴", "major": "🟠", "warning": "🟡", "minor": "🔵", "info": "⚪"}

// SlackMessage is m as the Block Kit message a Slack incoming webhook
// receives: a header with the severity and title, fields for severity,
// device (linked to its page), site, value and rule, the text, a button to
// the page and a line of context.
func (s *Service) SlackMessage(m Message) any {
	l := wordsFor("en")
	title := m.title("en")
	link := m.link(s.publicURL())
	mark := severityMark[m.Severity]
	switch m.State {
	case StateCleared:
		mark = "✅"
	case StateTest:
		mark = "🔔"
	}
	head := strings.TrimSpace(mark + " " + title)
	if m.Severity != "" && m.State == StateActive {
		head = strings.TrimSpace(mark + " " + strings.ToUpper(m.Severity) + ": " + title)
	}
	field := func(label, value string) slackText {
		return slackText{Type: "mrkdwn", Text: truncate("*"+label+"*\n"+value, slackFieldMax)}
	}
	var fields []slackText
	if m.Severity != "" {
		fields = append(fields, field(l.Severity, slackEscape.Replace(m.Severity)))
	}
	if m.Device != "" {
		dev := slackEscape.Replace(m.Device)
		if link != "" && m.Link == "" {
			dev = "<" + link + "|" + dev + ">"
		}
		fields = append(fields, field(l.Device, dev))
	}
	if site := m.siteLabel(); site != "" {
		fields = append(fields, field(l.Site, slackEscape.Replace(site)))
	}
	if v := m.value(); v != "" {
		fields = append(fields, field(l.Value, slackEscape.Replace(v)))
	}
	if m.Rule != "" {
		fields = append(fields, field(l.Rule, slackEscape.Replace(m.Rule)))
	}
	if m.grouped() {
		ds := m.devices()
		list := slackEscape.Replace(strings.Join(ds, ", "))
		if more := m.count() - len(ds); more > 0 {
			list += " " + fmt.Sprintf(l.More, more)
		}
		if list != "" {
			fields = append(fields, field(l.Devices, list))
		}
	}
	if len(fields) > 10 { // Block Kit's limit of a section's fields
		fields = fields[:10]
	}
	out := slackMessage{Text: title, Blocks: []slackBlock{{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(head, slackHeaderMax)}}}}
	if len(fields) > 0 {
		out.Blocks = append(out.Blocks, slackBlock{Type: "section", Fields: fields})
	}
	if m.Text != "" {
		out.Blocks = append(out.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncate(slackEscape.Replace(m.Text), slackSectionMax)}})
	}
	if link != "" {
		out.Blocks = append(out.Blocks, slackBlock{Type: "actions", Elements: []slackElement{{Type: "button", Text: &slackText{Type: "plain_text", Text: l.Open}, URL: link}}})
	}
	ctx := "Hearth · " + l.state(m.State) + " · " + m.Time.UTC().Format("2006-01-02 15:04 UTC")
	out.Blocks = append(out.Blocks, slackBlock{Type: "context", Elements: []slackElement{{Type: "mrkdwn", Text: slackEscape.Replace(ctx)}}})
	return out
}

func (s *Service) sendSlack(ctx context.Context, c store.NotificationChannel, m Message) Result {
	body, err := json.Marshal(s.SlackMessage(m))
	if err != nil {
		return Result{Error: "encode Slack message: " + err.Error(), Permanent: true}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(HeaderIdempotencyKey, m.Key)
	return s.post(ctx, c.URL, body, h)
}
