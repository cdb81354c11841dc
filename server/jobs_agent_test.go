package server_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hearthiot/hearth/agent"
	"github.com/hearthiot/hearth/sim/modbussim"
	"github.com/hearthiot/hearth/store"
)

// The gateway agent's jobs against the real Hearth: the agent is the
// hearth-agent binary, built for the test at two versions, run as a
// process; the jobs are created through the API and reach it over
// Hearth's jobs topics; the new binary is served over HTTPS with Hearth's
// own server certificate, as Hearth serves artifacts.

// agentBuilds are binaries built for a test.
type agentBuilds struct {
	v1, v2 string // hearth-agent at versions 1.0.0 and 2.0.0
	broken string // says 2.0.0 to --version, and exits at once when run
}

// buildAgents builds the binaries into dir. It skips the test when no Go
// toolchain can build them.
func buildAgents(t *testing.T, dir string, broken bool) agentBuilds {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("no go toolchain to build hearth-agent with: %v", err)
	}
	b := agentBuilds{v1: filepath.Join(dir, "hearth-agent-1.0.0"), v2: filepath.Join(dir, "hearth-agent-2.0.0")}
	for path, version := range map[string]string{b.v1: "1.0.0", b.v2: "2.0.0"} {
		args := []string{"build", "-o", path, "-ldflags", "-X main.version=" + version}
		if os.Getenv("HEARTH_TEST_AGENT_RACE") != "" {
			// The agents run with the race detector; a race ends them with
			// an exit code the test reports.
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/hearth-agent")...)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build hearth-agent %s: %v\n%s", version, err, out)
		}
	}
	if broken {
		src := filepath.Join(dir, "broken", "main.go")
		os.MkdirAll(filepath.Dir(src), 0o700)
		os.WriteFile(src, []byte(`package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println("2.0.0")
		return
	}
	fmt.Fprintln(os.Stderr, "hearth-agent: cannot start: this build is broken")
	os.Exit(1)
}
`), 0o600)
		b.broken = filepath.Join(dir, "hearth-agent-broken")
		cmd := exec.Command("go", "build", "-o", b.broken, "main.go")
		cmd.Dir = filepath.Dir(src)
		cmd.Env = append(os.Environ(), "GOFLAGS=", "GO111MODULE=on")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build the broken binary: %v\n%s", err, out)
		}
	}
	return b
}

func digest(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// installAgent copies bin to dir/bin/hearth-agent, the binary a job
// replaces.
func installAgent(t *testing.T, dir, bin string) string {
	t.Helper()
	exe := filepath.Join(dir, "bin", "hearth-agent")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// agentProcess is hearth-agent running as a process.
type agentProcess struct {
	cmd  *exec.Cmd
	logs *syncedBuffer
	done chan error
}

func runAgentProcess(t *testing.T, exe, config string) *agentProcess {
	t.Helper()
	p := &agentProcess{cmd: exec.Command(exe, "--config", config), logs: &syncedBuffer{}, done: make(chan error, 1)}
	p.cmd.Stderr = p.logs
	p.cmd.Stdout = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() || os.Getenv("HEARTH_TEST_AGENT_LOG") != "" {
			t.Logf("agent log:\n%s", p.logs)
		}
	})
	return p
}

// stop ends the agent with SIGTERM; it must stop cleanly.
func (p *agentProcess) stop(t *testing.T) {
	t.Helper()
	if p.cmd == nil {
		return
	}
	defer func() { p.cmd = nil }()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("agent exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Errorf("agent did not stop within 30 s")
	}
}

// running reports whether the process is still there.
func (p *agentProcess) running() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return false
	default:
		return true
	}
}

