package ui_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
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

// BenchmarkFleetDeviceList measures the device list page over 50,000
// devices through the real pages on a real HTTP server: page 1, page 500,
// searches and filters, each sub-benchmark reporting its p50 and p95.
//
//	go test -run XXX -bench FleetDeviceList -benchtime 200x ./web/ui/
func BenchmarkFleetDeviceList(b *testing.B) {
	e := newEnv(b, envOptions{})
	fiftyThousand(b, e)
	op := e.signIn(opUser)
	// Page 500's link, followed from page 1.
	path := "/admin/devices"
	for range 499 {
		r := e.get(op, path)
		before, _, ok := strings.Cut(r.body, `" rel="next"`)
		if !ok {
			b.Fatal("no next page")
		}
		path = strings.ReplaceAll(before[strings.LastIndex(before, `href="`)+len(`href="`):], "&amp;", "&")
	}
	if r := e.get(op, path); !strings.Contains(r.body, "Page 500") {
		b.Fatalf("page 500 is not: %s", path)
	}
	for _, tc := range []struct{ name, path string }{
		{"page-1", "/admin/devices"},
		{"page-500", path},
		{"search-11-matches", "/admin/devices?q=HANDLER+4999"},
		{"search-no-match", "/admin/devices?q=nothing"},
		{"customer-and-site", "/admin/devices?customer=globex&site=osaka-dome"},
		{"type-and-offline", "/admin/devices?type=chiller&online=false"},
		// A firmware that no device reports reads every device's
		// classic shadow record: a scan of the whole fleet.
		{"firmware-nobody-reports", "/admin/devices?firmware=9.9.9"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			took := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				r := e.get(op, tc.path)
				took = append(took, time.Since(start))
				if r.status != http.StatusOK {
					b.Fatalf("%s: %d", tc.path, r.status)
				}
			}
			slices.Sort(took)
			b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
			b.ReportMetric(ms(took[len(took)*95/100]), "p95-ms")
		})
	}
}

// fiftyThousand provisions 50,000 devices, "dev-00000" on, named "Air
// handler N", half of acme's at tokyo-tower, half of globex's at
// osaka-dome, all chillers.
func fiftyThousand(tb testing.TB, e *env) {
	tb.Helper()
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
		tb.Fatal(err)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
