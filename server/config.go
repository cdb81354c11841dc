package server

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/hearthiot/hearth/alarm"
	"github.com/hearthiot/hearth/internal/membudget"
	"github.com/hearthiot/hearth/jobs/artifact"
	"github.com/hearthiot/hearth/scheduler"
	"github.com/hearthiot/hearth/store/remotewrite"
	"github.com/hearthiot/hearth/strategy"
)

// Config is everything Hearth needs to start. It is filled from flags and
// HEARTH_* environment variables by the command line; what changes at run
// time lives in the store instead.
type Config struct {
	// DataDir holds the bbolt file, the time-series store, the TLS material
	// and the admin socket.
	DataDir string
	// Memory is the memory budget: a size, or a share of the container's
	// limit or the machine's memory; zero takes the container's cgroup
	// limit, else half the machine. It sets Go's memory limit, the
	// time-series store's caches and when MQTT work is refused.
	Memory membudget.Spec

	HTTP      HTTPConfig
	MQTT      MQTTConfig
	TLS       TLSConfig
	TSDB      TSDBConfig
	Telemetry TelemetryConfig

	// Upstream ingests from an external MQTT broker cluster; off while
	// its URL is empty.
	Upstream UpstreamConfig

	Web WebConfig

	// RemoteWrite mirrors every stored sample to Prometheus remote write
	// receivers, read from the telemetry log.
	RemoteWrite remotewrite.Config

	// Demo runs simulated devices of a demo customer in this process.
	Demo DemoConfig

	// HistoryRetention is how long the history of shadow changes is kept.
	HistoryRetention time.Duration
	// HistoryDeviceBudget bounds the shadow history one device keeps, in
	// bytes: past it, the device's oldest entries go first. 0 keeps every
	// entry until HistoryRetention.
	HistoryDeviceBudget int64

	// Schedule tunes the checks of each day's program push; zero values
	// take the scheduler's defaults (first check after 1m, each next one
	// twice as late, 5 checks).
	Schedule scheduler.Config
	// MinFreeDisk is the free space of the data directory's file system
	// below which telemetry is refused; 0 turns the check off.
	MinFreeDisk int64
	// Alarms tunes the alarm engine: how long closed alarms are kept.
	Alarms alarm.Config
	// Strategies tunes the energy-saving strategies: how long their
	// changes are kept; zero values take the defaults.
	Strategies strategy.Config

	// Notify configures notifications: how long a failing delivery is
	// retried, the grouping window and the SMTP server e-mail goes
	// through.
	Notify NotifyConfig

	// Backup schedules backups into a directory.
	Backup BackupConfig

	// ArtifactMaxSize is the largest file operators may upload for devices
	// to download (firmware), in bytes.
	ArtifactMaxSize int64

	// AdminEmail is the first operator account created on a first start.
	AdminEmail string
	// ShutdownTimeout bounds the whole graceful stop.
	ShutdownTimeout time.Duration
}

// NotifyConfig configures notification delivery; zero values take the
// notification service's defaults.
type NotifyConfig struct {
	// RetryFor is how long a failing delivery is retried before it is a
	// dead letter.
	RetryFor time.Duration
	// GroupWindow is how long messages of one group are gathered for a
	// channel before they are sent, as one when there are more than a
	// few.
	GroupWindow time.Duration
	SMTP        SMTPConfig
}

// SMTPConfig is the server e-mail notifications go through, always with
// STARTTLS. Host "" leaves e-mail channels unable to send.
type SMTPConfig struct {
	Host     string
	Port     int
	User     string
	Password string // never logged
	From     string
}

// HTTPConfig configures the HTTPS listener for the API and pages.
type HTTPConfig struct {
	Addr string // e.g. ":8443"; always TLS
}

// WebConfig configures the pages: time zone, sessions and single sign-on.
type WebConfig struct {
	// TimeZone is the IANA zone pages show times in ("Asia/Tokyo");
	// "Local" is the machine's.
	TimeZone string
	// PublicURL is how browsers reach Hearth (https://hearth.example:8443);
	// the single sign-on callback and logout addresses are built from it.
	// Empty is https://HOST:PORT with HOST the first --tls-hosts name (else
	// localhost) and PORT the HTTPS listener's (see Endpoints).
	PublicURL string
	// SessionIdle and SessionAbsolute end a session after so long without
	// a request, and after so long in any case.
	SessionIdle, SessionAbsolute time.Duration
	// SSO is an OpenID Connect provider; Issuer "" turns it off.
	SSO SSOConfig
}

