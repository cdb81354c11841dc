package device_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device"
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
		{strings.Repeat("x", device.MaxNameLength), ""},
		{"", "empty"},
		{strings.Repeat("x", device.MaxNameLength+1), "129 characters"},
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
		err := device.ValidName(tt.name)
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
		if !errors.Is(err, device.ErrInvalid) {
			t.Errorf("ValidName(%q) = %v, does not wrap ErrInvalid", tt.name, err)
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ValidName(%q) = %q, want it to contain %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestTelemetryTopics(t *testing.T) {
	t.Parallel()
	if got, want := device.TelemetryTopic("me"), "hearth/things/me/telemetry"; got != want {
		t.Errorf("TelemetryTopic = %q, want %q", got, want)
	}
	if got, want := device.TelemetryRejectedTopic("me"), "hearth/things/me/telemetry/rejected"; got != want {
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
		if got := device.IsTelemetryTopic(tt.thing, tt.topic); got != tt.want {
			t.Errorf("IsTelemetryTopic(%q, %q) = %v, want %v", tt.thing, tt.topic, got, tt.want)
		}
	}
}

func TestParseTopic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		topic  string
		want   device.Topic
		wantOK bool
	}{
		{"hearth/things/me/telemetry", device.Topic{Prefix: "hearth/things", Thing: "me", Rest: "telemetry"}, true},
		{"$aws/things/me/shadow/name/hvac/update", device.Topic{Prefix: "$aws/things", Thing: "me", Rest: "shadow/name/hvac/update"}, true},
		{"$aws/things/me/shadow/+/accepted", device.Topic{Prefix: "$aws/things", Thing: "me", Rest: "shadow/+/accepted"}, true},
		{"hearth/things/me", device.Topic{Prefix: "hearth/things", Thing: "me"}, true},
		{"hearth/things/me/", device.Topic{}, false},
		{"hearth/things/me//telemetry", device.Topic{}, false},
		{"hearth/things//telemetry", device.Topic{}, false},
		{"hearth/things/", device.Topic{}, false},
		{"hearth/things", device.Topic{}, false},
		{"hearth/things/+/telemetry", device.Topic{}, false},
		{"hearth/things/#", device.Topic{}, false},
		{"Hearth/things/me/telemetry", device.Topic{}, false},
		{"$aws/events/presence/connected/me", device.Topic{}, false},
		{"/hearth/things/me/telemetry", device.Topic{}, false},
		{"", device.Topic{}, false},
	}
	for _, tt := range tests {
		got, ok := device.ParseTopic(tt.topic)
		if ok != tt.wantOK {
			t.Errorf("ParseTopic(%q) ok = %v, want %v", tt.topic, ok, tt.wantOK)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseTopic(%q) mismatch (-want +got):\n%s", tt.topic, diff)
		}
	}
}

func TestMayPublish(t *testing.T) {
	t.Parallel()
	tests := []struct {
		thing, topic string
		want         bool
	}{
		{"me", "hearth/things/me/telemetry", true},
		{"me", "$aws/things/me/shadow/update", true},
		{"me", "$aws/things/me/shadow/name/hvac/update", true},
		{"me", "$aws/things/me/jobs/job-1/update", true},
		{"me", "hearth/things/me", false},
		{"me", "hearth/things/me/", false},
		{"me", "hearth/things/me//telemetry", false},
		{"me", "hearth/things/other/telemetry", false},
		{"me", "hearth/things/mee/telemetry", false},
		{"me", "hearth/things/m/telemetry", false},
		{"me", "hearth/things/me/+", false},
		{"me", "hearth/things/me/#", false},
		{"me", "hearth/things/me/tele#metry", false},
		{"me", "$aws/events/presence/connected/me", false},
		{"me", "$SYS/broker", false},
		{"me", "telemetry", false},
		{"me", "", false},
		{"me", "hearth/things/me/te\x00st", false},
		{"me", "hearth/things/me/\xff", false},
		{"", "hearth/things//telemetry", false},
		{"a+", "hearth/things/a+/telemetry", false},
	}
	for _, tt := range tests {
		if got := device.MayPublish(tt.thing, tt.topic); got != tt.want {
			t.Errorf("MayPublish(%q, %q) = %v, want %v", tt.thing, tt.topic, got, tt.want)
		}
	}
}

