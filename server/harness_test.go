package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store"
)

// hearth is a real server started on a data directory, on loopback ports.
type hearth struct {
	t       testing.TB
	dir     string
	srv     *server.Server
	console *bytes.Buffer
	https   string // base URL
	mqtts   string // host:port
	plain   string // host:port
	client  *http.Client
	caPool  *x509.CertPool
	admin   *http.Client // over the admin socket
}

// startHearth starts a server on dir; it is stopped when the test ends
// unless the test stops it first.
func startHearth(t testing.TB, dir string) *hearth {
	t.Helper()
	return startHearthWith(t, dir, nil)
}

// startHearthWith is startHearth with a change to the configuration.
func startHearthWith(t testing.TB, dir string, configure func(*server.Config)) *hearth {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.DataDir = dir
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.MQTT.Addr = "127.0.0.1:0"
	cfg.MQTT.PlainAddr = "127.0.0.1:0"
	cfg.MQTT.MaxPayload = 16 << 10
	cfg.Telemetry.MaxBatch = 50
	cfg.TSDB.MemoryBytes = 128 << 20
	cfg.ShutdownTimeout = 20 * time.Second
	cfg.MinFreeDisk = 16 << 20 // test machines may have little room
	if configure != nil {
		configure(&cfg)
	}
	console := &bytes.Buffer{}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(cfg, "test", logger, console)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	h := &hearth{t: t, dir: dir, srv: srv, console: console}
	t.Cleanup(func() { h.stop() })
	h.https = "https://" + srv.HTTPAddr().String()
	tlsAddr, plainAddr := srv.MQTTAddrs()
	h.mqtts, h.plain = tlsAddr.String(), plainAddr.String()
	caPEM, err := os.ReadFile(filepath.Join(dir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	h.caPool = x509.NewCertPool()
	if !h.caPool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	h.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.caPool}}}
	sock := server.SocketPath(dir)
	h.admin = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	return h
}

