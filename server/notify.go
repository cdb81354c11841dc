package server

import (
	"context"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hearthiot/hearth/notify"
)

// startNotifications starts the notification service: deliveries left
// pending at the last stop resume, and every channel gets its worker. Its
// stop step waits for the attempts under way and records them.
func (s *Server) startNotifications(ctx context.Context) error {
	s.self = s.newSelfCheck()
	c := s.cfg.Notify
	svc, err := notify.New(notify.Config{
		RetryFor:    c.RetryFor,
		GroupWindow: c.GroupWindow,
		PublicURL:   s.cfg.Web.PublicURL,
		Location:    s.location(),
		Self:        s.self.is,
		SMTP: notify.SMTPConfig{
			Host: c.SMTP.Host, Port: c.SMTP.Port, User: c.SMTP.User, Password: c.SMTP.Password, From: c.SMTP.From,
		},
	}, s.store, s.logger.With("component", "notify"))
	if err != nil {
		return err
	}
	if err := svc.Start(ctx); err != nil {
		return err
	}
	s.notify = svc
	s.onStop("notifications", svc.Stop)
	return nil
}

// location is the pages' time zone, the one e-mail uses for people
// without their own.
func (s *Server) location() *time.Location {
	loc, err := time.LoadLocation(s.cfg.Web.TimeZone)
	if err != nil {
		return nil
	}
	return loc
}

// notifyListening tells the notification service what only the bound
// HTTPS listener knows: its port, which no channel may call, and the
// public address links are built from.
func (s *Server) notifyListening() {
	if s.notify == nil {
		return
	}
	s.self.addPort(portOf(s.httpLn.Addr()))
	s.notify.SetPublicURL(s.endpoints().PublicURL)
}

// Notifications is the running notification service, for the alarms that
// enqueue messages and for tests.
func (s *Server) Notifications() *notify.Service { return s.notify }

// selfCheck recognises Hearth's own addresses: a listener's port on a
// name or an address of this machine, or the public URL's host and port.
// A webhook there would call Hearth's own API with what it is sent.
type selfCheck struct {
	mu     sync.Mutex
	ports  map[string]bool // of Hearth's listeners
	names  map[string]bool // lower-cased names of this machine
	public string          // host:port of the public URL, lower-cased
}

func (s *Server) newSelfCheck() *selfCheck {
	c := &selfCheck{ports: map[string]bool{}, names: map[string]bool{"localhost": true}}
	for _, addr := range []string{s.cfg.HTTP.Addr, s.cfg.MQTT.Addr, s.cfg.MQTT.PlainAddr} {
		if _, port, err := net.SplitHostPort(addr); err == nil && port != "0" && port != "" {
			c.ports[port] = true
		}
	}
	if s.broker != nil {
		tlsAddr, plain := s.broker.Addrs()
		for _, a := range []net.Addr{tlsAddr, plain} {
			if a != nil {
				c.ports[portOf(a)] = true
			}
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		c.names[strings.ToLower(h)] = true
	}
	for _, h := range s.cfg.TLS.Hosts {
		c.names[strings.ToLower(h)] = true
	}
	if u, err := url.Parse(s.cfg.Web.PublicURL); s.cfg.Web.PublicURL != "" && err == nil {
		port := u.Port()
		if port == "" {
			port = "443"
		}
		c.public = strings.ToLower(net.JoinHostPort(u.Hostname(), port))
		c.names[strings.ToLower(u.Hostname())] = true
	}
	return c
}

func (c *selfCheck) addPort(port string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ports[port] = true
}

// is reports whether host and port reach Hearth.
func (c *selfCheck) is(host, port string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.public != "" && net.JoinHostPort(host, port) == c.public {
		return true
	}
	if !c.ports[port] {
		return false
	}
	if c.names[host] || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
