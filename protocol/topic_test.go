package protocol_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/protocol"
)

func TestValidName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		wantErr string // substring of the error; "" means valid
	}{
		{"boiler-1", ""},
		{"a", ""},
		{"AHU_3:floor-2", ""},
		{strings.Repeat("x", protocol.MaxNameLength), ""},
		{"", "empty"},
		{strings.Repeat("x", protocol.MaxNameLength+1), "129 characters"},
		{"a/b", `'/'`},
		{"a+b", `'+'`},
		{"a#", `'#'`},
		{"a b", `' '`},
		{"a.b", `'.'`},
		{"$aws", `'$'`},
		{"kühler", `'ü'`},
		{"a\x00b", `'\x00'`},
	}
	for _, tt := range tests {
		err := protocol.ValidName(tt.name)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("ValidName(%q) = %v, want nil", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("ValidName(%q) = nil, want error containing %q", tt.name, tt.wantErr)
			continue
		}
		if !errors.Is(err, protocol.ErrInvalid) {
			t.Errorf("ValidName(%q) = %v, does not wrap ErrInvalid", tt.name, err)
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ValidName(%q) = %q, want it to contain %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestTelemetryTopics(t *testing.T) {
	t.Parallel()
	if got, want := protocol.TelemetryTopic("me"), "hearth/things/me/telemetry"; got != want {
		t.Errorf("TelemetryTopic = %q, want %q", got, want)
	}
	if got, want := protocol.TelemetryRejectedTopic("me"), "hearth/things/me/telemetry/rejected"; got != want {
		t.Errorf("TelemetryRejectedTopic = %q, want %q", got, want)
	}
	tests := []struct {
		thing, topic string
		want         bool
	}{
		{"me", "hearth/things/me/telemetry", true},
		{"me", "hearth/things/me/telemetry/rejected", false},
		{"me", "hearth/things/mee/telemetry", false},
		{"me", "hearth/things/other/telemetry", false},
		{"me", "$aws/things/me/telemetry", false},
		{"me", "hearth/things/me/telemetryx", false},
		{"me", "hearth/things/me/telemetr", false},
		{"a/b", "hearth/things/a/b/telemetry", false},
		{"", "hearth/things//telemetry", false},
	}
	for _, tt := range tests {
		if got := protocol.IsTelemetryTopic(tt.thing, tt.topic); got != tt.want {
			t.Errorf("IsTelemetryTopic(%q, %q) = %v, want %v", tt.thing, tt.topic, got, tt.want)
		}
	}
}

func TestParseTopic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		topic  string
		want   protocol.Topic
		wantOK bool
	}{
		{"hearth/things/me/telemetry", protocol.Topic{Prefix: "hearth/things", Thing: "me", Rest: "telemetry"}, true},
		{"$aws/things/me/shadow/name/hvac/update", protocol.Topic{Prefix: "$aws/things", Thing: "me", Rest: "shadow/name/hvac/update"}, true},
		{"$aws/things/me/shadow/+/accepted", protocol.Topic{Prefix: "$aws/things", Thing: "me", Rest: "shadow/+/accepted"}, true},
		{"hearth/things/me", protocol.Topic{Prefix: "hearth/things", Thing: "me"}, true},
		{"hearth/things/me/", protocol.Topic{}, false},
		{"hearth/things/me//telemetry", protocol.Topic{}, false},
		{"hearth/things//telemetry", protocol.Topic{}, false},
		{"hearth/things/", protocol.Topic{}, false},
		{"hearth/things", protocol.Topic{}, false},
		{"hearth/things/+/telemetry", protocol.Topic{}, false},
		{"hearth/things/#", protocol.Topic{}, false},
		{"Hearth/things/me/telemetry", protocol.Topic{}, false},
		{"$aws/events/presence/connected/me", protocol.Topic{}, false},
		{"/hearth/things/me/telemetry", protocol.Topic{}, false},
		{"", protocol.Topic{}, false},
	}
	for _, tt := range tests {
		got, ok := protocol.ParseTopic(tt.topic)
		if ok != tt.wantOK {
			t.Errorf("ParseTopic(%q) ok = %v, want %v", tt.topic, ok, tt.wantOK)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseTopic(%q) mismatch (-want +got):\n%s", tt.topic, diff)
		}
	}
}

