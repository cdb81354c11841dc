package agent_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/agent"
)

// FuzzParseConfig: any file is either refused with a *ConfigError or gives
// a configuration whose required parts are there.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(fullConfig))
	f.Add([]byte("device: x\nhearth: {address: 'h:1', plain: true, secret: s}\nspool: {dir: d}\nmodbus: {points: []}\n"))
	f.Add([]byte("device: &a x\nhearth: *a\n"))
	f.Add([]byte("a: [1, {b: c}]\n---\nd: e\n"))
	f.Add([]byte("device: !!binary aGVsbG8=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := agent.ParseConfig(b)
		if err != nil {
			var ce *agent.ConfigError
			if !errors.As(err, &ce) || ce.Message == "" {
				t.Fatalf("error %v (%T) is not a *ConfigError with a message", err, err)
			}
			return
		}
		if cfg.Device == "" || cfg.Hearth.Address == "" || cfg.Spool.Dir == "" || cfg.Modbus == nil {
			t.Fatalf("accepted a configuration without its required parts: %+v", cfg)
		}
		if cfg.Hearth.Secret == "" && cfg.Hearth.SecretFile == "" && (cfg.Hearth.CertificateFile == "" || cfg.Hearth.KeyFile == "") {
			t.Fatalf("accepted a configuration without credentials: %+v", cfg.Hearth)
		}
	})
}

// FuzzDecodeRecord: a decoded record encodes back to the bytes it came
// from.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(agent.AppendRecord(nil, agent.Record{Seq: 7, TS: 1767225600000, Payload: []byte(`{"ts":1767225600000,"values":{"co2_ppm":612}}`)}))
	f.Add(agent.AppendRecord(nil, agent.Record{Seq: 0, TS: -1}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, n, err := agent.DecodeRecord(b)
		if err != nil {
			return
		}
		if n > len(b) || len(rec.Payload) > agent.MaxRecordBytes {
			t.Fatalf("record of %d bytes from %d", n, len(b))
		}
		if again := agent.AppendRecord(nil, rec); !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoded %x; read from %x", again, b[:n])
		}
	})
}

// FuzzOpenSpool: whatever a segment file holds, opening the spool neither
// fails nor panics, keeps only records in order, and the spool takes new
// records after them.
func FuzzOpenSpool(f *testing.F) {
	good := append([]byte("HSPOOL1\n"), make([]byte, 8)...)
	for i := range 3 {
		good = agent.AppendRecord(good, agent.Record{Seq: uint64(i), TS: int64(100 + i), Payload: payload(i)})
	}
	f.Add(good, []byte{})
	f.Add(good[:len(good)-5], []byte("HHEAD1\n\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("HSPOOL1\n"), []byte("x"))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, seg, head []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000000000000000000.seg"), seg, 0o600); err != nil {
			t.Fatal(err)
		}
		if len(head) > 0 {
			os.WriteFile(filepath.Join(dir, "head"), head, 0o600)
		}
		s, err := agent.OpenSpool(dir, agent.SpoolOptions{MaxSamples: 100}, nil)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer s.Close()
		ts := s.NextTimestamp(0)
		if _, err := s.Append(ts, []byte(`{"ts":1,"values":{"v":1}}`)); err != nil {
			t.Fatalf("append after open: %v", err)
		}
		recs, err := s.Peek(1000, 1<<20)
		if err != nil {
			t.Fatalf("peek: %v", err)
		}
		if len(recs) == 0 || recs[len(recs)-1].TS != ts {
			t.Fatalf("the record just appended is not last: %+v", recs)
		}
		for i := 1; i < len(recs); i++ {
			if recs[i].Seq != recs[i-1].Seq+1 || recs[i].TS <= recs[i-1].TS {
				t.Fatalf("records out of order: %+v then %+v", recs[i-1], recs[i])
			}
		}
	})
}

// noJSONNumbers fails when a decoded document still holds json.Number
// values: the agent compares and writes float64.
func noJSONNumbers(t *testing.T, v any) {
	t.Helper()
	switch x := v.(type) {
	case json.Number:
		t.Fatalf("json.Number %s left in a decoded document", x)
	case map[string]any:
		for _, e := range x {
			noJSONNumbers(t, e)
		}
	case []any:
		for _, e := range x {
			noJSONNumbers(t, e)
		}
	}
}