// waitLog waits until the agent's log holds want n times.
func (p *agentProcess) waitLog(t *testing.T, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(p.logs.String(), want) < n {
		if time.Now().After(deadline) || !p.running() {
			t.Fatalf("the agent's log holds %q %d times, not %d (running %v)", want, strings.Count(p.logs.String(), want), n, p.running())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// artifactServer serves files over HTTPS on loopback with Hearth's own
// server certificate, behind a signed link (a sig query parameter), with
// Range support; the first download of a file is cut halfway, so that the
// agent must resume it.
type artifactServer struct {
	srv *httptest.Server

	mu     sync.Mutex
	files  map[string][]byte
	cut    map[string]bool
	ranges []string // the Range headers of the requests, "" for none
	// held is closed when a download of a file being held, stopped
	// halfway, is there; release lets it go on.
	held, release chan struct{}
}

func startArtifactServer(t *testing.T, h *hearth) *artifactServer {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(h.dir, "tls", "server.pem"), filepath.Join(h.dir, "tls", "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	a := &artifactServer{files: map[string][]byte{}, cut: map[string]bool{}, held: make(chan struct{}), release: make(chan struct{})}
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	a.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	a.srv.StartTLS()
	t.Cleanup(a.srv.Close)
	return a
}

// add serves b as name and returns its signed link and digest.
func (a *artifactServer) add(name string, b []byte) (link, sum string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.files[name] = b
	s := sha256.Sum256(b)
	return a.srv.URL + "/artifacts/" + name + "?expires=4102444800&sig=c2lnbmVk", hex.EncodeToString(s[:])
}

// hold makes the next download of name stop halfway until release is
// closed.
func (a *artifactServer) hold(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cut["hold:"+name] = true
}

func (a *artifactServer) serve(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/artifacts/")
	a.mu.Lock()
	hold := a.cut["hold:"+name]
	delete(a.cut, "hold:"+name)
	a.mu.Unlock()
	if hold {
		a.mu.Lock()
		b := a.files[name]
		a.cut[name] = true
		a.mu.Unlock()
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.WriteHeader(http.StatusOK)
		w.Write(b[:len(b)/2])
		w.(http.Flusher).Flush()
		close(a.held)
		select {
		case <-a.release:
			w.Write(b[len(b)/2:])
		case <-r.Context().Done():
		}
		return
	}
	a.mu.Lock()
	b, ok := a.files[name]
	first := !a.cut[name]
	a.cut[name] = true
	a.ranges = append(a.ranges, r.Header.Get("Range"))
	a.mu.Unlock()
	if !ok || r.URL.Query().Get("sig") != "c2lnbmVk" {
		http.Error(w, "link not valid", http.StatusForbidden)
		return
	}
	if first && len(b) > 1<<20 {
		// Half the file, then the connection breaks.
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.WriteHeader(http.StatusOK)
		w.Write(b[:len(b)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

func (a *artifactServer) rangeRequests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, r := range a.ranges {
		if r != "" {
			out = append(out, r)
		}
	}
	return out
}

// jobExecution is an execution as the API lists it.
type jobExecution struct {
	Device        string            `json:"device"`
	Status        string            `json:"status"`
	StatusDetails map[string]string `json:"status_details"`
}

// createJob creates a job for devices with document doc.
func (h *hearth) createJob(op, id string, doc any, devices ...string) {
	h.t.Helper()
	if st := h.apiCall(op, "POST", "/api/v1/jobs", map[string]any{
		"id": id, "targets": map[string]any{"devices": devices}, "document": doc,
	}, nil); st != http.StatusCreated {
		h.t.Fatalf("create job %s: status %d", id, st)
	}
}

// jobExecutions lists a job's executions by device.
func (h *hearth) jobExecutions(op, id string) map[string]jobExecution {
	h.t.Helper()
	var res struct {
		Executions []jobExecution `json:"executions"`
	}
	if st := h.apiCall(op, "GET", "/api/v1/jobs/"+id+"/executions", nil, &res); st != http.StatusOK {
		h.t.Fatalf("executions of job %s: status %d", id, st)
	}
	out := map[string]jobExecution{}
	for _, e := range res.Executions {
		out[e.Device] = e
	}
	return out
}

// waitExecution waits until the device's execution of job is over, and
// returns it.
func (h *hearth) waitExecution(op, id, device string, within time.Duration) jobExecution {
	h.t.Helper()
	deadline := time.Now().Add(within)
	var e jobExecution
	for time.Now().Before(deadline) {
		e = h.jobExecutions(op, id)[device]
		switch e.Status {
		case "SUCCEEDED", "FAILED", "REJECTED", "CANCELED", "TIMED_OUT", "REMOVED":
			return e
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.t.Fatalf("the execution of job %s on %s is %s %v after %s; want it over", id, device, e.Status, e.StatusDetails, within)
	return e
}

// updateSetup is a Hearth, a device, its agent's configuration (with the
// chiller simulator), and the binaries.
type updateSetup struct {
	h      *hearth
	op     string
	dir    string
	config string
	builds agentBuilds
	art    *artifactServer
	key    ed25519.PrivateKey // signs updates; the agent has its public key
}

func newUpdateSetup(t *testing.T, device string, broken, signed bool) updateSetup {
	t.Helper()
	dir := t.TempDir()
	builds := buildAgents(t, dir, broken)
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, device, "acme")
	sim := startSim(t, modbussim.Chiller)
	file := agentConfig(t, h, dir, device, d, true, modbussim.Chiller, sim)
	path := filepath.Join(dir, file)
	cfg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "update.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	// The trial and the confirmation get a few seconds.
	jobs := "jobs:\n  update_confirm_timeout: 15s\n"
	if signed {
		jobs += "  update_public_key_file: update.pub\n"
	}
	cfg = bytes.Replace(cfg, []byte("modbus:\n"), []byte(jobs+"modbus:\n"), 1)
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return updateSetup{h: h, op: op, dir: dir, config: path, builds: builds, art: startArtifactServer(t, h), key: key}
}

// TestAgentUpdateJob: an update-agent job replaces the running agent's
// binary, signed with the key the agent's configuration names. The download is cut halfway and resumed with a Range request;
// the new version is tried, put in place with the old one kept as a
// backup, and run in the same process; Hearth hears SUCCEEDED from the
// new version once it connected.
func TestAgentUpdateJob(t *testing.T) {
	s := newUpdateSetup(t, "gw-up", false, true)
	exe := installAgent(t, s.dir, s.builds.v1)
	p := runAgentProcess(t, exe, s.config)
	p.waitLog(t, "hearth connected", 1)
	pid := p.cmd.Process.Pid

	v2, err := os.ReadFile(s.builds.v2)
	if err != nil {
		t.Fatal(err)
	}
	link, sum := s.art.add("hearth-agent-2.0.0", v2)
	// The agent takes only updates signed with its key: an unsigned one
	// is refused before anything is downloaded, a wrong signature fails
	// the job once the file is there.
	s.h.createJob(s.op, "agent-unsigned", map[string]any{"operation": "update-agent", "version": "2.0.0", "url": link, "sha256": sum}, "gw-up")
	if e := s.h.waitExecution(s.op, "agent-unsigned", "gw-up", 20*time.Second); e.Status != "REJECTED" || !strings.Contains(e.StatusDetails["reason"], "not signed") {
		t.Fatalf("unsigned update: %s %v; want REJECTED", e.Status, e.StatusDetails)
	}
	s.h.createJob(s.op, "agent-badly-signed", map[string]any{
		"operation": "update-agent", "version": "2.0.0", "url": link, "sha256": sum,
		"signature": base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, []byte("another file"))),
	}, "gw-up")
	if e := s.h.waitExecution(s.op, "agent-badly-signed", "gw-up", 30*time.Second); e.Status != "FAILED" || e.StatusDetails["step"] != "verifying" {
		t.Fatalf("badly signed update: %s %v; want FAILED while verifying", e.Status, e.StatusDetails)
	}
	s.art.mu.Lock()
	delete(s.art.cut, "hearth-agent-2.0.0") // cut the next download again
	s.art.ranges = nil
	s.art.mu.Unlock()
	s.h.createJob(s.op, "agent-2-0-0", map[string]any{
		"operation": "update-agent", "version": "2.0.0", "url": link, "sha256": sum, "size": fmt.Sprint(len(v2)),
		"signature": base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, v2)),
	}, "gw-up")

	e := s.h.waitExecution(s.op, "agent-2-0-0", "gw-up", 50*time.Second)
	if e.Status != "SUCCEEDED" || e.StatusDetails["version"] != "2.0.0" || e.StatusDetails["previous_version"] != "1.0.0" {
		t.Fatalf("execution %s %v; want SUCCEEDED from 2.0.0 after 1.0.0", e.Status, e.StatusDetails)
	}
	if got := digest(t, exe); got != sum {
		t.Errorf("the binary in place has SHA-256 %s; want version 2.0.0's %s", got, sum)
	}
	if got, want := digest(t, exe+".previous"), digest(t, s.builds.v1); got != want {
		t.Errorf("the backup has SHA-256 %s; want version 1.0.0's %s", got, want)
	}
	// The same process runs the new binary, connected.
	if !p.running() || p.cmd.Process.Pid != pid {
		t.Fatal("the agent's process is gone")
	}
	if got := digest(t, fmt.Sprintf("/proc/%d/exe", pid)); got != sum {
		t.Errorf("process %d runs a binary with SHA-256 %s; want version 2.0.0's", pid, got)
	}
	if logs := p.logs.String(); !strings.Contains(logs, "version=2.0.0") || strings.Count(logs, "hearth connected") < 3 {
		t.Errorf("the log does not show version 2.0.0 starting and connecting (after the trial's connection)")
	}
	if r := s.art.rangeRequests(); len(r) == 0 || !strings.HasPrefix(r[0], "bytes=") || r[0] == "bytes=0-" {
		t.Errorf("Range requests %q; want the cut download resumed where it stopped", r)
	}
	for _, left := range []string{exe + ".new", filepath.Join(s.dir, "spool", "update.json")} {
		if _, err := os.Stat(left); !os.IsNotExist(err) {
			t.Errorf("%s is left behind (%v)", left, err)
		}
	}

	// The same job's version again: already running it.
	s.h.createJob(s.op, "agent-2-0-0-again", map[string]any{"operation": "update-agent", "version": "2.0.0", "url": link, "sha256": sum}, "gw-up")
	if e := s.h.waitExecution(s.op, "agent-2-0-0-again", "gw-up", 20*time.Second); e.Status != "SUCCEEDED" || e.StatusDetails["reason"] != "already running this version" {
		t.Errorf("the same version again: %s %v", e.Status, e.StatusDetails)
	}
}

// TestAgentUpdateJobRollback: a new binary that exits at once is tried and
// never put in place; the old one runs on and Hearth hears FAILED with the
// reason. A file whose digest is not the job's fails the job before it is
// tried.
func TestAgentUpdateJobRollback(t *testing.T) {
	s := newUpdateSetup(t, "gw-rb", true, false)
	exe := installAgent(t, s.dir, s.builds.v1)
	p := runAgentProcess(t, exe, s.config)
	p.waitLog(t, "hearth connected", 1)
	pid := p.cmd.Process.Pid

	broken, err := os.ReadFile(s.builds.broken)
	if err != nil {
		t.Fatal(err)
	}
	link, sum := s.art.add("hearth-agent-broken", broken)
	s.h.createJob(s.op, "agent-broken", map[string]any{"operation": "update-agent", "version": "2.0.0", "url": link, "sha256": sum}, "gw-rb")
	e := s.h.waitExecution(s.op, "agent-broken", "gw-rb", 50*time.Second)
	if e.Status != "FAILED" || !strings.Contains(e.StatusDetails["reason"], "version 2.0.0 exited before it connected to Hearth") ||
		!strings.Contains(e.StatusDetails["reason"], "this build is broken") {
		t.Fatalf("execution %s %v; want FAILED with the reason", e.Status, e.StatusDetails)
	}
	if got, want := digest(t, exe), digest(t, s.builds.v1); got != want {
		t.Errorf("the binary in place changed: SHA-256 %s; want version 1.0.0's %s", got, want)
	}
	if _, err := os.Stat(exe + ".new"); !os.IsNotExist(err) {
		t.Errorf("the failed binary is left beside the agent (%v)", err)
	}
	if !p.running() || p.cmd.Process.Pid != pid {
		t.Fatal("the agent's process is gone")
	}

	// A file that is not the one the job names.
	v2, err := os.ReadFile(s.builds.v2)
	if err != nil {
		t.Fatal(err)
	}
	link, _ = s.art.add("hearth-agent-2.0.0", v2)
	s.h.createJob(s.op, "agent-bad-digest", map[string]any{"operation": "update-agent", "version": "2.0.0", "url": link, "sha256": strings.Repeat("ab", 32)}, "gw-rb")
	e = s.h.waitExecution(s.op, "agent-bad-digest", "gw-rb", 30*time.Second)
	if e.Status != "FAILED" || e.StatusDetails["step"] != "downloading" || !strings.Contains(e.StatusDetails["reason"], "SHA-256") {
		t.Errorf("bad digest: %s %v; want FAILED while downloading", e.Status, e.StatusDetails)
	}
	if got, want := digest(t, exe), digest(t, s.builds.v1); got != want {
		t.Errorf("the binary in place changed after a bad digest")
	}
	// The agent runs on, and takes the next job.
	s.h.createJob(s.op, "no-such-op", map[string]any{"operation": "reboot"}, "gw-rb")
	if e := s.h.waitExecution(s.op, "no-such-op", "gw-rb", 20*time.Second); e.Status != "REJECTED" || !strings.Contains(e.StatusDetails["reason"], `operation "reboot" is not one this agent takes`) {
		t.Errorf("unknown operation: %s %v; want REJECTED with the reason", e.Status, e.StatusDetails)
	}
}

// TestAgentRegisterMapJob: a modbus-map job replaces the agent's register
// map: one downloaded and checked against its SHA-256 is taken, kept for
// the next start, and read at once (its renamed metric reaches Hearth); an
// inline one the register map's rules refuse fails the job with what is
// wrong, and the map in use stays.
func TestAgentRegisterMapJob(t *testing.T) {
	s := newUpdateSetup(t, "gw-map", false, false)
	exe := installAgent(t, s.dir, s.builds.v1)
	p := runAgentProcess(t, exe, s.config)
	p.waitLog(t, "hearth connected", 1)

	cfg, err := agent.LoadConfig(s.config)
	if err != nil {
		t.Fatal(err)
	}
	var section bytes.Buffer
	enc := yaml.NewEncoder(&section)
	if err := enc.Encode(cfg.Modbus); err != nil {
		t.Fatal(err)
	}
	good := strings.Replace(section.String(), "metric: chw_supply_c", "metric: chw_supply_temp_c", 1)
	if good == section.String() {
		t.Fatal("the chiller's map has no chw_supply_c")
	}
	link, sum := s.art.add("chiller-map.yaml", []byte(good))
	s.h.createJob(s.op, "map-good", map[string]any{"operation": "modbus-map", "url": link, "sha256": sum}, "gw-map")
	e := s.h.waitExecution(s.op, "map-good", "gw-map", 30*time.Second)
	if e.Status != "SUCCEEDED" || e.StatusDetails["points"] != "14" || e.StatusDetails["settings"] != "4" {
		t.Fatalf("good map: %s %v; want SUCCEEDED with 14 points, 4 settings", e.Status, e.StatusDetails)
	}
	saved := filepath.Join(s.dir, "spool", agent.SavedMapFile)
	if b, err := os.ReadFile(saved); err != nil || string(b) != good {
		t.Errorf("saved map: %v; want the job's map kept for the next start", err)
	}
	eventually(t, "the renamed metric in Hearth", func() bool {
		_, ok := s.h.latest(s.op, "gw-map")["chw_supply_temp_c"]
		return ok
	})

	// Inline, as JSON, with a type the register map does not know.
	var m any
	if err := yaml.Unmarshal([]byte(strings.Replace(good, "type: int16", "type: int17", 1)), &m); err != nil {
		t.Fatal(err)
	}
	s.h.createJob(s.op, "map-bad", map[string]any{"operation": "modbus-map", "map": m}, "gw-map")
	e = s.h.waitExecution(s.op, "map-bad", "gw-map", 30*time.Second)
	if e.Status != "FAILED" || e.StatusDetails["step"] != "checking" || !strings.Contains(e.StatusDetails["reason"], `type "int17" is not one of`) {
		t.Fatalf("bad map: %s %v; want FAILED with the register map's problem", e.Status, e.StatusDetails)
	}
	if b, err := os.ReadFile(saved); err != nil || string(b) != good {
		t.Errorf("after the bad map the saved map is %v; want the good one kept", err)
	}

	// A restart keeps the job's map.
	p.stop(t)
	p = runAgentProcess(t, exe, s.config)
	p.waitLog(t, "register map from a job used instead of the file's", 1)
	p.waitLog(t, "hearth connected", 1)
}

// TestAgentUpdateJobMeanwhile: what happens to a job while the agent
// downloads is heeded. An execution whose version moved on (here the
// test changes it in Hearth's store) gets the agent's next update
// refused with VersionMismatch; the agent takes the version Hearth holds
// and goes on to SUCCEEDED. A job canceled during the download stops it:
// nothing is tried, the binary stays, and the agent takes the next job.
func TestAgentUpdateJobMeanwhile(t *testing.T) {
	s := newUpdateSetup(t, "gw-mw", false, false)
	exe := installAgent(t, s.dir, s.builds.v1)
	p := runAgentProcess(t, exe, s.config)
	p.waitLog(t, "hearth connected", 1)
	v2, err := os.ReadFile(s.builds.v2)
	if err != nil {
		t.Fatal(err)
	}
	link, sum := s.art.add("hearth-agent-2.0.0", v2)

	// Canceled while the download is held halfway.
	s.art.hold("hearth-agent-2.0.0")
	s.h.createJob(s.op, "agent-canceled", map[string]any{"operation": "update-agent", "version": "2.0.0", "url": link, "sha256": sum}, "gw-mw")
	select {
	case <-s.art.held:
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not start the download")
	}
	if st := s.h.apiCall(s.op, "POST", "/api/v1/jobs/agent-canceled/cancel", map[string]any{"force": true, "reason": "wrong build"}, nil); st != http.StatusOK {
		t.Fatalf("cancel: status %d", st)
	}
	p.waitLog(t, "job ended in Hearth while the agent worked on it", 1)
	close(s.art.release)
	if e := s.h.jobExecutions(s.op, "agent-canceled")["gw-mw"]; e.Status != "CANCELED" {
		t.Errorf("canceled job: execution %s %v", e.Status, e.StatusDetails)
	}
	if got, want := digest(t, exe), digest(t, s.builds.v1); got != want || strings.Contains(p.logs.String(), "trying the new binary") {
		t.Fatal("a canceled update was tried or put in place")
	}

	// The version moves on in Hearth while the agent downloads.
	s.art.held, s.art.release = make(chan struct{}), make(chan struct{})
	s.art.hold("hearth-agent-2.0.0")
	s.h.createJob(s.op, "agent-moved", map[string]any{"operation": "update-agent", "version": "2.0.0", "url": link, "sha256": sum}, "gw-mw")
	select {
	case <-s.art.held:
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not start the download")
	}
	_, moved, err := s.h.srvStore().UpdateJobExecution("gw-mw", "agent-moved", func(_ *store.Job, e *store.JobExecution) error {
		e.StatusDetails = map[string]string{"step": "downloading", "note": "changed elsewhere"}
		e.VersionNumber++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	close(s.art.release)
	e := s.h.waitExecution(s.op, "agent-moved", "gw-mw", 50*time.Second)
	if e.Status != "SUCCEEDED" || e.StatusDetails["version"] != "2.0.0" {
		t.Fatalf("execution %s %v; want SUCCEEDED after the version moved on (to %d)", e.Status, e.StatusDetails, moved.VersionNumber)
	}
	if !strings.Contains(p.logs.String(), "VersionMismatch") {
		t.Errorf("the agent's log does not show the VersionMismatch it got")
	}
	if got := digest(t, exe); got != sum {
		t.Errorf("the binary in place is not version 2.0.0")
	}
}
