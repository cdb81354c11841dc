package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/store/backup"
)

// runBackup writes a backup archive of a data directory: through the
// admin socket of the server running on it, or from the directory itself
// when none runs. The archive is checked as it is written, so a backup
// that ends well is one that restores. "backup verify FILE" checks one.
func runBackup(ctx context.Context, io IO, args []string) error {
	if len(args) > 0 && args[0] == "verify" {
		return runBackupVerify(ctx, io, args[1:])
	}
	var af adminFlags
	fs := newFlagSet("backup", io)
	fs.StringVar(&af.data, "data", "data", "data `directory` to back up, whether or not a server runs on it")
	fs.StringVar(&af.logLevel, "log-level", "warn", "log `level`")
	fs.StringVar(&af.logFormat, "log-format", "text", "log `format`: text or json")
	fs.BoolVar(&af.json, "json", false, "print the archive's summary as JSON")
	to := fs.String("to", "", "archive `file` to write (must not exist), or - for standard output")
	if err := parse(fs, args, io); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q: hearth backup --to FILE [--data DIR], or hearth backup verify FILE", errUsage, fs.Args())
	}
	if *to == "" {
		return fmt.Errorf("%w: --to FILE is required: where the archive goes", errUsage)
	}
	logger, err := newLogger(io.Stderr, af.logLevel, af.logFormat)
	if err != nil {
		return err
	}
	out, err := newArchiveFile(*to, io)
	if err != nil {
		return err
	}
	defer out.discard()

	start := time.Now()
	src, from, err := openBackupSource(ctx, af.data, logger)
	if err != nil {
		return err
	}
	defer src.Close()
	prog := newProgress(io.Stderr, "backup")
	cw := &countWriter{w: out.w}
	m, err := copyVerified(cw, src, prog.update)
	prog.finish()
	if err != nil {
		return fmt.Errorf("backup of %s from %s failed, nothing was kept: %w", af.data, from, err)
	}
	if err := out.keep(); err != nil {
		return err
	}
	elapsed := time.Since(start)
	report := io.Stdout
	if *to == "-" {
		report = io.Stderr
	}
	if af.json {
		return printJSON(report, summaryJSON(m, *to, cw.n))
	}
	fmt.Fprintf(report, "backup of %s (from %s) written to %s: %s of data in a %s archive, in %s (%s/s); every SHA-256 checked\n",
		af.data, from, *to, size(m.Bytes()), size(cw.n), elapsed.Round(100*time.Millisecond), size(int64(float64(m.Bytes())/max(elapsed.Seconds(), 0.001))))
	return printParts(report, m)
}

// openBackupSource starts the archive of dataDir: the running server's,
// asked for through its admin socket, or one written here from the
// directory when no server answers. from says which, for messages.
func openBackupSource(ctx context.Context, dataDir string, logger *slog.Logger) (r io.ReadCloser, from string, err error) {
	sock := server.SocketPath(dataDir)
	if conn, err := net.DialTimeout("unix", sock, 2*time.Second); err == nil {
		conn.Close()
		return backupFromSocket(ctx, sock)
	}
	lb, err := server.PrepareLocalBackup(ctx, dataDir, Version, logger)
	switch {
	case errors.Is(err, server.ErrNoInstallation):
		return nil, "", fmt.Errorf("no server answers on %s, and %w; point the command at Hearth's data directory with --data DIR or HEARTH_DATA=DIR", sock, err)
	case errors.Is(err, store.ErrLocked):
		return nil, "", fmt.Errorf("a server holds %s but does not answer on its admin socket %s; is it still starting? %w", dataDir, sock, err)
	case err != nil:
		return nil, "", fmt.Errorf("no server answers on %s, and the data directory cannot be read: %w", sock, err)
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := lb.Write(ctx, pw)
		pw.CloseWithError(err)
		if err := lb.Close(); err != nil {
			logger.Warn("backup copies not released", "error", err)
		}
	}()
	return pipeSource{pr, done}, "the data directory, no server running", nil
}

// pipeSource is the reading end of an archive written in this process;
// Close waits until the writer has let go of the data directory.
type pipeSource struct {
	*io.PipeReader
	done chan struct{}
}

func (p pipeSource) Close() error {
	err := p.PipeReader.Close()
	<-p.done
	return err
}

