// Command hostile sends the traffic of an abusive device or client to a
// running Hearth and counts how it was answered, for scripts/bench/hostile.sh:
//
//	hostile shadows -broker H:P -creds DIR  one device floods its named shadows
//	hostile signin  -api URL -ca FILE       slow-body and wrong-password sign-ins
//
// Each prints one JSON object on standard output. Every run is bounded in
// count and time.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/hearthiot/hearth/sim"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: hostile shadows|signin [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "shadows":
		err = shadows(os.Args[2:])
	case "signin":
		err = signin(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: shadows or signin", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
}

// shadowResult is what shadows prints.
type shadowResult struct {
	Updates  int            `json:"updates"`
	Accepted int64          `json:"accepted"`
	Rejected map[string]int `json:"rejected"`
	Missing  int64          `json:"missing"`
	Seconds  float64        `json:"seconds"`
}

// shadows publishes -updates updates of about -size bytes, spread over
// -shadows named shadows of the first device in -creds, from -inflight
// publishers at once, and counts the accepted and rejected answers.
func shadows(args []string) error {
	fs := flag.NewFlagSet("shadows", flag.ContinueOnError)
	broker := fs.String("broker", "127.0.0.1:8883", "MQTT/TLS address")
	creds := fs.String("creds", "", "credentials directory of `hearth simulate load provision`")
	names := fs.Int("shadows", 1000, "named shadows to spread the updates over")
	updates := fs.Int("updates", 3000, "updates to send")
	size := fs.Int("size", 7500, "bytes of each update")
	inflight := fs.Int("inflight", 16, "updates published at once")
	perSecond := fs.Float64("rate", 0, "updates a second in all (0: as fast as -inflight allows)")
	timeout := fs.Duration("timeout", 5*time.Minute, "longest run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cs, err := sim.LoadCredentials(*creds)
	if err != nil {
		return err
	}
	if len(cs) == 0 || cs[0].Certificate == nil {
		return errors.New("the credentials directory has no device with a certificate")
	}
	d := cs[0]
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(d.CAPEM)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	conn, err := (&tls.Dialer{Config: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{*d.Certificate}, MinVersion: tls.VersionTLS12}}).DialContext(ctx, "tcp", *broker)
	if err != nil {
		return err
	}
	res := shadowResult{Updates: *updates, Rejected: map[string]int{}}
	var mu sync.Mutex
	var answered atomic.Int64
	done := make(chan struct{})
	c := paho.NewClient(paho.ClientConfig{
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			switch {
			case strings.HasSuffix(pr.Packet.Topic, "/update/accepted"):
				mu.Lock()
				res.Accepted++
				mu.Unlock()
			case strings.HasSuffix(pr.Packet.Topic, "/update/rejected"):
				var e struct {
					Code int `json:"code"`
				}
				_ = json.Unmarshal(pr.Packet.Payload, &e)
				mu.Lock()
				res.Rejected[fmt.Sprint(e.Code)]++
				mu.Unlock()
			default:
				return true, nil
			}
			if answered.Add(1) == int64(*updates) {
				close(done)
			}
			return true, nil
		}},
		OnClientError: func(error) {},
	})
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: d.Name, KeepAlive: 30, CleanStart: true}); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = c.Disconnect(&paho.Disconnect{}) }()
	base := "$aws/things/" + d.Name + "/shadow/name/"
	for _, suffix := range []string{"accepted", "rejected"} {
		if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: base + "+/update/" + suffix, QoS: 0}}}); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
	}
	pad := strings.Repeat("x", max(*size-60, 1))
	began := time.Now()
	var next atomic.Int64
	var pace <-chan time.Time
	if *perSecond > 0 {
		tick := time.NewTicker(time.Duration(float64(time.Second) / *perSecond))
		defer tick.Stop()
		pace = tick.C
	}
	var wg sync.WaitGroup
	for range max(*inflight, 1) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= *updates || ctx.Err() != nil {
					return
				}
				if pace != nil {
					select {
					case <-pace:
					case <-ctx.Done():
						return
					}
				}
				doc := fmt.Sprintf(`{"state":{"reported":{"n":%d,"pad":%q}}}`, i, pad)
				if _, err := c.Publish(ctx, &paho.Publish{Topic: fmt.Sprintf("%ss%d/update", base, i%*names), QoS: 1, Payload: []byte(doc)}); err != nil && ctx.Err() == nil {
					fmt.Fprintln(os.Stderr, "publish:", err)
				}
			}
		})
	}
	wg.Wait()
	wait := time.NewTimer(10 * time.Second)
	select {
	case <-done:
	case <-wait.C:
	case <-ctx.Done():
	}
	wait.Stop()
	res.Seconds = time.Since(began).Seconds()
	mu.Lock()
	defer mu.Unlock()
	res.Missing = int64(*updates) - answered.Load()
	return json.NewEncoder(os.Stdout).Encode(res)
}

