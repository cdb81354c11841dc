package sim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAppendReport(t *testing.T) {
	tests := []struct {
		reported string
		seq      uint64
		want     string
	}{
		{"", 1, `{"state":{"reported":{"seq":1}},"clientToken":"u1"}`},
		{"21", 42, `{"state":{"reported":{"setpoint":21,"seq":42}},"clientToken":"u42"}`},
		{`{"a":[1,2]}`, 7, `{"state":{"reported":{"setpoint":{"a":[1,2]},"seq":7}},"clientToken":"u7"}`},
	}
	for _, tt := range tests {
		var reported []byte
		if tt.reported != "" {
			reported = []byte(tt.reported)
		}
		if got := string(appendReport(nil, reported, tt.seq)); got != tt.want {
			t.Errorf("appendReport(%q, %d) = %s, want %s", tt.reported, tt.seq, got, tt.want)
		}
	}
}

func TestParseToken(t *testing.T) {
	tests := []struct {
		token  string
		prefix byte
		want   uint64
		ok     bool
	}{
		{"u17", tokenUpdate, 17, true},
		{"d17", tokenUpdate, 0, false},
		{"d1795747550000001", tokenDesired, 1795747550000001, true},
		{"u", tokenUpdate, 0, false},
		{"", tokenUpdate, 0, false},
		{"u-1", tokenUpdate, 0, false},
		{"u1x", tokenUpdate, 0, false},
	}
	for _, tt := range tests {
		got, ok := parseToken(tt.token, tt.prefix)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseToken(%q, %c) = %d, %v; want %d, %v", tt.token, tt.prefix, got, ok, tt.want, tt.ok)
		}
	}
}

// testShadowDevice is a device of a run that has not connected: handle
// needs only its topics and its waiting requests.
func testShadowDevice() (*shadowRun, *shadowDevice) {
	base := "$aws/things/d1/shadow/update"
	return &shadowRun{}, &shadowDevice{
		name:          "d1",
		update:        base,
		acceptedTopic: []byte(base + "/accepted"),
		rejectedTopic: []byte(base + "/rejected"),
		deltaTopic:    []byte(base + "/delta"),
		updates:       map[uint64]int64{},
		desired:       map[int64]int64{},
		s:             &session{epoch: time.Now()},
	}
}

// TestShadowHandle feeds the replies Hearth sends, in the shapes
// docs/device-protocol.md gives them, to a device waiting for two updates
// and one desired value.
func TestShadowHandle(t *testing.T) {
	r, d := testShadowDevice()
	d.updates[1], d.updates[2] = 1, 1
	d.desired[5000001] = 1
	for _, m := range []struct{ topic, payload string }{
		// The API's own update: not the device's request.
		{"accepted", `{"state":{"desired":{"setpoint":5000001}},"metadata":{},"version":3,"timestamp":1,"clientToken":"d5000001"}`},
		{"delta", `{"state":{"setpoint":5000001},"metadata":{"setpoint":{"timestamp":1}},"version":3,"timestamp":1}`},
		{"accepted", `{"state":{"reported":{"seq":1}},"metadata":{},"version":4,"timestamp":1,"clientToken":"u1"}`},
		{"rejected", `{"code":409,"message":"Version conflict","timestamp":1,"clientToken":"u2"}`},
		// A delta no PATCH explains, and an answer to nothing sent.
		{"delta", `{"state":{"setpoint":"eco"},"metadata":{},"version":5,"timestamp":1}`},
		{"accepted", `{"state":{},"version":6,"timestamp":1,"clientToken":"u99"}`},
	} {
		if err := d.handle(r, []byte(d.update+"/"+m.topic), []byte(m.payload)); err != nil {
			t.Fatalf("%s %s: %v", m.topic, m.payload, err)
		}
	}
	got := struct {
		Accepted, Deltas, Rejected, Other, UpdateSamples, DesiredSamples uint64
		Waiting                                                          int
		Reported, FirstErr                                               string
	}{d.accepted.Load(), d.deltas.Load(), d.rejected, d.otherDeltas, d.updHist.total, d.desHist.total,
		len(d.updates) + len(d.desired), string(d.reported), r.firstErr}
	want := got
	want.Accepted, want.Deltas, want.Rejected, want.Other, want.UpdateSamples, want.DesiredSamples = 1, 2, 1, 1, 1, 1
	want.Waiting, want.Reported = 0, `"eco"`
	want.FirstErr = "update 2 of d1 rejected: 409 Version conflict"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after the replies (-want +got):\n%s", diff)
	}

	if err := d.handle(r, []byte(d.update+"/delta"), []byte(`{"state":`)); err == nil || !strings.Contains(err.Error(), "cannot parse") {
		t.Errorf("broken delta: %v, want a parse error", err)
	}
}

