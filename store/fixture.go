package store

import bolt "go.etcd.io/bbolt"

// LatestSchemaVersion is the schema version this binary writes.
func LatestSchemaVersion() int { return len(migrations()) }

// SchemaVersionBefore is the schema version just before the migration
// named name, for upgrade tests that must not depend on how many steps
// came after it; -1 when no migration has that name.
func SchemaVersionBefore(name string) int {
	for i, m := range migrations() {
		if m.name == name {
			return i
		}
	}
	return -1
}

// OpenAtSchemaVersion opens a file with only the first n schema steps, as
// a release of that schema wrote it, so that upgrade tests make their own
// fixtures from the migration chain and open them with this binary. It
// skips the check for the buckets of the latest schema, which such a file
// lacks. Not for serving: use Open.
func OpenAtSchemaVersion(path string, n int) (*Store, error) {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(migrations()[:n]); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}
