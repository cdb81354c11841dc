package ui

import (
	"bytes"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/google/go-cmp/cmp"
)

func TestSessionCodec(t *testing.T) {
	deadline := time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC)
	values := map[string]any{keyEmail: "fm@acme.example", keyRole: "customer", keyCustomer: "acme",
		keySource: "user", keyProvider: "", keyIDToken: "eyJ", keyFlash: "Saved."}
	first, err := sessionCodec{}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if b, _ := (sessionCodec{}).Encode(deadline, values); !bytes.Equal(b, first) {
			t.Fatalf("the same session encoded to %s and %s", first, b)
		}
	}
	gotDeadline, got, err := sessionCodec{}.Decode(first)
	if err != nil || !gotDeadline.Equal(deadline) {
		t.Fatalf("decode: deadline %v, %v", gotDeadline, err)
	}
	if diff := cmp.Diff(values, got); diff != "" {
		t.Errorf("decoded values (-want +got):\n%s", diff)
	}

	// A session an earlier version wrote with gob still reads.
	old, err := scs.GobCodec{}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	if d, got, err := (sessionCodec{}).Decode(old); err != nil || !d.Equal(deadline) || !cmp.Equal(values, got) {
		t.Errorf("gob session decoded to %v %v, %v", d, got, err)
	}

	if _, err := (sessionCodec{}).Encode(deadline, map[string]any{"n": 1}); err == nil {
		t.Error("a number was encoded; it would come back as a float64")
	}
}

func FuzzSessionDecode(f *testing.F) {
	b, _ := sessionCodec{}.Encode(time.Unix(0, 0), map[string]any{"email": "a@b"})
	f.Add(b)
	f.Add([]byte(`{"deadline":"x"}`))
	f.Add([]byte{0x1f, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, values, err := sessionCodec{}.Decode(b)
		if err != nil || !bytes.HasPrefix(b, []byte("{")) {
			return
		}
		again, err := sessionCodec{}.Encode(d, values)
		if err != nil {
			t.Fatalf("a decoded session does not encode: %v", err)
		}
		d2, values2, err := sessionCodec{}.Decode(again)
		if err != nil || !d2.Equal(d) || !cmp.Equal(values, values2) {
			t.Fatalf("round trip changed the session: %v %v, %v", d2, values2, err)
		}
	})
}