// FuzzShadowHandle feeds arbitrary payloads, as a broker or anything posing
// as one could send, on each reply topic: handle must not panic, and the
// value a delta leaves to be reported must keep the next update valid JSON.
func FuzzShadowHandle(f *testing.F) {
	f.Add("delta", []byte(`{"state":{"setpoint":5000001},"version":3}`))
	f.Add("delta", []byte(`{"state":{"setpoint":{"a":[1,{"b":null}]}}}`))
	f.Add("delta", []byte(`{"state":{"setpoint":1e400}}`))
	f.Add("accepted", []byte(`{"clientToken":"u1","version":2}`))
	f.Add("rejected", []byte(`{"code":400,"message":"bad","clientToken":"u18446744073709551616"}`))
	f.Add("accepted", []byte(`[]`))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		r, d := testShadowDevice()
		d.updates[1] = 1
		d.desired[5000001] = 1
		_ = d.handle(r, []byte(d.update+"/"+topic), payload)
		report := appendReport(nil, d.reported, 2)
		if !json.Valid(report) {
			t.Fatalf("after %s %q the next update is not JSON: %s", topic, payload, report)
		}
	})
}

func TestShadowLoadConfigErrors(t *testing.T) {
	ok := ShadowLoadConfig{
		Broker: "127.0.0.1:1", Devices: []Credentials{{Name: "d1"}}, Duration: time.Second,
		API: APIClientConfig{BaseURL: "https://127.0.0.1:2"},
	}
	tests := []struct {
		name   string
		change func(*ShadowLoadConfig)
		want   string
	}{
		{"no broker", func(c *ShadowLoadConfig) { c.Broker = "" }, "no broker"},
		{"no duration", func(c *ShadowLoadConfig) { c.Duration = 0 }, "duration"},
		{"twice the same device", func(c *ShadowLoadConfig) { c.Devices = append(c.Devices, c.Devices[0]) }, "appears twice"},
		{"negative update interval", func(c *ShadowLoadConfig) { c.UpdateInterval = -time.Second }, "update interval"},
		{"PATCHes without API", func(c *ShadowLoadConfig) { c.API.BaseURL = "" }, "no API base URL"},
		{"negative API concurrency", func(c *ShadowLoadConfig) { c.API.Concurrency = -1 }, "API concurrency"},
	}
	for _, tt := range tests {
		c := ok
		tt.change(&c)
		_, err := RunShadowLoad(t.Context(), c, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error mentioning %q", tt.name, err, tt.want)
		}
	}
	// Without PATCHes no API is needed, and defaults fill the rest.
	c := ok
	c.API, c.DesiredInterval = APIClientConfig{}, -1
	_, got, err := c.withDefaults()
	if err != nil {
		t.Fatalf("no PATCHes, no API: %v", err)
	}
	if got.UpdateInterval != DefaultShadowUpdateInterval || got.DrainTimeout != DefaultDrainTimeout || got.API.Concurrency != DefaultAPIConcurrency {
		t.Errorf("defaults not applied: %+v", got)
	}
}
