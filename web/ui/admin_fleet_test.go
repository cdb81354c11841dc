package ui_test

import (
	"archive/zip"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// TestFleetPagesHiddenFromCustomers: every fleet route answers a customer
// like a page that does not exist, and a customer's POST changes nothing.
func TestFleetPagesHiddenFromCustomers(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(acmeUser)
	form := url.Values{"name": {"evil"}, "customer": {"acme"}, "display_name": {"Evil"}}
	for _, rt := range []struct{ method, path string }{
		{"GET", "/admin/customers"},
		{"POST", "/admin/customers"},
		{"GET", "/admin/customers/acme"},
		{"POST", "/admin/customers/acme/sites"},
		{"GET", "/admin/customers/acme/delete"},
		{"POST", "/admin/customers/acme/delete"},
		{"GET", "/admin/customers/acme/sites/tokyo-tower/delete"},
		{"POST", "/admin/customers/acme/sites/tokyo-tower/delete"},
		{"GET", "/admin/devices"},
		{"POST", "/admin/devices"},
		{"GET", "/admin/devices/acme-chiller-1"},
		{"GET", "/admin/devices/acme-chiller-1/credentials"},
		{"POST", "/admin/devices/acme-chiller-1/credentials.zip"},
		{"GET", "/admin/devices/acme-chiller-1/rotate"},
		{"POST", "/admin/devices/acme-chiller-1/rotate"},
		{"GET", "/admin/devices/acme-chiller-1/revoke"},
		{"POST", "/admin/devices/acme-chiller-1/revoke"},
		{"GET", "/admin/devices/acme-chiller-1/delete"},
		{"POST", "/admin/devices/acme-chiller-1/delete"},
		{"GET", "/admin/health"},
	} {
		var r response
		if rt.method == "GET" {
			r = e.get(c, rt.path)
		} else {
			r = e.post(c, rt.path, form)
		}
		if r.status != http.StatusNotFound || strings.Contains(r.body, "globex") {
			t.Errorf("customer %s %s: %d, want 404 without other customers' names", rt.method, rt.path, r.status)
		}
	}
	if _, err := e.st.GetCustomer("evil"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a customer created a customer: %v", err)
	}
	if _, err := e.st.GetSite("acme", "tokyo-tower"); err != nil {
		t.Errorf("a customer deleted a site: %v", err)
	}
	d, err := e.reg.Device("acme-chiller-1")
	if err != nil || len(d.Credentials) != 2 || !e.reg.HasActiveCredential("acme-chiller-1") {
		t.Errorf("a customer changed a device or its credentials: %+v %v", d, err)
	}
}

func (e *env) customerNames() []string {
	e.t.Helper()
	cs, err := e.st.ListCustomers()
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestFleetCustomers(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)

	r := e.get(op, "/admin/customers")
	if r.status != http.StatusOK || !strings.Contains(r.body, `href="/admin/customers/acme"`) || !strings.Contains(r.body, `href="/admin/customers/globex"`) {
		t.Fatalf("customer list: %d\n%s", r.status, r.body)
	}
	r = e.post(op, "/admin/customers", url.Values{"name": {"initech"}, "display_name": {"Initech Corp"}})
	if r.status != http.StatusSeeOther || r.location != "/admin/customers/initech" {
		t.Fatalf("create customer: %d to %q\n%s", r.status, r.location, r.body)
	}
	r = e.get(op, r.location)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Customer initech created") || !strings.Contains(r.body, "Initech Corp") || !strings.Contains(r.body, ">default<") {
		t.Errorf("new customer's page lacks the notice, its name or its default site:\n%s", r.body)
	}

	// The search matches name or display name, in any case, on the server.
	for _, tc := range []struct {
		q         string
		want, not []string
	}{
		{"GLOB", []string{"globex"}, []string{"acme", "initech"}},
		{"corp", []string{"initech"}, []string{"acme", "globex"}},
		{"", []string{"acme", "globex", "initech"}, nil},
		{"nothing-like-it", nil, []string{"acme", "globex", "initech"}},
	} {
		r := e.get(op, "/admin/customers?q="+url.QueryEscape(tc.q))
		for _, name := range tc.want {
			if !strings.Contains(r.body, `href="/admin/customers/`+name+`"`) {
				t.Errorf("search %q lacks %s", tc.q, name)
			}
		}
		for _, name := range tc.not {
			if strings.Contains(r.body, `href="/admin/customers/`+name+`"`) {
				t.Errorf("search %q shows %s", tc.q, name)
			}
		}
	}

	before := e.customerNames()
	for _, tc := range []struct {
		name   string
		status int
		want   string
	}{
		{"", http.StatusBadRequest, `field &#34;name&#34;: required`},
		{"bad name!", http.StatusBadRequest, "only letters"},
		{"acme", http.StatusConflict, "already exists"},
	} {
		r := e.post(op, "/admin/customers", url.Values{"name": {tc.name}, "display_name": {"Kept"}})
		if r.status != tc.status || !strings.Contains(r.body, "Not created: ") || !strings.Contains(r.body, tc.want) {
			t.Errorf("create customer %q: %d, want %d saying %q:\n%s", tc.name, r.status, tc.status, tc.want, r.body)
		}
		if !strings.Contains(r.body, `value="Kept"`) {
			t.Errorf("create customer %q: the form lost what was typed", tc.name)
		}
	}
	if diff := cmp.Diff(before, e.customerNames()); diff != "" {
		t.Errorf("refused creates changed the customers (-before +after):\n%s", diff)
	}
}

