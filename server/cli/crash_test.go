package cli_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

var mqttLine = regexp.MustCompile(`MQTT over TLS:\s+mqtts://localhost:(\d+)`)

// crashDevices publish during each round of TestCrashLoop.
const crashDevices = 4

// TestCrashLoop kills the real binary with SIGKILL at a random moment while
// devices publish telemetry with QoS 1, starts it again on the same data
// directory, and checks that every sample a device was acknowledged for is
// stored: counted through the Prometheus API, and the latest value never
// ahead of the stored series. HEARTH_CRASH_ROUNDS sets the rounds (3 by
// default; scripts/bench/crashloop.sh runs 30).
func TestCrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the real binary")
	}
	rounds := 3
	if s := os.Getenv("HEARTH_CRASH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("HEARTH_CRASH_ROUNDS=%q: a whole number from 1 is accepted", s)
		}
		rounds = n
	}
	bin := buildHearth(t)
	dir := filepath.Join(t.TempDir(), "data")
	cmd, console, _, addr := startBinary(t, bin, dir)
	out, err := exec.Command(bin, "token", "create", "--data", dir, "--role", "operator", "--name", "crash").Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	token := strings.TrimSpace(lines[len(lines)-1])
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(dir, "tls", "ca.pem"))
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("ca.pem: %v", err)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	api := func(addr, method, path string, in, out any) int {
		t.Helper()
		var body bytes.Buffer
		if in != nil {
			_ = json.NewEncoder(&body).Encode(in)
		}
		req, _ := http.NewRequest(method, "https://"+addr+path, &body)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		if out != nil {
			_ = json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}
	if st := api(addr, "POST", "/api/v1/customers", map[string]string{"name": "acme"}, nil); st != http.StatusCreated {
		t.Fatalf("create customer: %d", st)
	}
	secrets := map[string]string{}
	for i := range crashDevices {
		name := fmt.Sprintf("crash-%d", i)
		var d struct {
			Secret string `json:"secret"`
		}
		if st := api(addr, "POST", "/api/v1/devices", map[string]string{"name": name, "customer": "acme"}, &d); st != http.StatusCreated {
			t.Fatalf("create device: %d", st)
		}
		secrets[name] = d.Secret
	}

	// acked[device] is the acknowledged samples' values (0, 1, 2, …, each
	// at its own millisecond), across rounds.
	var mu sync.Mutex
	acked := map[string]int{}
	base := time.Now().Add(-time.Hour).UnixMilli()
	publish := func(port string, stop <-chan struct{}, wg *sync.WaitGroup) {
		for name, secret := range secrets {
			wg.Go(func() {
				opts := mqtt.NewClientOptions().AddBroker("ssl://127.0.0.1:" + port).SetClientID(name).
					SetUsername(name).SetPassword(secret).SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: "localhost"}).
					SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).SetCleanSession(true)
				c := mqtt.NewClient(opts)
				if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					return // the server is gone already
				}
				defer c.Disconnect(0)
				for {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					next := acked[name]
					mu.Unlock()
					payload := fmt.Sprintf(`{"ts": %d, "values": {"seq": %d}}`, base+int64(next), next)
					tok := c.Publish("hearth/things/"+name+"/telemetry", 1, false, payload)
					if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
						return // not acknowledged: the next round sends it again
					}
					mu.Lock()
					acked[name] = next + 1
					mu.Unlock()
				}
			})
		}
	}
	startTimes := []time.Duration{}
	for round := range rounds {
		m := mqttLine.FindStringSubmatch(console.String())
		if m == nil {
			t.Fatalf("round %d: no MQTT port in the banner:\n%s", round, console)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		publish(m[1], stop, &wg)
		time.Sleep(time.Duration(500+rand.IntN(1500)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL, mid-stream
			t.Fatal(err)
		}
		_ = cmd.Wait()
		close(stop)
		wg.Wait()

		began := time.Now()
		cmd, console, _, addr = startBinary(t, bin, dir)
		startTimes = append(startTimes, time.Since(began))
		for name := range secrets {
			mu.Lock()
			want := acked[name]
			mu.Unlock()
			if want == 0 {
				continue
			}
			var stored, latest float64
			deadline := time.Now().Add(40 * time.Second) // a new series becomes searchable within ~10 s
			for {
				stored = promValue(t, api, addr, fmt.Sprintf(`count_over_time(seq{device=%q}[3h])`, name))
				if stored >= float64(want) || time.Now().After(deadline) {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
			if stored < float64(want) {
				t.Fatalf("round %d: %s has %v samples stored, %d were acknowledged: acknowledged telemetry lost", round+1, name, stored, want)
			}
			var values map[string]float64
			if st := api(addr, "GET", "/api/v1/devices/"+name+"/telemetry/latest", nil, &values); st != http.StatusOK {
				t.Fatalf("latest: %d", st)
			}
			max := promValue(t, api, addr, fmt.Sprintf(`max_over_time(seq{device=%q}[3h])`, name))
			if latest = values["seq"]; latest > max {
				t.Errorf("round %d: %s's latest value %v is ahead of the stored series (max %v)", round+1, name, latest, max)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, n := range acked {
		total += n
	}
	if total == 0 {
		t.Fatal("no sample was acknowledged in any round: the test proved nothing")
	}
	t.Logf("%d rounds: %d acknowledged samples, none lost; start times after a kill %v", rounds, total, startTimes)
}

// promValue runs an instant query and returns its one value, 0 if none.
func promValue(t *testing.T, api func(addr, method, path string, in, out any) int, addr, q string) float64 {
	t.Helper()
	var res struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if st := api(addr, "GET", "/prometheus/api/v1/query?query="+url.QueryEscape(q), nil, &res); st != http.StatusOK {
		t.Fatalf("query %s: %d", q, st)
	}
	if len(res.Data.Result) != 1 {
		return 0
	}
	v, _ := strconv.ParseFloat(fmt.Sprint(res.Data.Result[0].Value[1]), 64)
	return v
}
