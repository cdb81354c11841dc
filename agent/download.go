package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Download limits.
const (
	// downloadStall ends a request that has received nothing for this
	// long; the download resumes where it stopped.
	downloadStall = time.Minute
	// downloadRetries is how many failed requests in a row, without a
	// byte gained between them, end a download.
	downloadRetries = 6
	// downloadRefreshes is how many times an expired link is replaced by
	// a fresh one from Hearth.
	downloadRefreshes = 3
	// downloadRetryMax is the longest wait between two requests.
	downloadRetryMax = 30 * time.Second
)

// errDownloadDigest marks a download whose SHA-256 is not the job's.
var errDownloadDigest = errors.New("the file's SHA-256 is not the one the job names")

// downloader fetches a job's file from Hearth over HTTPS: the link is
// signed and expires, and Hearth serves ranges, so a download cut short
// resumes where it stopped, also after the agent restarted, and a link
// that expired meanwhile is asked for again.
type downloader struct {
	client  *http.Client
	max     int64
	timeout time.Duration
	logger  *slog.Logger
	// retryWait is the first wait after a failed request (doubling); tests
	// shorten it.
	retryWait time.Duration
}

func newDownloader(tlsConf *tls.Config, max int64, timeout time.Duration, logger *slog.Logger) *downloader {
	nd := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           nd.DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConns:          2,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &downloader{client: &http.Client{Transport: tr}, max: max, timeout: timeout, logger: logger, retryWait: time.Second}
}

// fetch is one download.
type fetch struct {
	url    string
	sha256 []byte
	size   int64  // what the job says the file holds; 0 when it does not say
	max    int64  // most bytes taken; the downloader's bound when 0
	dst    string // the file written; a part already there is resumed
	// progress is told of the bytes held and the file's size (0 while
	// unknown) after each stretch of the body; may be nil.
	progress func(got, total int64)
	// refresh asks Hearth for a fresh link when the one held is refused
	// (401, 403, 410: expired); nil when there is none to ask.
	refresh func(ctx context.Context) (string, error)
}

// get downloads f into f.dst, resuming what is there, and checks its
// SHA-256. A file whose digest differs is removed, so the next try starts
// over. The file is synced before get returns.
func (d *downloader) get(ctx context.Context, f fetch) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	limit := d.max
	if f.max > 0 {
		limit = f.max
	}
	if f.size > limit {
		return fmt.Errorf("the file is %d bytes; this agent downloads at most %d (jobs.download_max_bytes)", f.size, limit)
	}
	file, err := os.OpenFile(f.dst, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	held := st.Size()
	if held > limit || f.size > 0 && held > f.size {
		held = 0
	}
	if err := file.Truncate(held); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	if held > 0 {
		d.logger.Info("download resumed", "url", redact(f.url), "bytes_held", held)
	}
	u := f.url
	total := f.size
	resumed := held > 0
	// A part as long as the file may be the whole file already.
	complete := total > 0 && held == total
	failures, refreshes := 0, 0
	wait := d.retryWait
	for {
		if !complete {
			gained, status, err := d.request(ctx, file, u, &held, &total, limit, f.progress)
			if err != nil {
				if ctx.Err() != nil {
					if errors.Is(ctx.Err(), context.DeadlineExceeded) {
						return fmt.Errorf("download: not done within %s (jobs.download_timeout); %d bytes held, resumed at the next try", d.timeout, held)
					}
					return ctx.Err()
				}
				var perm permanentError
				switch {
				case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusGone:
					if f.refresh == nil || refreshes >= downloadRefreshes {
						return fmt.Errorf("download: %w", err)
					}
					refreshes++
					d.logger.Info("download link refused; asking Hearth for a fresh one", "status", status)
					fresh, rerr := f.refresh(ctx)
					if rerr != nil {
						return fmt.Errorf("download: %w; a fresh link: %w", err, rerr)
					}
					u = fresh
					continue
				case errors.As(err, &perm):
					return d.discard(file, f.dst, fmt.Errorf("download: %w", err))
				}
				if gained > 0 {
					failures, wait = 0, d.retryWait
				}
				failures++
				if failures >= downloadRetries {
					return fmt.Errorf("download: %w (%d tries in a row without progress; %d bytes held)", err, failures, held)
				}
				d.logger.Warn("download interrupted; resuming", "error", err, "bytes_held", held, "retry_in", wait.String())
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
				case <-t.C:
				}
				wait = min(2*wait, downloadRetryMax)
				continue
			}
		}
		complete = false
		err := d.verify(file, f.sha256)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errDownloadDigest) || !resumed {
			return d.discard(file, f.dst, err)
		}
		// The part held before may not be of this file: once more from
		// the start.
		d.logger.Warn("download does not match its SHA-256 after resuming; starting over", "error", err)
		resumed, held, total = false, 0, f.size
		if err := file.Truncate(0); err != nil {
			return fmt.Errorf("download: %w", err)
		}
	}
}

// permanentError is a download failure that trying again does not mend.
type permanentError struct{ msg string }

func (e permanentError) Error() string { return e.msg }

