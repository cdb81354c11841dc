package agent

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hearthiot/hearth/internal/yamlcheck"
	"github.com/hearthiot/hearth/protocol"
)

// Config is the agent's configuration file.
type Config struct {
	// Device is the device's name in Hearth: the MQTT client id and the
	// name in its topics.
	Device    string
	Hearth    HearthConfig
	Spool     SpoolConfig
	Telemetry TelemetryConfig
	Log       LogConfig
	Jobs      JobsConfig
	// Modbus is the file's modbus section as it stands, with its line
	// numbers: the Modbus package reads the register map from it.
	Modbus *yaml.Node
}

// HearthConfig is how the agent reaches Hearth.
type HearthConfig struct {
	Address         string // host:port of Hearth's MQTT listener
	ServerName      string // name the server certificate must carry; default the host of Address
	Plain           bool   // plain MQTT without TLS, for a trusted LAN only
	CAFile          string
	CertificateFile string
	KeyFile         string
	Secret          string
	SecretFile      string
	KeepAlive       time.Duration
	ConnectTimeout  time.Duration
	Reconnect       Backoff
}

// SpoolConfig is where samples wait until Hearth has them.
type SpoolConfig struct {
	Dir        string
	MaxSamples int
	MaxBytes   int64
}

// TelemetryConfig is how often the equipment is read and how samples are
// sent.
type TelemetryConfig struct {
	Interval time.Duration // between two polls of the equipment
	Batch    int           // most samples in one back-fill message
}

// JobsConfig is how the agent takes jobs from Hearth: replacing its own
// binary (update-agent) and its register map (modbus-map).
type JobsConfig struct {
	// Enabled lets Hearth send jobs; false leaves the jobs topics alone.
	Enabled bool
	// UpdatePublicKeyFile names the Ed25519 public key an update must be
	// signed with; without it, updates are checked by SHA-256 only.
	UpdatePublicKeyFile string
	// UpdateConfirmTimeout is how long a new binary has to connect to
	// Hearth before the old one is put back.
	UpdateConfirmTimeout time.Duration
	// DownloadMaxBytes bounds a file a job downloads.
	DownloadMaxBytes int64
	// DownloadTimeout bounds a download, its resumptions included.
	DownloadTimeout time.Duration
}

// LogConfig is the agent's log.
type LogConfig struct {
	Level  string // debug, info, warn, error
	Format string // text, json
}

// Configuration defaults.
const (
	DefaultKeepAlive      = 30 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultInterval       = time.Minute
	DefaultBatch          = 500

	DefaultUpdateConfirmTimeout = 2 * time.Minute
	DefaultDownloadMaxBytes     = 64 << 20
	DefaultDownloadTimeout      = 30 * time.Minute
)

// DefaultConfig is the configuration a file's omitted keys take.
func DefaultConfig() Config {
	return Config{
		Hearth: HearthConfig{
			KeepAlive:      DefaultKeepAlive,
			ConnectTimeout: DefaultConnectTimeout,
			Reconnect:      DefaultBackoff(),
		},
		Spool:     SpoolConfig{MaxSamples: DefaultSpoolSamples, MaxBytes: DefaultSpoolBytes},
		Telemetry: TelemetryConfig{Interval: DefaultInterval, Batch: DefaultBatch},
		Log:       LogConfig{Level: "info", Format: "text"},
		Jobs: JobsConfig{
			Enabled: true, UpdateConfirmTimeout: DefaultUpdateConfirmTimeout,
			DownloadMaxBytes: DefaultDownloadMaxBytes, DownloadTimeout: DefaultDownloadTimeout,
		},
	}
}

// ConfigError is a problem in the configuration file, at a line.
type ConfigError struct {
	File         string // the file's name, when it came from one
	Line, Column int    // 0 when the problem is not at one place
	Path         string // the key, dotted: hearth.address
	Message      string
}

