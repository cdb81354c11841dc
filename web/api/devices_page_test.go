package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/store"
)

// devicePage is the answer of GET /api/v1/devices.
type devicePage struct {
	Devices []struct {
		Name        string `json:"name"`
		DisplayName string `json:"display_name"`
		Customer    string `json:"customer"`
	} `json:"devices"`
	Next *string `json:"next"`
}

// listAll follows the cursors of GET /api/v1/devices?query, at most 50
// pages, and returns the names in the order served and the page count.
func (e *env) listAll(t *testing.T, as, query string) ([]string, int) {
	t.Helper()
	var names []string
	cursor := ""
	for pages := 1; pages <= 50; pages++ {
		path := "/api/v1/devices?" + query
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		rec := e.do(t, e.api.Handler(), scenario{method: "GET", path: path, as: as})
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d: %s", path, rec.Code, rec.Body)
		}
		var p devicePage
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		for _, d := range p.Devices {
			names = append(names, d.Name)
		}
		if p.Next == nil {
			return names, pages
		}
		if *p.Next == "" {
			t.Fatalf("GET %s: an empty next; it must be absent on the last page", path)
		}
		cursor = *p.Next
	}
	t.Fatal("more than 50 pages")
	return nil, 0
}

func TestDeviceListPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	// 40 more devices of acme, every fourth with a display name, half
	// of type co2.
	var ds []store.Device
	for i := range 40 {
		d := store.Device{Name: fmt.Sprintf("acme-x-%02d", i), Customer: acme, Site: acmeSite, Type: []string{"boiler", "co2"}[i%2]}
		if i%4 == 0 {
			d.DisplayName = fmt.Sprintf("Roof Fan %d", i)
		}
		ds = append(ds, d)
	}
	for _, d := range ds {
		if err := e.store.CreateDevice(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.PutShadow(store.Shadow{Device: "acme-x-03", Version: 1, Doc: []byte(`{"state":{"reported":{"firmware":"4.2.0"}}}`)}, 0, nil); err != nil {
		t.Fatal(err)
	}

	all, pages := e.listAll(t, asOperator, "limit=7")
	want := []string{acmeDevice}
	for _, d := range ds {
		want = append(want, d.Name)
	}
	want = append(want, globexDevice)
	slices.Sort(want)
	if !slices.Equal(all, want) || pages != 6 {
		t.Errorf("operator, 7 a page: %d pages of %v, want 6 pages of %v", pages, all, want)
	}
	for _, tt := range []struct {
		name, as, query string
		want            []string
	}{
		{"search display names ignoring case", asOperator, "q=ROOF+fan+1&limit=1", []string{"acme-x-12", "acme-x-16"}},
		{"search names", asOperator, "q=CHILLER", []string{globexDevice}},
		{"search with customer and type", asOperator, "q=roof&type=co2", nil},
		{"type and customer", asOperator, "customer=acme&type=boiler&q=x-0", []string{"acme-x-00", "acme-x-02", "acme-x-04", "acme-x-06", "acme-x-08"}},
		{"firmware", asOperator, "firmware=4.2.0", []string{"acme-x-03"}},
		{"firmware nobody reports", asOperator, "firmware=9", nil},
		{"a customer's search stays its own", asGlobex, "q=E", []string{globexDevice}},
		{"a customer's pages", asAcme, "limit=9&q=acme-x-3", []string{"acme-x-30", "acme-x-31", "acme-x-32", "acme-x-33", "acme-x-34", "acme-x-35", "acme-x-36", "acme-x-37", "acme-x-38", "acme-x-39"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := e.listAll(t, tt.as, tt.query)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: %v, want %v", tt.query, got, tt.want)
			}
		})
	}

	e.run(t, []scenario{
		{name: "default page size", method: "GET", path: "/api/v1/devices", as: asOperator, status: 200,
			contains: []string{`"display_name":"Roof Fan 0"`, `"display_name":""`}, notContains: []string{`"next"`}},
		{name: "limit too large", method: "GET", path: "/api/v1/devices?limit=1001", as: asOperator, status: 400, contains: []string{`query argument \"limit\" \"1001\"`}},
		{name: "limit zero", method: "GET", path: "/api/v1/devices?limit=0", as: asOperator, status: 400},
		{name: "limit not a number", method: "GET", path: "/api/v1/devices?limit=ten", as: asOperator, status: 400},
		{name: "cursor of nothing", method: "GET", path: "/api/v1/devices?cursor=%25%25", as: asOperator, status: 400, contains: []string{`query argument \"cursor\"`}},
		{name: "search too long", method: "GET", path: "/api/v1/devices?q=" + strings.Repeat("a", 129), as: asOperator, status: 400, contains: []string{`query argument \"q\"`}},
		{name: "a customer names another", method: "GET", path: "/api/v1/devices?customer=globex&q=a", as: asAcme, status: 404},
		{name: "create with a display name", method: "POST", path: "/api/v1/devices", as: asOperator,
			body: `{"name":"acme-new-1","display_name":"Kitchen AHU","customer":"acme"}`, status: 201, contains: []string{`"display_name":"Kitchen AHU"`}},
		{name: "display name with a control character", method: "POST", path: "/api/v1/devices", as: asOperator,
			body: `{"name":"acme-new-2","display_name":"a\u0007b","customer":"acme"}`, status: 400, contains: []string{"display name"}},
		{name: "rename", method: "PATCH", path: "/api/v1/devices/acme-new-1", as: asOperator,
			body: `{"display_name":"Kitchen AHU 2"}`, status: 200, contains: []string{`"display_name":"Kitchen AHU 2"`}},
		{name: "a customer may not rename", method: "PATCH", path: "/api/v1/devices/acme-new-1", as: asAcme,
			body: `{"display_name":"Mine"}`, status: 403},
		{name: "found by its new name", method: "GET", path: "/api/v1/devices?q=kitchen+ahu+2", as: asAcme, status: 200, contains: []string{`"name":"acme-new-1"`}},
		{name: "show", method: "GET", path: "/api/v1/devices/acme-new-1", as: asAcme, status: 200, contains: []string{`"display_name":"Kitchen AHU 2"`}},
	})
}