func TestFleetSites(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	if r := e.post(op, "/admin/customers/globex/sites", url.Values{"name": {"kobe-port"}, "display_name": {"Kobe port"}}); r.status != http.StatusSeeOther || r.location != "/admin/customers/globex" {
		t.Fatalf("create site: %d to %q\n%s", r.status, r.location, r.body)
	}
	r := e.get(op, "/admin/customers/globex")
	if !strings.Contains(r.body, "Site kobe-port created.") || !strings.Contains(r.body, "Kobe port") {
		t.Errorf("customer page after creating a site:\n%s", r.body)
	}
	if strings.Contains(r.body, "/admin/customers/globex/sites/default/delete") {
		t.Error("the default site, which goes only with its customer, offers a delete")
	}
	for _, tc := range []struct {
		name   string
		status int
		want   string
	}{
		{"", http.StatusBadRequest, `field &#34;name&#34;: required`},
		{"kobe port", http.StatusBadRequest, "only letters"},
		{"kobe-port", http.StatusConflict, "already exists"},
	} {
		if r := e.post(op, "/admin/customers/globex/sites", url.Values{"name": {tc.name}}); r.status != tc.status || !strings.Contains(r.body, tc.want) {
			t.Errorf("create site %q: %d, want %d saying %q", tc.name, r.status, tc.status, tc.want)
		}
	}
	if r := e.post(op, "/admin/customers/nobody/sites", url.Values{"name": {"x"}}); r.status != http.StatusNotFound {
		t.Errorf("a site of a customer that does not exist: %d, want 404", r.status)
	}
	if sites, _ := e.st.ListSites("globex"); len(sites) != 3 {
		t.Errorf("globex has %d sites, want default, kobe-port and osaka-dome", len(sites))
	}

	// Deleting asks first; the question changes nothing.
	r = e.get(op, "/admin/customers/globex/sites/kobe-port/delete")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Delete site kobe-port of customer globex?") || !strings.Contains(r.body, `action="/admin/customers/globex/sites/kobe-port/delete"`) {
		t.Errorf("confirmation: %d\n%s", r.status, r.body)
	}
	if _, err := e.st.GetSite("globex", "kobe-port"); err != nil {
		t.Fatalf("the confirmation page deleted the site: %v", err)
	}
	if r := e.post(op, "/admin/customers/globex/sites/kobe-port/delete", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("delete site: %d", r.status)
	}
	if _, err := e.st.GetSite("globex", "kobe-port"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("site after delete: %v", err)
	}
	if r := e.get(op, "/admin/customers/globex"); !strings.Contains(r.body, "Site kobe-port deleted.") {
		t.Error("no notice after deleting a site")
	}

	// The store's refusals are shown with its reason.
	for _, tc := range []struct{ site, want string }{
		{"osaka-dome", "site still has 1 devices"},
		{"default", "deleted only with its customer"},
	} {
		r := e.post(op, "/admin/customers/globex/sites/"+tc.site+"/delete", url.Values{})
		if r.status != http.StatusSeeOther || r.location != "/admin/customers/globex" {
			t.Errorf("delete site %s: %d to %q", tc.site, r.status, r.location)
		}
		if r := e.get(op, "/admin/customers/globex"); !strings.Contains(r.body, "Not deleted: ") || !strings.Contains(r.body, tc.want) {
			t.Errorf("delete site %s: the page does not say %q", tc.site, tc.want)
		}
		if _, err := e.st.GetSite("globex", tc.site); err != nil {
			t.Errorf("refused delete of site %s deleted it: %v", tc.site, err)
		}
	}
	for _, path := range []string{"/admin/customers/globex/sites/nowhere/delete", "/admin/customers/nobody/sites/default/delete"} {
		if r := e.get(op, path); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, r.status)
		}
		if r := e.post(op, path, url.Values{}); r.status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, r.status)
		}
	}
}