// Error reads "FILE:LINE: key: message", as compilers and the register
// map's own messages do, or "line LINE: …" without a file.
func (e *ConfigError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ConfigErrors lists what is wrong with a configuration file, each problem
// with its line, so that a whole file can be fixed in one go; past
// yamlcheck.MaxProblems they are only counted. Unwrap gives the problems,
// so errors.As finds the first *ConfigError.
type ConfigErrors struct {
	Problems []*ConfigError
	// More counts problems past the ones listed.
	More int
}

// Error reads one problem a line.
func (e *ConfigErrors) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.Error())
	}
	if e.More > 0 {
		b.WriteByte('\n')
		if len(e.Problems) > 0 && e.Problems[0].File != "" {
			b.WriteString(e.Problems[0].File + ": ")
		}
		fmt.Fprintf(&b, "and %d more problems", e.More)
	}
	return b.String()
}

func (e *ConfigErrors) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

func oneProblem(e *ConfigError) *ConfigErrors { return &ConfigErrors{Problems: []*ConfigError{e}} }

// LoadConfig reads and checks the configuration file at path. Relative
// file and directory names in it are taken from the file's directory.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		var ce *ConfigErrors
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				p.File = path
			}
			// What could be read goes back too, so that a caller can
			// check the register map in the same pass.
			return cfg, ce
		}
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	base := filepath.Dir(path)
	for _, p := range []*string{&cfg.Hearth.CAFile, &cfg.Hearth.CertificateFile, &cfg.Hearth.KeyFile, &cfg.Hearth.SecretFile, &cfg.Spool.Dir, &cfg.Jobs.UpdatePublicKeyFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	return cfg, nil
}

// maxConfigBytes bounds the file; a register map of thousands of points
// stays far below it.
const maxConfigBytes = 4 << 20

// ParseConfig reads a configuration from YAML. Every key is checked: an
// unknown key, a value of the wrong kind or out of range, or a missing
// required one is refused with its line and what is accepted. Every
// problem found is in the returned *ConfigErrors, together with what
// could be read, which must not be run with. The modbus section is kept
// as a node for the Modbus package to read.
func ParseConfig(b []byte) (Config, error) {
	if len(b) > maxConfigBytes {
		return Config{}, oneProblem(&ConfigError{Message: fmt.Sprintf("the file is %d bytes; at most %d are accepted", len(b), maxConfigBytes)})
	}
	doc, bad := yamlcheck.Document(b, "the configuration")
	if bad != nil {
		return Config{}, oneProblem(&ConfigError{Line: bad.Line, Message: bad.Message})
	}
	if doc == nil {
		return Config{}, oneProblem(&ConfigError{Message: "the file is empty; it needs at least device, hearth, spool and modbus"})
	}
	cfg := DefaultConfig()
	p := parser{}
	p.root(&cfg, doc.Content[0])
	if p.problems.Count() > 0 {
		ce := &ConfigErrors{More: p.problems.More}
		for _, pr := range p.problems.List {
			ce.Problems = append(ce.Problems, &ConfigError{Line: pr.Line, Column: pr.Column, Path: pr.Path, Message: pr.Message})
		}
		return cfg, ce
	}
	return cfg, nil
}

// parser walks the document and collects every problem. A value that is
// wrong is left at its default and the walk goes on; a check that needs
// several values is made only when they were all read.
type parser struct {
	problems yamlcheck.Problems
}

func (p *parser) failAt(n *yaml.Node, path, format string, args ...any) {
	p.problems.At(n, path, format, args...)
}

// count is how many problems were found so far, so that a caller can tell
// whether a part of the file read without any.
func (p *parser) count() int { return p.problems.Count() }

// field is one key of a mapping: its value node and dotted path.
type field struct {
	key  *yaml.Node
	val  *yaml.Node
	path string
}

// mapping reads a mapping node whose keys must be among known, refusing
// anything else; it returns the fields present by key, and nil when n is
// no mapping.
func (p *parser) mapping(n *yaml.Node, path string, known ...string) map[string]field {
	n = yamlcheck.Follow(n)
	if n.Kind != yaml.MappingNode {
		p.failAt(n, path, "%s; want a mapping of %s", describe(n), strings.Join(known, ", "))
		return nil
	}
	full := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	fields, bad := yamlcheck.Fields(n, known, yamlcheck.FollowAliases)
	for _, b := range bad {
		switch b.Fault {
		case yamlcheck.NotAWord:
			p.failAt(b.Key, path, "a key is %s; keys are names", describe(b.Key))
		case yamlcheck.UnknownKey:
			where := "at the top level"
			if path != "" {
				where = "in " + path
			}
			p.failAt(b.Key, "", "unknown key %q %s; accepted are %s", b.Key.Value, where, strings.Join(known, ", "))
		case yamlcheck.RepeatedKey:
			p.failAt(b.Key, full(b.Key.Value), "appears twice (first at line %d)", b.First.Line)
		}
	}
	out := make(map[string]field, len(fields))
	for name, f := range fields {
		out[name] = field{key: f.Key, val: f.Value, path: full(name)}
	}
	return out
}