func TestMaySubscribe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		thing, filter string
		want          bool
	}{
		{"me", "hearth/things/me/#", true},
		{"me", "hearth/things/me/telemetry/rejected", true},
		{"me", "$aws/things/me/shadow/+/accepted", true},
		{"me", "$aws/things/me/shadow/update/delta", true},
		{"me", "$aws/things/me/shadow/name/+/update/#", true},
		{"me", "$aws/things/me/+", true},
		{"me", "$share/workers/hearth/things/me/#", true},
		{"me", "$SHARE/workers/$aws/things/me/jobs/notify", true},
		{"me", "hearth/things/+/telemetry", false},
		{"me", "hearth/things/#", false},
		{"me", "hearth/#", false},
		{"me", "#", false},
		{"me", "+/things/me/telemetry", false},
		{"me", "+/+/me/#", false},
		{"me", "$aws/things/other/shadow/update/accepted", false},
		{"me", "hearth/things/me", false},
		{"me", "hearth/things/me/", false},
		{"me", "hearth/things/me//#", false},
		{"me", "hearth/things/me/#/x", false},
		{"me", "hearth/things/me/a#", false},
		{"me", "hearth/things/me/a+", false},
		{"me", "hearth/things/me/++", false},
		{"me", "$share/workers/#", false},
		{"me", "$share/workers/hearth/things/other/#", false},
		{"me", "$share/w+/hearth/things/me/#", false},
		{"me", "$share//hearth/things/me/#", false},
		{"me", "$share/workers", false},
		{"me", "$share/workers/$share/g/hearth/things/me/#", false},
		{"me", "", false},
		{"me", "hearth/things/me/\x00", false},
		{"", "hearth/things//#", false},
	}
	for _, tt := range tests {
		if got := device.MaySubscribe(tt.thing, tt.filter); got != tt.want {
			t.Errorf("MaySubscribe(%q, %q) = %v, want %v", tt.thing, tt.filter, got, tt.want)
		}
	}
}

// FuzzTopicACL checks that no topic or filter lets a device reach past its
// own name, whatever bytes it sends.
func FuzzTopicACL(f *testing.F) {
	for _, s := range []string{
		"hearth/things/me/telemetry", "$aws/things/me/shadow/+/accepted", "hearth/things/me/#",
		"hearth/things/+/telemetry", "#", "$share/g/hearth/things/me/#", "hearth/things/me",
		"hearth/things/me//x", "$share/g/#", "hearth/things/mex/#",
	} {
		f.Add("me", s)
	}
	f.Fuzz(func(t *testing.T, thing, topic string) {
		pub := device.MayPublish(thing, topic)
		sub := device.MaySubscribe(thing, topic)
		if !pub && !sub {
			return
		}
		if device.ValidName(thing) != nil {
			t.Fatalf("allowed %q for invalid thing %q", topic, thing)
		}
		filter := topic
		if first, rest, ok := strings.Cut(topic, "/"); ok && strings.EqualFold(first, "$share") {
			_, filter, _ = strings.Cut(rest, "/")
		}
		if !strings.HasPrefix(filter, "hearth/things/"+thing+"/") && !strings.HasPrefix(filter, "$aws/things/"+thing+"/") {
			t.Fatalf("allowed %q for %q outside its own topics", topic, thing)
		}
		if pub && strings.ContainsAny(topic, "+#") {
			t.Fatalf("allowed publish with wildcard %q", topic)
		}
		if pub && !sub {
			t.Fatalf("publish allowed but subscribe refused for %q", topic)
		}
		tp, ok := device.ParseTopic(filter)
		if !ok || tp.Thing != thing || tp.Rest == "" {
			t.Fatalf("ParseTopic(%q) = %+v, %v after access was allowed", filter, tp, ok)
		}
	})
}

// TestTopicChecksDoNotAllocate guards the per-publish paths of the broker.
func TestTopicChecksDoNotAllocate(t *testing.T) {
	checks := map[string]func(){
		"IsTelemetryTopic": func() { device.IsTelemetryTopic("boiler-1", "hearth/things/boiler-1/telemetry") },
		"MayPublish":       func() { device.MayPublish("boiler-1", "$aws/things/boiler-1/shadow/update") },
		"MaySubscribe":     func() { device.MaySubscribe("boiler-1", "$share/g/$aws/things/boiler-1/shadow/+/accepted") },
	}
	for name, fn := range checks {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s allocates %v times per call", name, n)
		}
	}
}
