package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/gate"
)

// configShadowFormLimit bounds the shadow editor's form. It is above the
// largest update the shadow service accepts, so that a document too large
// for the service is refused by it with the text kept on the page, rather
// than lost with the form.
const configShadowFormLimit = 256 << 10

// configShadowData is what the shadow editor shows.
type configShadowData struct {
	Device  string
	Shadow  string // "" is the classic shadow
	Exists  bool
	Version int64
	// Desired, Reported and Delta are pretty JSON, "" when empty.
	Desired, Reported, Delta string
	Violations               []settings.Violation
	// Update and Expect are the form: the update document and the
	// expected version, as sent or prefilled from the shadow.
	Update    string
	Expect    string
	Error     string
	Notice    string
	NoticeErr bool
}

// URL is the editor's own address, for its form and the redirect after it.
func (d configShadowData) URL() string { return configShadowLink(d.Device, d.Shadow) }

// configShadowTitle names the shadow the editor shows.
func configShadowTitle(v view, d configShadowData) string {
	if d.Shadow == "" {
		return v.T("config.shadow.title", d.Device)
	}
	return v.T("config.shadow.named", d.Shadow, d.Device)
}

// configShadowLink is the editor of a device's shadow.
func configShadowLink(device, name string) string {
	p := "/admin/devices/" + url.PathEscape(device) + "/shadow"
	if name != "" {
		p += "?" + url.Values{"name": {name}}.Encode()
	}
	return p
}

// configPretty writes a section of a shadow for reading; "" when empty.
func configPretty(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode shadow section: %w", err)
	}
	return string(b), nil
}

// loadShadow fills d with the shadow's current state and returns its
// desired section; a shadow that does not exist yet is an empty one.
func (c *config) loadShadow(sc gate.Scope, d *configShadowData) (map[string]any, error) {
	doc, vs, err := sc.Shadow(d.Device, d.Shadow)
	var se *shadow.Error
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		// Only the shadow is missing: Shadow answers a device that is
		// not there with the API's 404, which is no *shadow.Error.
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d.Exists, d.Version, d.Violations = true, doc.Version, vs
	for _, s := range []struct {
		dst *string
		m   map[string]any
	}{{&d.Desired, doc.State.Desired}, {&d.Reported, doc.State.Reported}, {&d.Delta, shadow.Delta(doc)}} {
		if *s.dst, err = configPretty(s.m); err != nil {
			return nil, err
		}
	}
	return doc.State.Desired, nil
}

// showShadow: /admin/devices/{name}/shadow[?name=S], the shadow's desired,
// reported and delta state, what breaks the type's rules, and a form for
// an update document that starts from the current desired state.
func (c *config) showShadow(w http.ResponseWriter, r *http.Request) {
	d := configShadowData{Device: configParam(r, "name"), Shadow: r.URL.Query().Get("name")}
	desired, err := c.loadShadow(c.scope(r), &d)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if desired == nil {
		desired = map[string]any{}
	}
	b, err := json.MarshalIndent(map[string]any{"state": map[string]any{"desired": desired}}, "", "  ")
	if err != nil {
		c.fail(w, r, fmt.Errorf("encode update document of %q: %w", d.Device, err))
		return
	}
	d.Update = string(b)
	if d.Exists {
		d.Expect = strconv.FormatInt(d.Version, 10)
	}
	d.Notice, d.NoticeErr = c.flashed(r)
	c.render(w, r, http.StatusOK, configShadowPage(c.view(r), d))
}

// configWithVersion sets the version of an update document, so that the
// shadow service refuses it when the shadow has moved past that version.
// A body that is not a JSON object is left as it is, for the service to
// refuse in its own words.
func configWithVersion(body []byte, version int64) []byte {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil || doc == nil {
		return body
	}
	doc["version"] = json.RawMessage(strconv.FormatInt(version, 10))
	out, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return out
}

// updateShadow applies the editor's update document through the same
// scope as the API: checked against the device type's settings, recorded
// in the history as the signed-in person on the page channel, and the
// device gets the delta. A refusal is shown with the document kept.
func (c *config) updateShadow(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	sc := c.scope(r)
	d := configShadowData{Device: configParam(r, "name"), Shadow: r.URL.Query().Get("name")}
	r.Body = http.MaxBytesReader(w, r.Body, configShadowFormLimit)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, err)
		return
	}
	d.Update, d.Expect = r.PostFormValue("update"), strings.TrimSpace(r.PostFormValue("version"))
	body := []byte(d.Update)
	status := http.StatusOK
	if d.Expect != "" {
		n, err := strconv.ParseInt(d.Expect, 10, 64)
		if err != nil || n < 0 {
			status, d.Error = http.StatusBadRequest, v.T("config.shadow.bad_ver", d.Expect)
		} else {
			body = configWithVersion(body, n)
		}
	}
	var accepted []byte
	if d.Error == "" {
		var err error
		if accepted, err = sc.UpdateShadow(d.Device, d.Shadow, body); err != nil {
			var msg string
			var ok bool
			if status, msg, ok = c.refusal(w, r, err); !ok {
				return
			}
			d.Error = v.T("config.not_saved", msg)
		}
	}
	if d.Error != "" {
		expect := d.Expect
		if _, err := c.loadShadow(sc, &d); err != nil {
			c.fail(w, r, err)
			return
		}
		if status == http.StatusConflict {
			// The document was meant for an older version: say which is
			// current, and offer it for the next try.
			d.Error = v.T("config.shadow.conflict", d.Version)
			expect = strconv.FormatInt(d.Version, 10)
		}
		d.Expect = expect
		c.render(w, r, status, configShadowPage(v, d))
		return
	}
	var res struct {
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(accepted, &res); err != nil {
		c.fail(w, r, fmt.Errorf("decode accepted document of %q: %w", d.Device, err))
		return
	}
	c.sessions.Put(r.Context(), keyFlash, v.T("config.shadow.applied", res.Version))
	http.Redirect(w, r, d.URL(), http.StatusSeeOther)
}