func TestFleetDeleteCustomer(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	if _, err := e.reg.CreateCustomer(store.Customer{Name: "initech"}); err != nil {
		t.Fatal(err)
	}
	r := e.get(op, "/admin/customers/initech/delete")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Delete customer initech and its sites?") {
		t.Errorf("confirmation: %d\n%s", r.status, r.body)
	}
	if _, err := e.st.GetCustomer("initech"); err != nil {
		t.Fatalf("the confirmation page deleted the customer: %v", err)
	}
	if r := e.post(op, "/admin/customers/initech/delete", url.Values{}); r.status != http.StatusSeeOther || r.location != "/admin/customers" {
		t.Fatalf("delete: %d to %q", r.status, r.location)
	}
	if _, err := e.st.GetCustomer("initech"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("customer after delete: %v", err)
	}
	if r := e.get(op, "/admin/customers"); !strings.Contains(r.body, "Customer initech deleted.") {
		t.Error("no notice after deleting a customer")
	}

	// A customer with devices and users stays, and the page says why.
	if r := e.post(op, "/admin/customers/acme/delete", url.Values{}); r.status != http.StatusSeeOther || r.location != "/admin/customers/acme" {
		t.Errorf("delete acme: %d to %q", r.status, r.location)
	}
	if r := e.get(op, "/admin/customers/acme"); !strings.Contains(r.body, "Not deleted: ") || !strings.Contains(r.body, "customer still has 1 devices") {
		t.Errorf("the refusal's reason is not shown:\n%s", r.body)
	}
	if _, err := e.st.GetCustomer("acme"); err != nil {
		t.Errorf("refused delete removed the customer: %v", err)
	}
	for _, path := range []string{"/admin/customers/nobody", "/admin/customers/nobody/delete"} {
		if r := e.get(op, path); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, r.status)
		}
	}
	if r := e.post(op, "/admin/customers/nobody/delete", url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("delete a customer that does not exist: %d, want 404", r.status)
	}
}

// report makes a device report state the way it would over MQTT.
func (e *env) report(name, reported string) {
	e.t.Helper()
	sh := device.NewShadows(device.ShadowDeps{Store: e.st, Publisher: nopPublisher{}})
	body := `{"state":{"reported":` + reported + `}}`
	if _, err := sh.Update(name, "", []byte(body), device.Actor{Name: "device:" + name, Channel: device.ChannelMQTT}, time.Now()); err != nil {
		e.t.Fatal(err)
	}
}

