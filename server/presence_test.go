package server_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/store"
)

// TestPresenceOverAPI: the API shows a device online while its MQTT
// connection is open, offline with the time it left once it is closed, and
// filters the list by it.
func TestPresenceOverAPI(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "ahu-1", "acme")
	h.addDevice(op, "ahu-2", "acme")

	type state struct {
		Name           string     `json:"name"`
		Online         bool       `json:"online"`
		LastSeen       *time.Time `json:"last_seen"`
		ConnectedAt    *time.Time `json:"connected_at"`
		DisconnectedAt *time.Time `json:"disconnected_at"`
	}
	get := func() state {
		var s state
		if st := h.apiCall(op, "GET", "/api/v1/devices/ahu-1", nil, &s); st != 200 {
			t.Fatalf("GET device: status %d", st)
		}
		return s
	}
	names := func(query string) []string {
		var page struct{ Devices []state }
		if st := h.apiCall(op, "GET", "/api/v1/devices"+query, nil, &page); st != 200 {
			t.Fatalf("GET devices%s: status %d", query, st)
		}
		out := []string{}
		for _, s := range page.Devices {
			out = append(out, s.Name)
		}
		return out
	}

	if s := get(); s.Online || s.ConnectedAt != nil || s.LastSeen != nil {
		t.Errorf("before connecting: %+v; want offline, no times", s)
	}
	v, _, err := h.v5("ahu-1", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	// The session is recorded once it is established, just after the
	// CONNACK is on its way.
	eventually(t, "the device to be online", func() bool { return get().Online })
	if s := get(); !s.Online || s.ConnectedAt == nil || s.LastSeen == nil || s.DisconnectedAt != nil {
		t.Errorf("while connected: %+v; want online with connected_at and last_seen", s)
	}
	if diff := cmp.Diff([]string{"ahu-1"}, names("?online=true")); diff != "" {
		t.Errorf("online devices (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ahu-2"}, names("?online=false")); diff != "" {
		t.Errorf("offline devices (-want +got):\n%s", diff)
	}

	if err := v.c.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the device to be offline", func() bool { return !get().Online })
	if s := get(); s.DisconnectedAt == nil || s.ConnectedAt == nil || s.DisconnectedAt.Before(*s.ConnectedAt) {
		t.Errorf("after disconnect: %+v; want disconnected_at after connected_at", s)
	}
	if diff := cmp.Diff([]string{}, names("?online=true")); diff != "" {
		t.Errorf("online devices after disconnect (-want +got):\n%s", diff)
	}
}

// presenceJSON is a device's connection state as the API shows it.
type presenceJSON struct {
	Name           string     `json:"name"`
	Online         bool       `json:"online"`
	LastSeen       *time.Time `json:"last_seen"`
	ConnectedAt    *time.Time `json:"connected_at"`
	DisconnectedAt *time.Time `json:"disconnected_at"`
}

func (h *hearth) presenceOf(token, name string) presenceJSON {
	h.t.Helper()
	var s presenceJSON
	if st := h.apiCall(token, "GET", "/api/v1/devices/"+url.PathEscape(name), nil, &s); st != 200 {
		h.t.Fatalf("GET device %s: status %d", name, st)
	}
	return s
}

// onlineDevices lists the names of the devices the API shows online.
func (h *hearth) onlineDevices(token string) []string {
	h.t.Helper()
	var page struct{ Devices []presenceJSON }
	if st := h.apiCall(token, "GET", "/api/v1/devices?online=true&limit=1000", nil, &page); st != 200 {
		h.t.Fatalf("GET online devices: status %d", st)
	}
	out := []string{}
	for _, s := range page.Devices {
		out = append(out, s.Name)
	}
	return out
}

// savedPresence reads the presence records of a stopped server's store.
func savedPresence(t *testing.T, dir string) map[string]store.PresenceRecord {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.ListPresence()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.PresenceRecord{}
	for _, r := range recs {
		out[r.Device] = r
	}
	return out
}

// sameTime compares optional times by instant: the API shows them in the
// zone they were recorded in, which a restart may change.
var sameTime = cmp.Comparer(func(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
})

