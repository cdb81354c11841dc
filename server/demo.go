package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/gate/secret"
	"github.com/hearthiot/hearth/sim"
	"github.com/hearthiot/hearth/sim/model"
	"github.com/hearthiot/hearth/store"
)

// DemoConfig turns on the demo: a customer with four sites of simulated
// equipment, run inside this process over the real MQTT listener.
type DemoConfig struct {
	Enabled bool
	// Interval between two readings of one simulated device.
	Interval time.Duration
	// FaultAfter is when, after a start, the hotel's chiller has a fault
	// that raises an alarm (default 20 minutes).
	FaultAfter time.Duration
}

// Demo data. The sites are in Japan, so the equipment follows Tokyo's
// clock and climate whatever the machine's time zone.
const (
	demoCustomer = "demo"
	demoEmail    = "demo@hearth.local"
	demoZone     = "Asia/Tokyo"
	// demoHistory is what each demo device back-fills when it is created,
	// so that the charts have a week to show from the first minute.
	demoHistory     = 7 * 24 * time.Hour
	demoHistoryStep = time.Minute
	// demoJobDuration is how long a demo device works on a job, and
	// demoJobDownloadMax the most of a job's file it downloads.
	demoJobDuration    = 5 * time.Second
	demoJobDownloadMax = 64 << 20
)

var demoSites = []struct {
	name, display string
	building      model.Building
	rooms         []string
}{
	{"shinjuku-hotel", "Hotel Sakura Shinjuku", model.Hotel, []string{"lobby", "banquet", "restaurant"}},
	{"marunouchi-office", "Marunouchi Office Tower", model.Office, []string{"floor-12", "meeting-a", "meeting-b"}},
	{"yokohama-clinic", "Yokohama Bay Clinic", model.Hospital, []string{"waiting-room", "ward-3", "outpatient"}},
	{"kyoto-school", "Kyoto Gakuen School", model.School, []string{"classroom-1a", "classroom-2b", "library"}},
}

// demoDevice is one device of the demo, as seeded.
type demoDevice struct {
	name, site string
	kind       sim.Kind
	building   model.Building
}

func demoDevices() []demoDevice {
	var out []demoDevice
	for _, s := range demoSites {
		out = append(out, demoDevice{s.name + "-chiller", s.name, sim.KindChiller, s.building})
		for _, r := range s.rooms {
			out = append(out, demoDevice{s.name + "-iaq-" + r, s.name, sim.KindIAQ, s.building})
		}
	}
	return out
}

// startDemo seeds the demo customer, its sites, device types, devices and
// a customer account (each only when missing, so a restart keeps what an
// operator changed), and starts the simulated fleet. The devices'
// credentials are kept in DATA/demo, since Hearth hands out secrets only
// once; a device whose credentials were lost gets new ones.
func (s *Server) startDemo(ctx context.Context) error {
	if !s.cfg.Demo.Enabled {
		return nil
	}
	loc, err := time.LoadLocation(demoZone)
	if err != nil {
		return fmt.Errorf("load time zone %s: %w", demoZone, err)
	}
	if err := s.seedDemo(); err != nil {
		return err
	}
	if err := s.seedDemoCalendars(ctx); err != nil {
		return err
	}
	if err := s.seedDemoRules(ctx); err != nil {
		return err
	}
	creds, fresh, err := s.demoCredentials()
	if err != nil {
		return err
	}
	byName := map[string]sim.Credentials{}
	for _, c := range creds {
		byName[c.Name] = c
	}
	var devices []sim.FleetDevice
	now := time.Now()
	for i, d := range demoDevices() {
		fd := sim.FleetDevice{Credentials: byName[d.name], Kind: d.kind, Building: d.building, Seed: uint64(i + 1), Location: loc}
		if d.kind == sim.KindChiller && d.building == model.Hotel {
			fd.FaultAfter = cmp.Or(s.cfg.Demo.FaultAfter, demoFaultAfter) // the hotel's chiller runs day and night
		}
		if fresh && d.kind == sim.KindChiller {
			// The back-filled week follows what the calendar said each day.
			if fd.History, err = s.demoHistoryPrograms(d.name, now); err != nil {
				return err
			}
		}
		devices = append(devices, fd)
	}
	tlsAddr, _ := s.broker.Addrs()
	if tlsAddr == nil {
		return errors.New("the demo connects over MQTT/TLS, which is turned off (--mqtt)")
	}
	cfg := sim.FleetConfig{
		Broker:   withHost(tlsAddr, "127.0.0.1"),
		TLS:      &tls.Config{RootCAs: s.authority.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12},
		Devices:  devices,
		Interval: s.cfg.Demo.Interval,
		// Jobs take a moment and fetch their artifact, so a rollout shows
		// its progress on the job's page.
		JobDuration: demoJobDuration, JobDownloadMax: demoJobDownloadMax,
	}
	if fresh {
		cfg.Backfill, cfg.BackfillStep = demoHistory, demoHistoryStep
		// Within the broker's limits: a chiller's sample takes about 250
		// bytes of JSON.
		cfg.BackfillBatch = max(1, min(sim.DefaultBackfillBatch, s.cfg.Telemetry.MaxBatch, s.cfg.MQTT.MaxPayload/400))
	}
	fleet, err := sim.StartFleet(ctx, cfg, s.logger.With("component", "demo"))
	if err != nil {
		return fmt.Errorf("start the simulated devices: %w", err)
	}
	s.onStop("demo", fleet.Stop)
	s.logger.Info("demo devices started", "customer", demoCustomer, "devices", len(devices), "interval", cfg.Interval)
	return nil
}

