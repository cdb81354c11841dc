package upstream

import (
	"crypto/tls"
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
)

// Config says which broker to ingest from and as whom.
type Config struct {
	// URL is the upstream broker: mqtt://host:1883 or mqtts://host:8883.
	// It may carry user:password@, unless Username and Password are set.
	URL string
	// Username and Password authenticate Hearth to the upstream broker.
	// They are never logged.
	Username string
	Password string
	// TLS is used for mqtts:// (its RootCAs, Certificates); nil uses the
	// system's roots and no client certificate.
	TLS *tls.Config
	// Group is the shared-subscription group telemetry is taken through:
	// the boxes of one group split the devices' messages between them.
	Group string
	// ClientID is Hearth's client id at the upstream broker; each box needs
	// its own.
	ClientID string
	// Shadows are the registered devices whose shadow requests this box
	// answers.
	Shadows Partition
	// Inflight is the MQTT 5 receive maximum Hearth announces: messages
	// the upstream broker may send before Hearth acknowledges one.
	// 0 takes DefaultInflight.
	Inflight int
}

// DefaultInflight lets a group commit of the telemetry log cover many
// messages, as it does for many connections on the embedded broker.
const DefaultInflight = 512

// endpoint is what Config parses to.
type endpoint struct {
	url      *url.URL // without user information
	username string
	password string
}

// parse checks cfg and returns the broker's address and credentials.
func (cfg Config) parse() (endpoint, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		// url.Parse's error quotes the URL, password included.
		return endpoint{}, fmt.Errorf("--mqtt-upstream: not a URL; mqtt://HOST:PORT or mqtts://HOST:PORT is expected")
	}
	shown := (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
	switch {
	case u.Scheme != "mqtt" && u.Scheme != "mqtts":
		return endpoint{}, fmt.Errorf("--mqtt-upstream %q: the scheme must be mqtt or mqtts", shown)
	case u.Hostname() == "" || u.Port() == "":
		return endpoint{}, fmt.Errorf("--mqtt-upstream %q: a host and a port are needed", shown)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		return endpoint{}, fmt.Errorf("--mqtt-upstream %q: no path, query or fragment is accepted", shown)
	}
	ep := endpoint{url: &url.URL{Scheme: u.Scheme, Host: u.Host}, username: cfg.Username, password: cfg.Password}
	if u.User != nil {
		if cfg.Username != "" || cfg.Password != "" {
			return endpoint{}, fmt.Errorf("--mqtt-upstream %q: credentials are given both in the URL and as flags; give them once", shown)
		}
		ep.username = u.User.Username()
		ep.password, _ = u.User.Password()
	}
	if cfg.TLS != nil && u.Scheme != "mqtts" {
		return endpoint{}, fmt.Errorf("--mqtt-upstream %q: TLS files are given for a plain mqtt:// connection; use mqtts://", shown)
	}
	if err := validGroup(cfg.Group); err != nil {
		return endpoint{}, err
	}
	if cfg.ClientID == "" || len(cfg.ClientID) > 128 || strings.ContainsAny(cfg.ClientID, "+#/\x00") {
		return endpoint{}, fmt.Errorf("--mqtt-upstream-client-id %q: 1 to 128 characters, without '/', '+', '#'", cfg.ClientID)
	}
	if cfg.Inflight < 0 || cfg.Inflight > 65535 {
		return endpoint{}, fmt.Errorf("upstream inflight %d: 0 (default) to 65535", cfg.Inflight)
	}
	return ep, nil
}

// validGroup checks a shared-subscription group name (MQTT 5 section
// 4.8.2: no '/', '+' or '#').
func validGroup(g string) error {
	if g == "" || len(g) > 64 || strings.ContainsAny(g, "/+#\x00") {
		return fmt.Errorf("--mqtt-upstream-group %q: 1 to 64 characters, without '/', '+', '#'", g)
	}
	return nil
}

// Partition is a share of the registered devices: those whose name hashes
// (FNV-1a, 32 bits) to Index modulo Count. Count 0 is none, Count 1 all.
type Partition struct {
	Index, Count int
}

// ParsePartition reads "all", "none" or "I/N" (0 ≤ I < N ≤ 1024).
func ParsePartition(s string) (Partition, error) {
	switch s {
	case "all":
		return Partition{0, 1}, nil
	case "none":
		return Partition{}, nil
	}
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || n > 1024 || i < 0 || i >= n {
		return Partition{}, fmt.Errorf("%q: all, none, or I/N with 0 ≤ I < N ≤ 1024 (this box answers the devices whose name hashes to I of N)", s)
	}
	return Partition{i, n}, nil
}

func (p Partition) String() string {
	switch p.Count {
	case 0:
		return "none"
	case 1:
		return "all"
	}
	return fmt.Sprintf("%d/%d", p.Index, p.Count)
}

// Has reports whether thing falls in the partition.
func (p Partition) Has(thing string) bool {
	switch p.Count {
	case 0:
		return false
	case 1:
		return true
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(thing))
	return int(h.Sum32()%uint32(p.Count)) == p.Index
}

// Validate checks cfg as New does, without connecting.
func (cfg Config) Validate() error {
	_, err := cfg.parse()
	return err
}
