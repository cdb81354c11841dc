package sim

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func decode(t testing.TB, wire []byte) (packet, error) {
	t.Helper()
	p, _, err := readPacket(bufio.NewReader(bytes.NewReader(wire)), nil, 1<<16)
	return p, err
}

func TestReadPacket(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		want packet
	}{
		{"connack accepted", []byte{0x20, 2, 0, 0}, packet{kind: packetConnack}},
		{"connack session present refused", []byte{0x20, 2, 1, 5}, packet{kind: packetConnack, sessionPresent: true, code: 5}},
		{"puback", []byte{0x40, 2, 0x12, 0x34}, packet{kind: packetPuback, id: 0x1234}},
		{"suback qos1", []byte{0x90, 3, 0, 1, 1}, packet{kind: packetSuback, id: 1, code: 1, codes: []byte{1}}},
		{"suback failure", []byte{0x90, 3, 0, 7, 0x80}, packet{kind: packetSuback, id: 7, code: 0x80, codes: []byte{0x80}}},
		{"suback three filters", []byte{0x90, 5, 0, 2, 1, 0x80, 0}, packet{kind: packetSuback, id: 2, code: 1, codes: []byte{1, 0x80, 0}}},
		{"pingresp", []byte{0xd0, 0}, packet{kind: packetPingresp}},
		{"publish qos0", append([]byte{0x30, 5, 0, 1, 'a'}, "xy"...),
			packet{kind: packetPublish, topic: []byte("a"), payload: []byte("xy")}},
		{"publish qos1 retained dup", append([]byte{0x3b, 7, 0, 1, 'a', 0, 9}, "xy"...),
			packet{kind: packetPublish, flags: 0x0b, id: 9, topic: []byte("a"), payload: []byte("xy")}},
		{"publish empty payload", []byte{0x30, 3, 0, 1, 'a'},
			packet{kind: packetPublish, topic: []byte("a"), payload: []byte{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(t, tt.wire)
			if err != nil {
				t.Fatalf("readPacket(% x): %v", tt.wire, err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(packet{})); diff != "" {
				t.Errorf("readPacket(% x) mismatch (-want +got):\n%s", tt.wire, diff)
			}
		})
	}
}

func TestReadPacketRejects(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		want error
	}{
		{"empty stream", nil, io.EOF},
		{"truncated length", []byte{0x40}, io.ErrUnexpectedEOF},
		{"truncated body", []byte{0x40, 2, 0}, io.ErrUnexpectedEOF},
		{"five length bytes", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f}, errMalformed},
		{"body over limit", []byte{0x30, 0x80, 0x80, 0x80, 0x01}, errMalformed},
		{"puback with flags", []byte{0x42, 2, 0, 1}, errMalformed},
		{"puback id 0", []byte{0x40, 2, 0, 0}, errMalformed},
		{"puback too long", []byte{0x40, 3, 0, 1, 0}, errMalformed},
		{"connack bad flags", []byte{0x20, 2, 2, 0}, errMalformed},
		{"connack short", []byte{0x20, 1, 0}, errMalformed},
		{"suback short", []byte{0x90, 2, 0, 1}, errMalformed},
		{"pingresp with body", []byte{0xd0, 1, 0}, errMalformed},
		{"publish qos3", []byte{0x36, 5, 0, 1, 'a', 0, 1}, errMalformed},
		{"publish qos0 dup", []byte{0x38, 3, 0, 1, 'a'}, errMalformed},
		{"publish no topic", []byte{0x30, 1, 0}, errMalformed},
		{"publish empty topic", []byte{0x30, 2, 0, 0}, errMalformed},
		{"publish topic past end", []byte{0x30, 3, 0, 5, 'a'}, errMalformed},
		{"publish qos1 no id", []byte{0x32, 3, 0, 1, 'a'}, errMalformed},
		{"publish qos1 id 0", []byte{0x32, 5, 0, 1, 'a', 0, 0}, errMalformed},
		{"connect from broker", []byte{0x10, 0}, errMalformed},
		{"reserved type 0", []byte{0x00, 0}, errMalformed},
		{"reserved type 15", []byte{0xf0, 0}, errMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode(t, tt.wire)
			if !errors.Is(err, tt.want) {
				t.Errorf("readPacket(% x) error = %v, want %v", tt.wire, err, tt.want)
			}
		})
	}
}

func TestRemainingLength(t *testing.T) {
	tests := []struct {
		n    int
		wire []byte
	}{
		{0, []byte{0x00}},
		{127, []byte{0x7f}},
		{128, []byte{0x80, 0x01}},
		{16383, []byte{0xff, 0x7f}},
		{16384, []byte{0x80, 0x80, 0x01}},
		{2097151, []byte{0xff, 0xff, 0x7f}},
		{2097152, []byte{0x80, 0x80, 0x80, 0x01}},
		{maxRemainingLength, []byte{0xff, 0xff, 0xff, 0x7f}},
	}
	for _, tt := range tests {
		got := appendRemainingLength(nil, tt.n)
		if !bytes.Equal(got, tt.wire) {
			t.Errorf("appendRemainingLength(%d) = % x, want % x", tt.n, got, tt.wire)
		}
		n, err := readRemainingLength(bytes.NewReader(tt.wire))
		if err != nil || n != tt.n {
			t.Errorf("readRemainingLength(% x) = %d, %v, want %d", tt.wire, n, err, tt.n)
		}
	}
}