func TestEventsAndShadowTopics(t *testing.T) {
	t.Parallel()
	for got, want := range map[string]string{
		protocol.EventsTopic("me"):             "hearth/things/me/events",
		protocol.ShadowTopic("me", ""):         "$aws/things/me/shadow",
		protocol.ShadowTopic("me", "hvac"):     "$aws/things/me/shadow/name/hvac",
		protocol.ShadowDeltaTopic("me", ""):    "$aws/things/me/shadow/update/delta",
		protocol.ShadowDeltaTopic("me", "cfg"): "$aws/things/me/shadow/name/cfg/update/delta",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if !protocol.IsEventsTopic("me", "hearth/things/me/events") || protocol.IsEventsTopic("me", "hearth/things/me/events/x") ||
		protocol.IsEventsTopic("a+", "hearth/things/a+/events") {
		t.Error("IsEventsTopic accepts the wrong topics")
	}
}

func TestIsValidNameAgreesWithValidName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"boiler-1", "", "a/b", "AHU_3:floor-2", strings.Repeat("x", 129), "kühler"} {
		if got, want := protocol.IsValidName(name), protocol.ValidName(name) == nil; got != want {
			t.Errorf("IsValidName(%q) = %v, ValidName says %v", name, got, want)
		}
	}
}

// TestTelemetryTopicCheckDoesNotAllocate guards the broker's per-publish
// path.
func TestTelemetryTopicCheckDoesNotAllocate(t *testing.T) {
	var ok bool
	if n := testing.AllocsPerRun(100, func() { ok = protocol.IsTelemetryTopic("boiler-1", "hearth/things/boiler-1/telemetry") }); n != 0 {
		t.Errorf("IsTelemetryTopic allocates %v times per call", n)
	}
	if !ok {
		t.Error("IsTelemetryTopic refused the device's own telemetry topic")
	}
}

func TestParseJobRequest(t *testing.T) {
	for _, c := range []struct {
		topic string
		want  protocol.JobRequest
		ok    bool
	}{
		{"$aws/things/me/jobs/get", protocol.JobRequest{Op: protocol.JobsGet}, true},
		{"$aws/things/me/jobs/start-next", protocol.JobRequest{Op: protocol.JobsStartNext}, true},
		{"$aws/things/me/jobs/fw-42/get", protocol.JobRequest{JobID: "fw-42", Op: protocol.JobsGet}, true},
		{"$aws/things/me/jobs/$next/get", protocol.JobRequest{JobID: protocol.JobsNext, Op: protocol.JobsGet}, true},
		{"$aws/things/me/jobs/fw-42/update", protocol.JobRequest{JobID: "fw-42", Op: protocol.JobsUpdate}, true},
		{"$aws/things/me/jobs/$next/update", protocol.JobRequest{}, false},
		{"$aws/things/me/jobs/notify", protocol.JobRequest{}, false},
		{"$aws/things/me/jobs/notify-next", protocol.JobRequest{}, false},
		{"$aws/things/me/jobs/get/accepted", protocol.JobRequest{}, false},
		{"$aws/things/me/jobs/fw-42/update/accepted", protocol.JobRequest{}, false},
		{"$aws/things/me/jobs/fw.42/get", protocol.JobRequest{}, false},
		{"$aws/things/me/jobs//get", protocol.JobRequest{}, false},
		{"$aws/things/other/jobs/get", protocol.JobRequest{}, false},
		{"$aws/things/me/shadow/get", protocol.JobRequest{}, false},
	} {
		got, ok := protocol.ParseJobRequest("me", c.topic)
		if ok != c.ok || ok && got != c.want {
			t.Errorf("protocol.ParseJobRequest(%q) = %+v, %v; want %+v, %v", c.topic, got, ok, c.want, c.ok)
		}
	}
}

func TestTopicTemplates(t *testing.T) {
	for tmpl, ok := range map[string]bool{
		"dt/{site}/{name}/data":     true,
		"{customer}/{type}/{name}":  true,
		"dt/{site}/data":            false, // no {name}
		"dt/{name}/{name}":          false,
		"dt/x{name}/data":           false,
		"dt/+/{name}":               false,
		"$aws/things/{name}/x":      false,
		"hearth/things/{name}/data": false,
		"dt//{name}":                false,
		"dt/{nom}/{name}":           false,
		"":                          false,
	} {
		if err := protocol.CheckTopicTemplate(tmpl); (err == nil) != ok {
			t.Errorf("CheckTopicTemplate(%q) = %v; want ok %v", tmpl, err, ok)
		}
	}
	got := protocol.ExpandTopicTemplate("dt/{site}/{name}/{type}/{customer}", protocol.TopicVars{Name: "gw-1", Site: "tower-b", Customer: "acme", Type: "boiler"})
	if got != "dt/tower-b/gw-1/boiler/acme" {
		t.Errorf("expanded to %q", got)
	}
}
