package agent_test

import (
	"strings"
	"testing"

	"github.com/hearthiot/hearth/agent"
)

const (
	testSum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	testSig = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
)

func TestParseUpdateDocument(t *testing.T) {
	d, err := agent.ParseUpdateDocument([]byte(`{"operation":"update-agent","version":"1.4.2","url":"https://hearth.example.net/a/x?sig=1",
		"sha256":"` + testSum + `","size":"1234","signature":"` + testSig + `","notes":"ignored"}`))
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != "1.4.2" || d.URL != "https://hearth.example.net/a/x?sig=1" || len(d.SHA256) != 32 || d.Size != 1234 || len(d.Signature) != 64 {
		t.Errorf("document %+v", d)
	}
	if d, err := agent.ParseUpdateDocument([]byte(`{"operation":"update-agent","version":"2","url":"https://h/x","sha256":"` + testSum + `","size":99,"signature":""}`)); err != nil || d.Size != 99 || d.Signature != nil {
		t.Errorf("size as a number, empty signature: %+v, %v", d, err)
	}
	for _, tt := range []struct{ doc, want string }{
		{`[]`, "not a JSON object"},
		{`{"operation":"update-agent"} x`, "text after the object"},
		{`{"operation":"modbus-map"}`, `operation "modbus-map" is not update-agent`},
		{`{"operation":"update-agent","url":"https://h/x","sha256":"` + testSum + `"}`, `"version" is missing`},
		{`{"operation":"update-agent","version":"a\nb","url":"https://h/x","sha256":"` + testSum + `"}`, `is not a version`},
		{`{"operation":"update-agent","version":"2","sha256":"` + testSum + `"}`, `"url" is missing`},
		{`{"operation":"update-agent","version":"2","url":"http://h/x","sha256":"` + testSum + `"}`, `only https links`},
		{`{"operation":"update-agent","version":"2","url":"/x","sha256":"` + testSum + `"}`, `not an absolute URL`},
		{`{"operation":"update-agent","version":"2","url":"https://h/x"}`, `"sha256" is missing`},
		{`{"operation":"update-agent","version":"2","url":"https://h/x","sha256":"abc"}`, `want 64 hex digits`},
		{`{"operation":"update-agent","version":"2","url":"https://h/x","sha256":"` + testSum + `","size":"-1"}`, `"size" "-1" is not a positive`},
		{`{"operation":"update-agent","version":"2","url":"https://h/x","sha256":"` + testSum + `","signature":"c2ln"}`, `not an Ed25519 signature`},
		{`{"operation":"update-agent","version":2}`, `cannot parse the job document`},
	} {
		if _, err := agent.ParseUpdateDocument([]byte(tt.doc)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v; want %q", tt.doc, err, tt.want)
		}
	}
}

func TestParseMapDocument(t *testing.T) {
	d, err := agent.ParseMapDocument([]byte(`{"operation":"modbus-map","map":{"source":{"tcp":"10.0.0.2:502"},"points":[]}}`))
	if err != nil || string(d.Map) != `{"source":{"tcp":"10.0.0.2:502"},"points":[]}` || d.URL != "" {
		t.Errorf("inline: %+v, %v", d, err)
	}
	d, err = agent.ParseMapDocument([]byte(`{"operation":"modbus-map","url":"https://h/m.yaml","sha256":"` + testSum + `"}`))
	if err != nil || d.URL != "https://h/m.yaml" || len(d.SHA256) != 32 || d.Map != nil {
		t.Errorf("url: %+v, %v", d, err)
	}
	for _, tt := range []struct{ doc, want string }{
		{`{"operation":"modbus-map"}`, `neither "map" nor "url"`},
		{`{"operation":"modbus-map","map":[1]}`, `"map" is not an object`},
		{`{"operation":"modbus-map","map":{},"url":"https://h/m"}`, `both "map" and "url"`},
		{`{"operation":"modbus-map","map":{},"sha256":"` + testSum + `"}`, `"sha256" goes with "url"`},
		{`{"operation":"modbus-map","url":"https://h/m"}`, `"sha256" is missing`},
		{`{"operation":"modbus-map","map":{"points":"` + strings.Repeat("x", 1<<20) + `"}}`, `a register map is at most`},
	} {
		if _, err := agent.ParseMapDocument([]byte(tt.doc)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%.80s: error %v; want %q", tt.doc, err, tt.want)
		}
	}
}