// Fixtures from MQTT 3.1.1: the client's packets byte for byte.
func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"connect anonymous", appendConnect(nil, connectOptions{clientID: "d1", keepAlive: 60}),
			[]byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 2, 'd', '1'}},
		{"connect password", appendConnect(nil, connectOptions{clientID: "d", username: "u", password: "p", keepAlive: 5}),
			[]byte{0x10, 19, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xc2, 0, 5, 0, 1, 'd', 0, 1, 'u', 0, 1, 'p'}},
		{"connect username only", appendConnect(nil, connectOptions{clientID: "d", username: "u"}),
			[]byte{0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x82, 0, 0, 0, 1, 'd', 0, 1, 'u'}},
		{"publish qos1", appendPublish(nil, "t/a", []byte("{}"), 1, 0x0102),
			[]byte{0x32, 9, 0, 3, 't', '/', 'a', 1, 2, '{', '}'}},
		{"publish qos0", appendPublish(nil, "t", []byte("x"), 0, 7),
			[]byte{0x30, 4, 0, 1, 't', 'x'}},
		{"puback", appendPuback(nil, 0xbeef), []byte{0x40, 2, 0xbe, 0xef}},
		{"subscribe", appendSubscribe(nil, 1, 1, "a/+"),
			[]byte{0x82, 8, 0, 1, 0, 3, 'a', '/', '+', 1}},
		{"subscribe two filters", appendSubscribe(nil, 2, 1, "a", "b/c"),
			[]byte{0x82, 12, 0, 2, 0, 1, 'a', 1, 0, 3, 'b', '/', 'c', 1}},
		{"pingreq", appendPingreq(nil), []byte{0xc0, 0}},
		{"disconnect", appendDisconnect(nil), []byte{0xe0, 0}},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s: encoded % x, want % x", tt.name, tt.got, tt.want)
		}
	}
}

func TestPublishLongPayload(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 200_000)
	wire := appendPublish(nil, "hearth/things/d/telemetry", payload, 1, 42)
	p, err := decode(t, wire)
	if err == nil {
		t.Fatalf("decode with 64 KiB limit accepted %d bytes", len(wire))
	}
	p, _, err = readPacket(bufio.NewReader(bytes.NewReader(wire)), nil, 1<<20)
	if err != nil {
		t.Fatalf("readPacket: %v", err)
	}
	if p.id != 42 || string(p.topic) != "hearth/things/d/telemetry" || !bytes.Equal(p.payload, payload) {
		t.Errorf("round trip: id %d topic %q payload %d bytes", p.id, p.topic, len(p.payload))
	}
}

func TestConnackError(t *testing.T) {
	for code, want := range map[byte]string{
		4:  "connection refused: bad user name or password (code 4)",
		5:  "connection refused: not authorized (code 5)",
		9:  "connection refused: code 9",
		0:  "connection refused: code 0",
		99: "connection refused: code 99",
	} {
		if got := connackError(code).Error(); got != want {
			t.Errorf("connackError(%d) = %q, want %q", code, got, want)
		}
	}
}

// FuzzReadPacket feeds arbitrary bytes, as a broker or anything posing as
// one could send, to the packet reader: it must never panic, never accept a
// body above its limit, and whatever it accepts as PUBLISH or PUBACK must
// survive encoding and decoding again unchanged.
func FuzzReadPacket(f *testing.F) {
	f.Add([]byte{0x20, 2, 0, 0})
	f.Add([]byte{0x40, 2, 0x12, 0x34})
	f.Add([]byte{0x90, 3, 0, 1, 1})
	f.Add([]byte{0xd0, 0})
	f.Add(appendPublish(nil, "hearth/things/d/telemetry", []byte(`{"co2_ppm":612}`), 1, 3))
	f.Add(appendPublish(nil, "a", nil, 0, 0))
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{0x32, 0x80, 0x01})
	const limit = 4096
	f.Fuzz(func(t *testing.T, wire []byte) {
		r := bufio.NewReader(bytes.NewReader(wire))
		var buf []byte
		for range 8 {
			p, nb, err := readPacket(r, buf, limit)
			buf = nb
			if err != nil {
				return
			}
			if len(p.topic)+len(p.payload) > limit {
				t.Fatalf("accepted %d bytes over limit %d", len(p.topic)+len(p.payload), limit)
			}
			var again []byte
			switch p.kind {
			case packetPublish:
				again = appendPublish(nil, string(p.topic), p.payload, p.qos(), p.id)
				again[0] |= p.flags & 0x09 // DUP and RETAIN, which the client never sets
			case packetPuback:
				again = appendPuback(nil, p.id)
			default:
				continue
			}
			q, err := decode(t, again)
			if err != nil {
				t.Fatalf("re-decode % x: %v", again, err)
			}
			if diff := cmp.Diff(p, q, cmp.AllowUnexported(packet{})); diff != "" {
				t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
			}
		}
	})
}
