package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"
)

// runHealthcheck asks the local server's /readyz and exits non-zero unless it
// answers 200. It needs no shell, so a container image without one can use it
// as its HEALTHCHECK. It reads HEARTH_HTTP like serve does, so both agree on
// the port.
func runHealthcheck(ctx context.Context, io IO, args []string) error {
	fs := newFlagSet("healthcheck", io)
	addr := fs.String("http", ":8443", "HTTPS `address` the server listens on")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for an answer")
	if err := parse(fs, args, io); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("%w: --http %q: %w", errUsage, *addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	client := &http.Client{
		Timeout: *timeout,
		Transport: &http.Transport{
			// The probe talks to this machine's own listener and sends
			// nothing secret; the certificate may be the operator's own,
			// not issued for the loopback address.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback probe, no secrets
		},
	}
	url := "https://" + net.JoinHostPort(host, port) + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("not healthy: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not healthy: %s answered %s", url, resp.Status)
	}
	fmt.Fprintln(io.Stdout, "ok")
	return nil
}
