package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hearthiot/hearth/internal/atomicfile"
	"github.com/hearthiot/hearth/protocol"
)

// An update of the agent's own binary (an update-agent job) goes in steps,
// each of which a crash or a power cut may interrupt; the state between
// them is kept in updateFile, written atomically, so that whichever binary
// starts next knows where the update stood:
//
//  1. download the file next to the binary (resumed after a restart) and
//     check its SHA-256 and signature; the job goes IN_PROGRESS;
//  2. check that it runs here: its --version must print the job's version;
//  3. phase trial: the agent stops, and runs the new binary as a child on
//     the same configuration until it has connected to Hearth, at most
//     jobs.update_confirm_timeout; a binary that exits, or does not
//     connect, is never put in place. An agent that starts in this phase
//     was stopped during the trial: the update failed;
//  4. phase installed: the old binary is kept as a backup (a hard link, or
//     a synced copy), the new one renamed over it (atomic), and the agent
//     runs it (exec, the same process). Started in this phase, the binary
//     in place is the new one if its digest is the file's, and it gets
//     jobs.update_confirm_timeout to connect, at most maxUnconfirmedStarts
//     starts in a row; then the backup is put back. If the digest is not
//     the file's, the rename never happened: the update failed;
//  5. phase report: the result waits to be sent to Hearth, sent on the next
//     connection, and the file is removed once Hearth has it. restore marks
//     a result whose backup must first be put back in place.

// updateFile keeps an update under way, in the spool directory.
const updateFile = "update.json"

// Update phases.
const (
	phaseTrial     = "trial"
	phaseInstalled = "installed"
	phaseReport    = "report"
)

// maxUnconfirmedStarts is how often an installed binary may start without
// connecting before the previous one is put back: a binary that crashes
// after its trial would otherwise be restarted by systemd for ever.
const maxUnconfirmedStarts = 3

// versionTimeout bounds the new binary's --version.
const versionTimeout = 10 * time.Second

// updateState is updateFile's content.
type updateState struct {
	Phase           string `json:"phase"`
	JobID           string `json:"job_id"`
	ExecutionNumber int64  `json:"execution_number"`
	// VersionNumber is the execution's version last known, for the
	// expectedVersion of the report.
	VersionNumber int64  `json:"version_number"`
	Version       string `json:"version"`          // the new binary's
	Previous      string `json:"previous_version"` // the binary's that took the job
	Executable    string `json:"executable"`       // the binary replaced
	NewFile       string `json:"new_file"`         // the new binary, until it is in place
	Backup        string `json:"backup"`           // the previous binary, once the new one is in place
	SHA256        string `json:"sha256"`           // the new binary's, hex
	Starts        int    `json:"starts,omitempty"` // of the installed binary, unconfirmed
	Restore       bool   `json:"restore,omitempty"`
	// Status and Details are the result to report (phase report).
	Status  string            `json:"status,omitempty"`
	Details map[string]string `json:"status_details,omitempty"`
}

// loadUpdateState reads updateFile in dir; ok is false when there is none.
func loadUpdateState(dir string) (st updateState, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, updateFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("read update state: %w", err)
	}
	st, err = parseUpdateState(b)
	if err != nil {
		return st, false, fmt.Errorf("read update state %s: %w", filepath.Join(dir, updateFile), err)
	}
	return st, true, nil
}