// backupFromSocket asks the server behind the admin socket for an archive.
func backupFromSocket(ctx context.Context, sock string) (io.ReadCloser, string, error) {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	// No client timeout: the archive takes as long as it takes; ctx
	// (SIGINT) stops it.
	client := &http.Client{Transport: tr}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://hearth/api/v1/backup", nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("ask the server on %s for a backup: %w", sock, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return nil, "", fmt.Errorf("the server on %s refused the backup: %s", sock, e.Error.Message)
		}
		return nil, "", fmt.Errorf("the server on %s refused the backup: %s", sock, resp.Status)
	}
	return resp.Body, "the running server", nil
}

// copyVerified copies an archive from src to dst and checks it on the
// way: it returns the manifest of an archive that is whole, or the reason
// it is not.
func copyVerified(dst io.Writer, src io.Reader, progress backup.Progress) (backup.Manifest, error) {
	pr, pw := io.Pipe()
	type result struct {
		m   backup.Manifest
		err error
	}
	verified := make(chan result, 1)
	go func() {
		m, err := backup.Verify(pr, progress)
		if err == nil {
			// Whatever follows a whole archive is not part of it.
			_, err = io.Copy(io.Discard, pr)
		}
		pr.CloseWithError(err)
		verified <- result{m, err}
	}()
	_, err := io.Copy(io.MultiWriter(dst, pw), src)
	pw.CloseWithError(err)
	res := <-verified
	switch {
	case err != nil && !errors.Is(err, res.err):
		// The source or dst failed, and the check saw only the end.
		return backup.Manifest{}, err
	case res.err != nil:
		return backup.Manifest{}, res.err
	}
	return res.m, nil
}

// archiveFile is where a new archive goes: a temporary file beside the
// named one, renamed to it once the archive is whole, or standard output.
type archiveFile struct {
	w     io.Writer
	f     *os.File
	path  string
	kept  bool
	stdio bool
}

func newArchiveFile(path string, io IO) (*archiveFile, error) {
	if path == "-" {
		if isTerminal(io.Stdout) {
			return nil, fmt.Errorf("%w: standard output is a terminal: redirect it to a file, or give --to FILE", errUsage)
		}
		return &archiveFile{w: io.Stdout, stdio: true}, nil
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%s exists: choose another name; an archive is never overwritten", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &archiveFile{w: f, f: f, path: path}, nil
}

// keep makes the archive durable under its name.
func (a *archiveFile) keep() error {
	if a.stdio {
		a.kept = true
		return nil
	}
	err := a.f.Sync()
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(a.f.Name(), a.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(a.path))
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	a.kept = true
	return nil
}

// discard removes the temporary file of an archive not kept.
func (a *archiveFile) discard() {
	if a.kept || a.f == nil {
		return
	}
	a.f.Close()
	os.Remove(a.f.Name())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// runBackupVerify checks every file of an archive against its manifest
// and prints what it holds.
func runBackupVerify(_ context.Context, io IO, args []string) error {
	fs := newFlagSet("backup", io)
	asJSON := fs.Bool("json", false, "print the manifest's summary as JSON")
	pos, err := positional(args, func(a []string) error { return parse(fs, a, io) }, fs.Args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: hearth backup verify FILE (- for standard input)", errUsage)
	}
	r, closeFn, err := openArchive(pos[0], io)
	if err != nil {
		return err
	}
	defer closeFn()
	prog := newProgress(io.Stderr, "verify")
	m, err := backup.Verify(r, prog.update)
	prog.finish()
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if *asJSON {
		return printJSON(io.Stdout, summaryJSON(m, pos[0], 0))
	}
	fmt.Fprintf(io.Stdout, "%s is whole: every file matches its SHA-256 in the manifest\n", pos[0])
	fmt.Fprintf(io.Stdout, "format %d, written by Hearth %s at %s\n", m.Format, m.HearthVersion, m.CreatedAt.UTC().Format(time.RFC3339))
	return printParts(io.Stdout, m)
}

// runRestore restores an archive into an empty or missing data directory.
func runRestore(_ context.Context, io IO, args []string) error {
	fs := newFlagSet("restore", io)
	data := fs.String("data", "data", "data `directory` to restore into: missing or empty")
	from := fs.String("from", "", "archive `file` to restore, or - for standard input")
	asJSON := fs.Bool("json", false, "print the manifest's summary as JSON")
	if err := parse(fs, args, io); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q: hearth restore --from FILE --data DIR", errUsage, fs.Args())
	}
	if *from == "" {
		return fmt.Errorf("%w: --from FILE is required: the archive to restore", errUsage)
	}
	r, closeFn, err := openArchive(*from, io)
	if err != nil {
		return err
	}
	defer closeFn()
	start := time.Now()
	prog := newProgress(io.Stderr, "restore")
	m, err := backup.Restore(r, *data, prog.update)
	prog.finish()
	if err != nil {
		if errors.Is(err, backup.ErrNotEmpty) {
			return err
		}
		return fmt.Errorf("%s not restored, %s left as it was: %w", *from, *data, err)
	}
	if *asJSON {
		return printJSON(io.Stdout, summaryJSON(m, *from, 0))
	}
	elapsed := time.Since(start)
	fmt.Fprintf(io.Stdout, "%s restored into %s: %s in %s (%s/s); every SHA-256 checked\n", *from, *data, size(m.Bytes()),
		elapsed.Round(100*time.Millisecond), size(int64(float64(m.Bytes())/max(elapsed.Seconds(), 0.001))))
	fmt.Fprintf(io.Stdout, "format %d, written by Hearth %s at %s\n", m.Format, m.HearthVersion, m.CreatedAt.UTC().Format(time.RFC3339))
	if err := printParts(io.Stdout, m); err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "\nStart it with: hearth serve --data %s\n", *data)
	fmt.Fprintf(io.Stdout, "Devices trust its CA as before. Devices reach it by a name or address its server\ncertificate covers; on a new name, add it with --tls-hosts.\n")
	return nil
}

