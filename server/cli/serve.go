package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/hearthiot/hearth/internal/membudget"
	"github.com/hearthiot/hearth/server"
)

// serveFlags binds the serve flags to cfg and returns the logging settings.
func serveFlags(fs *flag.FlagSet, cfg *server.Config) (logLevel, logFormat *string) {
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data `directory`: store, time series, TLS material, admin socket")
	fs.StringVar(&cfg.HTTP.Addr, "http", cfg.HTTP.Addr, "HTTPS `address` for the dashboard, API and Prometheus query API")
	fs.StringVar(&cfg.MQTT.Addr, "mqtt", cfg.MQTT.Addr, "MQTT over TLS `address` (empty to turn off)")
	fs.StringVar(&cfg.MQTT.PlainAddr, "mqtt-plain", cfg.MQTT.PlainAddr, "plain MQTT `address` for a trusted LAN (off unless set; secret auth only)")
	fs.Var((*listFlag)(&cfg.TLS.Hosts), "tls-hosts", "comma-separated `names and IPs` the generated server certificate covers, besides localhost and the host name")
	fs.StringVar(&cfg.TLS.CertFile, "tls-cert", cfg.TLS.CertFile, "server certificate `file` (PEM) to use instead of a generated one")
	fs.StringVar(&cfg.TLS.KeyFile, "tls-key", cfg.TLS.KeyFile, "private key `file` (PEM) of --tls-cert")
	fs.Var((*retentionFlag)(&cfg.TSDB.Retention), "retention", "how long telemetry is kept (`duration`: 3y, 90d, 2w or 720h)")
	fs.Var((*sizeFlag)(&cfg.HistoryDeviceBudget), "history-device-budget", "shadow history one device keeps; past it, its oldest changes go first (`size`: 256MiB, 1GiB; 0 keeps all until the retention)")
	fs.Var((*retentionFlag)(&cfg.HistoryRetention), "history-retention", "how long the history of shadow changes is kept (`duration`: 3y, 400d)")
	fs.DurationVar(&cfg.Schedule.CheckDelay, "schedule-check-delay", time.Minute, "how long after a day's program is pushed to a device its first check comes (`duration`)")
	fs.Float64Var(&cfg.Schedule.Backoff, "schedule-backoff", 2, "each further check of a push waits this many times longer")
	fs.Var((*retentionFlag)(&cfg.Alarms.Retention), "alarm-retention", "how long alarms are kept once cleared and acknowledged (`duration`: 1y, 90d)")
	fs.IntVar(&cfg.Schedule.MaxChecks, "schedule-checks", 5, "checks of a push to a device that stays online before it fails")
	fs.DurationVar(&cfg.Notify.RetryFor, "notify-retry-for", cfg.Notify.RetryFor, "how long a failing notification is retried before it is a dead letter")
	fs.DurationVar(&cfg.Notify.GroupWindow, "notify-group-window", cfg.Notify.GroupWindow, "how long notifications of one group are gathered for a channel, to be sent as one")
	fs.StringVar(&cfg.Notify.SMTP.Host, "smtp-host", cfg.Notify.SMTP.Host, "SMTP `host` e-mail notifications go through, with STARTTLS (off when empty)")
	fs.IntVar(&cfg.Notify.SMTP.Port, "smtp-port", cfg.Notify.SMTP.Port, "SMTP `port`")
	fs.StringVar(&cfg.Notify.SMTP.User, "smtp-user", cfg.Notify.SMTP.User, "SMTP `user` (no authentication when empty)")
	fs.StringVar(&cfg.Notify.SMTP.Password, "smtp-password", cfg.Notify.SMTP.Password, "SMTP `password` (prefer HEARTH_SMTP_PASSWORD)")
	fs.StringVar(&cfg.Notify.SMTP.From, "smtp-from", cfg.Notify.SMTP.From, "sender `address` of e-mail notifications")
	fs.Var((*memoryFlag)(&cfg.Memory), "memory", "memory budget: RSS stays under it, MQTT work is refused near it (`size or share`: 2GiB, 75%; default: the container's limit, else half the machine)")
	fs.Var((*sizeFlag)(&cfg.TSDB.MemoryBytes), "tsdb-memory", "cap for the time-series store's caches, within --memory (`size`: 512MiB, 2GiB; default: a fifth of --memory)")
	fs.IntVar(&cfg.MQTT.MaxPayload, "mqtt-max-payload", cfg.MQTT.MaxPayload, "largest MQTT payload accepted, in `bytes`; larger PUBLISH packets end the connection")
	fs.IntVar(&cfg.MQTT.MaxClients, "mqtt-max-clients", cfg.MQTT.MaxClients, "most MQTT clients connected at once")
	fs.IntVar(&cfg.MQTT.ReceiveMaximum, "mqtt-inflight", cfg.MQTT.ReceiveMaximum, "unacknowledged QoS 1 messages per client (MQTT 5 receive maximum)")
	fs.IntVar(&cfg.MQTT.ClientBufferBytes, "mqtt-client-buffer", cfg.MQTT.ClientBufferBytes, "per-client read and write buffer `bytes`")
	fs.StringVar(&cfg.Upstream.URL, "mqtt-upstream", cfg.Upstream.URL, "external MQTT broker `URL` devices connect to instead (mqtt://HOST:PORT or mqtts://HOST:PORT, may carry user:password@; prefer HEARTH_MQTT_UPSTREAM): telemetry through a shared subscription, shadows, presence")
	fs.StringVar(&cfg.Upstream.Username, "mqtt-upstream-username", cfg.Upstream.Username, "`user` Hearth connects to the upstream broker as")
	fs.StringVar(&cfg.Upstream.Password, "mqtt-upstream-password", cfg.Upstream.Password, "`password` for the upstream broker (prefer HEARTH_MQTT_UPSTREAM_PASSWORD)")
	fs.StringVar(&cfg.Upstream.CAFile, "mqtt-upstream-ca", cfg.Upstream.CAFile, "CA certificates `file` (PEM) the upstream broker's certificate is checked against (the system's when empty)")
	fs.StringVar(&cfg.Upstream.CertFile, "mqtt-upstream-cert", cfg.Upstream.CertFile, "client certificate `file` (PEM) Hearth presents to the upstream broker")
	fs.StringVar(&cfg.Upstream.KeyFile, "mqtt-upstream-key", cfg.Upstream.KeyFile, "private key `file` (PEM) of --mqtt-upstream-cert")
	fs.StringVar(&cfg.Upstream.Group, "mqtt-upstream-group", cfg.Upstream.Group, "shared-subscription `group` telemetry is taken through: the boxes of one group split it")
	fs.StringVar(&cfg.Upstream.ClientID, "mqtt-upstream-client-id", cfg.Upstream.ClientID, "this box's client `id` at the upstream broker (default: hearth-HOST-HASH of the data directory)")
	fs.StringVar(&cfg.Upstream.Shadows, "mqtt-upstream-shadows", cfg.Upstream.Shadows, "whose shadow requests this box answers upstream, of the devices registered here: all, none, or I/N (names hashing to I of N)")
	fs.Var((*sizeFlag)(&cfg.MinFreeDisk), "min-free-disk", "free space of the data directory's disk below which telemetry is refused until there is room (`size`: 256MiB, 2GiB; 0 turns it off)")
	fs.BoolVar(&cfg.Telemetry.Log, "telemetry-log", cfg.Telemetry.Log, "write telemetry to the write-ahead log, durably, before acknowledging it (off: a crash loses the last seconds)")
	fs.IntVar(&cfg.Telemetry.MaxBatch, "telemetry-max-batch", cfg.Telemetry.MaxBatch, "most entries in one back-fill telemetry array")
	fs.IntVar(&cfg.Telemetry.MaxMetrics, "telemetry-max-metrics", cfg.Telemetry.MaxMetrics, "most distinct metric names one device may use (each is a time series)")
	fs.DurationVar(&cfg.Telemetry.MaxFuture, "telemetry-max-future", cfg.Telemetry.MaxFuture, "how far ahead of the server's clock a telemetry timestamp may be")
	fs.Float64Var(&cfg.Telemetry.Rate, "telemetry-rate", cfg.Telemetry.Rate, "samples a second one device may send on average (0: no limit); its device type may set its own")
	fs.IntVar(&cfg.Telemetry.Burst, "telemetry-burst", cfg.Telemetry.Burst, "samples one device may send at once, a back-fill after an outage included")
	fs.BoolVar(&cfg.Demo.Enabled, "demo", cfg.Demo.Enabled, "seed a demo customer with four sites and run their simulated chillers and sensors in this process")
	fs.DurationVar(&cfg.Demo.Interval, "demo-interval", cfg.Demo.Interval, "time between two readings of one demo device")
	fs.StringVar(&cfg.Backup.Dir, "backup-dir", cfg.Backup.Dir, "`directory` for scheduled backups, best on another disk (off when empty)")
	fs.DurationVar(&cfg.Backup.Every, "backup-every", cfg.Backup.Every, "time between two scheduled backups, counted from the newest in --backup-dir")
	fs.IntVar(&cfg.Backup.Keep, "backup-keep", cfg.Backup.Keep, "scheduled backups kept in --backup-dir; older ones are deleted")
	fs.Var((*sizeFlag)(&cfg.ArtifactMaxSize), "artifact-max-size", "largest file operators may upload for devices to download, such as firmware (`size`: 256MiB, 1GiB)")
	fs.StringVar(&cfg.AdminEmail, "admin-email", cfg.AdminEmail, "e-mail of the first operator account, created on the first start")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "bound on a graceful stop")
	fs.StringVar(&cfg.Web.TimeZone, "timezone", cfg.Web.TimeZone, "IANA time `zone` of the pages, e.g. Asia/Tokyo; Local is the machine's")
	fs.StringVar(&cfg.Web.PublicURL, "public-url", cfg.Web.PublicURL, "`URL` browsers reach Hearth at; single sign-on redirects are built from it (default: https:// the first --tls-hosts name, else localhost, and the --http port)")
	fs.DurationVar(&cfg.Web.SessionIdle, "session-idle", cfg.Web.SessionIdle, "a page session ends after this long without a request")
	fs.DurationVar(&cfg.Web.SessionAbsolute, "session-max", cfg.Web.SessionAbsolute, "a page session ends this long after sign-in")
	fs.StringVar(&cfg.Web.SSO.Issuer, "oidc-issuer", cfg.Web.SSO.Issuer, "OpenID Connect issuer `URL` for single sign-on (off when empty)")
	fs.StringVar(&cfg.Web.SSO.Name, "oidc-name", cfg.Web.SSO.Name, "`name` of the single sign-on provider on the sign-in page")
	fs.StringVar(&cfg.Web.SSO.ClientID, "oidc-client-id", cfg.Web.SSO.ClientID, "OpenID Connect client `id`")
	fs.StringVar(&cfg.Web.SSO.ClientSecret, "oidc-client-secret", cfg.Web.SSO.ClientSecret, "OpenID Connect client `secret` (prefer HEARTH_OIDC_CLIENT_SECRET)")
	fs.StringVar(&cfg.Web.SSO.GroupsClaim, "oidc-groups-claim", cfg.Web.SSO.GroupsClaim, "ID token `claim` listing the person's groups")
	fs.StringVar(&cfg.Web.SSO.GroupsOperator, "oidc-operator-group", cfg.Web.SSO.GroupsOperator, "`group` whose members are operators")
	fs.StringVar(&cfg.Web.SSO.GroupsCustomerPrefix, "oidc-customer-group-prefix", cfg.Web.SSO.GroupsCustomerPrefix, "group `prefix`: PREFIX+CUSTOMER makes members that customer's users")
	fs.Var((*listFlag)(&cfg.RemoteWrite.URLs), "remote-write-url", "Prometheus remote write `URL` every stored sample is also sent to (repeatable, or comma-separated), e.g. http://vminsert:8480/insert/0/prometheus/api/v1/write")
	fs.StringVar(&cfg.RemoteWrite.BearerToken, "remote-write-bearer-token", cfg.RemoteWrite.BearerToken, "bearer `token` for the remote write receivers (prefer HEARTH_REMOTE_WRITE_BEARER_TOKEN)")
	fs.StringVar(&cfg.RemoteWrite.Username, "remote-write-user", cfg.RemoteWrite.Username, "Basic authentication `user` for the remote write receivers (a URL's own user:password@ wins)")
	fs.StringVar(&cfg.RemoteWrite.Password, "remote-write-password", cfg.RemoteWrite.Password, "Basic authentication `password` for the remote write receivers (prefer HEARTH_REMOTE_WRITE_PASSWORD)")
	fs.StringVar(&cfg.RemoteWrite.CAFile, "remote-write-ca-file", cfg.RemoteWrite.CAFile, "PEM `file` of CA certificates to trust for https remote write receivers, instead of the system's")
	fs.BoolVar(&cfg.RemoteWrite.InsecureSkipVerify, "remote-write-insecure-skip-verify", cfg.RemoteWrite.InsecureSkipVerify, "do not check the remote write receivers' TLS certificates (tests only)")
	fs.Var(labelsFlag(cfg.RemoteWrite.Labels), "remote-write-label", "`NAME=VALUE` label added to every series sent, e.g. hearth_box=tokyo-1 (repeatable, or comma-separated)")
	fs.Var((*sizeFlag)(&cfg.RemoteWrite.MaxBacklog), "remote-write-max-backlog", "telemetry log one remote write receiver may hold unsent on disk; past it, its oldest segments are dropped, counted and alarmed (`size`: 1GiB, 512MiB)")
	return fs.String("log-level", "info", "log `level`: debug, info, warn, error"),
		fs.String("log-format", "text", "log `format`: text or json")
}