// parseUpdateState reads updateFile's content and checks it holds what its
// phase needs.
func parseUpdateState(b []byte) (updateState, error) {
	var st updateState
	if len(b) > 64<<10 {
		return st, fmt.Errorf("%d bytes; at most 65536 are read", len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return st, fmt.Errorf("cannot parse: %w", err)
	}
	if dec.More() {
		return st, errors.New("cannot parse: text after the object")
	}
	if !protocol.IsValidJobID(st.JobID) {
		return st, fmt.Errorf("job id %q is not one", clipString(st.JobID, 70))
	}
	switch st.Phase {
	case phaseTrial, phaseInstalled:
		if st.Executable == "" || st.NewFile == "" || st.Backup == "" || len(st.SHA256) != 64 {
			return st, fmt.Errorf("phase %s without its files and digest", st.Phase)
		}
	case phaseReport:
		if !protocol.JobStatusTerminal(st.Status) {
			return st, fmt.Errorf("status %q is not a final one", clipString(st.Status, 20))
		}
		if st.Restore && (st.Executable == "" || st.Backup == "") {
			return st, errors.New("a restore without its files")
		}
	default:
		return st, fmt.Errorf("phase %q is not one of trial, installed, report", clipString(st.Phase, 20))
	}
	return st, nil
}

func saveUpdateState(dir string, st updateState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("save update state: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, updateFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save update state: %w", err)
	}
	return nil
}

func removeUpdateState(dir string) error {
	if err := os.Remove(filepath.Join(dir, updateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove update state: %w", err)
	}
	return atomicfile.SyncDir(dir)
}

// ReadPublicKey reads an Ed25519 public key: PEM ("PUBLIC KEY", as
// openssl pkey -pubout writes it) or one line of base64 of the 32-byte
// key.
func ReadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read update public key: %w", err)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("update public key %s: a PEM block of type %q; want PUBLIC KEY", path, blk.Type)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("update public key %s: %w", path, err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("update public key %s: a %T; want an Ed25519 key", path, k)
		}
		return ek, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("update public key %s: neither a PEM public key nor the base64 of %d bytes", path, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}

// updater handles update-agent jobs.
type updater struct {
	dir     string            // the spool directory, which keeps updateFile
	exe     string            // the binary to replace; "" refuses updates
	version string            // the running binary's
	key     ed25519.PublicKey // nil: updates need no signature
	confirm time.Duration
	dl      *downloader
	logger  *slog.Logger
}

func (u *updater) newPath() string    { return u.exe + ".new" }
func (u *updater) backupPath() string { return u.exe + ".previous" }

// partPath is where a download of the file with digest sum goes: one name
// per file, so that a part is resumed only for the file it is of.
func (u *updater) partPath(sum []byte) string {
	return u.exe + "." + hex.EncodeToString(sum[:6]) + ".download"
}

