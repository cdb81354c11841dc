package sim_test

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hearthiot/hearth/sim"
)

const testToken = "test-token"

// fakeAPI answers the part of Hearth's HTTP API that the load tool uses,
// following its documented contract, with device certificates from ca.
type fakeAPI struct {
	ca *sim.CA

	mu        sync.Mutex
	customers map[string]bool
	devices   map[string]string // name → customer

	inFlight, maxInFlight atomic.Int32
	queries               []string
}

func newFakeAPI(t *testing.T, authority *sim.CA) (*fakeAPI, *httptest.Server) {
	t.Helper()
	f := &fakeAPI{ca: authority, customers: map[string]bool{}, devices: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/customers", f.createCustomer)
	mux.HandleFunc("POST /api/v1/devices", f.createDevice)
	mux.HandleFunc("GET /prometheus/api/v1/query", f.query)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return f, srv
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) createCustomer(w http.ResponseWriter, r *http.Request) {
	var in struct{ Name string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Name == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "name required"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.customers[in.Name] {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "customer exists"})
		return
	}
	f.customers[in.Name] = true
	writeJSON(w, http.StatusCreated, map[string]any{"name": in.Name})
}

func (f *fakeAPI) createDevice(w http.ResponseWriter, r *http.Request) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxInFlight.Load()
		if n <= m || f.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(10 * time.Millisecond) // long enough for requests to overlap
	var in struct{ Name, Customer string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Name == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "name required"})
		return
	}
	f.mu.Lock()
	if !f.customers[in.Customer] {
		f.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown customer"})
		return
	}
	if _, ok := f.devices[in.Name]; ok {
		f.mu.Unlock()
		writeJSON(w, http.StatusConflict, map[string]string{"error": "device exists"})
		return
	}
	f.devices[in.Name] = in.Customer
	f.mu.Unlock()
	certPEM, keyPEM, _, err := f.ca.IssueClient(in.Name, time.Hour)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"device":          map[string]string{"name": in.Name, "customer": in.Customer},
		"secret":          "secret-of-" + in.Name,
		"certificate_pem": string(certPEM),
		"private_key_pem": string(keyPEM),
		"ca_pem":          string(f.ca.CertPEM()),
	})
}

func (f *fakeAPI) query(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("query")
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	if strings.Contains(q, "(") && !strings.HasPrefix(q, "sum(") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"status": "error", "errorType": "bad_data", "error": "unknown function"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{
		"resultType": "vector",
		"result": []any{map[string]any{
			"metric": map[string]string{"customer": "load"},
			"value":  []any{1700000000.25, "1234"},
		}},
	}})
}

func TestProvision(t *testing.T) {
	t.Parallel()
	authority := newCA(t)
	api, srv := newFakeAPI(t, authority)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cfg := sim.APIClientConfig{BaseURL: srv.URL + "/", Token: testToken, CA: pool, Concurrency: 3}

	creds, err := sim.Provision(t.Context(), cfg, "load", "prov", 12)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if len(creds) != 12 {
		t.Fatalf("got %d credentials, want 12", len(creds))
	}
	for i, c := range creds {
		if want := sim.DeviceName("prov", i); c.Name != want {
			t.Errorf("credentials %d named %q, want %q", i, c.Name, want)
		}
		if c.Secret != "secret-of-"+c.Name || c.Certificate == nil || c.Certificate.Leaf.Subject.CommonName != c.Name {
			t.Errorf("credentials of %s incomplete: secret %q certificate %v", c.Name, c.Secret, c.Certificate != nil)
		}
	}
	if m := api.maxInFlight.Load(); m > 3 || m < 2 {
		t.Errorf("at most %d device requests at once, want 2..3", m)
	}

	// The customer exists now; a second batch only needs new names.
	more, err := sim.Provision(t.Context(), cfg, "load", "more", 2)
	if err != nil || len(more) != 2 {
		t.Fatalf("second Provision: %d, %v", len(more), err)
	}

	_, err = sim.Provision(t.Context(), cfg, "load", "prov", 2)
	if !errors.Is(err, sim.ErrDeviceExists) {
		t.Errorf("Provision of existing names: %v, want ErrDeviceExists", err)
	}

	bad := cfg
	bad.Token = "wrong"
	_, err = sim.Provision(t.Context(), bad, "load", "x", 1)
	var apiErr *sim.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Errorf("Provision with a wrong token: %v, want an APIError with status 401", err)
	}

	untrusted := cfg
	untrusted.CA = authority.Pool()
	if _, err := sim.Provision(t.Context(), untrusted, "load", "y", 1); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Provision against an untrusted server: %v, want a certificate error", err)
	}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	api, srv := newFakeAPI(t, newCA(t))
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cfg := sim.APIClientConfig{BaseURL: srv.URL, Token: testToken, CA: pool}

	q := `sum(count_over_time({customer="load"}[1m]))`
	got, err := sim.Query(t.Context(), cfg, q, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	want := []sim.Sample{{Labels: map[string]string{"customer": "load"}, Time: time.UnixMilli(1700000000250), Value: 1234}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Query mismatch (-want +got):\n%s", diff)
	}
	api.mu.Lock()
	sent := api.queries[0]
	api.mu.Unlock()
	if sent != q {
		t.Errorf("server saw query %q, want %q", sent, q)
	}

	_, err = sim.Query(t.Context(), cfg, "nosuch(x)", time.Time{})
	if err == nil || !strings.Contains(err.Error(), "bad_data: unknown function") {
		t.Errorf("Query of a bad expression: %v, want the server's explanation", err)
	}
}

// TestProvisionedLoad runs the whole path of a load test against Hearth
// with mosquitto standing in for the broker: provision through the API,
// save and reload the credentials, and connect with the CA they carry.
func TestProvisionedLoad(t *testing.T) {
	t.Parallel()
	m := startMosquitto(t, brokerOptions{tls: true, requireCert: true})
	_, srv := newFakeAPI(t, m.ca)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	creds, err := sim.Provision(t.Context(), sim.APIClientConfig{BaseURL: srv.URL, Token: testToken, CA: pool}, "load", "e2e", 5)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	dir := t.TempDir()
	if err := sim.SaveCredentials(dir, creds); err != nil {
		t.Fatal(err)
	}
	loaded, err := sim.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	brokerCA, err := sim.CAPool(loaded)
	if err != nil {
		t.Fatal(err)
	}
	// mosquitto requires a client certificate of its CA: the devices get in
	// only with the certificates the API handed out.
	res, err := sim.RunLoad(t.Context(), sim.LoadConfig{
		Broker: m.addr, TLS: brokerTLS(brokerCA), Devices: loaded, Rate: 100, Duration: 500 * time.Millisecond,
	}, testLogger(t))
	if err != nil {
		t.Fatalf("RunLoad: %v", err)
	}
	if res.Connected != 5 || res.Acked == 0 || res.Failed != 0 {
		t.Errorf("result %+v, want 5 devices with acknowledged messages", res)
	}
}