// demoDir keeps the demo devices' credentials; its credentials file marks
// the demo customer as the demo's own.
func (s *Server) demoDir() string { return filepath.Join(s.cfg.DataDir, "demo") }

// seedDemo creates what the demo needs and is missing.
func (s *Server) seedDemo() error {
	// The demo's equipment is of built-in types; one an operator deleted
	// comes back as shipped, since the demo's devices need it.
	builtin, err := device.BuiltinTypes()
	if err != nil {
		return err
	}
	for _, k := range []sim.Kind{sim.KindChiller, sim.KindIAQ} {
		name, _ := sim.DeviceType(k)
		if _, err := s.types.Get(name); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("read device type %q: %w", name, err)
		}
		i := slices.IndexFunc(builtin, func(t store.DeviceType) bool { return t.Name == name })
		if i < 0 {
			return fmt.Errorf("the demo's device type %q is not a built-in type", name)
		}
		if _, err := s.types.Put(builtin[i]); err != nil {
			return fmt.Errorf("create device type %q: %w", name, err)
		}
	}
	_, err = s.registry.CreateCustomer(store.Customer{Name: demoCustomer, DisplayName: "Sakura Facilities (demo)"})
	switch {
	case errors.Is(err, store.ErrExists):
		// The demo's own customer has the demo's credentials file; one of
		// that name without it is somebody's real customer, which the
		// demo must not take over.
		if _, statErr := os.Stat(filepath.Join(s.demoDir(), "credentials.json")); statErr != nil {
			return fmt.Errorf("a customer named %q exists that the demo did not create; run without --demo, or rename that customer", demoCustomer)
		}
	case err != nil:
		return fmt.Errorf("create demo customer: %w", err)
	}
	for _, site := range demoSites {
		if _, err := s.registry.CreateSite(store.Site{Customer: demoCustomer, Name: site.name, DisplayName: site.display, TimeZone: demoZone}); err != nil && !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("create demo site %q: %w", site.name, err)
		}
	}
	return s.seedDemoUser()
}

// seedDemoUser creates the demo customer's facility manager, whose
// one-time password is printed once, like the first operator's.
func (s *Server) seedDemoUser() error {
	if _, err := s.store.GetUser(demoEmail); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("read demo user: %w", err)
	}
	password := secret.GeneratePassword()
	hash, err := secret.HashPassword(password)
	if err != nil {
		return fmt.Errorf("hash demo user password: %w", err)
	}
	err = s.store.CreateUser(store.User{
		Email: demoEmail, Role: store.RoleCustomer, Customer: demoCustomer, Access: store.AccessAdmin,
		PasswordHash: hash, MustChangePassword: true, CreatedAt: time.Now().UTC(),
	})
	if errors.Is(err, store.ErrExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create demo user: %w", err)
	}
	fmt.Fprintf(s.console, "\n"+
		"  Demo customer account (the password is shown only this once):\n"+
		"    email:    %s\n"+
		"    password: %s\n", demoEmail, password)
	return nil
}

// demoCredentials returns every demo device's credentials, creating the
// devices that are missing and issuing new credentials to those whose
// saved ones are gone. fresh is true when any device was created: the
// fleet then back-fills history.
func (s *Server) demoCredentials() (creds []sim.Credentials, fresh bool, err error) {
	dir := s.demoDir()
	saved, err := sim.LoadCredentials(dir)
	if err != nil && !errors.Is(err, sim.ErrNoCredentials) && !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	have := map[string]sim.Credentials{}
	for _, c := range saved {
		have[c.Name] = c
	}
	changed := false
	for _, d := range demoDevices() {
		var iss device.Issued
		existing, err := s.registry.Device(d.name)
		if err == nil && existing.Customer != demoCustomer {
			return nil, false, fmt.Errorf("a device named %q belongs to customer %q; the demo does not take it over: run without --demo, or rename that device", d.name, existing.Customer)
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			typ, _ := sim.DeviceType(d.kind)
			if iss, err = s.registry.CreateDevice(device.DeviceSpec{Name: d.name, Customer: demoCustomer, Site: d.site, Type: typ}); err != nil {
				return nil, false, fmt.Errorf("create demo device %q: %w", d.name, err)
			}
			fresh = true
		case err != nil:
			return nil, false, fmt.Errorf("read demo device %q: %w", d.name, err)
		default:
			if c, ok := have[d.name]; ok && s.registry.HasActiveCredential(d.name) {
				creds = append(creds, c)
				continue
			}
			if iss, err = s.registry.RotateCredentials(d.name); err != nil {
				return nil, false, fmt.Errorf("issue credentials to demo device %q: %w", d.name, err)
			}
		}
		changed = true
		creds = append(creds, sim.Credentials{Name: d.name, Secret: iss.Secret})
	}
	if changed {
		if err := sim.SaveCredentials(dir, creds); err != nil {
			return nil, false, err
		}
	}
	return creds, fresh, nil
}