// run handles one update-agent job. It returns a restart when the new
// binary is ready to be tried; otherwise it has told Hearth how the job
// ended, or the job ended without it (canceled, removed).
func (u *updater) run(ctx context.Context, r *jobRun) (*Restart, error) {
	doc, err := ParseUpdateDocument(r.ex.JobDocument)
	if err != nil {
		return nil, r.finish(ctx, protocol.JobRejected, map[string]string{"reason": detail(err.Error())})
	}
	refuse := func(reason string) (*Restart, error) {
		return nil, r.finish(ctx, protocol.JobRejected, map[string]string{"reason": reason, "version": doc.Version})
	}
	switch {
	case u.exe == "":
		return refuse("this agent runs inside Hearth's own binary (hearth agent) and does not replace it; hearth-agent takes updates")
	case doc.Version == u.version:
		// Nothing to install: a job sent again, or whose result was lost.
		return nil, r.finish(ctx, protocol.JobSucceeded, map[string]string{"version": doc.Version, "reason": "already running this version"})
	case u.key != nil && doc.Signature == nil:
		return refuse("the update is not signed; this agent takes only updates signed with its key (jobs.update_public_key_file)")
	}
	fail := func(step string, err error) (*Restart, error) {
		u.logger.Warn("update failed", "job", r.ex.JobID, "version", doc.Version, "step", step, "error", err)
		return nil, r.finish(ctx, protocol.JobFailed, map[string]string{"step": step, "version": doc.Version, "reason": detail(err.Error())})
	}
	if err := r.update(ctx, protocol.JobInProgress, map[string]string{"step": "downloading", "version": doc.Version}); err != nil {
		return nil, err
	}
	u.logger.Info("update started", "job", r.ex.JobID, "version", doc.Version, "running", u.version)
	part := u.partPath(doc.SHA256)
	u.removeOtherParts(part)

	dctx, stopDownload := context.WithCancelCause(ctx)
	defer stopDownload(nil)
	progress := r.progress(dctx, stopDownload, func(got, total int64) map[string]string {
		d := map[string]string{"step": "downloading", "version": doc.Version}
		if total > 0 {
			d["progress"] = fmt.Sprintf("%d%%", got*100/total)
		}
		return d
	})
	err = u.dl.get(dctx, fetch{url: doc.URL, sha256: doc.SHA256, size: doc.Size, dst: part, progress: progress, refresh: r.freshURL})
	if cause := context.Cause(dctx); err != nil && errors.Is(cause, errJobOver) {
		return nil, cause
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return fail("downloading", err)
	}
	if u.key != nil {
		if err := u.checkSignature(part, doc.Signature); err != nil {
			os.Remove(part)
			return fail("verifying", err)
		}
	}
	if err := u.prepare(ctx, part, doc.Version); err != nil {
		return fail("checking", err)
	}
	if err := r.update(ctx, protocol.JobInProgress, map[string]string{"step": "restarting", "version": doc.Version}); err != nil {
		os.Remove(u.newPath())
		return nil, err
	}
	st := updateState{
		Phase: phaseTrial, JobID: r.ex.JobID, ExecutionNumber: r.ex.ExecutionNumber, VersionNumber: r.version,
		Version: doc.Version, Previous: u.version, Executable: u.exe, NewFile: u.newPath(), Backup: u.backupPath(),
		SHA256: hex.EncodeToString(doc.SHA256),
	}
	if err := saveUpdateState(u.dir, st); err != nil {
		os.Remove(u.newPath())
		return fail("restarting", err)
	}
	u.logger.Info("update downloaded; trying the new binary", "job", r.ex.JobID, "version", doc.Version)
	return &Restart{exe: u.exe, trial: &st, dir: u.dir, confirm: u.confirm, logger: u.logger}, nil
}

// removeOtherParts removes downloads of other files than keep.
func (u *updater) removeOtherParts(keep string) {
	parts, _ := filepath.Glob(u.exe + ".*.download")
	for _, p := range parts {
		if p != keep {
			os.Remove(p)
		}
	}
}

// checkSignature checks the Ed25519 signature over the file's bytes.
func (u *updater) checkSignature(path string, sig []byte) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read the download: %w", err)
	}
	if !ed25519.Verify(u.key, b, sig) {
		return errors.New("the signature does not verify with this agent's key (jobs.update_public_key_file)")
	}
	return nil
}

// prepare makes the downloaded part the new binary: executable, beside
// the old one under newPath, and saying the job's version when asked.
func (u *updater) prepare(ctx context.Context, part, version string) error {
	mode := os.FileMode(0o755)
	if st, err := os.Stat(u.exe); err == nil {
		mode = st.Mode().Perm() | 0o100
	}
	if err := os.Chmod(part, mode); err != nil {
		return err
	}
	if err := os.Rename(part, u.newPath()); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(filepath.Dir(u.exe)); err != nil {
		return err
	}
	got, err := binaryVersion(ctx, u.newPath())
	if err != nil {
		os.Remove(u.newPath())
		return err
	}
	if got != version {
		os.Remove(u.newPath())
		return fmt.Errorf("the new binary says it is version %q; the job names %q", clipString(got, 70), version)
	}
	return nil
}

// binaryVersion runs path --version.
func binaryVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Stdout = &limitedWriter{w: &out, n: 4096}
	cmd.Stderr = &limitedWriter{w: &errOut, n: 4096}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if msg != "" {
			msg = ": " + lastLine(msg)
		}
		return "", fmt.Errorf("the new binary does not run here (%s --version: %v%s)", filepath.Base(path), err, msg)
	}
	return strings.TrimSpace(out.String()), nil
}

