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

func TestCreateDevicesCSV(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	csvHeader := map[string]string{"Content-Type": "text/csv"}
	bad := "name,customer,site,type,display_name\n" +
		"good-1,acme,acme-hq,,Good one\n" + // line 2: fine
		"bad/name,acme,,,\n" + // line 3
		"good-2,nobody,,,\n" + // line 4
		"good-3,acme,nowhere,,\n" + // line 5
		"good-1,acme,,,\n" + // line 6: twice in the file
		acmeDevice + ",acme,,,\n" + // line 7: exists
		"good-4,acme,,no-such-type,\n" // line 8
	big := "name,customer\n" + strings.Repeat("x,acme\n", 2<<20/7+1)
	var many strings.Builder
	many.WriteString("name,customer\n")
	for i := range 10_001 {
		fmt.Fprintf(&many, "m-%d,acme\n", i)
	}
	e.run(t, []scenario{
		{name: "bad rows, each named", method: "POST", path: "/api/v1/devices/bulk", as: asOperator, header: csvHeader, body: bad, status: 400,
			contains: []string{`"line":3`, `bad name \"bad/name\"`, `"line":4`, `unknown customer \"nobody\"`, `"line":5`, `unknown site \"nowhere\"`,
				`"line":6`, `also on line 2`, `"line":7`, `already exists`, `"line":8`, `unknown device type \"no-such-type\"`, "no device was created"},
			notContains: []string{`"line":2`}},
		{name: "nothing was created", method: "GET", path: "/api/v1/devices?q=good", as: asOperator, status: 200, contains: []string{`"devices":[]`}},
		{name: "no header", method: "POST", path: "/api/v1/devices/bulk", as: asOperator, header: csvHeader, body: "good-1,acme\n", status: 400,
			contains: []string{`column \"good-1\" is not one of`}},
		{name: "not CSV", method: "POST", path: "/api/v1/devices/bulk", as: asOperator, header: csvHeader, body: "name,customer\n\"open,acme\n", status: 400, contains: []string{"not CSV"}},
		{name: "too large", method: "POST", path: "/api/v1/devices/bulk", as: asOperator, header: csvHeader, body: big, status: 413},
		{name: "too many rows", method: "POST", path: "/api/v1/devices/bulk", as: asOperator, header: csvHeader, body: many.String(), status: 413, contains: []string{"more than 10000 devices"}},
		{name: "JSON is not CSV", method: "POST", path: "/api/v1/devices/bulk", as: asOperator, body: `{"name":"x"}`, status: 415},
		{name: "a customer may not", method: "POST", path: "/api/v1/devices/bulk", as: asAcme, header: csvHeader, body: "name,customer\nx,acme\n", status: 403},
		{name: "created", method: "POST", path: "/api/v1/devices/bulk", as: asOperator, header: csvHeader,
			body: "\uFEFFName,Customer,Display_Name,Site\ngood-1,acme,Good one,acme-hq\r\ngood-2,globex,,\n", status: 201,
			contains: []string{`"name":"good-1"`, `"display_name":"Good one"`, `"name":"good-2"`, `"secret":"`, `"private_key_pem":"-----BEGIN`}},
		{name: "listed", method: "GET", path: "/api/v1/devices?q=good-", as: asOperator, status: 200, contains: []string{`"site":"acme-hq"`, `"name":"good-2"`}},
	})
}