func FuzzParseShadowGet(f *testing.F) {
	f.Add([]byte(`{"state":{"desired":{"chw_setpoint_c":7,"program":{"date":"2026-12-02","steps":[{"at":"07:00","set":{"mode":"cooling"}}]}},"reported":{"chw_setpoint_c":7.5},"delta":{"chw_setpoint_c":7}},"metadata":{},"version":12,"timestamp":1767225600}`))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"state":{"desired":{"a":1e999}},"version":1}`))
	f.Add([]byte(`{"state":null,"version":1} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := agent.ParseShadowGet(b)
		if err != nil {
			return
		}
		noJSONNumbers(t, st.Desired)
		noJSONNumbers(t, st.Reported)
	})
}

func FuzzParseDelta(f *testing.F) {
	f.Add([]byte(`{"version":13,"timestamp":1767225600,"state":{"chw_setpoint_c":8,"mode":"heating"},"metadata":{"chw_setpoint_c":{"timestamp":1767225600}}}`))
	f.Add([]byte(`{"version":13,"state":{"x":[1,{"y":2}]}}`))
	f.Add([]byte(`{"state":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := agent.ParseDelta(b)
		if err != nil {
			return
		}
		if d.State == nil {
			t.Fatal("delta accepted without a state")
		}
		noJSONNumbers(t, d.State)
	})
}

func FuzzParseShadowError(f *testing.F) {
	f.Add([]byte(`{"code":404,"message":"No shadow exists with name: 'chiller-1'","clientToken":"agent-1"}`))
	f.Add([]byte(`{"code":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := agent.ParseShadowError(b); err != nil && !strings.HasPrefix(err.Error(), "shadow error: ") {
			t.Fatalf("error %q lacks its context", err)
		}
	})
}

func FuzzParseProgramFile(f *testing.F) {
	f.Add([]byte(`{"program":{"date":"2026-12-02","tz":"Asia/Tokyo","steps":[{"at":"07:00","set":{"mode":"cooling","chw_setpoint_c":7}},{"at":"19:00","set":{"mode":"off"}}]},"applied_ms":1764626400000}`))
	f.Add([]byte(`{"program":null,"applied_ms":0}`))
	f.Add([]byte(`{"program":{"date":"2026-13-40","steps":[]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, raw, _, err := agent.ParseProgramFile(b)
		if err != nil {
			return
		}
		if raw == nil || len(p.Steps) == 0 {
			t.Fatalf("accepted a program without steps: %s", b)
		}
	})
}

// FuzzParseUpdateDocument: a job document is refused with an error, or
// gives an update whose link is https and whose digest and signature have
// their sizes.
func FuzzParseUpdateDocument(f *testing.F) {
	f.Add([]byte(`{"operation":"update-agent","version":"1.4.2","url":"https://h/x?sig=1","sha256":"` + testSum + `","size":"12","signature":"` + testSig + `"}`))
	f.Add([]byte(`{"operation":"update-agent","version":"","url":"http://h"}`))
	f.Add([]byte(`{"size":1e99}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := agent.ParseUpdateDocument(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if d.Version == "" || !strings.HasPrefix(d.URL, "https://") || len(d.SHA256) != 32 || d.Size < 0 ||
			d.Signature != nil && len(d.Signature) != 64 {
			t.Fatalf("accepted %+v", d)
		}
	})
}

// FuzzParseMapDocument: a modbus-map document gives an inline object or a
// link with its digest, never both.
func FuzzParseMapDocument(f *testing.F) {
	f.Add([]byte(`{"operation":"modbus-map","map":{"source":{"tcp":"h:502"},"points":[]}}`))
	f.Add([]byte(`{"operation":"modbus-map","url":"https://h/m","sha256":"` + testSum + `"}`))
	f.Add([]byte(`{"operation":"modbus-map","map":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := agent.ParseMapDocument(b)
		if err != nil {
			return
		}
		inline := len(d.Map) > 0
		if inline == (d.URL != "") || inline && (d.Map[0] != '{' || !json.Valid(d.Map)) || !inline && len(d.SHA256) != 32 {
			t.Fatalf("accepted %+v", d)
		}
	})
}