// resume takes up an update that an earlier run left in dir, when the
// agent starts. It returns the state to carry on with (ok false when there
// is none left), and a restart when the binary in place must change
// before the agent runs.
func (u *updater) resume() (st updateState, ok bool, rs *Restart, err error) {
	st, ok, err = loadUpdateState(u.dir)
	if !ok || err != nil {
		return st, ok, nil, err
	}
	report := func(status, reason string) {
		os.Remove(st.NewFile)
		st.Phase, st.Status, st.Restore = phaseReport, status, false
		st.Details = map[string]string{"version": st.Version, "reason": detail(reason)}
	}
	switch st.Phase {
	case phaseTrial:
		report(protocol.JobFailed, fmt.Sprintf("the agent was stopped while version %s was tried; version %s runs", st.Version, st.Previous))
	case phaseInstalled:
		sum, derr := digestFile(st.Executable)
		if derr != nil || hex.EncodeToString(sum) != st.SHA256 {
			report(protocol.JobFailed, fmt.Sprintf("the agent was stopped before version %s was in place; version %s runs", st.Version, st.Previous))
			break
		}
		st.Starts++
		if st.Starts > maxUnconfirmedStarts {
			return u.rollback(st, fmt.Sprintf("version %s started %d times without connecting to Hearth", st.Version, st.Starts-1))
		}
		u.logger.Info("update installed; waiting to connect", "job", st.JobID, "version", st.Version, "within", u.confirm.String())
	case phaseReport:
		if st.Restore {
			return u.restore(st)
		}
		return st, true, nil, nil
	}
	if err := saveUpdateState(u.dir, st); err != nil {
		return st, true, nil, err
	}
	return st, true, nil, nil
}

// confirmed records that the installed binary connected: the update
// succeeded.
func (u *updater) confirmed(st updateState) (updateState, error) {
	st.Phase, st.Status, st.Starts = phaseReport, protocol.JobSucceeded, 0
	st.Details = map[string]string{"version": st.Version, "previous_version": st.Previous}
	if err := saveUpdateState(u.dir, st); err != nil {
		return st, err
	}
	u.logger.Info("update succeeded", "job", st.JobID, "version", st.Version, "previous_version", st.Previous)
	return st, nil
}

// rollback puts the previous binary back because the installed one did
// not connect, and returns the restart that runs it; the failure is
// reported from there.
func (u *updater) rollback(st updateState, reason string) (updateState, bool, *Restart, error) {
	u.logger.Warn("update failed; putting the previous binary back", "job", st.JobID, "version", st.Version, "previous_version", st.Previous, "reason", reason)
	st.Phase, st.Status, st.Restore = phaseReport, protocol.JobFailed, true
	st.Details = map[string]string{"version": st.Version, "reason": detail(reason + fmt.Sprintf("; version %s was put back", st.Previous))}
	if err := saveUpdateState(u.dir, st); err != nil {
		return st, true, nil, err
	}
	return u.restore(st)
}

// restore renames the backup over the executable and returns the restart
// that runs it. A backup already gone was put back before a crash.
func (u *updater) restore(st updateState) (updateState, bool, *Restart, error) {
	err := os.Rename(st.Backup, st.Executable)
	switch {
	case err == nil:
		if err := atomicfile.SyncDir(filepath.Dir(st.Executable)); err != nil {
			return st, true, nil, err
		}
	case errors.Is(err, os.ErrNotExist):
		if sum, derr := digestFile(st.Executable); derr == nil && hex.EncodeToString(sum) == st.SHA256 {
			// Still the failed binary, and no backup to put back.
			st.Details["reason"] = detail(st.Details["reason"] + fmt.Sprintf("; but the backup %s is gone, so version %s still runs", st.Backup, st.Version))
			st.Restore = false
			return st, true, nil, saveUpdateState(u.dir, st)
		}
	default:
		return st, true, nil, fmt.Errorf("put the previous binary back: %w", err)
	}
	st.Restore = false
	if err := saveUpdateState(u.dir, st); err != nil {
		return st, true, nil, err
	}
	return st, true, &Restart{exe: st.Executable, dir: u.dir, logger: u.logger}, nil
}

