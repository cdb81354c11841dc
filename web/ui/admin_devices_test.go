package ui_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

// importCSV posts a CSV file to the import page as a browser's form does.
func (e *env) importCSV(c *http.Client, csv string) response {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "devices.csv")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := fw.Write([]byte(csv)); err != nil {
		e.t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		e.t.Fatal(err)
	}
	return e.upload(c, "/admin/devices/import", mw.FormDataContentType(), &body)
}

func TestFleetImportDevices(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	r := e.importCSV(op, "name,customer,site,type,display_name\n"+
		"imp-1,acme,tokyo-tower,chiller,Roof chiller\n"+
		"imp-2,nobody,,,\n"+
		"imp-1,acme,,,\n")
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Line 3: unknown customer &#34;nobody&#34;") ||
		!strings.Contains(r.body, "Line 4: name &#34;imp-1&#34; is also on line 2") || strings.Contains(r.body, "Line 2") {
		t.Fatalf("bad file: %d\n%s", r.status, r.body)
	}
	if _, err := e.st.GetDevice("imp-1"); err == nil {
		t.Fatal("a refused file created a device")
	}
	r = e.importCSV(op, "name,customer,site,type,display_name\nimp-1,acme,tokyo-tower,chiller,Roof chiller\nimp-2,globex,,,\n")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("good file: %d %s\n%.300s", r.status, r.header.Get("Content-Type"), r.body)
	}
	zr, err := zip.NewReader(strings.NewReader(r.body), int64(len(r.body)))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range zr.File {
		files = append(files, f.Name)
	}
	sort.Strings(files)
	for _, want := range []string{"imp-1/certificate.pem", "imp-1/private-key.pem", "imp-1/secret.txt", "imp-2/ca.pem", "imp-2/README.txt"} {
		if !slices.Contains(files, want) {
			t.Errorf("the bundle lacks %s: %v", want, files)
		}
	}
	d, err := e.st.GetDevice("imp-1")
	if err != nil || d.DisplayName != "Roof chiller" || d.Site != "tokyo-tower" {
		t.Fatalf("imp-1 as stored: %+v, %v", d, err)
	}
	// The list shows the display name with the name beside it, and the
	// device's page too.
	if r := e.get(op, "/admin/devices?q=roof"); !strings.Contains(r.body, "Roof chiller") || !strings.Contains(r.body, "<code>imp-1</code>") {
		t.Errorf("list of ?q=roof:\n%s", r.body)
	}
	if r := e.get(op, "/admin/devices/imp-1"); !strings.Contains(r.body, "Roof chiller") || !strings.Contains(r.body, "<code>imp-1</code>") {
		t.Errorf("device page:\n%s", r.body)
	}
	if r := e.importCSV(e.signIn(acmeUser), "name,customer\nx,acme\n"); r.status != http.StatusNotFound {
		t.Errorf("a customer's upload: %d, want 404", r.status)
	}
}

func TestFleetNewDevicePickers(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	r := e.get(op, "/admin/devices/new?customer=acme")
	for _, want := range []string{`<select id="device-customer" name="customer"`, `<option value="tokyo-tower"`, `<option value="chiller"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("new device page lacks %q:\n%s", want, r.body)
		}
	}
	if strings.Contains(r.body, `<option value="osaka-dome"`) {
		t.Error("acme's form offers globex's site")
	}
	r = e.post(op, "/admin/devices", map[string][]string{"name": {"new-1"}, "display_name": {"Lobby sensor"}, "customer": {"acme"}, "site": {"tokyo-tower"}, "type": {""}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if d, err := e.st.GetDevice("new-1"); err != nil || d.DisplayName != "Lobby sensor" {
		t.Fatalf("new-1: %+v %v", d, err)
	}
}

// TestFleetDeviceListPages follows Next through 130 devices 50 a page,
// then Previous back.
func TestFleetDeviceListPages(t *testing.T) {
	e := newEnv(t, envOptions{})
	var ds []store.Device
	for i := range 130 {
		ds = append(ds, store.Device{Name: fmt.Sprintf("pg-%03d", i), Customer: "acme", Site: "tokyo-tower"})
	}
	if err := e.st.CreateDevices(ds); err != nil {
		t.Fatal(err)
	}
	op := e.signIn(opUser)
	var seen []string
	var pages []string
	path := "/admin/devices?q=pg-"
	for range 5 {
		r := e.get(op, path)
		pages = append(pages, path)
		for _, d := range ds {
			if strings.Contains(r.body, `href="/admin/devices/`+d.Name+`"`) {
				seen = append(seen, d.Name)
			}
		}
		_, rest, ok := strings.Cut(r.body, `rel="next"`)
		if !ok {
			break
		}
		_ = rest
		before, _, _ := strings.Cut(r.body, `" rel="next"`)
		path = strings.ReplaceAll(before[strings.LastIndex(before, `href="`)+len(`href="`):], "&amp;", "&")
	}
	if len(pages) != 3 || len(seen) != 130 {
		t.Fatalf("%d pages, %d devices seen; want 3 and 130", len(pages), len(seen))
	}
	r := e.get(op, pages[2])
	if !strings.Contains(r.body, "Page 3") || !strings.Contains(r.body, `rel="prev"`) {
		t.Fatalf("page 3:\n%s", r.body)
	}
	before, _, _ := strings.Cut(r.body, `" rel="prev"`)
	prev := strings.ReplaceAll(before[strings.LastIndex(before, `href="`)+len(`href="`):], "&amp;", "&")
	if r := e.get(op, prev); !strings.Contains(r.body, "Page 2") || !strings.Contains(r.body, `href="/admin/devices/pg-050"`) || strings.Contains(r.body, `href="/admin/devices/pg-049"`) {
		t.Errorf("previous of page 3 (%s) is not page 2", prev)
	}
}