// request makes one GET from *held on, appends what comes to file, and
// moves *held; *total becomes known from the answer. It returns the bytes
// gained and the status of the answer (0 without one). A nil error means
// the body came whole.
func (d *downloader) request(ctx context.Context, file *os.File, u string, held, total *int64, limit int64, progress func(int64, int64)) (int64, int, error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, permanentError{fmt.Sprintf("bad link: %v", err)}
	}
	if *held > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(*held, 10)+"-")
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("GET %s: %w", redact(u), unwrapURL(err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if *held > 0 {
			// The server sends the whole file: start over.
			if err := file.Truncate(0); err != nil {
				return 0, resp.StatusCode, fmt.Errorf("download: %w", err)
			}
			*held = 0
		}
		if resp.ContentLength >= 0 {
			if *total > 0 && resp.ContentLength != *total {
				return 0, resp.StatusCode, permanentError{fmt.Sprintf("the server sends %d bytes; the job says the file is %d", resp.ContentLength, *total)}
			}
			*total = resp.ContentLength
		}
	case http.StatusPartialContent:
		start, size, ok := contentRange(resp.Header.Get("Content-Range"))
		if !ok || start != *held {
			// A range other than the one asked for: start over.
			if err := file.Truncate(0); err != nil {
				return 0, resp.StatusCode, fmt.Errorf("download: %w", err)
			}
			*held = 0
			return 0, resp.StatusCode, fmt.Errorf("GET %s: the server answered range %q to bytes=%d-", redact(u), resp.Header.Get("Content-Range"), start)
		}
		if size > 0 {
			if *total > 0 && size != *total {
				return 0, resp.StatusCode, permanentError{fmt.Sprintf("the server holds %d bytes; the job says the file is %d", size, *total)}
			}
			*total = size
		}
	case http.StatusRequestedRangeNotSatisfiable:
		// What is held may be the whole file already.
		if _, size, ok := contentRange(resp.Header.Get("Content-Range")); ok && size > 0 && size == *held {
			*total = size
			return 0, resp.StatusCode, nil
		}
		if err := file.Truncate(0); err != nil {
			return 0, resp.StatusCode, fmt.Errorf("download: %w", err)
		}
		*held = 0
		return 0, resp.StatusCode, fmt.Errorf("GET %s: range not satisfiable; starting over", redact(u))
	default:
		msg := fmt.Sprintf("GET %s: %s%s", redact(u), resp.Status, bodySnippet(resp.Body))
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
			return 0, resp.StatusCode, errors.New(msg)
		}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusGone {
			return 0, resp.StatusCode, errors.New(msg)
		}
		return 0, resp.StatusCode, permanentError{msg}
	}
	if *total > limit {
		return 0, resp.StatusCode, permanentError{fmt.Sprintf("the file is %d bytes; this agent downloads at most %d (jobs.download_max_bytes)", *total, limit)}
	}
	if _, err := file.Seek(*held, io.SeekStart); err != nil {
		return 0, resp.StatusCode, fmt.Errorf("download: %w", err)
	}
	// A body that stops coming ends the request; the next one resumes.
	stall := time.AfterFunc(downloadStall, cancel)
	defer stall.Stop()
	var gained int64
	buf := make([]byte, 64<<10)
	last := time.Now()
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			stall.Reset(downloadStall)
			if *held+int64(n) > limit {
				return gained, resp.StatusCode, permanentError{fmt.Sprintf("the file is larger than %d bytes, the most this agent downloads (jobs.download_max_bytes)", limit)}
			}
			if _, err := file.Write(buf[:n]); err != nil {
				return gained, resp.StatusCode, permanentError{fmt.Sprintf("write %s: %v", file.Name(), err)}
			}
			*held += int64(n)
			gained += int64(n)
			if progress != nil && time.Since(last) >= time.Second {
				progress(*held, *total)
				last = time.Now()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if rctx.Err() != nil && ctx.Err() == nil {
				rerr = fmt.Errorf("nothing received for %s", downloadStall)
			}
			return gained, resp.StatusCode, fmt.Errorf("GET %s: body cut after %d bytes: %w", redact(u), *held, rerr)
		}
	}
	if err := file.Sync(); err != nil {
		return gained, resp.StatusCode, permanentError{fmt.Sprintf("sync %s: %v", file.Name(), err)}
	}
	if *total <= 0 {
		*total = *held // no length given: the body ended where the file does
	}
	if progress != nil {
		progress(*held, *total)
	}
	if *held != *total {
		return gained, resp.StatusCode, fmt.Errorf("GET %s: body ended at %d of %d bytes", redact(u), *held, *total)
	}
	return gained, resp.StatusCode, nil
}

// verify reads the whole file and compares its SHA-256.
func (d *downloader) verify(file *os.File, want []byte) error {
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("verify download: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, file); err != nil {
		return fmt.Errorf("verify download: %w", err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return fmt.Errorf("%w: it is %s, the job names %s", errDownloadDigest, hex.EncodeToString(got), hex.EncodeToString(want))
	}
	return nil
}

// discard removes a download that cannot be used, so the next try starts
// over, and returns err.
func (d *downloader) discard(file *os.File, path string, err error) error {
	file.Close()
	if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		d.logger.Warn("download not removed", "file", path, "error", rerr)
	}
	return err
}

// contentRange reads "bytes START-END/SIZE" or "bytes */SIZE"; size is 0
// when given as "*".
func contentRange(s string) (start, size int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	span, total, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	if total != "*" {
		n, err := strconv.ParseInt(total, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false
		}
		size = n
	}
	if span == "*" {
		return 0, size, true
	}
	first, _, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, false
	}
	n, err := strconv.ParseInt(first, 10, 64)
	if err != nil || n < 0 {
		return 0, 0, false
	}
	return n, size, true
}

// redact drops a link's query, which holds its signature, from messages.
func redact(u string) string {
	base, _, _ := strings.Cut(u, "?")
	return base
}

// unwrapURL drops the *url.Error wrapper, whose message repeats the whole
// link with its signature.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// bodySnippet is the start of an error answer's body, for messages.
func bodySnippet(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 200))
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	return ": " + s
}

// digestFile returns the SHA-256 of the file at path.
func digestFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return h.Sum(nil), nil
}