func (h *hearth) stop() {
	if h.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.srv.Stop(ctx); err != nil {
		h.t.Errorf("stop: %v", err)
	}
	h.srv = nil
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// adminCall calls the API over the admin socket as the local operator.
func (h *hearth) adminCall(method, path string, in any, out any) int {
	h.t.Helper()
	return doJSON(h.t, h.admin, method, "http://hearth"+path, "", in, out)
}

// apiCall calls the HTTPS API with a bearer token.
func (h *hearth) apiCall(token, method, path string, in any, out any) int {
	h.t.Helper()
	return doJSON(h.t, h.client, method, h.https+path, token, in, out)
}

func doJSON(t testing.TB, c *http.Client, method, u, token string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: decode: %v", method, u, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// token creates an API token over the admin socket.
// tokenSeq numbers the tokens tests create.
var tokenSeq atomic.Int64

func (h *hearth) token(role, customer string) string {
	h.t.Helper()
	var res struct {
		Token string `json:"token"`
	}
	// Token names are unique per customer; a test may ask for several.
	name := fmt.Sprintf("test-%s%s-%d", role, customer, tokenSeq.Add(1))
	if st := h.adminCall("POST", "/api/v1/tokens", map[string]string{"role": role, "customer": customer, "name": name}, &res); st != http.StatusCreated {
		h.t.Fatalf("create token: status %d", st)
	}
	return res.Token
}

// issuedDevice is what POST /api/v1/devices answers.
type issuedDevice struct {
	Device struct {
		Name     string `json:"name"`
		Customer string `json:"customer"`
		Site     string `json:"site"`
	} `json:"device"`
	Secret         string `json:"secret"`
	CertificatePEM string `json:"certificate_pem"`
	PrivateKeyPEM  string `json:"private_key_pem"`
	CAPEM          string `json:"ca_pem"`
}

func (h *hearth) addCustomer(op, name string) {
	h.t.Helper()
	if st := h.apiCall(op, "POST", "/api/v1/customers", map[string]string{"name": name}, nil); st != http.StatusCreated {
		h.t.Fatalf("create customer %s: status %d", name, st)
	}
}

// addDevice creates a device without a type, whose shadow takes any
// desired keys, as the protocol tests need.
func (h *hearth) addDevice(op, name, customer string) issuedDevice {
	h.t.Helper()
	return h.addTypedDevice(op, name, customer, "")
}

// addTypedDevice creates a device of a device type, whose settings its
// shadow updates must follow.
func (h *hearth) addTypedDevice(op, name, customer, typ string) issuedDevice {
	h.t.Helper()
	var d issuedDevice
	if st := h.apiCall(op, "POST", "/api/v1/devices", map[string]string{"name": name, "customer": customer, "type": typ}, &d); st != http.StatusCreated {
		h.t.Fatalf("create device %s: status %d", name, st)
	}
	if d.Secret == "" || d.CertificatePEM == "" || d.PrivateKeyPEM == "" || d.CAPEM == "" {
		h.t.Fatalf("create device %s: credentials missing: %+v", name, d)
	}
	return d
}

func (h *hearth) clientTLS(d *issuedDevice) *tls.Config {
	h.t.Helper()
	c := &tls.Config{RootCAs: h.caPool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if d != nil {
		cert, err := tls.X509KeyPair([]byte(d.CertificatePEM), []byte(d.PrivateKeyPEM))
		if err != nil {
			h.t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c
}

// v3 connects an MQTT 3.1.1 client. With withCert the device's certificate
// is presented; otherwise username and secret.
func (h *hearth) v3(name string, d issuedDevice, withCert bool, secret string) (mqtt.Client, byte, error) {
	h.t.Helper()
	opts := mqtt.NewClientOptions().AddBroker("ssl://" + h.mqtts).SetClientID(name).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(10 * time.Second).SetCleanSession(true)
	if withCert {
		opts.SetTLSConfig(h.clientTLS(&d))
	} else {
		opts.SetTLSConfig(h.clientTLS(nil)).SetUsername(name).SetPassword(secret)
	}
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		return nil, 0, fmt.Errorf("connect timed out")
	}
	ct := tok.(*mqtt.ConnectToken)
	if err := tok.Error(); err != nil {
		return nil, ct.ReturnCode(), err
	}
	h.t.Cleanup(func() { c.Disconnect(100) })
	return c, ct.ReturnCode(), nil
}

// v5 connects an MQTT 5 client over TLS with the secret (or the certificate
// when withCert), collecting what it receives.
type v5client struct {
	c        *paho.Client
	received chan *paho.Publish
	dropped  chan *paho.Disconnect
	closed   <-chan struct{}
}

func (h *hearth) v5(name string, d issuedDevice, withCert bool, secret string) (*v5client, *paho.Connack, error) {
	h.t.Helper()
	var tc *tls.Config
	if withCert {
		tc = h.clientTLS(&d)
	} else {
		tc = h.clientTLS(nil)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", h.mqtts, tc)
	if err != nil {
		return nil, nil, err
	}
	vc := &v5client{received: make(chan *paho.Publish, 100), dropped: make(chan *paho.Disconnect, 1)}
	c := paho.NewClient(paho.ClientConfig{
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			select {
			case vc.received <- pr.Packet:
			default:
			}
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case vc.dropped <- d:
			default:
			}
		},
		OnClientError: func(error) {},
	})
	vc.c = c
	vc.closed = c.Done()
	cp := &paho.Connect{ClientID: name, KeepAlive: 30, CleanStart: true}
	if !withCert {
		cp.Username, cp.UsernameFlag = name, true
		cp.Password, cp.PasswordFlag = []byte(secret), true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, cp)
	if err != nil {
		conn.Close()
		return nil, ack, err
	}
	h.t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{ReasonCode: 0}) })
	return vc, ack, nil
}

func (v *v5client) publish(topic string, payload []byte) (byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := v.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload})
	if res != nil {
		return res.ReasonCode, err
	}
	return 0, err
}

func (v *v5client) subscribe(t *testing.T, filter string) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sa, err := v.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if sa == nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	return sa.Reasons[0]
}

// latest returns the device's latest values by metric.
func (h *hearth) latest(token, name string) map[string]float64 {
	h.t.Helper()
	var res struct {
		Values []struct {
			Metric string  `json:"metric"`
			TS     int64   `json:"ts"`
			Value  float64 `json:"value"`
		} `json:"values"`
	}
	if st := h.apiCall(token, "GET", "/api/v1/devices/"+url.PathEscape(name)+"/telemetry/latest", nil, &res); st != http.StatusOK {
		h.t.Fatalf("latest %s: status %d", name, st)
	}
	out := map[string]float64{}
	for _, v := range res.Values {
		out[v.Metric] = v.Value
	}
	return out
}

// promQuery runs an instant query on the Prometheus-compatible API.
func (h *hearth) promQuery(token, q string) (int, []promSample) {
	h.t.Helper()
	var res struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	st := h.apiCall(token, "GET", "/prometheus/api/v1/query?query="+url.QueryEscape(q), nil, &res)
	var out []promSample
	for _, r := range res.Data.Result {
		var v float64
		fmt.Sscan(fmt.Sprint(r.Value[1]), &v)
		out = append(out, promSample{r.Metric, v})
	}
	return st, out
}

type promSample struct {
	Labels map[string]string
	Value  float64
}

// eventually retries f until it returns true or the deadline passes.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	// New series can take up to about 15 s to become searchable.
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// srvStore is the running server's record store.
func (h *hearth) srvStore() *store.Store { return h.srv.Store() }