// signinResult is what signin prints: the answers by status, per kind.
type signinResult struct {
	Slow    map[string]int `json:"slow"`
	Wrong   map[string]int `json:"wrong"`
	Seconds float64        `json:"seconds"`
}

// signin sends -slow sign-ins whose body never finishes, all at once, and
// waits for the server to give up on them; then -wrong sign-ins with wrong
// passwords for -email, from -addrs loopback addresses in turn.
func signin(args []string) error {
	fs := flag.NewFlagSet("signin", flag.ContinueOnError)
	api := fs.String("api", "https://127.0.0.1:8443", "Hearth's HTTPS address")
	caFile := fs.String("ca", "", "CA certificate that signed Hearth's")
	slow := fs.Int("slow", 1000, "sign-ins whose body stalls")
	wrong := fs.Int("wrong", 1200, "sign-ins with a wrong password")
	addrs := fs.Int("addrs", 20, "loopback addresses the wrong passwords come from (127.0.0.2 on)")
	email := fs.String("email", "admin@hearth.local", "account the wrong passwords are tried on")
	slowWait := fs.Duration("slow-wait", 90*time.Second, "longest wait for the server to end a stalled sign-in")
	if err := fs.Parse(args); err != nil {
		return err
	}
	caPEM, err := os.ReadFile(*caFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("%s holds no certificate", *caFile)
	}
	u, err := url.Parse(*api)
	if err != nil {
		return err
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	res := signinResult{Slow: map[string]int{}, Wrong: map[string]int{}}
	began := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range *slow {
		wg.Go(func() {
			status := slowSignin(u.Host, tc, *slowWait)
			mu.Lock()
			res.Slow[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	clients := make([]*http.Client, max(*addrs, 1))
	for i := range clients {
		d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte((i+2)/256), byte((i+2)%256))}}
		clients[i] = &http.Client{
			Timeout:       30 * time.Second,
			Transport:     &http.Transport{DialContext: d.DialContext, TLSClientConfig: tc, MaxIdleConnsPerHost: 4},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	sem := make(chan struct{}, 20)
	for i := range *wrong {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			form := url.Values{"email": {*email}, "password": {fmt.Sprintf("wrong-%d", i)}}
			status := "error"
			resp, err := clients[i%len(clients)].PostForm(*api+"/login", form)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = fmt.Sprint(resp.StatusCode)
			}
			mu.Lock()
			res.Wrong[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Seconds = time.Since(began).Seconds()
	return json.NewEncoder(os.Stdout).Encode(res)
}

// slowSignin starts a sign-in that promises a body it never sends and
// returns the status the server answers when it gives up, or "closed".
func slowSignin(host string, tc *tls.Config, wait time.Duration) string {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", host, tc)
	if err != nil {
		return "dial error"
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(wait))
	req := "POST /login HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nemail=a%40b.example&pass"
	if _, err := io.WriteString(conn, req); err != nil {
		return "write error"
	}
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(conn, buf, 12)
	if err != nil && n < 12 {
		return "closed"
	}
	return strings.TrimSpace(string(buf[9:12]))
}
