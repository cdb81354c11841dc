package broker_test

import (
	"bytes"
	"runtime/pprof"
	"strings"
	"testing"
)

// An established TLS connection is served on a goroutine of its own, not
// on the one its handshake grew the stack of: every idle connection would
// keep that larger stack.
func TestTLSConnectionServedAfterHandshakeOnFreshGoroutine(t *testing.T) {
	f := newFixture(t, nil)
	d := f.newDevice(t, "boiler-1")
	f.mustV5(t, f.certOpts(d))

	var dump bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&dump, 2); err != nil {
		t.Fatal(err)
	}
	var readers []string
	for _, g := range strings.Split(dump.String(), "\n\n") {
		if strings.Contains(g, "mochi-mqtt/server/v2.(*Client).Read(") {
			readers = append(readers, g)
		}
	}
	if len(readers) != 1 {
		t.Fatalf("%d goroutines read from a client, want 1:\n%s", len(readers), strings.Join(readers, "\n\n"))
	}
	if !strings.Contains(readers[0], "created by github.com/hearthiot/hearth/broker.(*listener).handshake") {
		t.Errorf("the reading goroutine was not started after the handshake:\n%s", readers[0])
	}
	if strings.Contains(readers[0], "HandshakeContext") {
		t.Errorf("the reading goroutine ran the handshake:\n%s", readers[0])
	}
}
