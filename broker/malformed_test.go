package broker_test

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// CONNECT flags (MQTT 3.1.1 and 5, section 3.1.2.3).
const (
	flagReserved = 0x01
	flagClean    = 0x02
	flagWill     = 0x04
	flagWillQoS1 = 0x08
	flagWillQoS3 = 0x18
	flagRetain   = 0x20
	flagPassword = 0x40
	flagUser     = 0x80
)

// mqttString is a length-prefixed MQTT string, written as given, valid
// UTF-8 or not.
func mqttString(s string) []byte {
	return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...)
}

// rawPacket frames the parts as one packet with first as its first byte.
func rawPacket(first byte, parts ...[]byte) []byte {
	var body []byte
	for _, p := range parts {
		body = append(body, p...)
	}
	out := []byte{first}
	for n := len(body); ; {
		d := byte(n % 128)
		if n /= 128; n > 0 {
			d |= 0x80
		}
		out = append(out, d)
		if n == 0 {
			break
		}
	}
	return append(out, body...)
}

// connectHead is a CONNECT's variable header: protocol name and level,
// flags, keepalive 30 s, and for level 5 no properties.
func connectHead(name string, level, flags byte) []byte {
	h := append(mqttString(name), level, flags, 0, 30)
	if level == 5 {
		h = append(h, 0)
	}
	return h
}

// A malformed CONNECT is closed without a CONNACK over MQTT 3.1.1, which
// has no code for it (section 3.1.4), and gets 0x81 malformed packet or
// 0x82 protocol error over MQTT 5, or nothing when mochi could not decode
// it. Only what MQTT names gets a code of its own; never 3 "server
// unavailable", which firmware retries for ever. Each CONNECT carries the
// device's own credentials, so that nothing but its fault refuses it.
func TestMalformedConnect(t *testing.T) {
	f := newFixture(t, nil)
	d := f.newDevice(t, "valve-1")
	id, user, pass := mqttString(d.name), mqttString(d.name), mqttString(d.secret)
	willTopic, willMsg := mqttString("hearth/things/valve-1/state"), mqttString("gone")
	noProps := []byte{0}
	creds := byte(flagUser | flagPassword | flagClean)
	const closed = 0 // no CONNACK; the connection is closed

	tests := []struct {
		name string
		opts connOpts // where to dial; the plain listener unless told
		pk   []byte
		want byte // CONNACK code, or closed
	}{
		// MQTT 3.1.1
		{"reserved flag v3", connOpts{}, rawPacket(0x10, connectHead("MQTT", 4, creds|flagReserved), id, user, pass), closed},
		{"will QoS 3 v3", connOpts{}, rawPacket(0x10, connectHead("MQTT", 4, creds|flagWill|flagWillQoS3), id, willTopic, willMsg, user, pass), closed},
		{"will QoS without a will v3", connOpts{}, rawPacket(0x10, connectHead("MQTT", 4, creds|flagWillQoS1), id, user, pass), closed},
		{"will retain without a will v3", connOpts{}, rawPacket(0x10, connectHead("MQTT", 4, creds|flagRetain), id, user, pass), closed},
		// With the certificate alone the device would be let in.
		{"password without user name v3", f.certOpts(d), rawPacket(0x10, connectHead("MQTT", 4, flagPassword|flagClean), id, pass), closed},
		{"user name flag without a user name v3", connOpts{}, rawPacket(0x10, connectHead("MQTT", 4, flagUser|flagClean), id), closed},
		{"client id not UTF-8 v3", connOpts{}, rawPacket(0x10, connectHead("MQTT", 4, creds), mqttString("valve\xff1"), user, pass), closed},
		{"fixed header flags v3", connOpts{}, rawPacket(0x12, connectHead("MQTT", 4, creds), id, user, pass), closed},
		{"protocol name v3", connOpts{}, rawPacket(0x10, connectHead("MQTX", 4, creds), id, user, pass), closed},
		{"over TLS v3", f.secretOpts(d), rawPacket(0x10, connectHead("MQTT", 4, creds|flagReserved), id, user, pass), closed},
		// What MQTT 3.1.1 has a code for gets it.
		{"empty client id without clean session v3", connOpts{}, rawPacket(0x10, connectHead("MQTT", 4, flagUser|flagPassword), mqttString(""), user, pass), v3IdentifierRejected},
		{"protocol level 3 named MQTT", connOpts{}, rawPacket(0x10, connectHead("MQTT", 3, creds), id, user, pass), 1},
		{"protocol level 6", connOpts{}, rawPacket(0x10, connectHead("MQTT", 6, creds), id, user, pass), 1},
		{"will retain v3", connOpts{}, rawPacket(0x10, connectHead("MQTT", 4, creds|flagWill|flagWillQoS1|flagRetain), id, willTopic, willMsg, user, pass), v3NotAuthorized},

		// MQTT 5
		{"reserved flag v5", connOpts{}, rawPacket(0x10, connectHead("MQTT", 5, creds|flagReserved), id, user, pass), 0x81},
		{"will QoS 3 v5", connOpts{}, rawPacket(0x10, connectHead("MQTT", 5, creds|flagWill|flagWillQoS3), id, noProps, willTopic, willMsg, user, pass), 0x81},
		{"will QoS without a will v5", connOpts{}, rawPacket(0x10, connectHead("MQTT", 5, creds|flagWillQoS1), id, user, pass), 0x81},
		{"will retain without a will v5", connOpts{}, rawPacket(0x10, connectHead("MQTT", 5, creds|flagRetain), id, user, pass), 0x82},
		{"will without a topic v5", connOpts{}, rawPacket(0x10, connectHead("MQTT", 5, creds|flagWill|flagWillQoS1), id, noProps, mqttString(""), willMsg, user, pass), 0x82},
		{"over TLS v5", f.secretOpts(d), rawPacket(0x10, connectHead("MQTT", 5, creds|flagReserved), id, user, pass), 0x81},
		// mochi cannot decode these and closes.
		{"user name flag without a user name v5", connOpts{}, rawPacket(0x10, connectHead("MQTT", 5, flagUser|flagClean), id), closed},
		{"client id not UTF-8 v5", connOpts{}, rawPacket(0x10, connectHead("MQTT", 5, creds), mqttString("valve\x001"), user, pass), closed},
		{"unknown property v5", connOpts{}, rawPacket(0x10, mqttString("MQTT"), []byte{5, creds, 0, 30, 2, 0x7f, 0}, id, user, pass), closed},
		{"protocol name v5", connOpts{}, rawPacket(0x10, connectHead("MQTX", 5, creds), id, user, pass), closed},
		// Not malformed: MQTT 5 allows a password alone, and without a
		// user name it is no credential.
		{"password without user name v5", connOpts{}, rawPacket(0x10, connectHead("MQTT", 5, flagPassword|flagClean), id, pass), v5BadCredentials},
		{"will retain v5", connOpts{}, rawPacket(0x10, connectHead("MQTT", 5, creds|flagWill|flagWillQoS1|flagRetain), id, noProps, willTopic, willMsg, user, pass), 0x9a},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			if o.addr == "" {
				o = connOpts{addr: f.plainAddr}
			}
			conn, err := f.dial(o)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			r, code, answered, err := sendConnect(conn, tt.pk)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == closed {
				if answered {
					t.Fatalf("CONNACK %#x, want the connection closed without one", code)
				}
				return
			}
			if !answered || code != tt.want {
				t.Fatalf("CONNACK code = %#x (answered %v), want %#x", code, answered, tt.want)
			}
			if _, err := r.ReadByte(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("after the refusing CONNACK, read: %v; want the connection closed", err)
			}
		})
	}

	// The refusals are logged with the answer sent; an operator can tell
	// a CONNECT closed without one.
	for _, want := range [][]string{
		{`reason="reserved flag set"`, `protocol_version="4"`, `reason_code="none"`},
		{`reason="reserved flag set"`, `protocol_version="5"`, `reason_code="0x81"`},
		{`reason="password without user name"`, `reason_code="none"`},
		{`reason="unsupported protocol version"`, `reason_code="0x01"`},
	} {
		if got := f.logs.matching(append([]string{"mqtt connect refused"}, want...)...); len(got) == 0 {
			t.Errorf("no refusal logged with %q", want)
		}
	}

	// The device's own CONNECT, written the same way, is accepted: the
	// refusals above are the faults', not the bytes'.
	for _, level := range []byte{4, 5} {
		conn, err := f.dial(connOpts{addr: f.plainAddr})
		if err != nil {
			t.Fatal(err)
		}
		_, code, answered, err := sendConnect(conn, rawPacket(0x10, connectHead("MQTT", level, creds), id, user, pass))
		conn.Close()
		if err != nil || !answered || code != 0 {
			t.Errorf("well-formed CONNECT level %d: CONNACK %#x answered %v (%v), want accepted", level, code, answered, err)
		}
	}
}

