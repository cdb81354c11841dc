package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/store"
)

func TestPollMaps(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "acme"}))
	mustOK(t, s.CreateDevice(store.Device{Name: "plc-1", Customer: "acme", Site: store.DefaultSite}))
	text := "# chiller controller\nsource:\n  tcp: 10.0.0.5:502\n"
	pm, created, err := s.PutPollMap("plc-1", text)
	mustOK(t, err)
	if !created || pm.Map != text || pm.UpdatedAt.IsZero() {
		t.Errorf("put: %+v", pm)
	}
	got, err := s.GetPollMap("plc-1")
	mustOK(t, err)
	if got.Map != text {
		t.Errorf("get: %q, want the text as written", got.Map)
	}
	if _, created, err := s.PutPollMap("plc-1", text+"# again\n"); err != nil || created {
		t.Errorf("replace: created %v, %v", created, err)
	}
	if _, _, err := s.PutPollMap("nobody", text); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("map of a device that does not exist: %v", err)
	}
	for _, bad := range []string{"", strings.Repeat("x", store.MaxPollMapSize+1), "\xff\xfe"} {
		if _, _, err := s.PutPollMap("plc-1", bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("map of %d bytes: %v, want ErrInvalid", len(bad), err)
		}
	}
	list, err := s.ListPollMaps()
	mustOK(t, err)
	if len(list) != 1 || list[0].Device != "plc-1" {
		t.Errorf("list: %+v", list)
	}
	// Deleting the device deletes its map.
	mustOK(t, s.DeleteDevice("plc-1"))
	if _, err := s.GetPollMap("plc-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("map after the device was deleted: %v", err)
	}
	if err := s.DeletePollMap("plc-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete a map that is gone: %v", err)
	}
}