// TestPresenceSurvivesRestart: after a graceful restart on the same data
// directory the API shows every device offline with the times it had
// before; a device that left shows why, and one still connected when
// Hearth stopped ends with server_shutdown.
func TestPresenceSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	h := startHearth(t, dir)
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	left := h.addDevice(op, "ahu-1", "acme")
	stayed := h.addDevice(op, "boiler-1", "acme")
	h.addDevice(op, "co2-1", "acme") // never connects

	v, _, err := h.v5("ahu-1", left, true, "")
	if err != nil {
		t.Fatal(err)
	}
	if rc, err := v.publish("hearth/things/ahu-1/telemetry", []byte(`{"sat_c": 14.5}`)); err != nil || rc != 0 {
		t.Fatalf("publish: reason %#x, %v", rc, err)
	}
	if err := v.c.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ahu-1 to be offline", func() bool {
		s := h.presenceOf(op, "ahu-1")
		return !s.Online && s.DisconnectedAt != nil
	})
	c, _, err := h.v3("boiler-1", stayed, true, "")
	if err != nil {
		t.Fatal(err)
	}
	if tok := c.Publish("hearth/things/boiler-1/telemetry", 1, false, `{"hw_supply_c": 61.5}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	eventually(t, "boiler-1 to be online", func() bool { return h.presenceOf(op, "boiler-1").Online })

	leftBefore := h.presenceOf(op, "ahu-1")
	stayedBefore := h.presenceOf(op, "boiler-1")
	if leftBefore.ConnectedAt == nil || leftBefore.LastSeen == nil {
		t.Fatalf("ahu-1 before the restart: %+v; want its times", leftBefore)
	}
	stopping := time.Now()
	h.stop()
	stopped := time.Now()

	saved := savedPresence(t, dir)
	if r := saved["ahu-1"]; r.Online || r.Reason != device.ReasonClean {
		t.Errorf("ahu-1 saved as %+v; want offline, reason clean", r)
	}
	if r := saved["boiler-1"]; r.Online || r.Reason != device.ReasonServerShutdown {
		t.Errorf("boiler-1 saved as %+v; want offline, reason server_shutdown", r)
	}
	if r, ok := saved["co2-1"]; ok {
		t.Errorf("co2-1 never connected, yet saved as %+v", r)
	}

	h2 := startHearth(t, dir)
	if diff := cmp.Diff(leftBefore, h2.presenceOf(op, "ahu-1"), sameTime); diff != "" {
		t.Errorf("ahu-1 after the restart (-before +after):\n%s", diff)
	}
	after := h2.presenceOf(op, "boiler-1")
	want := stayedBefore
	want.Online = false
	want.DisconnectedAt = after.DisconnectedAt
	if diff := cmp.Diff(want, after, sameTime); diff != "" {
		t.Errorf("boiler-1 after the restart (-want +got):\n%s", diff)
	}
	if d := after.DisconnectedAt; d == nil || d.Before(stopping) || d.After(stopped) {
		t.Errorf("boiler-1 disconnected_at %v; want the stop, between %v and %v", d, stopping, stopped)
	}
	if s := h2.presenceOf(op, "co2-1"); s.Online || s.ConnectedAt != nil || s.LastSeen != nil || s.DisconnectedAt != nil {
		t.Errorf("co2-1 after the restart: %+v; want offline without times", s)
	}

	// A new session takes over from the restored state at once.
	if _, _, err := h2.v3("boiler-1", stayed, true, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "boiler-1 to be online again", func() bool {
		s := h2.presenceOf(op, "boiler-1")
		return s.Online && s.ConnectedAt.After(stopped)
	})
}

// TestPresenceAfterCrash: a record still saying online, as a crash after a
// periodic save leaves it, comes back offline, ended at its last packet
// with reason server_restart, and is saved so.
func TestPresenceAfterCrash(t *testing.T) {
	dir := t.TempDir()
	h := startHearth(t, dir)
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	h.addDevice(op, "ahu-1", "acme")
	h.stop()

	connected := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	lastSeen := connected.Add(90 * time.Minute)
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = st.PutPresence([]store.PresenceRecord{{Device: "ahu-1", Online: true, ConnectedAt: connected, LastSeen: lastSeen, Remote: "192.0.2.10:50000", Protocol: 5}})
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	h2 := startHearth(t, dir)
	want := presenceJSON{Name: "ahu-1", ConnectedAt: &connected, DisconnectedAt: &lastSeen, LastSeen: &lastSeen}
	if diff := cmp.Diff(want, h2.presenceOf(op, "ahu-1"), sameTime); diff != "" {
		t.Errorf("after the crash (-want +got):\n%s", diff)
	}
	h2.stop()
	wantRec := store.PresenceRecord{Device: "ahu-1", ConnectedAt: connected, DisconnectedAt: lastSeen, LastSeen: lastSeen, Reason: device.ReasonServerRestart, Remote: "192.0.2.10:50000", Protocol: 5}
	if diff := cmp.Diff(wantRec, savedPresence(t, dir)["ahu-1"]); diff != "" {
		t.Errorf("saved after the restart (-want +got):\n%s", diff)
	}
}

// stormConn is one MQTT 5 connection of the reconnect storm.
type stormConn struct {
	c    *paho.Client
	conn net.Conn
}

// stormConnect connects name over conn, with its secret when secret is not
// empty (otherwise the TLS connection carries its certificate). It fails
// when the connection is refused or broken, as when another connection of
// the same client id takes over at that moment.
func stormConnect(ctx context.Context, conn net.Conn, name, secret string) (*stormConn, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c := paho.NewClient(paho.ClientConfig{
		Conn:               packets.NewThreadSafeConn(conn),
		OnClientError:      func(error) {},
		OnServerDisconnect: func(*paho.Disconnect) {},
	})
	cp := &paho.Connect{ClientID: name, KeepAlive: 30, CleanStart: true}
	if secret != "" {
		cp.Username, cp.UsernameFlag = name, true
		cp.Password, cp.PasswordFlag = []byte(secret), true
	}
	if _, err := c.Connect(ctx, cp); err != nil {
		conn.Close()
		return nil, err
	}
	return &stormConn{c: c, conn: conn}, nil
}

// TestPresenceReconnectStorm: many devices reconnect with the same client
// id from two places at once, leaving cleanly, dropping the connection or
// being taken over, and then connect once more over TLS while the other
// devices still storm, taking over whatever connection is left. Whatever
// order the broker reports connects and disconnects in, every device ends
// online with its last connection, and offline with reason clean once that
// one leaves.
//
// The storm runs on the plain listener, with the devices' secrets: what it
// tests is the broker's and presence's ordering, which TLS handshakes would
// only slow down.
func TestPresenceReconnectStorm(t *testing.T) {
	const (
		devices = 100
		rounds  = 20 // per goroutine, two goroutines per device
	)
	dir := t.TempDir()
	h := startHearth(t, dir)
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	names := make([]string, devices)
	secrets := make([]string, devices)
	tlsOf := make([]*tls.Config, devices)
	for i := range names {
		names[i] = fmt.Sprintf("storm-%03d", i)
		d := h.addDevice(op, names[i], "acme")
		secrets[i] = d.Secret
		tlsOf[i] = h.clientTLS(&d)
	}

	// The deadline bounds the storm on a busy machine; what follows holds
	// however many rounds ran.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var connects, failures atomic.Int64
	plain := func(i int) (*stormConn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", h.plain)
		if err != nil {
			return nil, err
		}
		return stormConnect(ctx, conn, names[i], secrets[i])
	}
	// storm reconnects device i, and leaves its last connection open.
	storm := func(i, g int) *stormConn {
		for r := 0; r < rounds && ctx.Err() == nil; r++ {
			sc, err := plain(i)
			if err != nil {
				failures.Add(1)
				continue
			}
			connects.Add(1)
			if r == rounds-1 {
				return sc
			}
			// QoS 0: the storm is about connections, not about waiting
			// for telemetry to be stored.
			_, _ = sc.c.Publish(ctx, &paho.Publish{Topic: "hearth/things/" + names[i] + "/telemetry", Payload: []byte(`{"co2_ppm": 600}`)})
			if (r+g)%2 == 0 {
				_ = sc.c.Disconnect(&paho.Disconnect{})
			}
			sc.conn.Close()
		}
		return nil
	}
	finals := make([]*stormConn, devices)
	finalAt := make([]time.Time, devices)
	finalErr := make([]error, devices)
	var wg sync.WaitGroup
	for i := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			left := make(chan *stormConn, 2)
			for g := range 2 {
				go func() { left <- storm(i, g) }()
			}
			leftover := []*stormConn{<-left, <-left}
			// The last connection takes over whichever storm connection
			// is still open.
			finalAt[i] = time.Now()
			tc := tls.Dialer{Config: tlsOf[i]}
			conn, err := tc.DialContext(context.Background(), "tcp", h.mqtts)
			if err == nil {
				finals[i], err = stormConnect(context.Background(), conn, names[i], "")
			}
			finalErr[i] = err
			for _, sc := range leftover {
				if sc != nil {
					sc.conn.Close()
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("storm: %d connections, %d refused or broken", connects.Load(), failures.Load())
	if ctx.Err() != nil {
		t.Logf("storm stopped at its deadline")
	}
	for i, sc := range finals {
		if sc == nil {
			t.Fatalf("last connection of %s: %v", names[i], finalErr[i])
		}
		t.Cleanup(func() { sc.conn.Close() })
	}
	if connects.Load() < 2*devices {
		t.Fatalf("only %d storm connections succeeded", connects.Load())
	}

	eventually(t, "every device to be online", func() bool { return len(h.onlineDevices(op)) == devices })
	if diff := cmp.Diff(names, slices.Sorted(slices.Values(h.onlineDevices(op)))); diff != "" {
		t.Errorf("online devices (-want +got):\n%s", diff)
	}
	for i, name := range names {
		if s := h.presenceOf(op, name); s.ConnectedAt == nil || s.ConnectedAt.Before(finalAt[i]) {
			t.Errorf("%s: connected_at %v; want its last connection's, after %v", name, s.ConnectedAt, finalAt[i])
		}
	}

	for i, sc := range finals {
		if err := sc.c.Disconnect(&paho.Disconnect{}); err != nil {
			t.Errorf("disconnect %s: %v", names[i], err)
		}
	}
	eventually(t, "every device to be offline", func() bool { return len(h.onlineDevices(op)) == 0 })
	h.stop()
	saved := savedPresence(t, dir)
	for i, name := range names {
		if r, ok := saved[name]; !ok || r.Online || r.Reason != device.ReasonClean || r.ConnectedAt.Before(finalAt[i]) || r.DisconnectedAt.Before(r.ConnectedAt) {
			t.Errorf("%s saved as %+v (found: %t); want its last connection, offline, reason clean", name, r, ok)
		}
	}
}
