package store

import (
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// Buckets of the current schema.
const (
	bucketMeta      = "meta"
	bucketCustomers = "customers" // name → Customer
	bucketSites     = "sites"     // customer NUL site → Site
	bucketDevices   = "devices"   // name → Device
	// bucketDeviceIndex lists devices by where they are, so a customer's or
	// a site's devices are one prefix scan and a delete can tell cheaply
	// whether devices remain: customer NUL site NUL device → empty.
	bucketDeviceIndex = "devices_by_site"
	bucketUsers       = "users"  // lower-cased e-mail → User
	bucketTokens      = "tokens" // ID → Token
	// bucketTokenHashes makes authenticating a bearer token one lookup:
	// SHA-256 of the secret → token ID.
	bucketTokenHashes = "token_hashes"
	// bucketShadows holds device shadow documents: device NUL shadow name →
	// Shadow, the classic shadow under the empty name, so a device's
	// shadows are one prefix scan with the classic one first.
	bucketShadows = "shadows"
	// bucketHistory holds every recorded shadow change:
	// device NUL position → HistoryEntry, where the position is the
	// big-endian time in nanoseconds followed by a big-endian sequence
	// number, so a device's history is one prefix scan in time order.
	bucketHistory = "history"
	// bucketHistoryByShadow indexes the history per shadow:
	// device NUL shadow NUL position → empty.
	bucketHistoryByShadow = "history_by_shadow"
	// bucketHistoryByTime indexes the whole fleet's history by time, for
	// fleet-wide queries and retention: position → device NUL shadow.
	bucketHistoryByTime = "history_by_time"
	// bucketHistorySizes holds how much history each device keeps, so its
	// budget is checked without a scan: device → HistorySize (big-endian
	// bytes, then entries).
	bucketHistorySizes = "history_sizes"
	// bucketDeviceTypes holds device types and their settings schemas:
	// name → DeviceType.
	bucketDeviceTypes = "device_types"
	// bucketPresence holds the last known connection state of each device,
	// so that it survives a restart: device name → PresenceRecord, in the
	// binary form of appendPresence (JSON before that migration).
	bucketPresence = "presence"
	// bucketSessions holds signed-in browser sessions: SHA-256 of the
	// session token → expiry (big-endian unix nanoseconds) and the
	// session's data, so the file never holds a usable token.
	bucketSessions = "sessions"
	// bucketAudit holds what operators did: position (big-endian time in
	// nanoseconds, then a sequence number) → AuditEntry, so the log reads
	// in time order.
	bucketAudit = "audit"
	// bucketSSOProviders holds the OpenID Connect providers operators
	// configured: name → SSOProvider.
	bucketSSOProviders = "sso_providers"
	// bucketPollMaps holds the register maps of devices Hearth polls over
	// Modbus TCP itself: device name → PollMap.
	bucketPollMaps = "poll_maps"
	// bucketCalendars holds operating calendars: ID → Calendar.
	bucketCalendars = "calendars"
	// bucketAssignments gives calendars to devices, sites and a customer's
	// device types: kind NUL customer NUL target → Assignment.
	bucketAssignments = "calendar_assignments"
	// bucketPushes holds what happened to each day's program of each
	// device: device NUL local date → PushRecord, so a device's pushes are
	// one prefix scan in date order.
	bucketPushes = "schedule_pushes"
	// bucketAlarmRules holds alarm rules: ID → AlarmRule.
	bucketAlarmRules = "alarm_rules"
	// bucketAlarms holds alarms: ID (time-sortable) → Alarm.
	bucketAlarms = "alarms"
	// bucketAlarmsOpen indexes the alarms that still stand: rule NUL
	// device → alarm ID, at most one each.
	bucketAlarmsOpen = "alarms_open"
	// bucketDeviceSummaries holds what a device listing filters and
	// searches by, so a page of a large fleet is found without decoding
	// every device: name → deviceSummary.
	bucketDeviceSummaries = "device_summaries"
	// bucketStrategies holds which energy-saving strategies a site or a
	// device runs: customer NUL site NUL strategy NUL device (empty for
	// the site) → StrategySetting.
	bucketStrategies = "strategies"
	// bucketStrategyChanges holds what strategies changed: customer NUL
	// site NUL big-endian time in nanoseconds, sequence → StrategyChange.
	bucketStrategyChanges = "strategy_changes"
	// bucketStrategyState holds the strategy runner's memory of a device:
	// name → its JSON.
	bucketStrategyState = "strategy_state"
	// bucketDeviceAccess holds what the device registry keeps in memory
	// of each device (where it is, its type, its credentials), so that it
	// loads without decoding every full record: name → DeviceAccess in
	// the binary form of appendDeviceAccess.
	bucketDeviceAccess = "device_access"
)

// keySchemaVersion holds the schema version in the meta bucket, as decimal
// text so that bbolt's own tools show it readably.
const keySchemaVersion = "schema_version"

// allBuckets are the buckets the record code relies on; Open refuses a file
// that lacks one after its migrations.
func allBuckets() []string {
	return []string{
		bucketMeta, bucketCustomers, bucketSites, bucketDevices,
		bucketDeviceIndex, bucketUsers, bucketTokens, bucketTokenHashes,
		bucketShadows, bucketHistory, bucketHistoryByShadow, bucketHistoryByTime,
		bucketDeviceTypes, bucketPresence, bucketSessions, bucketAudit,
		bucketSSOProviders, bucketPollMaps, bucketCalendars, bucketAssignments, bucketPushes,
		bucketAlarmRules, bucketAlarms, bucketAlarmsOpen,
		bucketNotifyChannels, bucketNotifyOutbox, bucketNotifyQueue, bucketNotifyKeys,
		bucketJobs, bucketJobExecs, bucketJobExecsIdx, bucketJobQueue, bucketMessageRules,
		bucketArtifacts, bucketArtifactKeys, bucketHistorySizes,
		bucketDeviceSummaries, bucketSiteEnergy,
		bucketStrategies, bucketStrategyChanges, bucketStrategyState,
		bucketDeviceAccess,
	}
}

// migration is one step of the schema: it brings a file from version N to
// N+1, where N is its index in the list.
type migration struct {
	name string
	up   func(tx *bolt.Tx) error
}

// migrations is the ordered list of schema steps; its length is the schema
// version this binary writes. A new version is one more entry at the end;
// an entry that has been released is never edited, because files in the
// field have already run it.
func migrations() []migration {
	return []migration{
		{name: "create buckets", up: createBucketsV1},
		{name: "create shadow and history buckets", up: createBucketsV2},
		{name: "create device type and presence buckets", up: createBucketsV3},
		{name: "create the session bucket", up: createBucketsV4},
		{name: "create the audit bucket", up: createBucketsV5},
		{name: "create the single sign-on provider bucket", up: createBucketsV6},
		{name: "create the register map bucket", up: createBucketsV7},
		{name: "create the calendar, assignment and push buckets", up: createBucketsV8},
		{name: "create the alarm rule and alarm buckets", up: createBucketsV9},
		{name: "create the notification channel and outbox buckets", up: createNotificationBuckets},
		{name: "create the job buckets", up: createJobBuckets},
		{name: "create the message rule bucket", up: createMessageRuleBucket},
		{name: "create the artifact buckets", up: createArtifactBuckets},
		{name: "count each device's history", up: createHistorySizes},
		{name: "summarise each device for listings", up: createDeviceSummaries},
		{name: "create the site energy bucket", up: createSiteEnergyBucket},
		{name: "create the strategy buckets", up: createStrategyBuckets},
		{name: "keep each device's access record", up: createDeviceAccess},
		{name: "keep presence in binary records", up: encodePresenceRecords},
	}
}

// createBucketsV1 creates the buckets of schema version 1. The list is
// spelled out rather than taken from allBuckets, which follows the latest
// schema.
func createBucketsV1(tx *bolt.Tx) error {
	for _, name := range []string{
		bucketMeta, bucketCustomers, bucketSites, bucketDevices,
		bucketDeviceIndex, bucketUsers, bucketTokens, bucketTokenHashes,
	} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %q: %w", name, err)
		}
	}
	return nil
}

