package apiclient_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/web/api/apiclient"
)

// TestGeneratedCodeIsCurrent regenerates the client from the document into
// a temporary directory, as go generate does, and compares.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "client.gen.go")
	cmd := exec.Command("go", "tool", "oapi-codegen", "-config", "oapi-codegen.yaml", "-o", out, "../openapi.yaml")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, msg)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, committed) {
		t.Fatal("client.gen.go is not what openapi.yaml generates: run go generate ./web/api/apiclient and commit it")
	}
}

// TestClient runs a real Hearth server on loopback ports and uses the
// generated client over HTTPS, as an integrator's program would: an
// operator creates a customer and a device, the device publishes a
// reading over MQTT/TLS, and the client reads it back, changes and reads
// the device's shadow, and lists the calendars.
func TestClient(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := server.DefaultConfig()
	cfg.DataDir = dir
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.MQTT.Addr = "127.0.0.1:0"
	cfg.MQTT.PlainAddr = ""
	cfg.TSDB.MemoryBytes = 128 << 20
	cfg.ShutdownTimeout = 20 * time.Second
	srv, err := server.New(cfg, "test", slog.New(slog.DiscardHandler), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		stopCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
		defer stop()
		if err := srv.Stop(stopCtx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	caPEM, err := os.ReadFile(filepath.Join(dir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}

	// The first token comes over the admin socket, where the generated
	// client works too: its file permissions are the authentication.
	socket := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", server.SocketPath(dir))
		},
	}}
	local, err := apiclient.NewClientWithResponses("http://hearth", apiclient.WithHTTPClient(socket))
	if err != nil {
		t.Fatal(err)
	}
	created, err := local.CreateTokenWithResponse(ctx, apiclient.NewToken{Name: "integration", Role: apiclient.NewTokenRoleOperator})
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create token: %v %s", err, body(created))
	}
	token := created.JSON201.Token

	https := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	base := "https://" + srv.HTTPAddr().String()
	c, err := apiclient.NewClientWithResponses(base, apiclient.WithHTTPClient(https),
		apiclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+token)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}

	display := "ACME Hotels"
	customer, err := c.CreateCustomerWithResponse(ctx, apiclient.NewCustomer{Name: "acme", DisplayName: &display})
	if err != nil || customer.JSON201 == nil || customer.JSON201.Name != "acme" || *customer.JSON201.DisplayName != display {
		t.Fatalf("create customer: %v %s", err, body(customer))
	}
	dev, err := c.CreateDeviceWithResponse(ctx, apiclient.NewDevice{Name: "chiller-1", Customer: "acme"})
	if err != nil || dev.JSON201 == nil || dev.JSON201.Secret == "" || dev.JSON201.Device.Site != "default" || len(dev.JSON201.Device.Credentials) != 2 {
		t.Fatalf("create device: %v %s", err, body(dev))
	}

	// The device publishes a reading with the secret it was given.
	_, port, err := net.SplitHostPort(mqttAddr(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	opts := mqtt.NewClientOptions().AddBroker("ssl://127.0.0.1:" + port).SetClientID("chiller-1").
		SetUsername("chiller-1").SetPassword(dev.JSON201.Secret).SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectTimeout(10 * time.Second).
		SetTLSConfig(&tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	device := mqtt.NewClient(opts)
	if tok := device.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("device connect: %v", tok.Error())
	}
	defer device.Disconnect(100)
	if tok := device.Publish("hearth/things/chiller-1/telemetry", 1, false, `{"chw_supply_c": 7.1}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}

	var latest *apiclient.ShowLatestTelemetryResponse
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		latest, err = c.ShowLatestTelemetryWithResponse(ctx, "chiller-1")
		if err != nil || latest.JSON200 == nil {
			t.Fatalf("latest telemetry: %v %s", err, body(latest))
		}
		if len(latest.JSON200.Values) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if v := latest.JSON200.Values; len(v) != 1 || v[0].Metric != "chw_supply_c" || v[0].Value != 7.1 {
		t.Fatalf("latest telemetry: %+v", v)
	}
	// The history answers once the engine has indexed the sample.
	var series *apiclient.QueryTelemetryResponse
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		series, err = c.QueryTelemetryWithResponse(ctx, "chiller-1", &apiclient.QueryTelemetryParams{Metric: []string{"chw_supply_c"}})
		if err != nil || series.JSON200 == nil {
			t.Fatalf("telemetry history: %v %s", err, body(series))
		}
		if len(series.JSON200.Points) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if p := series.JSON200.Points; len(p) != 1 || p[0].Avg != 7.1 || p[0].Max != 7.1 {
		t.Fatalf("telemetry history: %s", series.Body)
	}
	csv, err := c.QueryTelemetryWithResponse(ctx, "chiller-1", &apiclient.QueryTelemetryParams{Metric: []string{"chw_supply_c"}, Format: ptr(apiclient.FormatCSV)})
	if err != nil || csv.StatusCode() != http.StatusOK || !bytes.Contains(csv.Body, []byte("chw_supply_c")) {
		t.Fatalf("telemetry as CSV: %v %s", err, body(csv))
	}

	// The desired setting waits in the delta until the device reports it.
	update, err := c.UpdateShadowWithResponse(ctx, "chiller-1", &apiclient.UpdateShadowParams{},
		apiclient.ShadowUpdate{State: apiclient.ShadowUpdateState{Desired: &map[string]any{"chw_setpoint_c": 7}}})
	if err != nil || update.JSON200 == nil || update.JSON200.Version != 1 {
		t.Fatalf("update shadow: %v %s", err, body(update))
	}
	shadow, err := c.ShowShadowWithResponse(ctx, "chiller-1", &apiclient.ShowShadowParams{})
	if err != nil || shadow.JSON200 == nil {
		t.Fatalf("show shadow: %v %s", err, body(shadow))
	}
	if st := shadow.JSON200.State; st.Desired == nil || (*st.Desired)["chw_setpoint_c"] != 7.0 || st.Delta == nil || (*st.Delta)["chw_setpoint_c"] != 7.0 {
		t.Errorf("shadow state: %s", shadow.Body)
	}

	calendars, err := c.ListCalendarsWithResponse(ctx)
	if err != nil || calendars.JSON200 == nil || calendars.JSON200.Calendars == nil {
		t.Fatalf("list calendars: %v %s", err, body(calendars))
	}

	// Errors come back typed, with the document's error body.
	missing, err := c.ShowDeviceWithResponse(ctx, "nothing")
	if err != nil || missing.JSON404 == nil || missing.JSON404.Error.Code != apiclient.ErrorCodeNotFound {
		t.Errorf("a missing device: %v %s", err, body(missing))
	}
	anonymous, err := apiclient.NewClientWithResponses(base, apiclient.WithHTTPClient(https))
	if err != nil {
		t.Fatal(err)
	}
	refused, err := anonymous.ListCustomersWithResponse(ctx)
	if err != nil || refused.JSON401 == nil || refused.JSON401.Error.Code != apiclient.ErrorCodeUnauthorized {
		t.Errorf("without a token: %v %s", err, body(refused))
	}
	doc, err := anonymous.ShowOpenAPIWithResponse(ctx)
	if err != nil || doc.JSON200 == nil || (*doc.JSON200)["openapi"] != "3.1.0" {
		t.Errorf("the document without a token: %v %s", err, body(doc))
	}
}

// mqttAddr is the server's MQTT/TLS listener.
func mqttAddr(t *testing.T, srv *server.Server) string {
	t.Helper()
	addr, _ := srv.MQTTAddrs()
	if addr == nil {
		t.Fatal("no MQTT/TLS listener")
	}
	return addr.String()
}

// body is the status and body of a generated *…Response, for a failure
// message.
func body(r any) string {
	v := reflect.ValueOf(r)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return "(no answer)"
	}
	status := v.MethodByName("StatusCode").Call(nil)[0].Int()
	return fmt.Sprintf("%d %s", status, v.Elem().FieldByName("Body").Bytes())
}

func ptr[T any](v T) *T { return &v }
