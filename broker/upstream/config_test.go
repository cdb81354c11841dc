package upstream

import (
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/protocol"
)

func TestConfigParse(t *testing.T) {
	ok := Config{URL: "mqtt://broker.example:1883", Group: "g", ClientID: "hearth-1"}
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string // "" = accepted
		user    string
		pass    string
	}{
		{name: "plain", change: func(*Config) {}},
		{name: "credentials in the URL", change: func(c *Config) { c.URL = "mqtts://hearth:s3cret@broker.example:8883" }, user: "hearth", pass: "s3cret"},
		{name: "credentials as flags", change: func(c *Config) { c.Username, c.Password = "u", "p" }, user: "u", pass: "p"},
		{name: "credentials twice", change: func(c *Config) { c.URL = "mqtt://a:s3cret@h:1"; c.Username = "u" }, wantErr: "both in the URL and as flags"},
		{name: "wrong scheme", change: func(c *Config) { c.URL = "http://u:s3cret@h:1" }, wantErr: "scheme must be mqtt or mqtts"},
		{name: "no port", change: func(c *Config) { c.URL = "mqtt://h" }, wantErr: "a host and a port"},
		{name: "a path", change: func(c *Config) { c.URL = "mqtt://h:1/x" }, wantErr: "no path"},
		{name: "not a URL", change: func(c *Config) { c.URL = "mqtt://u:s3cret@h:1\x7f" }, wantErr: "not a URL"},
		{name: "TLS without mqtts", change: func(c *Config) { c.TLS = &tls.Config{} }, wantErr: "use mqtts://"},
		{name: "group with a slash", change: func(c *Config) { c.Group = "a/b" }, wantErr: "--mqtt-upstream-group"},
		{name: "empty group", change: func(c *Config) { c.Group = "" }, wantErr: "--mqtt-upstream-group"},
		{name: "client id with a wildcard", change: func(c *Config) { c.ClientID = "a+" }, wantErr: "--mqtt-upstream-client-id"},
		{name: "inflight too large", change: func(c *Config) { c.Inflight = 70000 }, wantErr: "inflight"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			ep, err := c.parse()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ep.username != tt.user || ep.password != tt.pass {
				t.Errorf("credentials %q %q, want %q %q", ep.username, ep.password, tt.user, tt.pass)
			}
			if ep.url.User != nil || strings.Contains(ep.url.String(), "s3cret") {
				t.Errorf("the broker's URL keeps the credentials: %s", ep.url.Redacted())
			}
		})
	}
}

