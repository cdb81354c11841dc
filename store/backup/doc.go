// Package backup writes, checks and restores Hearth's backup archives: one
// file holding everything a data directory needs to start again, taken
// while Hearth runs.
//
// An archive is a tar stream compressed with zstd. Its first entry,
// hearth-backup.json, names the archive format version, the Hearth
// version that wrote it, when, and how many files and bytes follow, so a
// reader refuses a format it does not know before anything else and can
// show progress. Then come the files, by their paths in the data
// directory: the bbolt store (hearth.db, a consistent copy from one read
// transaction), the time-series store (tsdb/, from a VictoriaMetrics
// snapshot, and its latest values), and the directories the server names
// (the TLS material, the demo's credentials, the artifacts' content, the
// telemetry write-ahead log). A store whose files records name (the
// artifacts) is held from before the bbolt copy until those files are
// open, so that no file the copied records name is removed in between. The last entry, manifest.json, lists every file with its size and
// SHA-256. A reader checks every file against it: a damaged or truncated
// archive is refused, never half-used. Restore writes into a temporary
// directory and renames it into place only once every check passed.
//
// The write-ahead log's files are opened before the time-series snapshot
// is taken and copied after it, so a sample acknowledged before the
// snapshot is in the snapshot or in the log, even if the log deletes a
// segment meanwhile; a server started on the restored directory replays
// the log.
//
// This package knows the archive and the order of the copies, not what
// the stores hold: they come in through small interfaces the server
// fills. It imports no other Hearth package.
package backup