// SSOConfig is one OpenID Connect provider and how its users map to
// Hearth's roles.
type SSOConfig struct {
	Name         string // shown on the sign-in page and used in its URLs
	Issuer       string
	ClientID     string
	ClientSecret string // never logged
	GroupsClaim  string
	// GroupsOperator is the group that makes someone an operator;
	// GroupsCustomerPrefix followed by a customer's name makes someone
	// that customer's user. Others need a user created with their e-mail.
	GroupsOperator       string
	GroupsCustomerPrefix string
}

// MQTTConfig configures the device-facing broker.
type MQTTConfig struct {
	Addr              string // MQTT over TLS, e.g. ":8883"
	PlainAddr         string // plain MQTT for a trusted LAN; "" = off
	MaxPayload        int
	MaxClients        int
	ReceiveMaximum    int
	ClientBufferBytes int
}

// UpstreamConfig connects Hearth to an external MQTT broker cluster that
// devices connect to (see broker/upstream and docs/scaling.md).
type UpstreamConfig struct {
	URL      string // mqtt://HOST:PORT or mqtts://HOST:PORT, may carry user:password@; never logged whole
	Username string
	Password string // never logged
	CAFile   string // CA certificates (PEM) the broker's certificate is checked against; the system's when empty
	CertFile string // client certificate (PEM) Hearth presents, with KeyFile
	KeyFile  string
	Group    string // shared-subscription group for telemetry
	ClientID string // this box's client id at the broker; derived from the host and data directory when empty
	Shadows  string // whose shadow requests this box answers: all, none or I/N
}

// TLSConfig says which certificate the HTTPS and MQTT listeners present.
// With CertFile and KeyFile empty, Hearth issues its own server certificate
// from its CA for localhost, the host name and Hosts.
type TLSConfig struct {
	Hosts    []string
	CertFile string
	KeyFile  string
}

// TSDBConfig configures the embedded time-series store.
type TSDBConfig struct {
	Retention time.Duration
	// MemoryBytes caps the store's caches; 0 takes a share of the memory
	// budget (see Config.Memory).
	MemoryBytes int64
}

// TelemetryConfig bounds what one telemetry message may carry.
type TelemetryConfig struct {
	// Log writes every telemetry message to the write-ahead log, durably,
	// before it is acknowledged; off, a crash loses what the time-series
	// store had not written yet (seconds).
	Log      bool
	MaxBatch int
	// MaxMetrics is how many distinct metric names one device may use.
	MaxMetrics int
	MaxFuture  time.Duration
	// Rate and Burst are the samples a second one device may have stored,
	// and at once; a device type may set its own. Rate 0: no limit.
	Rate  float64
	Burst int
}

// DefaultRemoteWriteBacklog is the telemetry log one remote write
// receiver may hold unsent: with 27 bytes of log a sample, a fleet of
// 30,000 devices sending 20 metrics a minute (10,000 samples a second)
// fills it in about four and a half hours; at the ingest target of
// 200,000 samples a second, in about 13 minutes.
const DefaultRemoteWriteBacklog = 4 << 30

// minRemoteWriteBacklog is four segments of the telemetry log.
const minRemoteWriteBacklog = 64 << 20

// maxTelemetryFuture is how far ahead the time-series store accepts
// samples; telemetry may not be allowed further.
const maxTelemetryFuture = 48 * time.Hour

// DefaultHistoryDeviceBudget is the shadow history one device keeps by
// default: at a change of 1 KB every five minutes, about five years, more
// than the retention; a device that writes its 20 updates a second reaches
// it within the hour and then keeps its latest changes only.
const DefaultHistoryDeviceBudget = 256 << 20

// minHistoryDeviceBudget holds a few hundred of the largest entries.
const minHistoryDeviceBudget = 1 << 20

// minArtifactMaxSize is the smallest artifact limit: a small sensor's
// firmware.
const minArtifactMaxSize = 1 << 20

