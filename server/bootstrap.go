package server

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hearthiot/hearth/gate/secret"
	"github.com/hearthiot/hearth/store"
)

// bootstrap creates the first operator account when the store has no users,
// and prints its one-time password on the console, once. The password is
// never logged.
func (s *Server) bootstrap() error {
	users, err := s.store.ListUsers()
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	if len(users) > 0 {
		return nil
	}
	password := secret.GeneratePassword()
	hash, err := secret.HashPassword(password)
	if err != nil {
		return fmt.Errorf("hash first operator password: %w", err)
	}
	err = s.store.CreateUser(store.User{
		Email:              s.cfg.AdminEmail,
		Role:               store.RoleOperator,
		PasswordHash:       hash,
		MustChangePassword: true,
		CreatedAt:          time.Now().UTC(),
	})
	if errors.Is(err, store.ErrExists) {
		// Someone added this account through the admin socket meanwhile;
		// the password above was never stored, so it is not shown.
		s.logger.Info("first operator account already exists", "email", s.cfg.AdminEmail)
		return nil
	}
	if err != nil {
		return fmt.Errorf("create first operator: %w", err)
	}
	s.logger.Info("created first operator account", "email", s.cfg.AdminEmail)
	fmt.Fprintf(s.console, "\n"+
		"  First operator account (the password is shown only this once):\n"+
		"    email:    %s\n"+
		"    password: %s\n", s.cfg.AdminEmail, password)
	return nil
}

// printBanner says where everything is, as the last lines a newcomer sees.
func (s *Server) printBanner() {
	ep := s.endpoints()
	var b strings.Builder
	fmt.Fprintf(&b, "\n  Hearth %s is ready.\n", s.version)
	fmt.Fprintf(&b, "    Dashboard:         %s/\n", ep.PublicURL)
	fmt.Fprintf(&b, "    API:               %s/api/v1\n", ep.PublicURL)
	if ep.MQTT != "" {
		fmt.Fprintf(&b, "    MQTT over TLS:     mqtts://%s\n", ep.MQTT)
	}
	if ep.MQTTPlain != "" {
		fmt.Fprintf(&b, "    MQTT (plain):      mqtt://%s\n", ep.MQTTPlain)
	}
	if s.cfg.Demo.Enabled {
		fmt.Fprintf(&b, "    Demo:              customer %q, %d simulated devices on %d sites\n", demoCustomer, len(demoDevices()), len(demoSites))
	}
	fmt.Fprintf(&b, "    CA certificate:    %s\n", s.cfg.caFile())
	fmt.Fprintf(&b, "    Data directory:    %s\n\n", s.cfg.DataDir)
	fmt.Fprint(s.console, b.String())
}

// withHost turns a wildcard listen address into one with the given host: a
// name a person can open, or the loopback address to dial from this machine.
// A listener bound to one address keeps it.
func withHost(a net.Addr, wildcard string) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = wildcard
	}
	return net.JoinHostPort(host, port)
}
