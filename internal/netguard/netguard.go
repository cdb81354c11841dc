package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
)

// ErrRefused is matched by every *Refused.
var ErrRefused = errors.New("address refused")

// What Refused names, in words that follow "is" or "resolves to".
const (
	whatMetadata    = "a cloud instance metadata service"
	whatLinkLocal   = "a link-local address (169.254.0.0/16, fe80::/10)"
	whatUnspecified = "the unspecified address (0.0.0.0, ::)"
	whatNumeric     = "an IPv4 address not written in dotted decimal (192.0.2.1)"
)

// Refused says which host was refused and what it is.
type Refused struct {
	// Host is the name or address refused, as given.
	Host string
	// What is what it is, e.g. "a link-local address (169.254.0.0/16,
	// fe80::/10)".
	What string
}

func (e *Refused) Error() string { return fmt.Sprintf("%s is %s, refused", e.Host, e.What) }

// Is makes errors.Is(err, ErrRefused) true.
func (e *Refused) Is(target error) bool { return target == ErrRefused }

// metadataHosts are the names cloud providers give their instance
// metadata services.
var metadataHosts = []string{"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}

// metadataAddrs are instance metadata addresses: the one most clouds
// use, AWS's over IPv6 and Alibaba Cloud's, the last two outside the
// link-local ranges.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254"), netip.MustParseAddr("100.100.100.200"),
}

// CheckAddr refuses an instance metadata address, any other link-local
// address (unicast or multicast, IPv4 or IPv6, IPv4 mapped into IPv6
// too) and the unspecified address; it returns a *Refused or nil.
func CheckAddr(a netip.Addr) error {
	a = a.Unmap()
	var what string
	switch {
	case slices.Contains(metadataAddrs, a.WithZone("")):
		what = whatMetadata
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		what = whatLinkLocal
	case a.IsUnspecified():
		what = whatUnspecified
	default:
		return nil
	}
	return &Refused{Host: a.String(), What: what}
}

// CheckHost is CheckAddr for the host of a URL, before any lookup: an
// address literal, a metadata service's name, or a name made only of
// numbers, which some resolvers read as an IPv4 address ("2852039166",
// "0xa9.0xfe.0xa9.0xfe"). Other names pass; Control checks what they
// resolve to when they are dialled.
func CheckHost(host string) error {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if a, err := netip.ParseAddr(h); err == nil {
		if err := CheckAddr(a); err != nil {
			return &Refused{Host: host, What: err.(*Refused).What}
		}
		return nil
	}
	switch {
	case slices.Contains(metadataHosts, h):
		return &Refused{Host: host, What: whatMetadata}
	case numericHost(h):
		return &Refused{Host: host, What: whatNumeric}
	}
	return nil
}

// numericHost reports whether host is made only of numbers, decimal or
// 0x hexadecimal.
func numericHost(host string) bool {
	for label := range strings.SplitSeq(host, ".") {
		rest := strings.TrimLeft(label, "0123456789")
		if l := strings.ToLower(label); strings.HasPrefix(l, "0x") {
			rest = strings.TrimLeft(l[2:], "0123456789abcdef")
		}
		if label == "" || rest != "" {
			return false
		}
	}
	return true
}

// Control is a net.Dialer's Control: it runs after a name is resolved,
// for each address tried, and refuses those CheckAddr refuses, so that
// no connection to them is opened whatever name led there. An address
// that is not an IP address and port is refused too.
func Control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("dial %s %q: %w", network, address, err)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("dial %s %q: not an IP address: %w", network, address, err)
	}
	return CheckAddr(a)
}
