package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/hearthiot/hearth/broker"
	"github.com/hearthiot/hearth/broker/upstream"
	"github.com/hearthiot/hearth/internal/tlsfile"
	"github.com/hearthiot/hearth/protocol"
)

// validate checks the upstream settings without reading any file.
func (u UpstreamConfig) validate() error {
	if u.URL == "" {
		if u.Username != "" || u.Password != "" || u.CAFile != "" || u.CertFile != "" || u.KeyFile != "" {
			return errors.New("--mqtt-upstream-* settings are given without --mqtt-upstream")
		}
		return nil
	}
	if (u.CertFile == "") != (u.KeyFile == "") {
		return errors.New("--mqtt-upstream-cert and --mqtt-upstream-key must be given together")
	}
	cfg, err := u.clientConfig("data")
	if err != nil {
		return err
	}
	if u.CAFile != "" || u.CertFile != "" {
		cfg.TLS = &tls.Config{} // only its presence is checked here
	}
	return cfg.Validate()
}

// clientConfig is the upstream client's configuration, TLS files aside.
func (u UpstreamConfig) clientConfig(dataDir string) (upstream.Config, error) {
	part, err := upstream.ParsePartition(u.Shadows)
	if err != nil {
		return upstream.Config{}, fmt.Errorf("--mqtt-upstream-shadows %w", err)
	}
	id := u.ClientID
	if id == "" {
		id = defaultUpstreamClientID(dataDir)
	}
	return upstream.Config{
		URL: u.URL, Username: u.Username, Password: u.Password,
		Group: u.Group, ClientID: id, Shadows: part,
	}, nil
}

// defaultUpstreamClientID names this box at the upstream broker: the host
// name and a hash of the data directory, so that it stays the same across
// restarts and differs between two boxes on one host.
func defaultUpstreamClientID(dataDir string) string {
	host, _ := os.Hostname()
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	sum := sha256.Sum256([]byte(host + "\x00" + dataDir))
	if len(host) > 40 {
		host = host[:40]
	}
	return "hearth-" + host + "-" + hex.EncodeToString(sum[:4])
}

// tlsConfig reads the CA and client certificate files.
func (u UpstreamConfig) tlsConfig() (*tls.Config, error) {
	if u.CAFile == "" && u.CertFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if u.CAFile != "" {
		pool, err := tlsfile.CertPool(u.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--mqtt-upstream-ca: %w", err)
		}
		c.RootCAs = pool
	}
	if u.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(u.CertFile, u.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("--mqtt-upstream-cert and --mqtt-upstream-key: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// startUpstream connects to the upstream broker, when one is set. It runs
// after the broker, so it stops before it: the telemetry it took is stored
// and acknowledged upstream before the stores close.
func (s *Server) startUpstream(ctx context.Context) error {
	u := s.cfg.Upstream
	if u.URL == "" {
		return nil
	}
	cfg, err := u.clientConfig(s.cfg.DataDir)
	if err != nil {
		return err
	}
	if cfg.TLS, err = u.tlsConfig(); err != nil {
		return err
	}
	c, err := upstream.New(cfg, upstream.Deps{
		Ingest: s.telemetry, Registry: s.registry, Shadows: s.shadows, Presence: s.presence, Rules: s.rules,
	}, s.logger.With("component", "upstream"))
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	s.upstream = c
	s.devicesOut.up.Store(c)
	s.onStop("mqtt upstream", func(ctx context.Context) error {
		s.devicesOut.up.Store(nil)
		return c.Stop(ctx)
	})
	return nil
}

// devicePublisher is what the services that tell devices something
// publish through: the embedded broker's outbound, and for a device whose
// shadow this box answers on the upstream broker, that broker too. A
// device is connected to one of them; the other has no subscriber for the
// topic and drops the message.
type devicePublisher struct {
	local *broker.Outbound
	up    atomic.Pointer[upstream.Client]
}

func (p *devicePublisher) Publish(topic string, payload []byte, qos byte) error {
	err := p.local.Publish(topic, payload, qos)
	up := p.up.Load()
	if up == nil {
		return err
	}
	t, ok := protocol.ParseTopic(topic)
	if !ok || !up.Owns(t.Thing) {
		return err
	}
	return errors.Join(err, up.Publish(topic, payload, qos))
}

// writeUpstreamMetrics adds the upstream client's counters to /metrics.
func (s *Server) writeUpstreamMetrics(w io.Writer) {
	c := s.upstream
	if c == nil {
		return
	}
	st := c.Stats()
	connected := 0.0
	if st.Connected {
		connected = 1
	}
	gauge(w, "hearth_mqtt_upstream_connected", "1 while connected and subscribed to the upstream MQTT broker.", connected)
	counter(w, "hearth_mqtt_upstream_connects_total", "Connections made to the upstream MQTT broker.", st.Connects)
	counter(w, "hearth_mqtt_upstream_messages_received_total", "PUBLISH packets received from the upstream MQTT broker.", st.Messages)
	counter(w, "hearth_mqtt_upstream_telemetry_stored_total", "Telemetry messages from the upstream broker stored.", st.TelemetryStored)
	counter(w, "hearth_mqtt_upstream_samples_stored_total", "Telemetry samples from the upstream broker stored.", st.SamplesStored)
	counter(w, "hearth_mqtt_upstream_telemetry_refused_total", "Telemetry messages from the upstream broker refused (decoding, limits, storing).", st.TelemetryRefused)
	counter(w, "hearth_mqtt_upstream_unknown_device_total", "Telemetry messages and shadow requests from the upstream broker of devices not registered on this box, dropped.", st.UnknownDevice)
	counter(w, "hearth_mqtt_upstream_shadow_requests_total", "Shadow requests from the upstream broker answered.", st.ShadowRequests)
	counter(w, "hearth_mqtt_upstream_shadow_not_owned_total", "Shadow requests of registered devices left to the box whose --mqtt-upstream-shadows partition holds them.", st.ShadowNotOwned)
	counter(w, "hearth_mqtt_upstream_shadow_dropped_total", "Shadow requests dropped because too many were waiting.", st.ShadowDropped)
	counter(w, "hearth_mqtt_upstream_presence_events_total", "Connect and disconnect events from the upstream broker applied.", st.PresenceEvents)
	counter(w, "hearth_mqtt_upstream_published_total", "Messages published to the upstream broker.", st.Published)
	counter(w, "hearth_mqtt_upstream_publish_failed_total", "Messages that could not be published to the upstream broker.", st.PublishFailed)
}
