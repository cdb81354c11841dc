package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hearthiot/hearth/server"
)

// adminClient speaks Hearth's JSON API as a local operator: over the admin
// socket of a running server, or, when none runs, to the same handler built
// in this process on the opened data directory. Both paths run the same API
// code, so an admin command behaves the same either way.
type adminClient struct {
	http  *http.Client
	close func() error
}

func openAdmin(dataDir string, logger *slog.Logger) (*adminClient, error) {
	sock := server.SocketPath(dataDir)
	if conn, err := net.DialTimeout("unix", sock, 2*time.Second); err == nil {
		conn.Close()
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}
		return &adminClient{http: &http.Client{Transport: tr, Timeout: 60 * time.Second}, close: func() error { tr.CloseIdleConnections(); return nil }}, nil
	}
	h, closeFn, err := server.OpenLocal(dataDir, logger)
	if errors.Is(err, server.ErrNoInstallation) {
		return nil, fmt.Errorf("no server answers on %s, and %w; point the command at Hearth's data directory with --data DIR or HEARTH_DATA=DIR", sock, err)
	}
	if err != nil {
		return nil, fmt.Errorf("no server answers on %s, and the data directory cannot be opened: %w", sock, err)
	}
	return &adminClient{http: &http.Client{Transport: handlerTransport{h}}, close: closeFn}, nil
}

// call sends a JSON request and decodes a JSON answer into out (when not nil).
// A non-2xx answer becomes an error carrying the API's message.
func (c *adminClient) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://hearth"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return errors.New(e.Error.Message)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return nil
}

// handlerTransport serves requests with an in-process handler.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	t.h.ServeHTTP(rec, req)
	return &http.Response{
		StatusCode: rec.status,
		Status:     fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)),
		Header:     rec.header,
		Body:       io.NopCloser(&rec.body),
		Request:    req,
	}, nil
}

type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}

// adminFlags are the flags every admin command shares.
type adminFlags struct {
	data      string
	logLevel  string
	logFormat string
	json      bool
}

func (a *adminFlags) bind(fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
}) {
	fs.StringVar(&a.data, "data", "data", "data `directory` of the Hearth to administer")
	fs.StringVar(&a.logLevel, "log-level", "warn", "log `level`")
	fs.StringVar(&a.logFormat, "log-format", "text", "log `format`: text or json")
	fs.BoolVar(&a.json, "json", false, "print the API's JSON answer")
}

func (a *adminFlags) open(io IO) (*adminClient, error) {
	logger, err := newLogger(io.Stderr, a.logLevel, a.logFormat)
	if err != nil {
		return nil, err
	}
	return openAdmin(a.data, logger)
}

// parseAdmin reads an admin command's verb, then its flags (bound to fs)
// and positional arguments in any order.
func parseAdmin(fs *flag.FlagSet, io IO, args []string, verbs ...string) (verb string, pos []string, err error) {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		return "", nil, parse(fs, args[:1], io)
	}
	verb, args, err = subcommand(args, verbs...)
	if err != nil {
		return "", nil, err
	}
	pos, err = positional(args, func(a []string) error { return parse(fs, a, io) }, fs.Args)
	return verb, pos, err
}

// subcommand splits "VERB rest..." and checks VERB is one of verbs.
func subcommand(args []string, verbs ...string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, fmt.Errorf("%w: missing subcommand: one of %s", errUsage, strings.Join(verbs, ", "))
	}
	for _, v := range verbs {
		if args[0] == v {
			return v, args[1:], nil
		}
	}
	return "", nil, fmt.Errorf("%w: unknown subcommand %q: use one of %s", errUsage, args[0], strings.Join(verbs, ", "))
}

// positional parses flags that may come before or after positional
// arguments ("device add NAME --customer C" and "device add --customer C NAME").
func positional(args []string, parseFn func([]string) error, fsArgs func() []string) ([]string, error) {
	var pos []string
	rest := args
	for {
		if err := parseFn(rest); err != nil {
			return nil, err
		}
		left := fsArgs()
		if len(left) == 0 {
			return pos, nil
		}
		pos = append(pos, left[0])
		rest = left[1:]
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// readSecretLine reads one line (a password) from r without its newline.
func readSecretLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// writeNewFile creates name with perm and fails if it exists, so issued
// credentials never overwrite earlier ones.
func writeNewFile(name string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// credentialFiles are where a device's certificate, private key and CA go.
func credentialFiles(dir string) [3]string {
	return [3]string{filepath.Join(dir, "certificate.pem"), filepath.Join(dir, "private-key.pem"), filepath.Join(dir, "ca.pem")}
}
