package server_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A fresh install has the built-in device types; an operator's edit and
// deletion of one survive a restart.
func TestBuiltinTypesAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	h := startHearth(t, dir)
	type setting struct {
		Key    string            `json:"key"`
		Labels map[string]string `json:"labels"`
	}
	type deviceType struct {
		Name        string    `json:"name"`
		Description string    `json:"description"`
		Settings    []setting `json:"settings"`
	}
	names := func() []string {
		var out struct {
			Types []deviceType `json:"device_types"`
		}
		if st := h.adminCall("GET", "/api/v1/device-types", nil, &out); st != http.StatusOK {
			t.Fatalf("list device types: %d", st)
		}
		var ns []string
		for _, dt := range out.Types {
			ns = append(ns, dt.Name)
		}
		return ns
	}
	if diff := cmp.Diff([]string{"ahu", "boiler", "chiller", "electricity-meter", "gas-meter", "iaq"}, names()); diff != "" {
		t.Errorf("device types of a fresh install (-want +got):\n%s", diff)
	}
	var chiller deviceType
	if st := h.adminCall("GET", "/api/v1/device-types/chiller", nil, &chiller); st != http.StatusOK || len(chiller.Settings) == 0 || chiller.Settings[0].Labels["ja"] == "" {
		t.Fatalf("the built-in chiller: %d %+v", st, chiller)
	}
	edited := map[string]any{"description": "Our chiller", "settings": []map[string]any{{"key": "mode", "type": "string", "enum": []string{"cooling", "off"}}}}
	if st := h.adminCall("PUT", "/api/v1/device-types/chiller", edited, nil); st != http.StatusOK {
		t.Fatalf("edit the chiller: %d", st)
	}
	if st := h.adminCall("DELETE", "/api/v1/device-types/gas-meter", nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete the gas meter: %d", st)
	}

	h.stop()
	h = startHearth(t, dir)
	if got := names(); slices.Contains(got, "gas-meter") || len(got) != 5 {
		t.Errorf("device types after a restart = %v, want the gas meter still deleted", got)
	}
	if st := h.adminCall("GET", "/api/v1/device-types/chiller", nil, &chiller); st != http.StatusOK || chiller.Description != "Our chiller" || len(chiller.Settings) != 1 {
		t.Errorf("the edited chiller after a restart: %d %+v", st, chiller)
	}
}
