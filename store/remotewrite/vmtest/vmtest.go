// Package vmtest runs a real single-node VictoriaMetrics for tests — the
// victoria-metrics Go tool of this module, at the version Hearth links —
// on a loopback port, and reads back what it stored through its own
// export and query APIs. Only tests import it.
package vmtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary is the victoria-metrics tool's path, built on first use. When it
// cannot be built the test is skipped, or fails with HEARTH_REQUIRE_TOOLS
// set (as CI sets it).
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		out, err := exec.Command("go", "tool", "-n", "victoria-metrics").Output()
		if err != nil {
			binErr = fmt.Errorf("build victoria-metrics (go tool -n victoria-metrics): %w", err)
			return
		}
		binPath = strings.TrimSpace(string(out))
	})
	if binErr != nil {
		if os.Getenv("HEARTH_REQUIRE_TOOLS") != "" {
			t.Fatalf("%v, and HEARTH_REQUIRE_TOOLS is set", binErr)
		}
		t.Skip(binErr)
	}
	return binPath
}

// VM is a running VictoriaMetrics, or one stopped to be started again on
// the same port and data.
type VM struct {
	URL  string // http://127.0.0.1:PORT
	Port int
	t    testing.TB
	bin  string
	dir  string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs VictoriaMetrics on a free loopback port until the test ends,
// with its data in a temporary directory. args are more of its flags.
func Start(t testing.TB, args ...string) *VM {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return StartAt(t, port, t.TempDir(), args...)
}

// StartAt runs VictoriaMetrics on port with its data in dir.
func StartAt(t testing.TB, port int, dir string, args ...string) *VM {
	t.Helper()
	v := &VM{URL: "http://127.0.0.1:" + strconv.Itoa(port), Port: port, t: t, bin: Binary(t), dir: dir, args: args}
	v.Restart()
	t.Cleanup(v.Stop)
	return v
}

// WriteURL is its Prometheus remote write address.
func (v *VM) WriteURL() string { return v.URL + "/api/v1/write" }

// Restart starts it again after Stop, on the same port and data, and
// returns once it answers.
func (v *VM) Restart() {
	v.t.Helper()
	args := append([]string{"-storageDataPath", v.dir, "-httpListenAddr", "127.0.0.1:" + strconv.Itoa(v.Port),
		"-retentionPeriod", "100y", "-loggerLevel", "ERROR"}, v.args...)
	cmd := exec.Command(v.bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		v.t.Fatal(err)
	}
	v.cmd, v.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(v.done) }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(v.URL + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-v.done:
			v.t.Fatal("victoria-metrics exited at start")
		default:
		}
		if time.Now().After(deadline) {
			v.t.Fatal("victoria-metrics did not answer within 30s")
		}
	}
}

// Stop stops it gracefully (it flushes what it holds), killing it after
// 30 s.
func (v *VM) Stop() {
	if v.cmd == nil {
		return
	}
	_ = v.cmd.Process.Signal(os.Interrupt)
	select {
	case <-v.done:
	case <-time.After(30 * time.Second):
		_ = v.cmd.Process.Kill()
		<-v.done
	}
	v.cmd = nil
}

// Flush makes what it received searchable at once.
func (v *VM) Flush() {
	v.t.Helper()
	resp, err := http.Get(v.URL + "/internal/force_flush")
	if err != nil {
		v.t.Fatal(err)
	}
	resp.Body.Close()
}

// Series is one exported series: its labels and every sample, oldest
// first.
type Series struct {
	Metric     map[string]string `json:"metric"`
	Values     []float64         `json:"values"`
	Timestamps []int64           `json:"timestamps"`
}

// Export reads every raw sample of the series match selects, through
// /api/v1/export.
func (v *VM) Export(match string) ([]Series, error) {
	v.Flush()
	resp, err := http.Get(v.URL + "/api/v1/export?" + url.Values{"match[]": {match}, "start": {"0"}}.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("export: HTTP %d", resp.StatusCode)
	}
	var out []Series
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	for sc.Scan() {
		var s Series
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return nil, fmt.Errorf("export line: %w", err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// QueryResult is one series of an instant query's answer.
type QueryResult struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // unix seconds, the value as a string
}

// Query runs an instant query through /api/v1/query; args are more of its
// arguments, NAME=VALUE ("nocache=1").
func (v *VM) Query(q string, args ...string) ([]QueryResult, error) {
	u := v.URL + "/api/v1/query?" + url.Values{"query": {q}}.Encode()
	for _, a := range args {
		u += "&" + a
	}
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Data   struct{ Result []QueryResult }
		Error  string
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", q, body.Error)
	}
	return body.Data.Result, nil
}
