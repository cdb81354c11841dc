package sim

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultAPIConcurrency is how many requests Provision has in flight when
// APIClientConfig.Concurrency is 0: enough to hide round trips, few enough
// not to turn provisioning into a load test of its own.
const DefaultAPIConcurrency = 8

// apiTimeout bounds one API request.
const apiTimeout = 30 * time.Second

// maxAPIResponse bounds how much of an API response is read.
const maxAPIResponse = 8 << 20

// ErrDeviceExists means Hearth already has a device of that name. Its secret
// and key are only handed out when a device is created, so such a device
// cannot be used unless its credentials were saved.
var ErrDeviceExists = errors.New("device already exists")

// APIClientConfig says how to reach Hearth's HTTP API.
type APIClientConfig struct {
	// BaseURL is the scheme, host and port, e.g. https://127.0.0.1:8443.
	BaseURL string
	// Token is sent as a bearer token.
	Token string
	// CA verifies the server; nil uses the system roots.
	CA *x509.CertPool
	// Concurrency bounds parallel requests (DefaultAPIConcurrency when 0).
	Concurrency int
	// HTTPClient, when set, sends the requests instead of a client built
	// from CA, such as one over Hearth's local admin socket.
	HTTPClient *http.Client
}

func (c APIClientConfig) client() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: c.CA, MinVersion: tls.VersionTLS12}
	tr.MaxIdleConnsPerHost = max(c.Concurrency, DefaultAPIConcurrency)
	return &http.Client{Transport: tr, Timeout: apiTimeout}
}

// APIError is a response from Hearth's API with an unexpected status.
type APIError struct {
	Method, Path string
	Status       int
	Body         string // the start of the response body
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// do sends one JSON request and decodes a JSON answer into out when the
// status is one of ok; any other status is an *APIError.
func (c APIClientConfig) do(ctx context.Context, hc *http.Client, method, path string, in, out any, ok ...int) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, body)
	if err != nil {
		return 0, fmt.Errorf("build %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read %s %s: %w", method, path, err)
	}
	for _, s := range ok {
		if resp.StatusCode != s {
			continue
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return s, fmt.Errorf("cannot parse response of %s %s: %w", method, path, err)
			}
		}
		return s, nil
	}
	const keep = 512
	if len(data) > keep {
		data = data[:keep]
	}
	return resp.StatusCode, &APIError{Method: method, Path: path, Status: resp.StatusCode, Body: strings.TrimSpace(string(data))}
}

// createDeviceRequest and createDeviceResponse follow POST /api/v1/devices.
type createDeviceRequest struct {
	Name     string `json:"name"`
	Customer string `json:"customer"`
	Site     string `json:"site,omitempty"`
	Type     string `json:"type,omitempty"`
}

type createDeviceResponse struct {
	Secret         string `json:"secret"`
	CertificatePEM string `json:"certificate_pem"`
	PrivateKeyPEM  string `json:"private_key_pem"`
	CAPEM          string `json:"ca_pem"`
}

// DeviceName returns the name Provision gives device i under prefix.
func DeviceName(prefix string, i int) string { return fmt.Sprintf("%s-%05d", prefix, i) }

// Provision creates customer (an existing one is fine) and n devices named
// DeviceName(prefix, 0..n-1) for it through Hearth's API, with at most
// api.Concurrency requests at a time, and returns their credentials in name
// order. It stops at the first failure; devices created before it exist on
// the server but are not returned, so a retry needs a new prefix. Save the
// result with SaveCredentials: the API hands out secrets only once.
func Provision(ctx context.Context, api APIClientConfig, customer, prefix string, n int) ([]Credentials, error) {
	return ProvisionDevices(ctx, api, ProvisionSpec{Customer: customer, Prefix: prefix, N: n})
}

// ProvisionSpec says which devices ProvisionDevices creates.
type ProvisionSpec struct {
	Customer string
	// Site, when set, is created for the customer if it is not there and
	// holds the devices; empty puts them on the customer's default site.
	Site string
	// Type, when set, is the devices' type, which must exist.
	Type   string
	Prefix string
	N      int
	// Reuse takes over a device that already has its name, when it is of
	// the same customer and type, by rotating its credentials: a run cut
	// short can be run again. Otherwise such a device fails the run.
	Reuse bool
}

