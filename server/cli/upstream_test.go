package cli_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/hearthiot/hearth/broker/upstream"
)

// needMosquitto returns the mosquitto binary; missing, it skips the test,
// or fails it with HEARTH_REQUIRE_TOOLS=1.
func needMosquitto(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	if os.Getenv("HEARTH_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s not found and HEARTH_REQUIRE_TOOLS=1: apt-get install mosquitto", name)
	}
	t.Skipf("%s not found (install Debian's mosquitto package; HEARTH_REQUIRE_TOOLS=1 fails instead)", name)
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// upstreamBroker is a mosquitto on 127.0.0.1 that can be restarted on
// the same port.
type upstreamBroker struct {
	t    *testing.T
	bin  string
	conf string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
	log  *syncBuffer
}

// startUpstreamBroker runs mosquitto on 127.0.0.1 with a password file
// holding users, until the test ends.
func startUpstreamBroker(t *testing.T, users map[string]string) *upstreamBroker {
	t.Helper()
	bin := needMosquitto(t, "mosquitto")
	pwTool := needMosquitto(t, "mosquitto_passwd")
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwords")
	if err := os.WriteFile(pw, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, secret := range users {
		if out, err := exec.Command(pwTool, "-b", pw, name, secret).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
	}
	m := &upstreamBroker{t: t, bin: bin, conf: filepath.Join(dir, "mosquitto.conf"), log: &syncBuffer{}}
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", m.log)
		}
	})
	for range 5 { // a free port can be taken between probing and binding
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		m.addr = l.Addr().String()
		l.Close()
		_, port, _ := net.SplitHostPort(m.addr)
		conf := "persistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nmax_queued_messages 100000\n" +
			"listener " + port + " 127.0.0.1\npassword_file " + pw + "\nallow_anonymous false\n"
		if u, err := user.Current(); err == nil && u.Uid == "0" {
			conf += "user root\n"
		}
		if err := os.WriteFile(m.conf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		if m.start() {
			return m
		}
	}
	t.Fatal("mosquitto did not start")
	return nil
}

// start runs mosquitto and reports whether it listens within 5 s.
func (m *upstreamBroker) start() bool {
	m.cmd = exec.Command(m.bin, "-c", m.conf)
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	done := make(chan struct{})
	m.done = done
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(done) }(m.cmd)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-done:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", m.addr, 200*time.Millisecond); err == nil {
			c.Close()
			return true
		}
	}
	m.stop()
	return false
}

func (m *upstreamBroker) stop() {
	if m.cmd == nil {
		return
	}
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

// box is one running Hearth binary and an operator's API client for it.
type box struct {
	t      *testing.T
	cmd    *exec.Cmd
	logs   *syncBuffer
	addr   string
	token  string
	client *http.Client
}

func startBox(t *testing.T, bin string, args, env []string) *box {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	cmd, _, logs, addr := startBinaryWith(t, bin, dir, args, env)
	out, err := exec.Command(bin, "token", "create", "--data", dir, "--role", "operator", "--name", "upstream").Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(dir, "tls", "ca.pem"))
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("ca.pem: %v", err)
	}
	return &box{t: t, cmd: cmd, logs: logs, addr: addr, token: strings.TrimSpace(lines[len(lines)-1]),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
}