// TestFleetDeviceListTiming measures the device list page over 50,000
// devices: page 1, page 500, a search and filters, 40 requests each,
// through the real pages on a real HTTP server. It runs when
// HEARTH_FLEET_TIMING=1, and fails when a p95 reaches 50 ms (200 ms for
// a firmware filter that matches nothing).
func TestFleetDeviceListTiming(t *testing.T) {
	if os.Getenv("HEARTH_FLEET_TIMING") == "" {
		t.Skip("set HEARTH_FLEET_TIMING=1 to measure the device list over 50,000 devices")
	}
	e := newEnv(t, envOptions{})
	const fleet = 50_000
	ds := make([]store.Device, 0, fleet)
	for i := range fleet {
		ds = append(ds, store.Device{
			Name: fmt.Sprintf("dev-%05d", i), DisplayName: fmt.Sprintf("Air handler %d", i),
			Customer: []string{"acme", "globex"}[i%2], Site: []string{"tokyo-tower", "osaka-dome"}[i%2], Type: "chiller",
			Attributes: map[string]string{"model": "AHU-200"},
		})
	}
	if err := e.st.CreateDevices(ds); err != nil {
		t.Fatal(err)
	}
	op := e.signIn(opUser)
	// Page 500's link, followed from page 1.
	path := "/admin/devices"
	for range 499 {
		r := e.get(op, path)
		before, _, ok := strings.Cut(r.body, `" rel="next"`)
		if !ok {
			t.Fatal("no next page")
		}
		path = strings.ReplaceAll(before[strings.LastIndex(before, `href="`)+len(`href="`):], "&amp;", "&")
	}
	if r := e.get(op, path); !strings.Contains(r.body, "Page 500") {
		t.Fatalf("page 500 is not: %s", path)
	}
	// A firmware that no device reports reads every device's classic
	// shadow record: a scan of the whole fleet, held to a looser bound.
	for _, tc := range []struct {
		name, path string
		bound      time.Duration
	}{
		{"page 1", "/admin/devices", 50 * time.Millisecond},
		{"page 500", path, 50 * time.Millisecond},
		{"search, 11 matches", "/admin/devices?q=HANDLER+4999", 50 * time.Millisecond},
		{"search, no match", "/admin/devices?q=nothing", 50 * time.Millisecond},
		{"customer and site", "/admin/devices?customer=globex&site=osaka-dome", 50 * time.Millisecond},
		{"type and offline", "/admin/devices?type=chiller&online=false", 50 * time.Millisecond},
		{"firmware nobody reports", "/admin/devices?firmware=9.9.9", 200 * time.Millisecond},
	} {
		var took []time.Duration
		for range 40 {
			start := time.Now()
			r := e.get(op, tc.path)
			took = append(took, time.Since(start))
			if r.status != http.StatusOK {
				t.Fatalf("%s: %d", tc.path, r.status)
			}
		}
		slices.Sort(took)
		p50, p95 := took[len(took)/2], took[len(took)*95/100]
		t.Logf("%-26s p50 %6.1f ms  p95 %6.1f ms", tc.name, ms(p50), ms(p95))
		if p95 >= tc.bound {
			t.Errorf("%s: p95 %v, want under %v", tc.name, p95, tc.bound)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
