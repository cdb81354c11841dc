package gate

import (
	"context"
	"io"
)

// Backups writes backups of the whole installation; the server adapts
// store/backup to it, so the gate links no archive code. Prepare takes the
// copies (store, time-series snapshot, TLS material, write-ahead log) and
// refuses with a *Error of KindConflict while another backup is being
// written.
type Backups interface {
	Prepare(ctx context.Context) (PreparedBackup, error)
}

// PreparedBackup is a backup whose copies are taken, to be written once
// and closed.
type PreparedBackup interface {
	// FileName is the name the archive is offered under.
	FileName() string
	// Write writes the archive to w; an error leaves w with an archive a
	// reader refuses.
	Write(ctx context.Context, w io.Writer) error
	// Close releases the copies.
	Close() error
}

// PrepareBackup takes the copies of a backup of everything: every
// customer's records, telemetry and the certificate authority's key. It
// is for operator admins only; the caller writes the archive and closes
// it.
func (s Scope) PrepareBackup(ctx context.Context) (PreparedBackup, error) {
	if err := s.adminOnly("taking a backup"); err != nil {
		return nil, err
	}
	if s.g.backups == nil {
		return nil, Unavailable("backups are not available here: take one through the running server's admin socket, or with hearth backup while no server runs")
	}
	return s.g.backups.Prepare(ctx)
}