func (p *parser) root(cfg *Config, n *yaml.Node) {
	f := p.mapping(n, "", "device", "hearth", "spool", "telemetry", "log", "jobs", "modbus")
	if f == nil {
		return
	}
	if d, ok := f["device"]; !ok {
		p.failAt(n, "device", "missing; give the device's name as Hearth knows it (the MQTT client id)")
	} else if name, ok := p.str(d); ok {
		if err := protocol.ValidName(name); err != nil {
			p.failAt(d.val, d.path, "%s", strings.TrimSuffix(err.Error(), ": "+protocol.ErrInvalid.Error()))
		} else {
			cfg.Device = name
		}
	}
	if h, ok := f["hearth"]; !ok {
		p.failAt(n, "hearth", "missing; give at least hearth.address and the device's credentials")
	} else {
		p.hearth(&cfg.Hearth, h)
	}
	if s, ok := f["spool"]; !ok {
		p.failAt(n, "spool", "missing; give at least spool.dir, the directory samples wait in")
	} else {
		p.spool(&cfg.Spool, s)
	}
	if t, ok := f["telemetry"]; ok {
		p.telemetry(&cfg.Telemetry, t)
	}
	if l, ok := f["log"]; ok {
		p.log(&cfg.Log, l)
	}
	if j, ok := f["jobs"]; ok {
		p.jobs(&cfg.Jobs, j)
	}
	m, ok := f["modbus"]
	if !ok {
		p.failAt(n, "modbus", "missing; give the equipment's connection and register map")
		return
	}
	if mv := yamlcheck.Follow(m.val); mv.Kind != yaml.MappingNode {
		p.failAt(mv, m.path, "%s; want a mapping (the equipment's connection and register map)", describe(mv))
		return
	}
	cfg.Modbus = yamlcheck.Follow(m.val)
}

func (p *parser) hearth(h *HearthConfig, fl field) {
	f := p.mapping(fl.val, fl.path, "address", "server_name", "plain", "ca_file", "certificate_file", "key_file",
		"secret", "secret_file", "keepalive", "connect_timeout", "reconnect")
	if f == nil {
		return
	}
	if a, ok := f["address"]; !ok {
		p.failAt(fl.val, fl.path+".address", "missing; give Hearth's MQTT address as host:port, e.g. hearth.example.net:8883")
	} else if addr, ok := p.str(a); ok {
		if host, port, err := net.SplitHostPort(addr); err != nil || host == "" || !validPort(port) {
			p.failAt(a.val, a.path, "%q is not host:port; e.g. hearth.example.net:8883", addr)
		} else {
			h.Address = addr
		}
	}
	// The credentials are checked together once each of them is read.
	before := p.count()
	p.optStr(f, "server_name", &h.ServerName)
	p.optBool(f, "plain", &h.Plain)
	p.optStr(f, "ca_file", &h.CAFile)
	p.optStr(f, "certificate_file", &h.CertificateFile)
	p.optStr(f, "key_file", &h.KeyFile)
	p.optStr(f, "secret", &h.Secret)
	p.optStr(f, "secret_file", &h.SecretFile)
	credentials := p.count() == before
	p.optDuration(f, "keepalive", &h.KeepAlive, time.Second, 18*time.Hour)
	p.optDuration(f, "connect_timeout", &h.ConnectTimeout, time.Second, 10*time.Minute)
	if r, ok := f["reconnect"]; ok {
		if rf := p.mapping(r.val, r.path, "min", "max"); rf != nil {
			before := p.count()
			p.optDuration(rf, "min", &h.Reconnect.Min, 10*time.Millisecond, time.Hour)
			p.optDuration(rf, "max", &h.Reconnect.Max, 10*time.Millisecond, 24*time.Hour)
			if p.count() == before && h.Reconnect.Max < h.Reconnect.Min {
				p.failAt(r.val, r.path, "max %s is below min %s", h.Reconnect.Max, h.Reconnect.Min)
			}
		}
	}
	if !credentials {
		return
	}
	cert := h.CertificateFile != "" || h.KeyFile != ""
	secret := h.Secret != "" || h.SecretFile != ""
	switch {
	case h.CertificateFile != "" && h.KeyFile == "":
		p.failAt(f["certificate_file"].key, fl.path+".key_file", "missing; certificate_file needs the key_file of its private key")
	case h.KeyFile != "" && h.CertificateFile == "":
		p.failAt(f["key_file"].key, fl.path+".certificate_file", "missing; key_file needs the certificate_file it belongs to")
	case h.Secret != "" && h.SecretFile != "":
		p.failAt(f["secret_file"].key, fl.path, "both secret and secret_file are given; give one")
	case cert && secret:
		p.failAt(fl.key, fl.path, "both a certificate and a secret are given; give certificate_file and key_file, or secret or secret_file")
	case !cert && !secret:
		p.failAt(fl.key, fl.path, "no credentials; give certificate_file and key_file, or secret or secret_file")
	case h.Plain && cert:
		p.failAt(f["plain"].key, fl.path+".plain", "plain MQTT has no TLS, so no client certificate; use secret or secret_file")
	case !h.Plain && h.CAFile == "":
		p.failAt(fl.key, fl.path+".ca_file", "missing; give the file of Hearth's CA certificate (ca.pem)")
	}
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n < 65536
}