// ProvisionDevices is Provision with a site and a type for the devices.
func ProvisionDevices(ctx context.Context, api APIClientConfig, spec ProvisionSpec) ([]Credentials, error) {
	customer, prefix, n := spec.Customer, spec.Prefix, spec.N
	if api.BaseURL == "" {
		return nil, fmt.Errorf("provision: no API base URL")
	}
	if customer == "" || prefix == "" {
		return nil, fmt.Errorf("provision: customer and prefix must not be empty")
	}
	if n <= 0 {
		return nil, fmt.Errorf("provision: device count %d must be positive", n)
	}
	if api.Concurrency < 0 {
		return nil, fmt.Errorf("provision: concurrency %d must be >= 0", api.Concurrency)
	}
	workers := api.Concurrency
	if workers == 0 {
		workers = DefaultAPIConcurrency
	}
	hc := api.client()
	defer hc.CloseIdleConnections()

	// 201 created the customer or site, 409 means it was there already;
	// both will do.
	if _, err := api.do(ctx, hc, http.MethodPost, "/api/v1/customers", map[string]string{"name": customer}, nil,
		http.StatusCreated, http.StatusConflict); err != nil {
		return nil, fmt.Errorf("provision customer %q: %w", customer, err)
	}
	if spec.Site != "" {
		if _, err := api.do(ctx, hc, http.MethodPost, "/api/v1/customers/"+url.PathEscape(customer)+"/sites", map[string]string{"name": spec.Site}, nil,
			http.StatusCreated, http.StatusConflict); err != nil {
			return nil, fmt.Errorf("provision site %q of customer %q: %w", spec.Site, customer, err)
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	creds := make([]Credentials, n)
	parallel(ctx, n, workers, func(i int) {
		req := createDeviceRequest{Name: DeviceName(prefix, i), Customer: customer, Site: spec.Site, Type: spec.Type}
		c, err := createDevice(ctx, api, hc, req)
		if errors.Is(err, ErrDeviceExists) && spec.Reuse {
			c, err = reuseDevice(ctx, api, hc, req)
		}
		if err != nil {
			cancel(err)
			return
		}
		creds[i] = c
	})
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("provision devices %s-*: %w", prefix, err)
	}
	return creds, nil
}

// EnsureDeviceType creates the device type of kind (see DeviceType) through
// the API unless a type of that name exists; an existing type is left as
// the operator made it.
func EnsureDeviceType(ctx context.Context, api APIClientConfig, kind Kind) error {
	name, doc := DeviceType(kind)
	hc := api.client()
	defer hc.CloseIdleConnections()
	path := "/api/v1/device-types/" + url.PathEscape(name)
	status, err := api.do(ctx, hc, http.MethodGet, path, nil, nil, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return fmt.Errorf("look up device type %q: %w", name, err)
	}
	if status == http.StatusOK {
		return nil
	}
	if _, err := api.do(ctx, hc, http.MethodPut, path, doc, nil, http.StatusCreated, http.StatusOK); err != nil {
		return fmt.Errorf("create device type %q: %w", name, err)
	}
	return nil
}

// reuseDevice issues new credentials to an existing device of the same
// customer and type as req, and refuses any other.
func reuseDevice(ctx context.Context, api APIClientConfig, hc *http.Client, req createDeviceRequest) (Credentials, error) {
	path := "/api/v1/devices/" + url.PathEscape(req.Name)
	var have struct {
		Customer string `json:"customer"`
		Type     string `json:"type"`
	}
	if _, err := api.do(ctx, hc, http.MethodGet, path, nil, &have, http.StatusOK); err != nil {
		return Credentials{}, fmt.Errorf("look up existing device %q: %w", req.Name, err)
	}
	if have.Customer != req.Customer || have.Type != req.Type {
		return Credentials{}, fmt.Errorf("device %q exists for customer %q with type %q, not %q and %q; it is not taken over: %w",
			req.Name, have.Customer, have.Type, req.Customer, req.Type, ErrDeviceExists)
	}
	var out createDeviceResponse
	if _, err := api.do(ctx, hc, http.MethodPost, path+"/credentials/rotate", nil, &out, http.StatusOK); err != nil {
		return Credentials{}, fmt.Errorf("issue new credentials to device %q: %w", req.Name, err)
	}
	return credentialsOf(req.Name, out)
}

func createDevice(ctx context.Context, api APIClientConfig, hc *http.Client, req createDeviceRequest) (Credentials, error) {
	name := req.Name
	var out createDeviceResponse
	_, err := api.do(ctx, hc, http.MethodPost, "/api/v1/devices", req, &out,
		http.StatusCreated)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict {
		return Credentials{}, fmt.Errorf("create device %q: %w: %w", name, ErrDeviceExists, err)
	}
	if err != nil {
		return Credentials{}, fmt.Errorf("create device %q: %w", name, err)
	}
	return credentialsOf(name, out)
}

// credentialsOf turns the API's answer with a device's new credentials
// into Credentials.
func credentialsOf(name string, out createDeviceResponse) (Credentials, error) {
	c := Credentials{Name: name, Secret: out.Secret}
	if out.CAPEM != "" {
		c.CAPEM = []byte(out.CAPEM)
	}
	if out.CertificatePEM != "" || out.PrivateKeyPEM != "" {
		cert, err := tls.X509KeyPair([]byte(out.CertificatePEM), []byte(out.PrivateKeyPEM))
		if err != nil {
			return Credentials{}, fmt.Errorf("create device %q: certificate in response: %w", name, err)
		}
		c.Certificate = &cert
	}
	if c.Secret == "" && c.Certificate == nil {
		return Credentials{}, fmt.Errorf("create device %q: response has neither secret nor certificate", name)
	}
	return c, nil
}