// openArchive opens an archive file, or standard input for "-".
func openArchive(path string, io IO) (io.Reader, func() error, error) {
	if path == "-" {
		return io.Stdin, func() error { return nil }, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

type archiveSummary struct {
	Archive       string        `json:"archive"`
	ArchiveBytes  int64         `json:"archive_bytes,omitempty"`
	Format        int           `json:"format"`
	HearthVersion string        `json:"hearth_version"`
	CreatedAt     time.Time     `json:"created_at"`
	Files         int           `json:"files"`
	Bytes         int64         `json:"bytes"`
	Parts         []backup.Part `json:"parts"`
}

func summaryJSON(m backup.Manifest, archive string, archiveBytes int64) archiveSummary {
	return archiveSummary{Archive: archive, ArchiveBytes: archiveBytes, Format: m.Format, HearthVersion: m.HearthVersion,
		CreatedAt: m.CreatedAt, Files: len(m.Files), Bytes: m.Bytes(), Parts: m.Parts()}
}

// partNames say what each top-level name of the data directory is.
var partNames = map[string]string{
	"hearth.db": "store",
	"tsdb":      "time series",
	"tls":       "CA and server certificate",
	"wal":       "telemetry write-ahead log",
	"demo":      "demo credentials",
}

func printParts(w io.Writer, m backup.Manifest) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, p := range m.Parts() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%10s\n", p.Name, partNames[p.Name], files(p.Files), size(p.Bytes))
	}
	fmt.Fprintf(tw, "  total\t\t%s\t%10s\n", files(len(m.Files)), size(m.Bytes()))
	return tw.Flush()
}

func files(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}

// size is n bytes for people: 512 B, 12.3 KiB, 1.9 GiB.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, []string{"KiB", "MiB", "GiB", "TiB"}[i])
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// progress shows, on a terminal, how far a backup, verify or restore has
// come; elsewhere (a log, a pipe) it shows nothing.
type progress struct {
	w     io.Writer
	verb  string
	start time.Time
	last  time.Time
	shown bool
}

func newProgress(w io.Writer, verb string) *progress {
	if !isTerminal(w) {
		return nil
	}
	return &progress{w: w, verb: verb, start: time.Now()}
}

// progressEvery is how often the line is redrawn.
const progressEvery = 200 * time.Millisecond

func (p *progress) update(done, total int64) {
	if p == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < progressEvery && done < total {
		return
	}
	p.last = now
	p.shown = true
	fmt.Fprintf(p.w, "\r%s", progressText(p.verb, done, total, now.Sub(p.start)))
}

// progressText is the progress line: "backup:  42%  1.2 GiB of 2.9 GiB  85.0 MiB/s".
func progressText(verb string, done, total int64, elapsed time.Duration) string {
	pct := 100
	if total > 0 {
		pct = int(done * 100 / total)
	}
	rate := float64(done) / max(elapsed.Seconds(), 0.001)
	line := fmt.Sprintf("%s: %3d%%  %s of %s  %s/s", verb, pct, size(done), size(total), size(int64(rate)))
	return line + strings.Repeat(" ", max(0, 60-len(line)))
}

func (p *progress) finish() {
	if p == nil || !p.shown {
		return
	}
	fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 60))
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