// createBucketsV2 adds the buckets of device shadows and their history.
func createBucketsV2(tx *bolt.Tx) error {
	for _, name := range []string{
		bucketShadows, bucketHistory, bucketHistoryByShadow, bucketHistoryByTime,
	} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %q: %w", name, err)
		}
	}
	return nil
}

// createBucketsV3 adds the buckets of device types and of presence.
func createBucketsV3(tx *bolt.Tx) error {
	for _, name := range []string{bucketDeviceTypes, bucketPresence} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %q: %w", name, err)
		}
	}
	return nil
}

// createBucketsV4 adds the bucket of browser sessions.
func createBucketsV4(tx *bolt.Tx) error {
	for _, name := range []string{bucketSessions} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %q: %w", name, err)
		}
	}
	return nil
}

// createBucketsV5 adds the bucket of the audit log.
func createBucketsV5(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists([]byte(bucketAudit)); err != nil {
		return fmt.Errorf("create bucket %q: %w", bucketAudit, err)
	}
	return nil
}

// createBucketsV6 adds the bucket of single sign-on providers.
func createBucketsV6(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists([]byte(bucketSSOProviders)); err != nil {
		return fmt.Errorf("create bucket %q: %w", bucketSSOProviders, err)
	}
	return nil
}

// createBucketsV7 adds the bucket of register maps of polled devices.
func createBucketsV7(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists([]byte(bucketPollMaps)); err != nil {
		return fmt.Errorf("create bucket %q: %w", bucketPollMaps, err)
	}
	return nil
}

