package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/sim"
)

// startHearth runs a real Hearth in this process on loopback ports, with
// its data in a temporary directory, and returns its HTTPS base URL, its
// MQTT/TLS address, its CA file and an operator token.
func startHearth(t *testing.T) (api, mqtts, caFile, token string) {
	t.Helper()
	dir := t.TempDir()
	cfg := server.DefaultConfig()
	cfg.DataDir = dir
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.MQTT.Addr = "127.0.0.1:0"
	cfg.TSDB.MemoryBytes = 64 << 20
	cfg.ShutdownTimeout = 20 * time.Second
	logger := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(cfg, "test", logger, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatalf("start hearth: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Errorf("stop hearth: %v", err)
		}
	})
	tlsAddr, _ := srv.MQTTAddrs()

	// The admin socket serves the API to the local operator, as
	// "hearth token create" uses it.
	sock := server.SocketPath(dir)
	admin := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	body := strings.NewReader(`{"role":"operator","name":"loadgen"}`)
	resp, err := admin.Post("http://hearth/api/v1/tokens", "application/json", body)
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	defer resp.Body.Close()
	var created struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != http.StatusCreated || created.Token == "" {
		t.Fatalf("create token: status %d, %v", resp.StatusCode, err)
	}
	return "https://" + srv.HTTPAddr().String(), tlsAddr.String(), filepath.Join(dir, "tls", "ca.pem"), created.Token
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestShadowAgainstHearth provisions devices on a real Hearth and runs the
// shadow load against it: both round trips must have samples, every
// request its reply, and every PATCH its delta.
func TestShadowAgainstHearth(t *testing.T) {
	api, mqtts, caFile, token := startHearth(t)
	t.Setenv("HEARTH_LOADGEN_TOKEN", token)
	creds := filepath.Join(t.TempDir(), "creds")
	var out, errOut bytes.Buffer
	if err := Run(t.Context(), []string{"provision", "-api", api, "-api-ca", caFile, "-creds", creds,
		"-devices", "20", "-customer", "shadowload"}, &out, &errOut); err != nil {
		t.Fatalf("provision: %v\n%s", err, errOut.String())
	}

	const devices, seconds = 20, 3
	out.Reset()
	errOut.Reset()
	if err := Run(t.Context(), []string{"shadow", "-broker", mqtts, "-creds", creds, "-auth", "cert",
		"-api", api, "-api-ca", caFile, "-duration", "3s", "-update-interval", "1s", "-desired-interval", "2s",
		"-progress", "0", "-json"}, &out, &errOut); err != nil {
		t.Fatalf("shadow: %v\n%s", err, errOut.String())
	}
	var rep shadowReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("shadow output %s: %v", out.String(), err)
	}
	t.Logf("report: %s", out.String())
	if rep.Connected != devices || rep.Dropped != 0 || rep.FirstError != "" {
		t.Errorf("%d connected, %d dropped, first error %q; want %d connected and no error", rep.Connected, rep.Dropped, rep.FirstError, devices)
	}
	// Each device updates once a second for 3 s; each gets a PATCH every
	// 2 s, so 10 per second in all.
	checkRoundTrips(t, "updates", rep.Updates, devices*seconds)
	checkRoundTrips(t, "desired", rep.Desired, devices*seconds/2)
	if rep.OtherDeltas != 0 {
		t.Errorf("%d deltas matched no PATCH, want none on new devices", rep.OtherDeltas)
	}

	// A second run on the same devices starts where the first left them:
	// the devices reported every desired value, so no delta is pending and
	// the new values, different from the old, each bring a delta again.
	out.Reset()
	if err := Run(t.Context(), []string{"shadow", "-broker", mqtts, "-creds", creds, "-devices", "5", "-auth", "secret",
		"-api", api, "-api-ca", caFile, "-duration", "1s", "-desired-interval", "500ms", "-progress", "0", "-json"}, &out, &errOut); err != nil {
		t.Fatalf("second shadow run: %v\n%s", err, errOut.String())
	}
	rep = shadowReport{}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("shadow output %s: %v", out.String(), err)
	}
	checkRoundTrips(t, "updates of the second run", rep.Updates, 5)
	checkRoundTrips(t, "desired of the second run", rep.Desired, 10)
}

// checkRoundTrips wants about sent requests (±20%: a run's start and end
// fall between the scheduled ones), each answered, and a latency for each.
func checkRoundTrips(t *testing.T, what string, rt sim.RoundTrips, sent int) {
	t.Helper()
	if rt.Sent < uint64(sent*8/10) || rt.Sent > uint64(sent*12/10) {
		t.Errorf("%s: %d sent, want about %d", what, rt.Sent, sent)
	}
	if rt.Answered != rt.Sent || rt.Failed != 0 || rt.Missing != 0 {
		t.Errorf("%s: %d sent, %d answered, %d failed, %d missing; want every one answered", what, rt.Sent, rt.Answered, rt.Failed, rt.Missing)
	}
	if rt.P50 <= 0 || rt.P50 > rt.P99 || rt.P99 > rt.Max || rt.Max > 5*time.Second {
		t.Errorf("%s: latencies p50 %v p99 %v max %v, want 0 < p50 <= p99 <= max < 5s", what, rt.P50, rt.P99, rt.Max)
	}
}