func (p *parser) spool(s *SpoolConfig, fl field) {
	f := p.mapping(fl.val, fl.path, "dir", "max_samples", "max_bytes")
	if f == nil {
		return
	}
	if d, ok := f["dir"]; !ok {
		p.failAt(fl.val, fl.path+".dir", "missing; give the directory samples wait in until Hearth has them")
	} else if dir, ok := p.str(d); ok {
		if dir == "" {
			p.failAt(d.val, d.path, "is empty; give a directory")
		}
		s.Dir = dir
	}
	p.optInt(f, "max_samples", &s.MaxSamples, 1, 100_000_000)
	if b, ok := f["max_bytes"]; ok {
		if v, ok := p.size(b, 64<<10, 1<<40); ok {
			s.MaxBytes = v
		}
	}
}

func (p *parser) telemetry(t *TelemetryConfig, fl field) {
	f := p.mapping(fl.val, fl.path, "interval", "batch")
	if f == nil {
		return
	}
	p.optDuration(f, "interval", &t.Interval, 100*time.Millisecond, 24*time.Hour)
	p.optInt(f, "batch", &t.Batch, 1, 100_000)
}

func (p *parser) log(l *LogConfig, fl field) {
	f := p.mapping(fl.val, fl.path, "level", "format")
	if f == nil {
		return
	}
	if v, ok := f["level"]; ok {
		if level, ok := p.oneOf(v, "debug", "info", "warn", "error"); ok {
			l.Level = level
		}
	}
	if v, ok := f["format"]; ok {
		if format, ok := p.oneOf(v, "text", "json"); ok {
			l.Format = format
		}
	}
}

func (p *parser) jobs(j *JobsConfig, fl field) {
	f := p.mapping(fl.val, fl.path, "enabled", "update_public_key_file", "update_confirm_timeout", "download_max_bytes", "download_timeout")
	if f == nil {
		return
	}
	p.optBool(f, "enabled", &j.Enabled)
	if k, ok := f["update_public_key_file"]; ok {
		if v, ok := p.str(k); ok {
			if v == "" {
				p.failAt(k.val, k.path, "is empty; give the file of the Ed25519 public key updates are signed with, or leave the key out")
			}
			j.UpdatePublicKeyFile = v
		}
	}
	p.optDuration(f, "update_confirm_timeout", &j.UpdateConfirmTimeout, 10*time.Second, time.Hour)
	if b, ok := f["download_max_bytes"]; ok {
		if v, ok := p.size(b, 1<<20, 4<<30); ok {
			j.DownloadMaxBytes = v
		}
	}
	p.optDuration(f, "download_timeout", &j.DownloadTimeout, 10*time.Second, 24*time.Hour)
}

