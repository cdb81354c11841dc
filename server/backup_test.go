package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/store/backup"
)

// publisher sends one device's telemetry, sample i at base + i×100 ms with
// the value i, each after the previous one was acknowledged, and counts
// the acknowledged ones.
type publisher struct {
	name  string
	c     mqtt.Client
	base  time.Time
	acked atomic.Int64
	err   atomic.Value
}

func (p *publisher) run(ctx context.Context) {
	for i := int64(0); ctx.Err() == nil; i++ {
		ts := p.base.Add(time.Duration(i) * 100 * time.Millisecond).UnixMilli()
		tok := p.c.Publish("hearth/things/"+p.name+"/telemetry", 1, false, fmt.Sprintf(`{"ts": %d, "values": {"flow": %d}}`, ts, i))
		if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
			p.err.Store(fmt.Errorf("publish %d of %s: %v", i, p.name, tok.Error()))
			return
		}
		p.acked.Store(i + 1)
		time.Sleep(2 * time.Millisecond)
	}
}

// TestBackupWhileServing takes a backup through the admin socket, as
// `hearth backup` does, while devices publish telemetry and shadows
// change; restores it into a new directory and starts a new server there:
// every device, shadow, history entry and every sample acknowledged before
// the backup began is there, devices connect with the credentials they
// had, and what changed after the backup is not. The archive, damaged or
// cut, is refused.
func TestBackupWhileServing(t *testing.T) {
	dir := t.TempDir()
	h := startHearth(t, dir)
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	base := time.Now().Add(-50 * time.Minute).Truncate(time.Second)
	names := []string{"chiller-1", "chiller-2", "boiler-1", "ahu-1"}
	issued := map[string]issuedDevice{}
	var pubs []*publisher
	for _, name := range names {
		d := h.addDevice(op, name, "acme")
		issued[name] = d
		c, rc, err := h.v3(name, d, false, d.Secret)
		if err != nil {
			t.Fatalf("connect %s: rc=%d %v", name, rc, err)
		}
		pubs = append(pubs, &publisher{name: name, c: c, base: base})
		// Three settings from the API and the device's report over MQTT:
		// four history entries.
		for _, sp := range []int{18, 19, 20} {
			if st := h.apiCall(op, "PATCH", "/api/v1/devices/"+name+"/shadow", map[string]any{"state": map[string]any{"desired": map[string]any{"setpoint": sp}}}, nil); st != http.StatusOK {
				t.Fatalf("PATCH %s: status %d", name, st)
			}
		}
		tok := c.Publish("$aws/things/"+name+"/shadow/update", 1, false, `{"state": {"reported": {"setpoint": 20}}}`)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	ctx, stopPublishing := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, p := range pubs {
		wg.Go(func() { p.run(ctx) })
	}
	defer func() { stopPublishing(); wg.Wait() }()
	eventually(t, "each device to have 200 samples acknowledged", func() bool {
		for _, p := range pubs {
			if p.acked.Load() < 200 {
				return false
			}
		}
		return true
	})
	for _, name := range names {
		eventually(t, "the report of "+name+" to be stored", func() bool {
			var hist struct{ Entries []any }
			h.apiCall(op, "GET", "/api/v1/devices/"+name+"/shadow/history", nil, &hist)
			return len(hist.Entries) == 4
		})
	}

	// What was acknowledged before the backup is asked for must be in it.
	before := map[string]int64{}
	for _, p := range pubs {
		before[p.name] = p.acked.Load()
	}
	archive := filepath.Join(t.TempDir(), "hearth.tar.zst")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://hearth/api/v1/backup", nil)
	resp, err := h.admin.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zstd" {
		t.Fatalf("backup over the admin socket: %s %s", resp.Status, readAll(resp))
	}
	// While the answer is open, the API answers and devices are heard.
	first := make([]byte, 1024)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	var devs struct{ Devices []map[string]any }
	if st := h.apiCall(op, "GET", "/api/v1/devices", nil, &devs); st != http.StatusOK || len(devs.Devices) != len(names) {
		t.Errorf("devices during the backup: status %d, %d devices", st, len(devs.Devices))
	}
	during := pubs[0].acked.Load()
	eventually(t, "a sample acknowledged during the backup", func() bool { return pubs[0].acked.Load() > during })
	f.Write(first)
	if _, err := io.Copy(f, resp.Body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// A change after the backup, which the restored server must not have.
	if st := h.apiCall(op, "PATCH", "/api/v1/devices/chiller-1/shadow", map[string]any{"state": map[string]any{"desired": map[string]any{"setpoint": 99}}}, nil); st != http.StatusOK {
		t.Fatalf("PATCH after the backup: %d", st)
	}
	stopPublishing()
	wg.Wait()
	for _, p := range pubs {
		if err, _ := p.err.Load().(error); err != nil {
			t.Fatal(err)
		}
		p.c.Disconnect(100)
	}
	h.stop()

	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	m, err := backup.Verify(bytes.NewReader(data), nil)
	if err != nil {
		t.Fatalf("the archive does not verify: %v", err)
	}
	parts := map[string]int{}
	for _, p := range m.Parts() {
		parts[p.Name] = p.Files
	}
	if parts["hearth.db"] != 1 || parts["tsdb"] < 5 || parts["tls"] != 4 {
		t.Errorf("archive parts %v: want the store, the time series and the TLS files", m.Parts())
	}
	for name, damaged := range map[string][]byte{
		"a byte changed": func() []byte { d := bytes.Clone(data); d[len(d)/2] ^= 1; return d }(),
		"cut short":      data[:len(data)*2/3],
	} {
		target := filepath.Join(t.TempDir(), "data")
		if _, err := backup.Restore(bytes.NewReader(damaged), target, nil); !errors.Is(err, backup.ErrDamaged) {
			t.Errorf("%s: Restore answered %v, want it refused as damaged", name, err)
		}
		if _, err := os.Stat(target); err == nil {
			t.Errorf("%s: a refused restore created %s", name, target)
		}
	}
	if _, err := backup.Restore(bytes.NewReader(data), dir, nil); !errors.Is(err, backup.ErrNotEmpty) {
		t.Errorf("restore over the original directory: %v, want it refused", err)
	}

	restored := filepath.Join(t.TempDir(), "new-box", "data")
	if _, err := backup.Restore(bytes.NewReader(data), restored, nil); err != nil {
		t.Fatalf("restore: %v", err)
	}
	h2 := startHearth(t, restored)
	var page2 struct{ Devices []struct{ Name string } }
	if st := h2.apiCall(op, "GET", "/api/v1/devices", nil, &page2); st != http.StatusOK || len(page2.Devices) != len(names) {
		t.Fatalf("restored devices: status %d, %v; the operator's token should work and every device be there", st, page2.Devices)
	}
	for _, name := range names {
		var doc struct {
			State struct {
				Desired, Reported map[string]any
			}
		}
		if st := h2.apiCall(op, "GET", "/api/v1/devices/"+name+"/shadow", nil, &doc); st != http.StatusOK ||
			doc.State.Desired["setpoint"] != float64(20) || doc.State.Reported["setpoint"] != float64(20) {
			t.Errorf("restored shadow of %s: status %d, %+v; want desired and reported setpoint 20, not the change made after the backup", name, st, doc.State)
		}
		var hist struct{ Entries []any }
		if st := h2.apiCall(op, "GET", "/api/v1/devices/"+name+"/shadow/history", nil, &hist); st != http.StatusOK || len(hist.Entries) != 4 {
			t.Errorf("restored history of %s: status %d, %d entries, want 4", name, st, len(hist.Entries))
		}
		// Samples 0 … n-1, each once, with n at least what was
		// acknowledged before the backup.
		_, count := h2.promQuery(op, `count_over_time(flow{device="`+name+`"}[2h])`)
		_, sum := h2.promQuery(op, `sum_over_time(flow{device="`+name+`"}[2h])`)
		if len(count) != 1 || len(sum) != 1 {
			t.Errorf("restored samples of %s: count %v, sum %v", name, count, sum)
			continue
		}
		n := int64(count[0].Value)
		if n < before[name] || sum[0].Value != float64(n*(n-1)/2) {
			t.Errorf("restored samples of %s: %d with sum %v; want every one of the %d acknowledged before the backup, each once", name, n, sum[0].Value, before[name])
		}
		if latest := h2.latest(op, name)["flow"]; latest < float64(before[name]-1) {
			t.Errorf("restored latest flow of %s: %v, want at least %d", name, latest, before[name]-1)
		}
		// The restored CA and credentials: the device connects as before.
		if _, rc, err := h2.v3(name, issued[name], true, ""); err != nil {
			t.Errorf("%s with its certificate on the restored server: rc=%d %v", name, rc, err)
		}
	}
}

// TestScheduledBackups: with a backup directory whose newest archive is
// older than --backup-every, a backup is written at start and all but the
// newest --backup-keep archives are deleted; a partial file an earlier run
// left is deleted, other files are left alone; the new archive verifies.
// A restart before the next one is due writes none.
func TestScheduledBackups(t *testing.T) {
	backups := t.TempDir()
	old := []string{"hearth-20250101T000000Z.tar.zst", "hearth-20250102T000000Z.tar.zst", "hearth-20250103T000000Z.tar.zst"}
	for _, name := range append(old, "notes.txt", ".hearth-20250104T000000Z.tar.zst.partial-77") {
		if err := os.WriteFile(filepath.Join(backups, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) {
		c.Backup = server.BackupConfig{Dir: backups, Every: time.Hour, Keep: 2}
	})
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	var left []string
	eventually(t, "a scheduled backup and the old ones pruned", func() bool {
		left = nil
		entries, _ := os.ReadDir(backups)
		for _, e := range entries {
			left = append(left, e.Name())
		}
		return len(left) == 3 && left[0] == old[2] && strings.HasPrefix(left[1], "hearth-2026") && left[2] == "notes.txt"
	})
	newest := filepath.Join(backups, left[1])
	f, err := os.Open(newest)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := backup.Verify(f, nil); err != nil {
		t.Errorf("the scheduled archive: %v", err)
	}
	if fi, _ := os.Stat(newest); fi.Mode().Perm() != 0o600 {
		t.Errorf("archive mode %v: it holds the CA's key, so it must be private", fi.Mode())
	}
	h.stop()

	// Started again within the hour: no backup is due.
	startHearthWith(t, h.dir, func(c *server.Config) {
		c.Backup = server.BackupConfig{Dir: backups, Every: time.Hour, Keep: 2}
	})
	time.Sleep(time.Second)
	if entries, _ := os.ReadDir(backups); len(entries) != 3 {
		t.Errorf("a restart within --backup-every wrote a backup: %v", entries)
	}
}