// FuzzRawConnect sends CONNECTs of arbitrary flags, level and payload to
// the plain listener: none is told 3 "server unavailable" (0x88, 0x89 in
// MQTT 5), which only a failing server may say, and none is accepted
// without the device's secret in it.
func FuzzRawConnect(f *testing.F) {
	fx := newFixture(f, nil)
	d := fx.newDevice(f, "fuzz-raw-1")
	creds := append(append(mqttString(d.name), mqttString(d.name)...), mqttString(d.secret)...)
	for _, flags := range []byte{0xc2, 0xc3, 0xca, 0xe2, 0x42, 0x82, 0xc0, 0xde} {
		f.Add(flags, byte(4), creds, false)
		f.Add(flags, byte(5), creds, false)
	}
	f.Add(byte(0xc2), byte(5), append([]byte{2, 0x7f, 0}, creds...), true)
	f.Add(byte(0xc2), byte(3), creds, false)
	f.Fuzz(func(t *testing.T, flags, level byte, rest []byte, rawProps bool) {
		if len(rest) > 1000 {
			return
		}
		head := append(mqttString("MQTT"), level, flags, 0, 30)
		if level == 5 && !rawProps {
			head = append(head, 0)
		}
		conn, err := fx.dial(connOpts{addr: fx.plainAddr})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, code, answered, err := sendConnect(conn, rawPacket(0x10, head, rest))
		if err != nil {
			t.Fatal(err)
		}
		if !answered {
			return
		}
		switch {
		case level == 5 && (code == 0x88 || code == 0x89), level != 5 && code == 3:
			t.Fatalf("level %d flags %#x: CONNACK %#x, a server failure", level, flags, code)
		case code == 0 && !bytes.Contains(rest, []byte(d.secret)):
			t.Fatalf("level %d flags %#x: accepted without the secret", level, flags)
		}
	})
}