func TestFleetDeviceList(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	e.report("acme-chiller-1", `{"firmware":"2.4.1","chw_setpoint":7}`)
	e.report("globex-chiller-9", `{"firmware_version":17}`)
	r := e.get(op, "/admin/devices")
	if r.status != http.StatusOK || !strings.Contains(r.body, "<td>2.4.1</td>") || !strings.Contains(r.body, "<td>17</td>") {
		t.Fatalf("device list lacks the reported firmware:\n%s", r.body)
	}
	const acme, globex = `href="/admin/devices/acme-chiller-1"`, `href="/admin/devices/globex-chiller-9"`
	for _, tc := range []struct {
		query       string
		acme, globe bool
	}{
		{"", true, true},
		{"?q=GLOBEX", false, true}, // name, ignoring case
		{"?customer=acme&site=tokyo-tower", true, false},
		{"?customer=globex", false, true},
		{"?q=chiller", true, true},    // names
		{"?online=true", true, false}, // acme's device is connected
		{"?online=false", false, true},
		{"?q=acme&online=false", false, false},
	} {
		r := e.get(op, "/admin/devices"+tc.query)
		if r.status != http.StatusOK || strings.Contains(r.body, acme) != tc.acme || strings.Contains(r.body, globex) != tc.globe {
			t.Errorf("devices%s: %d, acme shown %v (want %v), globex shown %v (want %v)", tc.query, r.status,
				strings.Contains(r.body, acme), tc.acme, strings.Contains(r.body, globex), tc.globe)
		}
	}
	if r := e.get(op, "/admin/devices?online=maybe"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "choose true or false") {
		t.Errorf("online=maybe: %d, want 400 saying what is accepted", r.status)
	}

	r = e.get(op, "/admin/devices/acme-chiller-1")
	for _, want := range []string{"2.4.1", `href="/admin/customers/acme"`, `href="/devices/acme-chiller-1"`, "tokyo-tower", "Secret", "Certificate",
		`href="/admin/devices/acme-chiller-1/rotate"`, `href="/admin/devices/acme-chiller-1/delete"`, `href="/admin/devices/acme-chiller-1/revoke"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("device page lacks %q", want)
		}
	}
	if r := e.get(op, "/admin/devices/nothing-here"); r.status != http.StatusNotFound {
		t.Errorf("a device that does not exist: %d, want 404", r.status)
	}
}

var secretRE = regexp.MustCompile(`<code class="secret">([^<]+)</code>`)

// createDevice creates a device on the page and returns the secret its
// credentials page shows.
func (e *env) createDevice(c *http.Client, name string) string {
	e.t.Helper()
	r := e.post(c, "/admin/devices", url.Values{"name": {name}, "customer": {"acme"}, "site": {"tokyo-tower"}, "type": {"ahu"}})
	if r.status != http.StatusSeeOther || r.location != "/admin/devices/"+name+"/credentials" {
		e.t.Fatalf("create device %s: %d to %q\n%s", name, r.status, r.location, r.body)
	}
	r = e.get(c, r.location)
	m := secretRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		e.t.Fatalf("credentials page of %s: %d, no secret\n%s", name, r.status, r.body)
	}
	return m[1]
}

func (e *env) sessionData(c *http.Client) string {
	e.t.Helper()
	u, _ := url.Parse(e.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "hearth_session" {
			data, _, err := e.st.GetSession(ck.Value, time.Now())
			if err != nil {
				e.t.Fatal(err)
			}
			return string(data)
		}
	}
	e.t.Fatal("no session cookie")
	return ""
}

func TestFleetCreateDeviceAndDownload(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	secret := e.createDevice(op, "acme-ahu-2")
	if _, err := e.reg.AuthenticateSecret("acme-ahu-2", secret); err != nil {
		t.Fatalf("the secret shown does not authenticate: %v", err)
	}
	d, err := e.reg.Device("acme-ahu-2")
	if err != nil || d.Customer != "acme" || d.Site != "tokyo-tower" || d.Type != "ahu" {
		t.Fatalf("created device: %+v %v", d, err)
	}
	if s := e.sessionData(op); strings.Contains(s, secret) || strings.Contains(s, "PRIVATE KEY") {
		t.Error("the session, which is written to the store's file, holds the secret or the private key")
	}
	entries, _, err := e.st.Audit(store.AuditQuery{})
	if err != nil || !slices.ContainsFunc(entries, func(a store.AuditEntry) bool { return a.Action == "POST /admin/devices" }) {
		t.Errorf("the audit log lacks the creation: %+v %v", entries, err)
	}

	// The secret shows once; the download stays until taken.
	r := e.get(op, "/admin/devices/acme-ahu-2/credentials")
	if r.status != http.StatusOK || strings.Contains(r.body, secret) || !strings.Contains(r.body, "shown once and is not kept") {
		t.Errorf("second visit of the credentials page: %d, the secret must not show again", r.status)
	}
	if !strings.Contains(e.get(op, "/admin/devices/acme-ahu-2").body, "waiting for their download") {
		t.Error("the device page does not say credentials wait for download")
	}
	// Another operator's session cannot reach them.
	other := e.signIn(opUser)
	if r := e.get(other, "/admin/devices/acme-ahu-2/credentials"); r.status != http.StatusGone {
		t.Errorf("credentials page in another session: %d, want 410", r.status)
	}
	if r := e.post(other, "/admin/devices/acme-ahu-2/credentials.zip", url.Values{}); r.status != http.StatusGone {
		t.Errorf("download in another session: %d, want 410", r.status)
	}

	r = e.post(op, "/admin/devices/acme-ahu-2/credentials.zip", url.Values{})
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/zip" ||
		r.header.Get("Content-Disposition") != `attachment; filename="acme-ahu-2-credentials.zip"` {
		t.Fatalf("download: %d %q %q", r.status, r.header.Get("Content-Type"), r.header.Get("Content-Disposition"))
	}
	files := unzip(t, r.body)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{"README.txt", "ca.pem", "certificate.pem", "private-key.pem"}, names); diff != "" {
		t.Fatalf("zip files (-want +got):\n%s", diff)
	}
	if _, err := tls.X509KeyPair([]byte(files["certificate.pem"]), []byte(files["private-key.pem"])); err != nil {
		t.Errorf("the private key does not match the certificate: %v", err)
	}
	block, _ := pem.Decode([]byte(files["certificate.pem"]))
	if block == nil {
		t.Fatal("certificate.pem holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(files["ca.pem"])) {
		t.Fatal("ca.pem holds no certificate")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the certificate does not chain to ca.pem: %v", err)
	}
	if name, _, err := e.reg.AuthenticateCertificate(cert); err != nil || name != "acme-ahu-2" {
		t.Errorf("the certificate authenticates as %q, %v", name, err)
	}
	readme := files["README.txt"]
	// The bundle tells the device the address the server was configured
	// with, whatever address the browser came from, and no topic nothing
	// answers.
	for _, want := range []string{"mosquitto_pub -h hearth.example -p 18883 --cafile ca.pem", "--cert certificate.pem --key private-key.pem -i acme-ahu-2",
		"Connect over MQTT/TLS to hearth.example, port 18883", "hearth/things/acme-ahu-2/telemetry", "$aws/things/acme-ahu-2/shadow/update/delta",
		// One connection per client id: the shadow is read back with
		// mosquitto_rr, and readings are acknowledged with a reason.
		"mosquitto_rr -h hearth.example -p 18883 --cafile ca.pem", "-e '$aws/things/acme-ahu-2/shadow/get/accepted' -n", "-V 5 -q 1"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.txt lacks %q:\n%s", want, readme)
		}
	}
	for _, unwanted := range []string{" 8883", "port 8883", "127.0.0.1", "jobs/notify"} {
		if strings.Contains(readme, unwanted) {
			t.Errorf("README.txt says %q:\n%s", unwanted, readme)
		}
	}
	if strings.Contains(readme, secret) {
		t.Error("README.txt holds the secret")
	}

	// Downloaded once, gone after.
	if r := e.post(op, "/admin/devices/acme-ahu-2/credentials.zip", url.Values{}); r.status != http.StatusGone || !strings.Contains(r.body, "Rotate the credentials of acme-ahu-2") {
		t.Errorf("second download: %d, want 410 saying to rotate", r.status)
	}
	if r := e.get(op, "/admin/devices/acme-ahu-2/credentials"); r.status != http.StatusGone {
		t.Errorf("credentials page after the download: %d, want 410", r.status)
	}
}

// TestFleetDownloadWithoutMQTTTLS: with the MQTT/TLS listener off the
// download still answers the zip, and its README says the certificate
// waits for that listener instead of naming an address.
func TestFleetDownloadWithoutMQTTTLS(t *testing.T) {
	e := newEnv(t, envOptions{noMQTTTLS: true})
	op := e.signIn(opUser)
	secret := e.createDevice(op, "acme-ahu-3")
	r := e.post(op, "/admin/devices/acme-ahu-3/credentials.zip", url.Values{})
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("download with MQTT/TLS off: %d %q\n%s", r.status, r.header.Get("Content-Type"), r.body)
	}
	files := unzip(t, r.body)
	if files["certificate.pem"] == "" || files["private-key.pem"] == "" || files["ca.pem"] == "" {
		t.Errorf("zip files: %v", slices.Sorted(maps.Keys(files)))
	}
	readme := files["README.txt"]
	for _, want := range []string{"MQTT/TLS listener is off", "hearth serve --mqtt", "user name acme-ahu-3", "hearth/things/acme-ahu-3/telemetry"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.txt lacks %q:\n%s", want, readme)
		}
	}
	for _, unwanted := range []string{"Connect over MQTT/TLS", "mosquitto_pub -h", " -p ", "{host}", "{port}", "{connect}", secret} {
		if strings.Contains(readme, unwanted) {
			t.Errorf("README.txt says %q:\n%s", unwanted, readme)
		}
	}
}

func unzip(t *testing.T, body string) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(strings.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("not a zip file: %v", err)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := io.Copy(&b, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		out[f.Name] = b.String()
	}
	return out
}

func TestFleetIssuedCredentialsExpire(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	e.createDevice(op, "acme-ahu-3")
	e.clock.add(11 * time.Minute)
	if r := e.get(op, "/admin/devices/acme-ahu-3/credentials"); r.status != http.StatusGone {
		t.Errorf("credentials page after 11 minutes: %d, want 410", r.status)
	}
	if r := e.post(op, "/admin/devices/acme-ahu-3/credentials.zip", url.Values{}); r.status != http.StatusGone {
		t.Errorf("download after 11 minutes: %d, want 410", r.status)
	}
}

func TestFleetCreateDeviceRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	count := func() int {
		ds, err := e.reg.Devices(store.DeviceFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(ds)
	}
	before := count()
	for _, tc := range []struct {
		name, customer, site string
		status               int
		want                 string
	}{
		{"", "acme", "", http.StatusBadRequest, `field &#34;name&#34;: required`},
		{"bad name", "acme", "", http.StatusBadRequest, "only letters, digits"},
		{"acme-chiller-1", "acme", "tokyo-tower", http.StatusConflict, "already exists"},
		{"acme-new", "nobody", "", http.StatusBadRequest, `field &#34;customer&#34;: no customer named &#34;nobody&#34;`},
		{"acme-new", "acme", "nowhere", http.StatusBadRequest, `site &#34;nowhere&#34; of customer &#34;acme&#34;: not found`},
		{"acme-new", "", "", http.StatusBadRequest, `field &#34;customer&#34;: required`},
	} {
		r := e.post(op, "/admin/devices", url.Values{"name": {tc.name}, "customer": {tc.customer}, "site": {tc.site}, "type": {"boiler"}})
		if r.status != tc.status || !strings.Contains(r.body, "Not created: ") || !strings.Contains(r.body, tc.want) {
			t.Errorf("create %q of %q at %q: %d, want %d saying %q:\n%s", tc.name, tc.customer, tc.site, r.status, tc.status, tc.want, r.body)
		}
		if !strings.Contains(r.body, `value="boiler"`) {
			t.Errorf("create %q: the form lost what was typed", tc.name)
		}
	}
	// A type nobody defined is refused naming the ones there are.
	r := e.post(op, "/admin/devices", url.Values{"name": {"acme-new"}, "customer": {"acme"}, "type": {"heat-pump"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, `no device type named &#34;heat-pump&#34;; the device types are ahu, boiler, chiller,`) {
		t.Errorf("create a device of an unknown type: %d:\n%s", r.status, r.body)
	}
	if n := count(); n != before {
		t.Errorf("refused creates left %d devices, want %d", n, before)
	}
}

func TestFleetRotateRevokeDelete(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	is, err := e.reg.CreateDevice(device.DeviceSpec{Name: "acme-boiler-4", Customer: "acme", Site: "tokyo-tower", Type: "boiler"})
	if err != nil {
		t.Fatal(err)
	}
	const path = "/admin/devices/acme-boiler-4"

	// Rotate: asked first, then the old credentials stop and new ones show.
	if r := e.get(op, path+"/rotate"); r.status != http.StatusOK || !strings.Contains(r.body, `action="`+path+`/rotate"`) {
		t.Errorf("rotate confirmation: %d", r.status)
	}
	if _, err := e.reg.AuthenticateSecret("acme-boiler-4", is.Secret); err != nil {
		t.Fatalf("the confirmation page rotated: %v", err)
	}
	r := e.post(op, path+"/rotate", url.Values{})
	if r.status != http.StatusSeeOther || r.location != path+"/credentials" {
		t.Fatalf("rotate: %d to %q", r.status, r.location)
	}
	m := secretRE.FindStringSubmatch(e.get(op, r.location).body)
	if m == nil {
		t.Fatal("no secret after rotating")
	}
	if _, err := e.reg.AuthenticateSecret("acme-boiler-4", is.Secret); !errors.Is(err, device.ErrRevoked) {
		t.Errorf("old secret after rotating: %v, want revoked", err)
	}
	secretID, err := e.reg.AuthenticateSecret("acme-boiler-4", m[1])
	if err != nil {
		t.Fatalf("new secret: %v", err)
	}
	if r := e.get(op, path); strings.Count(r.body, "Revoked") < 2 || strings.Count(r.body, `status-online">Active`) != 2 {
		t.Errorf("device page after rotating: want 2 revoked and 2 active credentials")
	}

	// Revoke one credential.
	r = e.get(op, path+"/revoke?credential="+secretID)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Revoke credential "+secretID+" of device acme-boiler-4?") || !strings.Contains(r.body, `value="`+secretID+`"`) {
		t.Errorf("revoke confirmation: %d\n%s", r.status, r.body)
	}
	if !e.reg.CredentialActive("acme-boiler-4", secretID) {
		t.Fatal("the confirmation page revoked")
	}
	if r := e.post(op, path+"/revoke", url.Values{"credential": {secretID}}); r.status != http.StatusSeeOther || r.location != path {
		t.Fatalf("revoke: %d to %q", r.status, r.location)
	}
	if e.reg.CredentialActive("acme-boiler-4", secretID) || !e.reg.HasActiveCredential("acme-boiler-4") {
		t.Error("revoking one credential must revoke it and keep the certificate")
	}
	if r := e.get(op, path); !strings.Contains(r.body, "Credential "+secretID+" revoked.") {
		t.Error("no notice after revoking")
	}
	if r := e.get(op, path+"/revoke?credential=0000000000000000"); r.status != http.StatusNotFound {
		t.Errorf("confirming an unknown credential: %d, want 404", r.status)
	}
	if r := e.post(op, path+"/revoke", url.Values{"credential": {"0000000000000000"}}); r.status != http.StatusNotFound {
		t.Errorf("revoking an unknown credential: %d, want 404", r.status)
	}

	// Revoke all.
	if r := e.get(op, path+"/revoke"); r.status != http.StatusOK || !strings.Contains(r.body, "Revoke every credential of device acme-boiler-4?") {
		t.Errorf("revoke-all confirmation: %d", r.status)
	}
	if r := e.post(op, path+"/revoke", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("revoke all: %d", r.status)
	}
	if e.reg.HasActiveCredential("acme-boiler-4") {
		t.Error("an active credential is left after revoking all")
	}

	// Delete.
	if r := e.get(op, path+"/delete"); r.status != http.StatusOK || !strings.Contains(r.body, "Delete device acme-boiler-4?") {
		t.Errorf("delete confirmation: %d", r.status)
	}
	if _, err := e.reg.Device("acme-boiler-4"); err != nil {
		t.Fatalf("the confirmation page deleted the device: %v", err)
	}
	if r := e.post(op, path+"/delete", url.Values{}); r.status != http.StatusSeeOther || r.location != "/admin/devices" {
		t.Fatalf("delete: %d to %q", r.status, r.location)
	}
	if _, err := e.reg.Device("acme-boiler-4"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("device after delete: %v", err)
	}
	if r := e.get(op, "/admin/devices"); !strings.Contains(r.body, "Device acme-boiler-4 deleted") {
		t.Error("no notice after deleting")
	}
	for _, p := range []string{path + "/delete", path + "/rotate", path + "/revoke"} {
		if r := e.post(op, p, url.Values{}); r.status != http.StatusNotFound {
			t.Errorf("POST %s of a deleted device: %d, want 404", p, r.status)
		}
	}
}

func TestFleetHealth(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	e.report("globex-chiller-9", `{"firmware":"1.0.3"}`)
	const acme, globex = `href="/admin/devices/acme-chiller-1"`, `href="/admin/devices/globex-chiller-9"`
	r := e.get(op, "/admin/health")
	if r.status != http.StatusOK {
		t.Fatalf("health: %d", r.status)
	}
	for _, want := range []string{"2 devices", "1 online", "1 offline", `href="/admin/customers/acme"`, "Not seen for more than 1h", globex, "1.0.3"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("health page lacks %q", want)
		}
	}
	if strings.Contains(r.body, acme) {
		t.Error("a device seen a moment ago is listed as not seen")
	}

	// 90 minutes on, acme's device (connected when the test began) has been
	// silent for longer than an hour, but not than a day.
	e.clock.add(90 * time.Minute)
	r = e.get(op, "/admin/health")
	if i, j := strings.Index(r.body, globex), strings.Index(r.body, acme); i < 0 || j < 0 || i > j {
		t.Errorf("stale list: the never-seen device must come first, then acme's (at %d and %d)", i, j)
	}
	for _, tc := range []struct {
		stale        string
		acme, globex bool
	}{
		{"24h", false, true},
		{"7d", false, true},
		{"30m", true, true},
	} {
		r := e.get(op, "/admin/health?stale="+tc.stale)
		if r.status != http.StatusOK || strings.Contains(r.body, acme) != tc.acme || strings.Contains(r.body, globex) != tc.globex {
			t.Errorf("stale=%s: %d, acme listed %v (want %v), globex %v (want %v)", tc.stale, r.status,
				strings.Contains(r.body, acme), tc.acme, strings.Contains(r.body, globex), tc.globex)
		}
	}
	for _, bad := range []string{"soon", "0s", "-1h", "400d", "1.5d"} {
		if r := e.get(op, "/admin/health?stale="+url.QueryEscape(bad)); r.status != http.StatusBadRequest || !strings.Contains(r.body, "a duration from 1m to 366d") {
			t.Errorf("stale=%s: %d, want 400 saying what is accepted", bad, r.status)
		}
	}
}