// Restart is the error Run returns when the agent stopped to restart
// itself: to try the new binary of an update and put it in place, or to
// run the binary in place again (after an update, or when the previous
// binary was put back). The caller releases what the agent's equipment
// holds (a serial port, a Modbus connection), then calls Do.
type Restart struct {
	exe     string
	trial   *updateState // the update to try first; nil to run exe again
	dir     string
	confirm time.Duration
	logger  *slog.Logger
}

func (r *Restart) Error() string {
	if r.trial != nil {
		return fmt.Sprintf("the agent stopped to try version %s", r.trial.Version)
	}
	return "the agent stopped to restart"
}

// TrialEnv marks the child process that tries a new binary; TrialConnected
// and TrialHold are its file descriptors: it writes a line to the first
// once connected, and stops when the second reaches its end, which it does
// when the parent closes it or dies.
const (
	TrialEnv       = "HEARTH_AGENT_TRIAL"
	TrialConnected = 3
	TrialHold      = 4
)

// Do tries the update (when there is one) and puts the new binary in place
// if it connected, then replaces the process with the binary in place,
// with argv and env. It returns only when that fails, or when ctx ends
// during the trial (the update is then reported failed at the next
// start). stderr receives the trial's log.
func (r *Restart) Do(ctx context.Context, argv, env []string, stderr io.Writer) error {
	env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, TrialEnv+"=") })
	if r.trial != nil {
		st := *r.trial
		reason := r.try(ctx, argv, env, stderr)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if reason == "" {
			reason = r.install(&st)
		}
		if reason != "" {
			r.logger.Warn("update failed", "job", st.JobID, "version", st.Version, "reason", reason)
			os.Remove(st.NewFile)
			st.Phase, st.Status = phaseReport, protocol.JobFailed
			st.Details = map[string]string{"version": st.Version, "reason": detail(reason)}
			if err := saveUpdateState(r.dir, st); err != nil {
				return err
			}
		}
	}
	r.logger.Info("agent restarting", "executable", r.exe)
	return execProcess(r.exe, argv, env)
}

