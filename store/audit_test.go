package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

func TestAudit(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for i := range 7 {
		actor := "user:ops@hearth.example"
		if i%2 == 1 {
			actor = "token:ci"
		}
		mustOK(t, s.AppendAudit(store.AuditEntry{Time: t0.Add(time.Duration(i) * time.Minute), Actor: actor, Channel: "api",
			Action: fmt.Sprintf("POST /api/v1/devices/d-%d/credentials/rotate", i), Status: 200, Remote: "192.0.2.7"}))
	}
	page, next, err := s.Audit(store.AuditQuery{Limit: 3})
	mustOK(t, err)
	if len(page) != 3 || page[0].Action != "POST /api/v1/devices/d-6/credentials/rotate" || next == "" {
		t.Fatalf("first page: %+v next %q", page, next)
	}
	page, next, err = s.Audit(store.AuditQuery{Limit: 3, Cursor: next})
	mustOK(t, err)
	if len(page) != 3 || page[0].Action != "POST /api/v1/devices/d-3/credentials/rotate" {
		t.Fatalf("second page: %+v", page)
	}
	page, next, err = s.Audit(store.AuditQuery{Limit: 3, Cursor: next})
	mustOK(t, err)
	if len(page) != 1 || next != "" {
		t.Errorf("last page: %d entries, next %q", len(page), next)
	}
	page, _, err = s.Audit(store.AuditQuery{Actor: "token:ci", From: t0.Add(2 * time.Minute), To: t0.Add(6 * time.Minute)})
	mustOK(t, err)
	if len(page) != 2 || page[0].Action != "POST /api/v1/devices/d-5/credentials/rotate" || page[1].Action != "POST /api/v1/devices/d-3/credentials/rotate" {
		t.Errorf("filtered: %+v", page)
	}
	for _, bad := range []store.AuditEntry{{Actor: "", Channel: "api", Action: "x"}, {Actor: "a", Channel: "api", Action: "x\x00"}} {
		if err := s.AppendAudit(bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("AppendAudit(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, _, err := s.Audit(store.AuditQuery{Cursor: "nonsense"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("bad cursor: %v", err)
	}
	n, err := s.PruneAudit(t0.Add(3*time.Minute), 2)
	mustOK(t, err)
	if n != 2 {
		t.Errorf("pruned %d, want 2 (a batch)", n)
	}
	n, err = s.PruneAudit(t0.Add(3*time.Minute), 2)
	mustOK(t, err)
	if n != 1 {
		t.Errorf("pruned %d, want the last 1", n)
	}
	all, _, err := s.Audit(store.AuditQuery{})
	mustOK(t, err)
	if len(all) != 4 {
		t.Errorf("%d entries left, want 4", len(all))
	}
}