func TestParsePartition(t *testing.T) {
	for in, want := range map[string]Partition{"all": {0, 1}, "none": {}, "0/2": {0, 2}, "3/4": {3, 4}} {
		got, err := ParsePartition(in)
		if err != nil || got != want || got.String() != in && in != "0/1" {
			t.Errorf("ParsePartition(%q) = %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "2/2", "-1/2", "1/0", "a/b", "1", "0/2000", "1/2/3"} {
		if _, err := ParsePartition(in); err == nil {
			t.Errorf("ParsePartition(%q) accepted", in)
		}
	}
}

// TestPartitionsCoverEachDeviceOnce is what keeps two boxes from answering
// one shadow: the partitions of N boxes hold every name exactly once.
func TestPartitionsCoverEachDeviceOnce(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7} {
		counts := make([]int, n)
		for i := range 10000 {
			name := fmt.Sprintf("chiller-%d", i)
			owners := 0
			for p := range n {
				if (Partition{p, n}).Has(name) {
					owners++
					counts[p]++
				}
			}
			if owners != 1 {
				t.Fatalf("%s has %d owners among %d partitions", name, owners, n)
			}
		}
		for p, c := range counts {
			if c < 10000/n*8/10 {
				t.Errorf("partition %d/%d holds %d of 10000 names: too uneven", p, n, c)
			}
		}
	}
	if (Partition{}).Has("x") {
		t.Error("none holds a device")
	}
}

func TestParseLifecycle(t *testing.T) {
	at := time.UnixMilli(1765000000123)
	tests := []struct {
		topic, payload string
		want           lifecycle
		ok             bool
	}{
		{"$aws/events/presence/connected/chiller-1", `{"clientId":"chiller-1","timestamp":1765000000123,"eventType":"connected","ipAddress":"10.0.0.5"}`,
			lifecycle{thing: "chiller-1", connected: true, at: at, remote: "10.0.0.5"}, true},
		{"$aws/events/presence/disconnected/chiller-1", `{"clientId":"chiller-1","timestamp":1765000000123,"disconnectReason":"MQTT_KEEP_ALIVE_TIMEOUT"}`,
			lifecycle{thing: "chiller-1", at: at, reason: "MQTT_KEEP_ALIVE_TIMEOUT"}, true},
		{"$SYS/brokers/emqx@10.0.0.1/clients/boiler-2/connected", `{"clientid":"boiler-2","connected_at":1765000000123,"ipaddress":"10.0.0.9","proto_ver":5}`,
			lifecycle{thing: "boiler-2", connected: true, at: at, remote: "10.0.0.9", protocol: 5}, true},
		{"$SYS/brokers/emqx@10.0.0.1/clients/boiler-2/disconnected", `{"clientid":"boiler-2","disconnected_at":1765000000123,"reason":"normal"}`,
			lifecycle{thing: "boiler-2", at: at, reason: "normal"}, true},
		{"$SYS/brokers/n/clients/boiler-2/disconnected", `{"reason":{"shutdown":"x"}}`, lifecycle{thing: "boiler-2"}, true},
		{"$aws/events/presence/connected/chiller-1", ``, lifecycle{thing: "chiller-1", connected: true}, true},
		{"$aws/events/presence/subscribed/chiller-1", `{}`, lifecycle{}, false},
		{"$aws/events/presence/connected/bad name", `{}`, lifecycle{}, false},
		{"$aws/events/presence/connected/chiller-1", `not json`, lifecycle{}, false},
		{"$SYS/brokers/n/clients/x/y/connected", `{}`, lifecycle{}, false},
		{"$SYS/brokers/n/stats/x/connected", `{}`, lifecycle{}, false},
		{"hearth/things/x/telemetry", `{}`, lifecycle{}, false},
	}
	for _, tt := range tests {
		got, ok := parseLifecycle(tt.topic, []byte(tt.payload))
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseLifecycle(%q, %q) = %+v %v, want %+v %v", tt.topic, tt.payload, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParseLifecycle: any topic and payload an upstream broker delivers
// is either refused or read into a valid thing name and bounded strings.
func FuzzParseLifecycle(f *testing.F) {
	f.Add("$aws/events/presence/connected/chiller-1", []byte(`{"timestamp":1765000000123,"disconnectReason":"x"}`))
	f.Add("$SYS/brokers/n/clients/boiler-2/disconnected", []byte(`{"disconnected_at":1,"reason":"normal","proto_ver":4}`))
	f.Add("$aws/events/presence/disconnected/a", []byte(`{"timestamp":-5,"ipAddress":"\u0000\u0007"}`))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		ev, ok := parseLifecycle(topic, payload)
		if !ok {
			if ev != (lifecycle{}) {
				t.Fatalf("refused, yet %+v", ev)
			}
			return
		}
		if !strings.Contains(topic+"/", "/"+ev.thing+"/") || !protocol.IsValidName(ev.thing) {
			t.Fatalf("thing %q is not the topic's %q", ev.thing, topic)
		}
		if len(ev.reason) > 64 || len(ev.remote) > 64 || strings.ContainsAny(ev.reason+ev.remote, "\x00\n\r") {
			t.Fatalf("unbounded or unprintable strings: %+v", ev)
		}
		if !ev.at.IsZero() && (ev.at.UnixMilli() <= 0 || ev.at.UnixMilli() >= 1<<53) {
			t.Fatalf("time out of range: %v", ev.at)
		}
	})
}
