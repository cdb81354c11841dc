package netguard_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/internal/netguard"
)

func TestCheckHost(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		host string
		want string // "" = allowed
	}{
		{"169.254.169.254", "a cloud instance metadata service"},
		{"::ffff:169.254.169.254", "a cloud instance metadata service"},
		{"fd00:ec2::254", "a cloud instance metadata service"},
		{"100.100.100.200", "a cloud instance metadata service"},
		{"METADATA.google.internal.", "a cloud instance metadata service"},
		{"instance-data", "a cloud instance metadata service"},
		{"169.254.10.1", "a link-local address"},
		{"fe80::1", "a link-local address"},
		{"fe80::1%eth0", "a link-local address"},
		{"ff02::1", "a link-local address"},
		{"0.0.0.0", "the unspecified address"},
		{"::", "the unspecified address"},
		{"2852039166", "dotted decimal"},
		{"0xa9.0xfe.0xa9.0xfe", "dotted decimal"},
		{"169.254.43518", "dotted decimal"},
		{"127.0.0.1", ""},
		{"::1", ""},
		{"localhost", ""},
		{"10.0.0.5", ""},
		{"100.100.100.201", ""},
		{"idp.example", ""},
		{"1password.example", ""},
	} {
		err := netguard.CheckHost(tt.host)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckHost(%q) = %v, want allowed", tt.host, err)
		case tt.want != "" && (!errors.Is(err, netguard.ErrRefused) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckHost(%q) = %v, want ErrRefused saying %q", tt.host, err, tt.want)
		}
	}
}

// dnsServer answers A and AAAA queries on 127.0.0.1 from names, which
// map a fully qualified lower-case name to its addresses; any other
// name has none.
func dnsServer(t *testing.T, names map[string][]netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := answer(buf[:n], names); out != nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// answer builds the response to one DNS query, or nil for what is not
// one question of class IN.
func answer(q []byte, names map[string][]netip.Addr) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil
	}
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if l > 63 || i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i+1:])
	question := q[12 : i+5]
	var rdata [][]byte
	for _, a := range names[strings.ToLower(strings.Join(labels, "."))+"."] {
		if (qtype == 1 && a.Is4()) || (qtype == 28 && a.Is6()) {
			rdata = append(rdata, a.AsSlice())
		}
	}
	out := binary.BigEndian.AppendUint16(nil, binary.BigEndian.Uint16(q))
	out = binary.BigEndian.AppendUint16(out, 0x8180) // a response, recursion available
	out = binary.BigEndian.AppendUint16(out, 1)
	out = binary.BigEndian.AppendUint16(out, uint16(len(rdata)))
	out = append(out, 0, 0, 0, 0)
	out = append(out, question...)
	for _, r := range rdata {
		out = append(out, 0xc0, 12) // the name of the question
		out = binary.BigEndian.AppendUint16(out, qtype)
		out = binary.BigEndian.AppendUint16(out, 1)
		out = binary.BigEndian.AppendUint32(out, 60)
		out = binary.BigEndian.AppendUint16(out, uint16(len(r)))
		out = append(out, r...)
	}
	return out
}

// TestControlRefusesResolvedAddresses: names that resolve to a metadata
// or link-local address are refused after the lookup, before any
// connection; the unspecified address, which would reach a listener of
// this machine, too; a name that resolves to loopback connects.
func TestControlRefusesResolvedAddresses(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	resolver := dnsServer(t, map[string][]netip.Addr{
		"meta.test.":     {netip.MustParseAddr("169.254.169.254")},
		"ll.test.":       {netip.MustParseAddr("169.254.10.1")},
		"aws6.test.":     {netip.MustParseAddr("fd00:ec2::254")},
		"alibaba.test.":  {netip.MustParseAddr("100.100.100.200")},
		"zero.test.":     {netip.MustParseAddr("0.0.0.0")},
		"loopback.test.": {netip.MustParseAddr("127.0.0.1")},
	})
	guarded := &net.Dialer{Timeout: 5 * time.Second, Resolver: resolver, Control: netguard.Control}
	plain := &net.Dialer{Timeout: 5 * time.Second, Resolver: resolver}

	// The resolver works: without the guard, the unspecified address
	// reaches the listener on this machine.
	if c, err := plain.DialContext(t.Context(), "tcp4", net.JoinHostPort("zero.test.", port)); err != nil {
		t.Fatalf("dial zero.test without the guard: %v", err)
	} else {
		c.Close()
	}

	for _, tt := range []struct{ name, want string }{
		{"meta.test.", "169.254.169.254 is a cloud instance metadata service, refused"},
		{"ll.test.", "169.254.10.1 is a link-local address"},
		{"aws6.test.", "fd00:ec2::254 is a cloud instance metadata service"},
		{"alibaba.test.", "100.100.100.200 is a cloud instance metadata service"},
		{"zero.test.", "0.0.0.0 is the unspecified address"},
		{"169.254.169.254", "169.254.169.254 is a cloud instance metadata service"},
		{"::ffff:169.254.1.1", "169.254.1.1 is a link-local address"},
	} {
		start := time.Now()
		c, err := guarded.DialContext(t.Context(), "tcp", net.JoinHostPort(tt.name, port))
		if err == nil {
			c.Close()
			t.Errorf("dial %s: connected, want refused", tt.name)
			continue
		}
		if !errors.Is(err, netguard.ErrRefused) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("dial %s: %v, want ErrRefused saying %q", tt.name, err, tt.want)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("dial %s took %s: the refusal should come before connecting", tt.name, d)
		}
	}

	c, err := guarded.DialContext(t.Context(), "tcp", net.JoinHostPort("loopback.test.", port))
	if err != nil {
		t.Fatalf("dial loopback.test: %v, want connected", err)
	}
	c.Close()
}

// Whatever host CheckHost allows is no address it must refuse.
func FuzzCheckHost(f *testing.F) {
	for _, seed := range []string{"idp.example", "169.254.169.254", "fe80::1%eth0", "::ffff:a9fe:a9fe", "2852039166", "0x7f.1", "METADATA.", "0.0.0.0", "127.0.0.1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, host string) {
		err := netguard.CheckHost(host)
		if err != nil {
			if !errors.Is(err, netguard.ErrRefused) {
				t.Fatalf("CheckHost(%q) = %v, not ErrRefused", host, err)
			}
			return
		}
		a, perr := netip.ParseAddr(strings.ToLower(strings.TrimSuffix(host, ".")))
		if perr != nil {
			return
		}
		a = a.Unmap()
		if a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsUnspecified() || a.WithZone("") == netip.MustParseAddr("169.254.169.254") {
			t.Fatalf("CheckHost allowed %q", host)
		}
	})
}
