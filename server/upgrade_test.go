package server_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/store/tsdb"
	"github.com/hearthiot/hearth/store/wal"
)

// previousSchema is the bbolt schema of the release before alarms and
// notifications: calendars were its newest part.
const previousSchema = 8

// An upgrade keeps everything: a data directory as the previous release
// left it after a crash — its store schema, samples in the time-series
// store and more still only in the telemetry log — opens with this binary,
// which migrates the store, stores the log's samples again and serves
// every record and sample, and the new parts (alarms) work.
//
// Started with --telemetry-log=false, the log is still replayed (it may
// hold what a crash of a run with it took), and a clean stop removes it.
func TestUpgradeKeepsData(t *testing.T) {
	for _, logOn := range []bool{true, false} {
		t.Run(fmt.Sprintf("telemetry log %v", logOn), func(t *testing.T) { upgradeKeepsData(t, logOn) })
	}
}

func upgradeKeepsData(t *testing.T, logOn bool) {
	if store.LatestSchemaVersion() <= previousSchema {
		t.Fatalf("the schema is %d; the previous release's was %d", store.LatestSchemaVersion(), previousSchema)
	}
	dir := t.TempDir()
	st, err := store.OpenAtSchemaVersion(filepath.Join(dir, "hearth.db"), previousSchema)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateCustomer(store.Customer{Name: "acme", DisplayName: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateDevice(store.Device{Name: "boiler-1", Customer: "acme", Site: store.DefaultSite, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	doc := json.RawMessage(`{"state":{"desired":{"mode":"heating"},"reported":{"mode":"heating"}},"version":3}`)
	if err := st.PutShadow(store.Shadow{Device: "boiler-1", Version: 3, Doc: doc}, 0, &store.HistoryEntry{Device: "boiler-1", Version: 3, Time: time.Now().UTC(), Actor: "device:boiler-1", Channel: "mqtt"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	db, err := tsdb.Open(tsdb.Config{Dir: filepath.Join(dir, "tsdb"), MemoryBytes: 128 << 20}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := db.Append("boiler-1", "acme", store.DefaultSite, []tsdb.Point{{Metric: "hw_supply_c", Timestamp: base.Add(time.Duration(i) * time.Second).UnixMilli(), Value: 60}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	log, _, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{}, func(wal.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for i := 100; i < 120; i++ { // acknowledged, then the crash: only in the log
		if err := log.Write(wal.Record{Device: "boiler-1", Customer: "acme", Site: store.DefaultSite,
			Points: []wal.Point{{Metric: "hw_supply_c", Timestamp: base.Add(time.Duration(i) * time.Second).UnixMilli(), Value: 61}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Close(false); err != nil {
		t.Fatal(err)
	}

	h := startHearthWith(t, dir, func(c *server.Config) { c.Telemetry.Log = logOn })
	op := h.token(store.RoleOperator, "")
	var dev struct{ Name, Customer string }
	if st := h.apiCall(op, "GET", "/api/v1/devices/boiler-1", nil, &dev); st != http.StatusOK || dev.Customer != "acme" {
		t.Errorf("the device after the upgrade: %d %+v", st, dev)
	}
	var sh struct {
		State struct {
			Reported map[string]any `json:"reported"`
		} `json:"state"`
		Version int `json:"version"`
	}
	if st := h.apiCall(op, "GET", "/api/v1/devices/boiler-1/shadow", nil, &sh); st != http.StatusOK || sh.State.Reported["mode"] != "heating" || sh.Version != 3 {
		t.Errorf("the shadow after the upgrade: %d %+v", st, sh)
	}
	var hist struct{ Entries []struct{ Version int } }
	if st := h.apiCall(op, "GET", "/api/v1/devices/boiler-1/shadow/history", nil, &hist); st != http.StatusOK || len(hist.Entries) != 1 {
		t.Errorf("the history after the upgrade: %d %+v", st, hist)
	}
	eventually(t, "every sample, those only in the log too", func() bool {
		_, s := h.promQuery(op, `count_over_time(hw_supply_c{device="boiler-1"}[2h])`)
		return len(s) == 1 && s[0].Value == 120
	})
	if got := h.latest(op, "boiler-1")["hw_supply_c"]; got != 61 {
		t.Errorf("the latest value after the upgrade: %v, want the log's 61", got)
	}
	if st := h.apiCall(op, "POST", "/api/v1/alarm-rules", map[string]any{"name": "Hot water", "customer": "acme", "device": "boiler-1",
		"severity": "minor", "condition": "hw_supply_c > 80"}, nil); st != http.StatusCreated {
		t.Errorf("an alarm rule on the upgraded store: %d", st)
	}
	h.stop()
	// A clean stop leaves the newest segment emptied to its 8-byte
	// header (the next log numbers its segments after it), nothing else.
	segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	for _, seg := range segs {
		if fi, err := os.Stat(seg); err != nil || fi.Size() > 8 {
			t.Errorf("log segment %s left with records after a clean stop (%v)", filepath.Base(seg), err)
		}
	}
	if len(segs) > 1 {
		t.Errorf("%d log segments left after a clean stop; want the newest, emptied", len(segs))
	}
}