// DefaultConfig returns the configuration `hearth serve` uses when nothing is
// set: data in ./data, HTTPS on 8443, MQTT over TLS on 8883.
func DefaultConfig() Config {
	return Config{
		DataDir: "data",
		HTTP:    HTTPConfig{Addr: ":8443"},
		MQTT: MQTTConfig{
			Addr:              ":8883",
			MaxPayload:        128 << 10,
			MaxClients:        10000,
			ReceiveMaximum:    64,
			ClientBufferBytes: 4 << 10,
		},
		TSDB:      TSDBConfig{Retention: 3 * 365 * 24 * time.Hour},
		Telemetry: TelemetryConfig{Log: true, MaxBatch: 1000, MaxMetrics: 500, MaxFuture: 5 * time.Minute, Rate: 1000, Burst: 500_000},
		Web: WebConfig{
			TimeZone:        "Local",
			SessionIdle:     2 * time.Hour,
			SessionAbsolute: 12 * time.Hour,
			SSO:             SSOConfig{Name: "sso", GroupsClaim: "groups"},
		},
		Demo:                DemoConfig{Interval: 15 * time.Second},
		RemoteWrite:         remotewrite.Config{Labels: map[string]string{}, MaxBacklog: DefaultRemoteWriteBacklog},
		Backup:              BackupConfig{Every: 24 * time.Hour, Keep: 7},
		Notify:              NotifyConfig{RetryFor: 24 * time.Hour, GroupWindow: 30 * time.Second, SMTP: SMTPConfig{Port: 587}},
		HistoryRetention:    3 * 365 * 24 * time.Hour,
		HistoryDeviceBudget: DefaultHistoryDeviceBudget,
		Alarms:              alarm.Config{Retention: 365 * 24 * time.Hour},
		MinFreeDisk:         256 << 20,
		Upstream:            UpstreamConfig{Group: "hearth", Shadows: "all"},
		ArtifactMaxSize:     artifact.DefaultMaxSize,
		AdminEmail:          "admin@hearth.local",
		ShutdownTimeout:     30 * time.Second,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.DataDir == "":
		return fmt.Errorf("data directory must be set")
	case c.HTTP.Addr == "":
		return fmt.Errorf("HTTP address must be set")
	case c.MQTT.Addr == "" && c.MQTT.PlainAddr == "":
		return fmt.Errorf("at least one MQTT listener must be set")
	case c.Demo.Enabled && c.MQTT.Addr == "":
		return fmt.Errorf("the demo's devices connect over MQTT/TLS: set an MQTT address")
	case c.Demo.Enabled && c.Demo.Interval < 100*time.Millisecond:
		return fmt.Errorf("demo interval %s is too short: the minimum is 100ms", c.Demo.Interval)
	case (c.TLS.CertFile == "") != (c.TLS.KeyFile == ""):
		return fmt.Errorf("TLS certificate and key files must be given together")
	case c.HistoryRetention < 24*time.Hour:
		return fmt.Errorf("history retention %s is too short: the minimum is 24h", c.HistoryRetention)
	case c.HistoryDeviceBudget != 0 && c.HistoryDeviceBudget < minHistoryDeviceBudget:
		return fmt.Errorf("--history-device-budget %d: 0 (no budget) or at least %d bytes (1 MiB)", c.HistoryDeviceBudget, minHistoryDeviceBudget)
	case c.MinFreeDisk < 0:
		return fmt.Errorf("--min-free-disk %d must not be negative", c.MinFreeDisk)
	case c.Alarms.Retention < 24*time.Hour:
		return fmt.Errorf("alarm retention %s is too short: the minimum is 24h", c.Alarms.Retention)
	case c.TSDB.Retention < 24*time.Hour:
		return fmt.Errorf("retention %s is too short: the minimum is 24h", c.TSDB.Retention)
	case c.MQTT.MaxPayload < 1024:
		return fmt.Errorf("MQTT maximum payload %d is too small: the minimum is 1024 bytes", c.MQTT.MaxPayload)
	case c.Telemetry.MaxBatch < 1:
		return fmt.Errorf("telemetry maximum batch must be at least 1")
	case c.Telemetry.MaxMetrics < 1:
		return fmt.Errorf("telemetry maximum metrics per device must be at least 1")
	case c.Telemetry.Rate < 0 || c.Telemetry.Burst < 0 || c.Telemetry.Rate > 0 && c.Telemetry.Burst < 1:
		return fmt.Errorf("telemetry rate %g and burst %d: a rate of 0 (no limit) or more, with a burst of 1 or more", c.Telemetry.Rate, c.Telemetry.Burst)
	case c.Telemetry.MaxFuture < 0 || c.Telemetry.MaxFuture > maxTelemetryFuture:
		return fmt.Errorf("telemetry maximum future %s is out of range: 0 to %s", c.Telemetry.MaxFuture, maxTelemetryFuture)
	case c.Notify.RetryFor < 0 || c.Notify.GroupWindow < 0 || c.Notify.GroupWindow > time.Hour:
		return fmt.Errorf("notifications: retry time %s must not be negative, and the group window %s is 0 to 1h", c.Notify.RetryFor, c.Notify.GroupWindow)
	case c.Notify.SMTP.Host != "" && (c.Notify.SMTP.Port < 1 || c.Notify.SMTP.Port > 65535):
		return fmt.Errorf("SMTP port %d: 1 to 65535", c.Notify.SMTP.Port)
	case c.Notify.SMTP.Host != "" && !strings.Contains(c.Notify.SMTP.From, "@"):
		return fmt.Errorf("SMTP: a sender address (--smtp-from) is needed with --smtp-host %q", c.Notify.SMTP.Host)
	case c.Notify.SMTP.Host == "" && (c.Notify.SMTP.User != "" || c.Notify.SMTP.Password != ""):
		return fmt.Errorf("SMTP: a user or password is set but no --smtp-host")
	case c.Backup.Dir != "" && c.Backup.Every < time.Minute:
		return fmt.Errorf("backups every %s: the minimum is 1m", c.Backup.Every)
	case c.Backup.Dir != "" && c.Backup.Keep < 1:
		return fmt.Errorf("backups to keep %d: at least 1", c.Backup.Keep)
	case c.ArtifactMaxSize < minArtifactMaxSize:
		return fmt.Errorf("--artifact-max-size %d: at least %d bytes (1 MiB)", c.ArtifactMaxSize, minArtifactMaxSize)
	case c.Web.SessionIdle < time.Minute || c.Web.SessionAbsolute < c.Web.SessionIdle:
		return fmt.Errorf("session timeouts: idle %s must be at least 1m and at most the absolute %s", c.Web.SessionIdle, c.Web.SessionAbsolute)
	}
	if err := c.Upstream.validate(); err != nil {
		return err
	}
	if len(c.RemoteWrite.URLs) > 0 && !c.Telemetry.Log {
		return fmt.Errorf("remote write reads the telemetry log: it needs --telemetry-log")
	}
	if len(c.RemoteWrite.URLs) > 0 && c.RemoteWrite.MaxBacklog < minRemoteWriteBacklog {
		return fmt.Errorf("--remote-write-max-backlog %d: at least %d bytes (64 MiB, four telemetry log segments)", c.RemoteWrite.MaxBacklog, minRemoteWriteBacklog)
	}
	if err := c.RemoteWrite.Validate(); err != nil {
		return err
	}
	if _, err := time.LoadLocation(c.Web.TimeZone); err != nil {
		return fmt.Errorf("time zone %q: %w", c.Web.TimeZone, err)
	}
	if u, err := url.Parse(c.Web.PublicURL); c.Web.PublicURL != "" && (err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/")) {
		return fmt.Errorf("public URL %q: an https://host[:port] address is expected", c.Web.PublicURL)
	}
	if sso := c.Web.SSO; sso.Issuer != "" {
		if sso.ClientID == "" || sso.ClientSecret == "" {
			return fmt.Errorf("single sign-on: a client id and secret are needed with the issuer %q", sso.Issuer)
		}
		if !validSSOName(sso.Name) {
			return fmt.Errorf("single sign-on name %q: 1 to 32 of a-z, 0-9 and '-'", sso.Name)
		}
	}
	return nil
}

func validSSOName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Paths inside the data directory.
func (c Config) storePath() string { return filepath.Join(c.DataDir, "hearth.db") }
func (c Config) tsdbDir() string   { return filepath.Join(c.DataDir, "tsdb") }
func (c Config) walDir() string    { return filepath.Join(c.DataDir, "wal") }
func (c Config) remoteWriteDir() string {
	return filepath.Join(c.DataDir, "remotewrite")
}
func (c Config) tlsDir() string     { return filepath.Join(c.DataDir, "tls") }
func (c Config) caFile() string     { return filepath.Join(c.tlsDir(), "ca.pem") }
func (c Config) SocketPath() string { return SocketPath(c.DataDir) }

// SocketPath is the admin socket of a server running on dataDir. Its file
// permissions (owner only) are its authentication.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, "hearth.sock") }

// fixedSSO names the single sign-on provider the command line sets, if
// any.
func (c Config) fixedSSO() []string {
	if c.Web.SSO.Issuer == "" {
		return nil
	}
	return []string{c.Web.SSO.Name}
}
