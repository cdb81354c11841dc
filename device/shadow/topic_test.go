package shadow_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/protocol"
)

type parsed struct {
	Thing, ShadowName, Op string
	OK                    bool
}

func TestParseTopic(t *testing.T) {
	long := strings.Repeat("a", protocol.MaxNameLength)
	longName := strings.Repeat("n", shadow.MaxNameLength)
	tests := []struct {
		topic string
		want  parsed
	}{
		{"$aws/things/me/shadow/get", parsed{"me", "", "get", true}},
		{"$aws/things/me/shadow/update", parsed{"me", "", "update", true}},
		{"$aws/things/me/shadow/delete", parsed{"me", "", "delete", true}},
		{"$aws/things/ahu:1_a-B/shadow/name/cfg_2:x-Y/update", parsed{"ahu:1_a-B", "cfg_2:x-Y", "update", true}},
		{"$aws/things/me/shadow/name/n/get", parsed{"me", "n", "get", true}},
		{"$aws/things/me/shadow/name/n/delete", parsed{"me", "n", "delete", true}},
		{"$aws/things/" + long + "/shadow/name/" + longName + "/get", parsed{long, longName, "get", true}},
		// A shadow may be named like an operation.
		{"$aws/things/me/shadow/name/update/update", parsed{"me", "update", "update", true}},

		// Replies are not requests.
		{"$aws/things/me/shadow/update/accepted", parsed{}},
		{"$aws/things/me/shadow/update/rejected", parsed{}},
		{"$aws/things/me/shadow/update/delta", parsed{}},
		{"$aws/things/me/shadow/update/documents", parsed{}},
		{"$aws/things/me/shadow/get/accepted", parsed{}},
		{"$aws/things/me/shadow/name/n/delete/rejected", parsed{}},
		// Not quite a request.
		{"", parsed{}},
		{"$aws/things/me/shadow", parsed{}},
		{"$aws/things/me/shadow/", parsed{}},
		{"$aws/things/me/shadow/list", parsed{}},
		{"$aws/things/me/shadow/GET", parsed{}},
		{"$aws/things/me/shadow/update/", parsed{}},
		{"$aws/things/me/shadow//update", parsed{}},
		{"$aws/things/me/shadow/name/update", parsed{}},
		{"$aws/things/me/shadow/name//update", parsed{}},
		{"$aws/things/me/shadow/name/a/b/update", parsed{}},
		{"$aws/things/me/shadow/name/a.b/update", parsed{}},
		{"$aws/things/me/shadow/name/" + longName + "n/update", parsed{}},
		{"$aws/things/" + long + "a/shadow/update", parsed{}},
		{"$aws/things//shadow/update", parsed{}},
		{"$aws/things/+/shadow/update", parsed{}},
		{"$aws/things/me/shadow/+", parsed{}},
		{"$aws/things/me/shadow/#", parsed{}},
		{"$aws/things/mé/shadow/update", parsed{}},
		{"$aws/things/me/jobs/get", parsed{}},
		{"$AWS/things/me/shadow/update", parsed{}},
		{"/$aws/things/me/shadow/update", parsed{}},
		{"hearth/things/me/shadow/update", parsed{}},
	}
	for _, tt := range tests {
		var got parsed
		got.Thing, got.ShadowName, got.Op, got.OK = shadow.ParseTopic(tt.topic)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseTopic(%q) (-want +got):\n%s", tt.topic, diff)
		}
	}
}

func TestInShadowSpace(t *testing.T) {
	tests := []struct {
		topic string
		want  bool
	}{
		{"$aws/things/me/shadow", true},
		{"$aws/things/me/shadow/update", true},
		{"$aws/things/me/shadow/update/accepted", true},
		{"$aws/things/me/shadow/name/n/update/delta", true},
		{"$aws/things/me/shadow/anything/else", true},
		{"$aws/things/me/shadows", false},
		{"$aws/things/me/jobs/get", false},
		{"$aws/things/me", false},
		{"$aws/things/shadow", false},
		{"hearth/things/me/shadow/update", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := shadow.InShadowSpace(tt.topic); got != tt.want {
			t.Errorf("InShadowSpace(%q) = %v, want %v", tt.topic, got, tt.want)
		}
	}
}

func TestDeltaTopic(t *testing.T) {
	tests := []struct {
		thing, name, want string
	}{
		{"me", "", "$aws/things/me/shadow/update/delta"},
		{"me", "cfg", "$aws/things/me/shadow/name/cfg/update/delta"},
	}
	for _, tt := range tests {
		got := shadow.DeltaTopic(tt.thing, tt.name)
		if got != tt.want {
			t.Errorf("DeltaTopic(%q, %q) = %q, want %q", tt.thing, tt.name, got, tt.want)
		}
		if _, _, _, ok := shadow.ParseTopic(got); ok {
			t.Errorf("delta topic %q parses as a request", got)
		}
		if !shadow.InShadowSpace(got) {
			t.Errorf("delta topic %q is outside the shadow topics", got)
		}
	}
}

// FuzzParseTopic checks that every topic ParseTopic accepts is spelled the
// one way its parts give, that its names pass the name rules, and that it
// lies in the shadow topics.
func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{
		"$aws/things/me/shadow/update",
		"$aws/things/me/shadow/name/n/get",
		"$aws/things/me/shadow/name/n/delete/accepted",
		"$aws/things/me/shadow/update/delta",
		"$aws/things//shadow/name//update",
		"$aws/things/a/shadow/name/b/c/update",
		"hearth/things/me/telemetry",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		thing, name, op, ok := shadow.ParseTopic(topic)
		if !ok {
			if thing != "" || name != "" || op != "" {
				t.Fatalf("ParseTopic(%q) refused but returned %q %q %q", topic, thing, name, op)
			}
			return
		}
		want := "$aws/things/" + thing + "/shadow/" + op
		if name != "" {
			want = "$aws/things/" + thing + "/shadow/name/" + name + "/" + op
			if err := shadow.ValidName(name); err != nil {
				t.Fatalf("ParseTopic(%q) accepted shadow name: %v", topic, err)
			}
		}
		if topic != want {
			t.Fatalf("ParseTopic(%q) = %q %q %q, which spell %q", topic, thing, name, op, want)
		}
		if thing == "" || len(thing) > protocol.MaxNameLength || strings.ContainsAny(thing, "/+#$") {
			t.Fatalf("ParseTopic(%q) accepted thing %q", topic, thing)
		}
		if !shadow.InShadowSpace(topic) {
			t.Fatalf("request %q is outside the shadow topics", topic)
		}
		if _, _, _, ok := shadow.ParseTopic(shadow.DeltaTopic(thing, name)); ok {
			t.Fatalf("delta topic of %q parses as a request", topic)
		}
	})
}