func runServe(ctx context.Context, io IO, args []string) error {
	cfg := server.DefaultConfig()
	fs := newFlagSet("serve", io)
	logLevel, logFormat := serveFlags(fs, &cfg)
	if err := parse(fs, args, io); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	logger, err := newLogger(io.Stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	srv, err := server.New(cfg, Version, logger, io.Stdout)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return srv.Run(ctx)
}

func runVersion(_ context.Context, io IO, args []string) error {
	fs := newFlagSet("version", io)
	if err := parse(fs, args, io); err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "hearth %s\n", Version)
	return nil
}

// labelsFlag collects NAME=VALUE pairs, repeated or comma-separated.
type labelsFlag map[string]string

func (m labelsFlag) String() string { return mapFlag(m).String() }

func (m labelsFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if err := mapFlag(m).Set(p); err != nil {
			return err
		}
	}
	return nil
}

// retentionFlag accepts Go durations and the day-sized units people use for
// retention: d (days), w (weeks), y (365 days).
type retentionFlag time.Duration

func (r *retentionFlag) String() string { return time.Duration(*r).String() }

func (r *retentionFlag) Set(v string) error {
	d, err := parseLongDuration(v)
	if err != nil {
		return err
	}
	*r = retentionFlag(d)
	return nil
}

func parseLongDuration(v string) (time.Duration, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return d, nil
	}
	if len(v) < 2 {
		return 0, fmt.Errorf("%q is not a duration: use 3y, 90d, 2w or 720h", v)
	}
	var n int
	if _, err := fmt.Sscanf(v[:len(v)-1], "%d", &n); err != nil || n <= 0 || fmt.Sprint(n) != v[:len(v)-1] {
		return 0, fmt.Errorf("%q is not a duration: use 3y, 90d, 2w or 720h", v)
	}
	day := 24 * time.Hour
	switch v[len(v)-1] {
	case 'd':
		return time.Duration(n) * day, nil
	case 'w':
		return time.Duration(n) * 7 * day, nil
	case 'y':
		return time.Duration(n) * 365 * day, nil
	}
	return 0, fmt.Errorf("%q is not a duration: use 3y, 90d, 2w or 720h", v)
}

// memoryFlag accepts a size or a share of the memory available (50%).
type memoryFlag membudget.Spec

func (m *memoryFlag) String() string { return membudget.Spec(*m).String() }

func (m *memoryFlag) Set(v string) error {
	s, err := membudget.ParseSpec(v)
	if err != nil {
		return err
	}
	*m = memoryFlag(s)
	return nil
}

// sizeFlag accepts a byte count with an optional KiB, MiB or GiB suffix.
type sizeFlag int64

func (s *sizeFlag) String() string { return fmt.Sprint(int64(*s)) }

func (s *sizeFlag) Set(v string) error {
	mult := int64(1)
	num := v
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if len(v) > len(u.suffix) && v[len(v)-len(u.suffix):] == u.suffix {
			mult, num = u.mult, v[:len(v)-len(u.suffix)]
			break
		}
	}
	var n int64
	if _, err := fmt.Sscanf(num, "%d", &n); err != nil || n <= 0 || fmt.Sprint(n) != num {
		return fmt.Errorf("%q is not a size: use bytes or KiB, MiB, GiB (512MiB)", v)
	}
	*s = sizeFlag(n * mult)
	return nil
}
