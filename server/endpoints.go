package server

import (
	"net"
	"net/url"
	"strings"
)

// Endpoints are what Hearth tells people and devices about where to reach
// it: the start-up banner, the credential bundles and the pages' device
// instructions, the single sign-on redirect addresses. They come from the
// running configuration in this one place, with the ports the listeners
// actually bound.
type Endpoints struct {
	// PublicURL is the address browsers reach Hearth at: --public-url, or
	// https://HOST:PORT with HOST the first of --tls-hosts (else
	// localhost) and PORT the HTTPS listener's.
	PublicURL string
	// Host is the name devices and people use: PublicURL's.
	Host string
	// MQTT is HOST:PORT of the MQTT over TLS listener, "" when it is off;
	// MQTTPlain that of the plain listener, "" when it is off.
	MQTT, MQTTPlain string
}

// endpoints computes the Endpoints once the listeners are bound.
func (s *Server) endpoints() Endpoints {
	var e Endpoints
	if s.cfg.Web.PublicURL != "" {
		e.PublicURL = strings.TrimSuffix(s.cfg.Web.PublicURL, "/")
		if u, err := url.Parse(e.PublicURL); err == nil {
			e.Host = u.Hostname()
		}
	}
	if e.Host == "" {
		e.Host = "localhost"
		for _, h := range s.cfg.TLS.Hosts {
			if h != "" {
				e.Host = h
				break
			}
		}
	}
	if e.PublicURL == "" {
		e.PublicURL = "https://" + hostPort(e.Host, portOf(s.httpLn.Addr()), "443")
	}
	if s.broker != nil {
		tlsAddr, plainAddr := s.broker.Addrs()
		if tlsAddr != nil {
			e.MQTT = net.JoinHostPort(e.Host, portOf(tlsAddr))
		}
		if plainAddr != nil {
			e.MQTTPlain = net.JoinHostPort(e.Host, portOf(plainAddr))
		}
	}
	return e
}

// Endpoints are the addresses a started server tells people and devices.
func (s *Server) Endpoints() Endpoints { return s.endpoints() }

func portOf(a net.Addr) string {
	_, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return ""
	}
	return port
}

// hostPort joins host and port, leaving out the scheme's default port.
func hostPort(host, port, defaultPort string) string {
	if port == defaultPort {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return net.JoinHostPort(host, port)
}
