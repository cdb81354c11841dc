package server_test

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/store"
)

// TestCredentialBundleReadme downloads a device's credentials from the
// operator pages and runs the commands of the bundle's README.txt as they
// are written, with Debian's mosquitto_pub and mosquitto_rr, in the
// unpacked bundle: the address and port it names, the flags and the topics
// must work against the running server.
func TestCredentialBundleReadme(t *testing.T) {
	for _, tool := range []string{"mosquitto_pub", "mosquitto_rr"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("HEARTH_REQUIRE_TOOLS") != "" {
				t.Fatalf("%s not found and HEARTH_REQUIRE_TOOLS is set: apt-get install mosquitto-clients", tool)
			}
			t.Skipf("%s not found: apt-get install mosquitto-clients to run this test", tool)
		}
	}
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	const email, password = "ops@hearth.test", "a long operator password"
	if st := h.adminCall("POST", "/api/v1/users", map[string]string{"email": email, "role": "operator", "password": password}, nil); st != http.StatusCreated {
		t.Fatalf("create operator: status %d", st)
	}
	page := signIn(t, h.https, h.caPool, email, password)
	postForm := func(path string, form url.Values) *http.Response {
		t.Helper()
		req, err := http.NewRequest("POST", h.https+path, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", h.https)
		resp, err := page.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := postForm("/admin/devices", url.Values{"name": {"chiller-7"}, "customer": {"acme"}, "site": {"default"}, "type": {"chiller"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create device on the page: status %d", resp.StatusCode)
	}
	m := regexp.MustCompile(`<code class="secret">([^<]+)</code>`).FindStringSubmatch(getPage(t, page, h.https+"/admin/devices/chiller-7/credentials"))
	if m == nil {
		t.Fatal("the credentials page shows no secret")
	}
	secret := m[1]
	resp = postForm("/admin/devices/chiller-7/credentials.zip", url.Values{})
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("download the bundle: %d %v", resp.StatusCode, err)
	}
	dir := t.TempDir()
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.txt"))
	if err != nil {
		t.Fatal(err)
	}

	commands := readmeCommands(string(readme))
	var pubs, rrs int
	for _, c := range commands {
		switch {
		case strings.HasPrefix(c, "mosquitto_pub "):
			pubs++
		case strings.HasPrefix(c, "mosquitto_rr "):
			rrs++
		}
	}
	if pubs != 2 || rrs != 2 {
		t.Fatalf("README.txt has %d mosquitto_pub and %d mosquitto_rr commands, want 2 and 2:\n%s", pubs, rrs, readme)
	}
	run := func(command string) string {
		t.Helper()
		cmd := exec.Command("sh", "-c", command)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", command, err, out)
		}
		return string(out)
	}
	for _, c := range commands {
		out := run(strings.ReplaceAll(c, "'SECRET'", "'"+secret+"'"))
		if strings.HasPrefix(c, "mosquitto_rr ") && !strings.Contains(out, `"version"`) {
			t.Errorf("%s answered no shadow document:\n%s", c, out)
		}
	}
	if got := h.latest(op, "chiller-7"); got["temperature_c"] != 21.5 {
		t.Errorf("latest after the README's mosquitto_pub: %v", got)
	}
	if _, reported := h.shadowOf(op, "chiller-7"); reported["firmware"] != "1.0.0" {
		t.Errorf("reported after the README's mosquitto_rr: %v", reported)
	}
	// The README says mosquitto_pub, as it is written, prints why a
	// reading is refused.
	bad := strings.Replace(commands[0], `{"temperature_c": 21.5}`, `{"temperature_c": "warm"}`, 1)
	if bad == commands[0] {
		t.Fatalf("the first command publishes no temperature_c: %s", commands[0])
	}
	if out := run(bad); !strings.Contains(out, "bad_value") {
		t.Errorf("a refused reading: mosquitto_pub printed no reason:\n%s", out)
	}
}

// readmeCommands returns the commands of a README, each joined from its
// lines continued with a backslash.
func readmeCommands(readme string) []string {
	var out []string
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "mosquitto_") {
			continue
		}
		cmd := ""
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			cmd += strings.TrimSuffix(line, `\`)
			i++
			line = strings.TrimSpace(lines[i])
		}
		out = append(out, cmd+line)
	}
	return out
}