func (b *box) api(method, path string, in, out any) int {
	b.t.Helper()
	var body bytes.Buffer
	if in != nil {
		_ = json.NewEncoder(&body).Encode(in)
	}
	req, _ := http.NewRequest(method, "https://"+b.addr+path, &body)
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// metric reads one unlabelled series from /metrics.
func (b *box) metric(name string) float64 {
	b.t.Helper()
	resp, err := b.client.Get("https://" + b.addr + "/metrics")
	if err != nil {
		b.t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

func (b *box) count(query string) float64 {
	b.t.Helper()
	return promValue(b.t, func(_, method, path string, in, out any) int { return b.api(method, path, in, out) }, b.addr, query)
}

// waitFor polls cond every 200 ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(200 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// deviceClient connects a device to the upstream broker.
func deviceClient(t *testing.T, brokerAddr, id, user, password string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + brokerAddr).SetClientID(id).
		SetUsername(user).SetPassword(password).SetAutoReconnect(false).SetCleanSession(true).SetOrderMatters(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("device %s connect: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// TestUpstreamSharedGroup runs two real Hearth binaries in one shared
// group on a real mosquitto that the devices connect to: every sample is
// stored exactly once between the two, each box answers the shadows of its
// own partition and only those, replies and deltas reach the devices
// through mosquitto, lifecycle events make presence, refused telemetry is
// answered upstream, once one box stops the other stores everything, and
// after the broker restarts the box reconnects and goes on.
func TestUpstreamSharedGroup(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two binaries and mosquitto")
	}
	const hearthPassword = "upstream-secret-Zq81"
	upBroker := startUpstreamBroker(t, map[string]string{"hearth": hearthPassword, "device": "device-pw"})
	brokerAddr := upBroker.addr
	bin := buildHearth(t)
	group := []string{"--mqtt-upstream-group", "boxes"}
	// One box has its credentials in the URL, the other as a flag and
	// an environment variable.
	a := startBox(t, bin, append([]string{"--mqtt-upstream", "mqtt://hearth:" + hearthPassword + "@" + brokerAddr,
		"--mqtt-upstream-shadows", "0/2", "--mqtt-upstream-client-id", "box-a"}, group...), nil)
	b := startBox(t, bin, append([]string{"--mqtt-upstream", "mqtt://" + brokerAddr, "--mqtt-upstream-username", "hearth",
		"--mqtt-upstream-shadows", "1/2"}, group...), []string{"HEARTH_MQTT_UPSTREAM_PASSWORD=" + hearthPassword})
	boxes := []*box{a, b}

	// The same devices are registered on both boxes; "stranger" on none.
	devices := []string{"up-0", "up-1", "up-2", "up-3", "up-4", "up-5"}
	owner := map[string]*box{}
	for _, name := range devices {
		if (upstream.Partition{Index: 0, Count: 2}).Has(name) {
			owner[name] = a
		} else {
			owner[name] = b
		}
	}
	if len(owner) == 0 {
		t.Fatal("no device")
	}
	for _, bx := range boxes {
		if st := bx.api("POST", "/api/v1/customers", map[string]string{"name": "acme"}, nil); st != http.StatusCreated {
			t.Fatalf("create customer: %d", st)
		}
		for _, name := range devices {
			if st := bx.api("POST", "/api/v1/devices", map[string]string{"name": name, "customer": "acme"}, nil); st != http.StatusCreated {
				t.Fatalf("create device: %d", st)
			}
		}
		// A message rule on telemetry runs on upstream telemetry too.
		rule := map[string]any{"name": "double", "sql": "SELECT 1 AS rule_hits, ts FROM 'hearth/things/+/telemetry'",
			"actions": []map[string]any{{"kind": "telemetry"}}}
		var answer map[string]any
		if st := bx.api("POST", "/api/v1/rules", rule, &answer); st != http.StatusCreated {
			t.Fatalf("create rule: %d %v", st, answer)
		}
		if !waitFor(20*time.Second, func() bool { return bx.metric("hearth_mqtt_upstream_connected") == 1 }) {
			t.Fatalf("box not connected upstream; logs:\n%s", bx.logs)
		}
	}
	ownedByA := 0
	for _, o := range owner {
		if o == a {
			ownedByA++
		}
	}
	if ownedByA == 0 || ownedByA == len(devices) {
		t.Fatalf("partition 0/2 holds %d of %d devices: the test needs both boxes to own some", ownedByA, len(devices))
	}

	// Phase 1: both boxes in the group.
	const perDevice = 150
	base := time.Now().Add(-time.Hour).UnixMilli()
	publishAll := func(metric string, n int) {
		var wg sync.WaitGroup
		for _, name := range append([]string{"stranger"}, devices...) {
			wg.Go(func() {
				c := deviceClient(t, brokerAddr, name, "device", "device-pw")
				for i := range n {
					tok := c.Publish("hearth/things/"+name+"/telemetry", 1, false,
						fmt.Sprintf(`{"ts": %d, "values": {%q: %d}}`, base+int64(i), metric, i))
					if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
						t.Errorf("%s publish %d: %v", name, i, tok.Error())
						return
					}
				}
			})
		}
		wg.Wait()
	}
	publishAll("seq", perDevice)
	stored := func(bx *box) float64 { return bx.metric("hearth_mqtt_upstream_telemetry_stored_total") }
	want := float64(perDevice * len(devices))
	if !waitFor(30*time.Second, func() bool { return stored(a)+stored(b) >= want }) {
		t.Fatalf("stored %v + %v messages, want %v", stored(a), stored(b), want)
	}
	time.Sleep(time.Second) // a duplicate would arrive meanwhile
	sa, sb := stored(a), stored(b)
	if sa+sb != want || sa == 0 || sb == 0 {
		t.Fatalf("box a stored %v, box b %v messages: want %v between them, shared by both", sa, sb, want)
	}
	if ua, ub := a.metric("hearth_mqtt_upstream_unknown_device_total"), b.metric("hearth_mqtt_upstream_unknown_device_total"); ua+ub != perDevice {
		t.Errorf("unknown device messages counted %v + %v, want %d", ua, ub, perDevice)
	}
	// The samples themselves, from each box's own time-series store.
	for _, name := range devices {
		q := fmt.Sprintf(`count_over_time(seq{device=%q}[3h])`, name)
		var got [2]float64
		ok := waitFor(40*time.Second, func() bool {
			got = [2]float64{a.count(q), b.count(q)}
			return got[0]+got[1] >= perDevice
		})
		if !ok || got[0]+got[1] != perDevice {
			t.Fatalf("%s: box a has %v samples, box b %v: want %d between them", name, got[0], got[1], perDevice)
		}
		q = fmt.Sprintf(`count_over_time(rule_hits{device=%q}[3h])`, name)
		ok = waitFor(40*time.Second, func() bool {
			got = [2]float64{a.count(q), b.count(q)}
			return got[0]+got[1] >= perDevice
		})
		if !ok || got[0]+got[1] != perDevice {
			t.Fatalf("%s: the rule's samples: box a has %v, box b %v: want %d between them", name, got[0], got[1], perDevice)
		}
	}

	// Shadows: each device's update is answered once, by its owner,
	// through mosquitto; a desired change made on the owner's API reaches
	// the device as a delta.
	for _, name := range devices {
		c := deviceClient(t, brokerAddr, name+"-shadow", "device", "device-pw")
		accepted := make(chan []byte, 4)
		delta := make(chan []byte, 4)
		for topic, ch := range map[string]chan []byte{"/update/accepted": accepted, "/update/delta": delta} {
			tok := c.Subscribe("$aws/things/"+name+"/shadow"+topic, 1, func(_ mqtt.Client, m mqtt.Message) { ch <- m.Payload() })
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("subscribe: %v", tok.Error())
			}
		}
		tok := c.Publish("$aws/things/"+name+"/shadow/update", 1, false, `{"state": {"reported": {"mode": "auto"}}, "clientToken": "t1"}`)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("shadow update: %v", tok.Error())
		}
		select {
		case p := <-accepted:
			if !bytes.Contains(p, []byte(`"t1"`)) || !bytes.Contains(p, []byte(`"auto"`)) {
				t.Errorf("%s update/accepted %s", name, p)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no update/accepted through the upstream broker", name)
		}
		select {
		case p := <-accepted:
			t.Fatalf("%s: a second update/accepted %s: two boxes answered one shadow", name, p)
		case <-time.After(500 * time.Millisecond):
		}
		other := a
		if owner[name] == a {
			other = b
		}
		var doc map[string]any
		if st := owner[name].api("GET", "/api/v1/devices/"+name+"/shadow", nil, &doc); st != http.StatusOK {
			t.Errorf("%s: the owner has no shadow: %d", name, st)
		}
		if st := other.api("GET", "/api/v1/devices/"+name+"/shadow", nil, nil); st != http.StatusNotFound {
			t.Errorf("%s: the box that does not own it answers its shadow: %d", name, st)
		}
		if st := owner[name].api("PATCH", "/api/v1/devices/"+name+"/shadow", map[string]any{"state": map[string]any{"desired": map[string]any{"mode": "eco"}}}, nil); st != http.StatusOK {
			t.Fatalf("%s: PATCH shadow: %d", name, st)
		}
		select {
		case p := <-delta:
			if !bytes.Contains(p, []byte(`"eco"`)) {
				t.Errorf("%s delta %s", name, p)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no delta through the upstream broker", name)
		}
	}

	// Presence from lifecycle events in AWS IoT's form, as a broker
	// publishing them would send.
	events := deviceClient(t, brokerAddr, "lifecycle", "device", "device-pw")
	presence := func(bx *box, name string) (online bool, reason string) {
		var d struct {
			Online bool   `json:"online"`
			Reason string `json:"disconnect_reason"`
		}
		bx.api("GET", "/api/v1/devices/"+name, nil, &d)
		return d.Online, d.Reason
	}
	now := time.Now().UnixMilli()
	events.Publish("$aws/events/presence/connected/up-0", 1, false, fmt.Sprintf(`{"clientId": "up-0", "timestamp": %d, "eventType": "connected"}`, now)).WaitTimeout(5 * time.Second)
	for _, bx := range boxes {
		if !waitFor(10*time.Second, func() bool { on, _ := presence(bx, "up-0"); return on }) {
			t.Fatal("up-0 not online after its connected event")
		}
	}
	events.Publish("$aws/events/presence/disconnected/up-0", 1, false, fmt.Sprintf(`{"clientId": "up-0", "timestamp": %d, "eventType": "disconnected", "disconnectReason": "CLIENT_INITIATED_DISCONNECT"}`, now+1)).WaitTimeout(5 * time.Second)
	for _, bx := range boxes {
		if !waitFor(10*time.Second, func() bool { on, r := presence(bx, "up-0"); return !on && r == "CLIENT_INITIATED_DISCONNECT" }) {
			on, r := presence(bx, "up-0")
			t.Fatalf("up-0 after its disconnected event: online %v, reason %q", on, r)
		}
	}

	// A message that cannot be stored is answered upstream, by the box
	// that took it, as Hearth's own broker answers it.
	rejected := make(chan []byte, 4)
	dev := deviceClient(t, brokerAddr, "up-1", "device", "device-pw")
	if tok := dev.Subscribe("hearth/things/up-1/telemetry/rejected", 1, func(_ mqtt.Client, m mqtt.Message) { rejected <- m.Payload() }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	dev.Publish("hearth/things/up-1/telemetry", 1, false, `{"seq": "not a number"}`).WaitTimeout(5 * time.Second)
	select {
	case p := <-rejected:
		if !bytes.Contains(p, []byte(`"code":"bad_value"`)) {
			t.Errorf("rejection %s, want code bad_value", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no telemetry/rejected through the upstream broker")
	}
	if ra, rb := a.metric("hearth_mqtt_upstream_telemetry_refused_total"), b.metric("hearth_mqtt_upstream_telemetry_refused_total"); ra+rb != 1 {
		t.Errorf("refused counted %v + %v, want 1", ra, rb)
	}

	// Phase 2: box b stops; box a takes everything.
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = b.cmd.Wait()
	before := stored(a)
	publishAll("seq2", perDevice)
	if !waitFor(30*time.Second, func() bool { return stored(a)-before >= want }) {
		t.Fatalf("with box b stopped, box a stored %v of %v messages", stored(a)-before, want)
	}
	for _, name := range devices {
		q := fmt.Sprintf(`count_over_time(seq2{device=%q}[3h])`, name)
		var got float64
		if !waitFor(40*time.Second, func() bool { got = a.count(q); return got >= perDevice }) || got != perDevice {
			t.Fatalf("%s: box a has %v samples of phase 2, want all %d", name, got, perDevice)
		}
	}

	// The upstream broker restarts: box a reconnects, subscribes again and
	// takes the telemetry that follows.
	upBroker.stop()
	if !upBroker.start() {
		t.Fatal("mosquitto did not start again")
	}
	if !waitFor(30*time.Second, func() bool {
		return a.metric("hearth_mqtt_upstream_connects_total") == 2 && a.metric("hearth_mqtt_upstream_connected") == 1
	}) {
		t.Fatalf("box a did not reconnect to the restarted broker: %v connections", a.metric("hearth_mqtt_upstream_connects_total"))
	}
	phase2 := stored(a) - before
	before = stored(a)
	publishAll("seq3", 20)
	if !waitFor(30*time.Second, func() bool { return stored(a)-before >= float64(20*len(devices)) }) || stored(a)-before != float64(20*len(devices)) {
		t.Fatalf("after the broker's restart box a stored %v messages, want %d", stored(a)-before, 20*len(devices))
	}

	for i, bx := range boxes {
		if strings.Contains(bx.logs.String(), hearthPassword) {
			t.Errorf("box %d logged the upstream password", i)
		}
	}
	t.Logf("phase 1: box a stored %v messages, box b %v; phase 2, box b stopped: box a %v; after the broker restarted: box a %v", sa, sb, phase2, stored(a)-before)
}