// try runs the new binary as a child until it connects to Hearth, exits,
// or the confirm timeout passes, then stops it. It returns why the trial
// failed, "" when it connected.
func (r *Restart) try(ctx context.Context, argv, env []string, stderr io.Writer) string {
	st := r.trial
	connR, connW, err := os.Pipe()
	if err != nil {
		return fmt.Sprintf("cannot try version %s: %v", st.Version, err)
	}
	holdR, holdW, err := os.Pipe()
	if err != nil {
		connR.Close()
		connW.Close()
		return fmt.Sprintf("cannot try version %s: %v", st.Version, err)
	}
	defer connR.Close()
	tail := &tailWriter{}
	cmd := exec.Command(st.NewFile, argv[1:]...)
	cmd.Env = append(slices.Clone(env), TrialEnv+"=1")
	cmd.Stdout = stderr
	cmd.Stderr = io.MultiWriter(stderr, tail)
	cmd.ExtraFiles = []*os.File{connW, holdR} // descriptors 3 and 4
	err = cmd.Start()
	connW.Close()
	holdR.Close()
	if err != nil {
		holdW.Close()
		return fmt.Sprintf("version %s does not start: %v", st.Version, err)
	}
	r.logger.Info("trying the new binary", "version", st.Version, "pid", cmd.Process.Pid, "within", r.confirm.String())
	connected := make(chan struct{})
	go func() {
		if n, _ := connR.Read(make([]byte, 64)); n > 0 {
			close(connected)
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	timer := time.NewTimer(r.confirm)
	defer timer.Stop()
	var reason string
	select {
	case <-connected:
		r.logger.Info("the new binary connected to Hearth", "version", st.Version)
	case err := <-exited:
		holdW.Close()
		return fmt.Sprintf("version %s exited before it connected to Hearth (%v)%s", st.Version, err, tail.suffix())
	case <-timer.C:
		reason = fmt.Sprintf("version %s did not connect to Hearth within %s (jobs.update_confirm_timeout)%s", st.Version, r.confirm, tail.suffix())
	case <-ctx.Done():
		reason = "stopped"
	}
	// Closing its end of the hold pipe stops the child gracefully.
	holdW.Close()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
	return reason
}

// install puts the new binary in place, keeping the old one as the
// backup; it returns why it could not, "" when it did. The state says
// installed before anything moves, so a crash in between is found out
// from the digest of the binary in place.
func (r *Restart) install(st *updateState) string {
	st.Phase, st.Starts = phaseInstalled, 0
	if err := saveUpdateState(r.dir, *st); err != nil {
		return err.Error()
	}
	if err := keepBackup(st.Executable, st.Backup); err != nil {
		return fmt.Sprintf("cannot keep the previous binary as %s: %v", st.Backup, err)
	}
	if err := os.Rename(st.NewFile, st.Executable); err != nil {
		return fmt.Sprintf("cannot put version %s in place: %v", st.Version, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(st.Executable)); err != nil {
		return fmt.Sprintf("cannot put version %s in place: %v", st.Version, err)
	}
	r.logger.Info("update installed", "version", st.Version, "backup", st.Backup)
	return ""
}

// keepBackup makes backup a copy of exe that outlives exe's replacement: a
// hard link where the file system has them, else a synced copy.
func keepBackup(exe, backup string) error {
	tmp := backup + ".tmp"
	os.Remove(tmp)
	if err := os.Link(exe, tmp); err != nil {
		if err := copyFile(exe, tmp); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, backup); err != nil {
		os.Remove(tmp)
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(backup))
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// Trial is the side of the child process that tries a new binary: the
// agent tells it once it is connected, and stops when Stop is closed.
type Trial struct {
	connected *os.File
	once      sync.Once
	// Stop is closed when the parent wants the trial to end, or is gone.
	Stop <-chan struct{}
}

// TrialFromEnv returns the trial this process is, when its parent started
// it as one (TrialEnv set, descriptors 3 and 4 open); ok is false for a
// process that is no trial.
func TrialFromEnv(getenv func(string) string) (*Trial, bool) {
	if getenv(TrialEnv) != "1" {
		return nil, false
	}
	conn := os.NewFile(TrialConnected, "trial-connected")
	hold := os.NewFile(TrialHold, "trial-hold")
	if conn == nil || hold == nil {
		return nil, false
	}
	stop := make(chan struct{})
	go func() {
		io.Copy(io.Discard, hold)
		hold.Close()
		close(stop)
	}()
	return &Trial{connected: conn, Stop: stop}, true
}

// Connected tells the parent that the new binary connected to Hearth.
func (t *Trial) Connected() {
	t.once.Do(func() {
		t.connected.Write([]byte("connected\n"))
		t.connected.Close()
	})
}

// tailWriter keeps the last line written, for the reason of a failed
// trial.
type tailWriter struct {
	mu   sync.Mutex
	last []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = append(w.last, p...)
	if len(w.last) > 8<<10 {
		w.last = slices.Clone(w.last[len(w.last)-4<<10:])
	}
	return len(p), nil
}

func (w *tailWriter) suffix() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	line := lastLine(string(w.last))
	if line == "" {
		return ""
	}
	return ": " + clipString(line, 300)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// limitedWriter keeps the first n bytes written and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