// scalar returns a field's scalar value, or fails.
func (p *parser) scalar(fl field, want string) (*yaml.Node, bool) {
	n := yamlcheck.Follow(fl.val)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.failAt(n, fl.path, "%s; want %s", describe(n), want)
		return nil, false
	}
	return n, true
}

func (p *parser) str(fl field) (string, bool) {
	n, ok := p.scalar(fl, "a string")
	if !ok {
		return "", false
	}
	return n.Value, true
}

func (p *parser) optStr(f map[string]field, key string, dst *string) {
	if fl, ok := f[key]; ok {
		if v, ok := p.str(fl); ok {
			*dst = v
		}
	}
}

func (p *parser) optBool(f map[string]field, key string, dst *bool) {
	fl, ok := f[key]
	if !ok {
		return
	}
	n, ok := p.scalar(fl, "true or false")
	if !ok {
		return
	}
	switch n.Value {
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		p.failAt(n, fl.path, "%q is not true or false", n.Value)
	}
}

func (p *parser) optInt(f map[string]field, key string, dst *int, lo, hi int) {
	fl, ok := f[key]
	if !ok {
		return
	}
	n, ok := p.scalar(fl, "a whole number")
	if !ok {
		return
	}
	v, err := strconv.Atoi(strings.ReplaceAll(n.Value, "_", ""))
	switch {
	case err != nil:
		p.failAt(n, fl.path, "%q is not a whole number", n.Value)
	case v < lo || v > hi:
		p.failAt(n, fl.path, "%d is out of range; accepted are %d to %d", v, lo, hi)
	default:
		*dst = v
	}
}

func (p *parser) optDuration(f map[string]field, key string, dst *time.Duration, lo, hi time.Duration) {
	fl, ok := f[key]
	if !ok {
		return
	}
	n, ok := p.scalar(fl, "a duration like 30s or 5m")
	if !ok {
		return
	}
	d, err := time.ParseDuration(n.Value)
	switch {
	case err != nil:
		p.failAt(n, fl.path, "%q is not a duration; write it like 500ms, 30s, 5m or 1h", n.Value)
	case d < lo || d > hi:
		p.failAt(n, fl.path, "%s is out of range; accepted are %s to %s", d, lo, hi)
	default:
		*dst = d
	}
}

func (p *parser) oneOf(fl field, accepted ...string) (string, bool) {
	n, ok := p.scalar(fl, "one of "+strings.Join(accepted, ", "))
	if !ok {
		return "", false
	}
	if !slices.Contains(accepted, n.Value) {
		p.failAt(n, fl.path, "%q is not accepted; use %s", n.Value, strings.Join(accepted, ", "))
		return "", false
	}
	return n.Value, true
}

// size reads a byte count: a whole number, or one with a unit (KiB, MiB,
// GiB, KB, MB, GB).
func (p *parser) size(fl field, lo, hi int64) (int64, bool) {
	n, ok := p.scalar(fl, "a size like 64MiB")
	if !ok {
		return 0, false
	}
	v, err := ParseSize(n.Value)
	switch {
	case err != nil:
		p.failAt(n, fl.path, "%v", err)
	case v < lo || v > hi:
		p.failAt(n, fl.path, "%d bytes is out of range; accepted are %s to %s", v, formatSize(lo), formatSize(hi))
	default:
		return v, true
	}
	return 0, false
}

// ParseSize reads a byte count such as 65536, 64KiB or 10MB.
func ParseSize(s string) (int64, error) {
	units := [...]struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(num, "_", ""), 10, 64)
	if err != nil || v < 0 || v > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size; write bytes as a whole number, or with KiB, MiB or GiB (64MiB)", s)
	}
	return v * mult, nil
}

func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// describe names what a node is, for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", clipString(n.Value, 40))
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func clipString(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// ReadSecret returns the device's secret: the one in the file, or the
// first line of secret_file.
func (h HearthConfig) ReadSecret() (string, error) {
	if h.SecretFile == "" {
		return h.Secret, nil
	}
	b, err := os.ReadFile(h.SecretFile)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	secret := strings.TrimSpace(line)
	if secret == "" {
		return "", fmt.Errorf("read secret: %s holds no secret on its first line", h.SecretFile)
	}
	return secret, nil
}
