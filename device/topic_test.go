package device_test

import (
	"strings"
	"testing"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/protocol"
)

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
		tp, ok := protocol.ParseTopic(filter)
		if !ok || tp.Thing != thing || tp.Rest == "" {
			t.Fatalf("ParseTopic(%q) = %+v, %v after access was allowed", filter, tp, ok)
		}
	})
}

// sinkBool keeps a result the compiler must compute.
var sinkBool bool

// TestTopicChecksDoNotAllocate guards the per-publish paths of the broker.
func TestTopicChecksDoNotAllocate(t *testing.T) {
	checks := map[string]func(){
		"IsTelemetryTopic": func() { sinkBool = device.IsTelemetryTopic("boiler-1", "hearth/things/boiler-1/telemetry") },
		"MayPublish":       func() { device.MayPublish("boiler-1", "$aws/things/boiler-1/shadow/update") },
		"MaySubscribe":     func() { device.MaySubscribe("boiler-1", "$share/g/$aws/things/boiler-1/shadow/+/accepted") },
	}
	for name, fn := range checks {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s allocates %v times per call", name, n)
		}
	}
}
