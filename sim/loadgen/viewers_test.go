package loadgen

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/internal/tlsfile"
)

// TestViewersAgainstHearth opens live pages on a real Hearth both ways: by
// stream, each page gets its first update; by polling, each page its
// fragment, then 304s while nothing changes; no request fails.
func TestViewersAgainstHearth(t *testing.T) {
	api, _, caFile, token := startHearth(t)
	t.Setenv("HEARTH_LOADGEN_TOKEN", token)
	var out, errOut bytes.Buffer
	if err := Run(t.Context(), []string{"provision", "-api", api, "-api-ca", caFile, "-creds", filepath.Join(t.TempDir(), "creds"),
		"-devices", "4", "-customer", "viewme"}, &out, &errOut); err != nil {
		t.Fatalf("provision: %v\n%s", err, errOut.String())
	}
	const email, password = "fm@viewme.test", "a long enough password"
	pool, err := tlsfile.CertPool(caFile)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, err := http.NewRequest("POST", api+"/api/v1/users", strings.NewReader(
		`{"email":"`+email+`","role":"customer","customer":"viewme","access":"viewer","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create the viewer: %s", res.Status)
	}
	t.Setenv("HEARTH_LOADGEN_PASSWORD", password)
	for _, mode := range []string{"sse", "poll"} {
		out.Reset()
		errOut.Reset()
		if err := Run(t.Context(), []string{"viewers", "-api", api, "-ca", caFile, "-email", email, "-viewers", "12", "-per-session", "4",
			"-mode", mode, "-interval", "1s", "-duration", "4s", "-json"}, &out, &errOut); err != nil {
			t.Fatalf("viewers %s: %v\n%s", mode, err, errOut.String())
		}
		var st viewerStats
		if err := json.Unmarshal(out.Bytes(), &st); err != nil {
			t.Fatalf("viewers %s output %q: %v", mode, out.String(), err)
		}
		if st.Connected != 12 || st.Sessions != 3 || st.Errors != 0 {
			t.Errorf("%s: %+v; want 12 pages connected in 3 sessions, no error", mode, st)
		}
		switch mode {
		case "sse":
			if st.Requests != 12 || st.Updates < 12 {
				t.Errorf("sse: %d streams opened, %d updates; want 12 streams, an update each at least", st.Requests, st.Updates)
			}
		case "poll":
			if st.Full < 12 || st.NotModified == 0 || st.Requests < 24 {
				t.Errorf("poll: %d requests, %d fragments, %d not modified; want each page's fragment, then 304s", st.Requests, st.Full, st.NotModified)
			}
		}
	}
}
