package ui

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// configTypeFormLimit bounds the device type form: 256 settings with their
// JSON Schemas fit.
const configTypeFormLimit = 4 << 20

// configTypesData is what the device types page shows.
type configTypesData struct {
	Types     []store.DeviceType
	Notice    string
	NoticeErr bool
}

// showTypes: /admin/types, every device type.
func (c *config) showTypes(w http.ResponseWriter, r *http.Request) {
	types, err := c.scope(r).DeviceTypes()
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := configTypesData{Types: types}
	d.Notice, d.NoticeErr = c.flashed(r)
	c.render(w, r, http.StatusOK, configTypesPage(c.view(r), d))
}

// configSettingRow is one setting in the readable table of a device type.
type configSettingRow struct {
	Key, Type, Unit, Description string
	// Labels are the setting's labels, one "language: label" each, in
	// the order of the language tags.
	Labels           []string
	Min, Max, Step   string
	Enum             string // each allowed value, with its label in the page's language
	Schema           bool
	CustomerEditable bool
}

func configSettingRows(lang string, sts []store.Setting) []configSettingRow {
	out := make([]configSettingRow, 0, len(sts))
	for _, st := range sts {
		enum := make([]string, len(st.Enum))
		for i, e := range st.Enum {
			enum[i] = string(e)
			if label := settings.ValueLabel(st, e, lang); label != settings.ValueKey(e) {
				enum[i] += " (" + label + ")"
			}
		}
		var labels []string
		for _, l := range slices.Sorted(maps.Keys(st.Labels)) {
			labels = append(labels, l+": "+st.Labels[l])
		}
		out = append(out, configSettingRow{
			Key: st.Key, Type: st.Type, Unit: st.Unit, Description: st.Description, Labels: labels,
			Min: bound(st.Minimum), Max: bound(st.Maximum), Step: bound(st.Step),
			Enum: strings.Join(enum, ", "), Schema: len(st.Schema) > 0, CustomerEditable: st.CustomerEditable,
		})
	}
	return out
}

// configTypeData is what the page of one device type, or of a new one,
// shows. Settings is the textarea's JSON and Topics the topic templates'
// textarea, as stored or as the person sent them; Current and
// CurrentTopics are what is stored.
type configTypeData struct {
	New         bool
	Name        string
	Description string
	// JSON is true when the settings and metrics are edited as JSON,
	// false when as rows of fields.
	JSON bool
	// SettingRows and MetricRows are the rows of the form; Settings and
	// Metrics the JSON text areas.
	SettingRows   []settingRow
	MetricRows    []metricRow
	Settings      string
	Metrics       string
	Topics        string
	Current       []configSettingRow
	CurrentTopics []string
	// Error is why what was sent was refused; ErrorField the field it is
	// about: "topics" or "settings".
	Error      string
	ErrorField string
	Notice     string
	NoticeErr  bool
}

// Invalid is the aria-invalid of a field: "true" for the one the refusal
// is about.
func (d configTypeData) Invalid(field string) string {
	return strconv.FormatBool(d.ErrorField == field)
}

// typeTopicError tells a refusal of a type's topic templates, which
// names a template or counts them, from one of its settings.
var typeTopicError = regexp.MustCompile(`topic template |(?:^|: )topic "|\d+ topics, at most`)

// topicLines are the topic templates of a textarea, one a line, blank
// lines left out.
func topicLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// configPrettySettings writes settings for the textarea, a field a line.
func configPrettySettings(sts []store.Setting) (string, error) {
	if sts == nil {
		sts = []store.Setting{}
	}
	return typeJSON("settings", sts)
}

func typeJSON(what string, v any) (string, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", what, err)
	}
	return string(b), nil
}

// fillTypeForm fills d's fields, rows and text areas alike, from a type.
func fillTypeForm(d *configTypeData, t store.DeviceType) error {
	var err error
	if d.Settings, err = configPrettySettings(t.Settings); err != nil {
		return err
	}
	d.Metrics = ""
	if len(t.Metrics) > 0 {
		if d.Metrics, err = typeJSON("metrics", t.Metrics); err != nil {
			return err
		}
	}
	d.SettingRows, d.MetricRows = settingRowsOf(t.Settings), metricRowsOf(t.Metrics)
	return nil
}

// showNewType: /admin/types/new, the form for a new device type.
func (c *config) showNewType(w http.ResponseWriter, r *http.Request) {
	if _, err := c.scope(r).DeviceTypes(); err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, configTypePage(c.view(r), configTypeData{New: true, Settings: "[]", JSON: r.URL.Query().Get("mode") == "json"}))
}

// typeForm is what the device type form sent, read.
type typeForm struct {
	Settings []store.Setting
	Metrics  []store.Metric
	// HasMetrics is false for a form that sent no metrics (the JSON form
	// without its metrics area): the type keeps its own.
	HasMetrics bool
}