func TestFleetPagesInJapanese(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	for path, want := range map[string]string{
		"/admin/devices":        "機器の追加",
		"/admin/customers":      "顧客の追加",
		"/admin/customers/acme": "サイトの追加",
		"/admin/health":         "顧客別",
	} {
		r := e.do(op, http.MethodGet, path, nil, map[string]string{"Accept-Language": "ja"})
		if r.status != http.StatusOK || !strings.Contains(r.body, want) {
			t.Errorf("%s in Japanese: %d, lacks %q", path, r.status, want)
		}
	}
}

// remoteWriteReport is the progress a mirror reports.
type remoteWriteReport []gate.RemoteWriteStatus

func (r remoteWriteReport) Status() []gate.RemoteWriteStatus { return r }

// TestFleetHealthRemoteWrite: with remote write configured, the fleet
// health page shows each receiver's state, lag, backlog against its
// budget, what was sent, retries, drops and the last error; without it,
// no such part.
func TestFleetHealthRemoteWrite(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)
	e := newEnv(t, envOptions{remoteWrite: remoteWriteReport{
		{URL: "https://vminsert.example/insert/0/prometheus/api/v1/write", State: "retrying", LagSamples: 123456, LagSeconds: 5400,
			BacklogBytes: 300 << 20, MaxBacklog: 4 << 30, SamplesSent: 987654, BytesSent: 12 << 20, Retries: 17, Dropped: 4200,
			LastError: "HTTP 503", LastErrorAt: at},
		{URL: "http://vm.example:8428/api/v1/write", State: "caught up", SamplesSent: 5},
	}})
	op := e.signIn(opUser)
	r := e.get(op, "/admin/health")
	if r.status != http.StatusOK {
		t.Fatalf("health: %d", r.status)
	}
	for _, want := range []string{`id="remote-write"`, "https://vminsert.example/insert/0/prometheus/api/v1/write", "retrying",
		"123456 samples, 1h30m0s behind", "300 MiB / 4 GiB", "987654 samples, 12 MiB", ">17<", "4200", "2026-12-07 10:30:00: HTTP 503",
		"http://vm.example:8428/api/v1/write", "caught up", "none"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("health page lacks %q", want)
		}
	}
	plain := newEnv(t, envOptions{})
	if r := plain.get(plain.signIn(opUser), "/admin/health"); strings.Contains(r.body, `id="remote-write"`) {
		t.Error("a remote write part without remote write")
	}
}