// migrate runs the steps the file still needs, each in its own transaction
// that also records the new version, so a failure or a crash leaves the file
// at the last version that completed. A file newer than this binary is left
// untouched: the check runs in a read transaction, because even an empty
// bbolt write transaction rewrites a meta page.
func (s *Store) migrate(migs []migration) error {
	v, err := s.SchemaVersion()
	if err != nil {
		return err
	}
	if v > len(migs) {
		return fmt.Errorf("file has schema version %d, this binary knows up to %d: %w", v, len(migs), ErrSchemaTooNew)
	}
	for ; v < len(migs); v++ {
		m := migs[v]
		err := s.db.Update(func(tx *bolt.Tx) error {
			cur, err := readVersion(tx)
			if err != nil {
				return err
			}
			if cur != v {
				return fmt.Errorf("schema version is %d, expected %d", cur, v)
			}
			if err := m.up(tx); err != nil {
				return err
			}
			return writeVersion(tx, v+1)
		})
		if err != nil {
			return fmt.Errorf("migrate schema from version %d to %d (%s): %w", v, v+1, m.name, err)
		}
	}
	return nil
}

// checkVersion is what a read-only open does instead of migrating: the file
// must be exactly at the version this binary reads.
func (s *Store) checkVersion(latest int) error {
	v, err := s.SchemaVersion()
	if err != nil {
		return err
	}
	switch {
	case v > latest:
		return fmt.Errorf("file has schema version %d, this binary knows up to %d: %w", v, latest, ErrSchemaTooNew)
	case v < latest:
		return fmt.Errorf("file has schema version %d and needs migrating to %d, which a read-only open cannot do: %w", v, latest, ErrSchemaTooOld)
	}
	return nil
}

// readVersion returns the schema version of the file; a file without a meta
// bucket is a new file at version 0.
func readVersion(tx *bolt.Tx) (int, error) {
	b := tx.Bucket([]byte(bucketMeta))
	if b == nil {
		return 0, nil
	}
	raw := b.Get([]byte(keySchemaVersion))
	if raw == nil {
		return 0, nil
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil || v < 0 {
		return 0, fmt.Errorf("cannot parse schema version %q: %w", raw, ErrInvalid)
	}
	return v, nil
}

func writeVersion(tx *bolt.Tx, v int) error {
	b, err := tx.CreateBucketIfNotExists([]byte(bucketMeta))
	if err != nil {
		return fmt.Errorf("create bucket %q: %w", bucketMeta, err)
	}
	if err := b.Put([]byte(keySchemaVersion), []byte(strconv.Itoa(v))); err != nil {
		return fmt.Errorf("write schema version: %w", err)
	}
	return nil
}

// createBucketsV8 adds the buckets of operating calendars, their
// assignments and the record of each day's push.
func createBucketsV8(tx *bolt.Tx) error {
	for _, name := range []string{bucketCalendars, bucketAssignments, bucketPushes} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %q: %w", name, err)
		}
	}
	return nil
}

func createBucketsV9(tx *bolt.Tx) error {
	for _, name := range []string{bucketAlarmRules, bucketAlarms, bucketAlarmsOpen} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %q: %w", name, err)
		}
	}
	return nil
}

// createStrategyBuckets adds the buckets of the energy-saving strategies.
func createStrategyBuckets(tx *bolt.Tx) error {
	for _, name := range []string{bucketStrategies, bucketStrategyChanges, bucketStrategyState} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %q: %w", name, err)
		}
	}
	return nil
}