// readTypeForm reads the device type form: the description, the
// settings and metrics as sent (rows, or JSON text areas when mode is
// "json" or absent), and them parsed, or why they cannot be.
func readTypeForm(w http.ResponseWriter, r *http.Request) (configTypeData, typeForm, error) {
	r.Body = http.MaxBytesReader(w, r.Body, configTypeFormLimit)
	if err := r.ParseForm(); err != nil {
		return configTypeData{}, typeForm{}, err
	}
	d := configTypeData{Description: strings.TrimSpace(r.PostFormValue("description")), Topics: r.PostFormValue("topics"),
		JSON: r.PostFormValue("mode") != "form"}
	var f typeForm
	var err error
	if !d.JSON {
		d.SettingRows, d.MetricRows = readSettingRows(r.PostForm), readMetricRows(r.PostForm)
		if f.Settings, err = settingsOf(d.SettingRows); err != nil {
			return d, f, err
		}
		f.Metrics, err = metricsOf(d.MetricRows)
		f.HasMetrics = true
		return d, f, err
	}
	d.Settings, d.Metrics = r.PostFormValue("settings"), r.PostFormValue("metrics")
	if f.Settings, err = gate.ParseSettings([]byte(d.Settings)); err != nil {
		return d, f, err
	}
	if _, ok := r.PostForm["metrics"]; ok {
		f.HasMetrics = true
		f.Metrics, err = gate.ParseMetrics([]byte(d.Metrics))
	}
	return d, f, err
}

// typeSaved finishes the device type form d: a refusal (err) shows the
// form again with what was typed and why; else the browser goes to the
// type's page, which shows done.
func (c *config) typeSaved(w http.ResponseWriter, r *http.Request, d configTypeData, err error, done string) {
	if err != nil {
		status, msg, ok := c.refusal(w, r, err)
		if !ok {
			return
		}
		v := c.view(r)
		d.Error, d.ErrorField = v.T("config.not_saved", msg), "settings"
		switch {
		case typeTopicError.MatchString(msg):
			d.ErrorField = "topics"
		case d.JSON && refusedKind(msg) == "metric":
			d.ErrorField = "metrics"
		case !d.JSON && markRow(msg, d.SettingRows, d.MetricRows):
			d.ErrorField = "rows"
		}
		c.render(w, r, status, configTypePage(v, d))
		return
	}
	c.sessions.Put(r.Context(), keyFlash, done)
	http.Redirect(w, r, "/admin/types/"+url.PathEscape(d.Name), http.StatusSeeOther)
}

// createType stores a new device type; a refusal keeps what was typed.
func (c *config) createType(w http.ResponseWriter, r *http.Request) {
	d, f, err := readTypeForm(w, r)
	d.New, d.Name = true, strings.TrimSpace(r.PostFormValue("name"))
	if err == nil {
		_, err = c.scope(r).CreateDeviceType(store.DeviceType{Name: d.Name, Description: d.Description, Settings: f.Settings, Metrics: f.Metrics,
			Topics: topicLines(d.Topics)})
	}
	c.typeSaved(w, r, d, err, c.view(r).T("config.types.created", d.Name))
}

// showType: /admin/types/{type}, the type's settings as a table and as
// JSON to edit.
func (c *config) showType(w http.ResponseWriter, r *http.Request) {
	t, err := c.scope(r).DeviceType(configParam(r, "type"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := configTypeData{Name: t.Name, Description: t.Description, Current: configSettingRows(c.view(r).Lang, t.Settings),
		Topics: strings.Join(t.Topics, "\n"), CurrentTopics: t.Topics, JSON: r.URL.Query().Get("mode") == "json"}
	if err := fillTypeForm(&d, t); err != nil {
		c.fail(w, r, err)
		return
	}
	d.Notice, d.NoticeErr = c.flashed(r)
	c.render(w, r, http.StatusOK, configTypePage(c.view(r), d))
}

// saveType replaces a device type's description, settings, metrics and
// topics through the same device type catalogue as the API (a JSON form
// without metrics keeps the type's, and the telemetry rate, which the
// form does not show, stays); a refusal names the setting or metric and
// the rule, or the topic, next to it, and keeps what was typed.
func (c *config) saveType(w http.ResponseWriter, r *http.Request) {
	sc := c.scope(r)
	cur, err := sc.DeviceType(configParam(r, "type"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d, f, err := readTypeForm(w, r)
	d.Name, d.Current, d.CurrentTopics = cur.Name, configSettingRows(c.view(r).Lang, cur.Settings), cur.Topics
	if err == nil {
		metrics := cur.Metrics
		if f.HasMetrics {
			metrics = f.Metrics
		}
		_, err = sc.UpdateDeviceType(store.DeviceType{Name: cur.Name, Description: d.Description, Settings: f.Settings,
			Metrics: metrics, Topics: topicLines(d.Topics), TelemetryRate: cur.TelemetryRate})
	}
	c.typeSaved(w, r, d, err, c.view(r).T("config.types.saved"))
}

// typeConfirm is the confirmation of deleting the type of the request.
func (c *config) typeConfirm(w http.ResponseWriter, r *http.Request) (configConfirmData, bool) {
	v := c.view(r)
	t, err := c.scope(r).DeviceType(configParam(r, "type"))
	if err != nil {
		c.fail(w, r, err)
		return configConfirmData{}, false
	}
	back := "/admin/types/" + url.PathEscape(t.Name)
	return configConfirmData{
		Title: v.T("config.types.title"), Question: v.T("config.types.delete", t.Name), Action: back + "/delete", Back: back,
	}, true
}
