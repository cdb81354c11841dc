package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store"
)

// TestTypeFormEditorInBrowser: in a real browser an operator adds a
// metric row to a built-in device type's form and saves; a refused field
// is shown in its row with the server's reason, and once corrected the
// metric is stored with its label, unit, decimals, audience and states,
// while the type's settings, which went through the form untouched, are
// stored as they were (their JSON Schemas and value labels included).
func TestTypeFormEditorInBrowser(t *testing.T) {
	e := newEnv(t, envOptions{})
	before, err := e.types.Get("boiler")
	if err != nil {
		t.Fatal(err)
	}
	step, js := signedInBrowser(t, e, opUser)
	type css = chromedp.CSS
	last := `#metric-rows tr[data-row]:last-child `
	step("open the type and add a metric row",
		chromedp.Navigate(e.srv.URL+"/admin/types/boiler"),
		chromedp.WaitVisible(css(`#metric-rows`)),
	)
	rowsBefore := js("the rows", `String(document.querySelectorAll('#metric-rows tr[data-row]').length)`)
	step("add a row",
		chromedp.Click(css(`button[data-add-row="metric-rows"]`)),
		chromedp.SendKeys(css(last+`input[name="mt.name"]`), "flue_gas_c"),
		chromedp.SendKeys(css(last+`input[name="mt.label_en"]`), "Flue gas"),
		chromedp.SendKeys(css(last+`input[name="mt.label_ja"]`), "排ガス温度"),
		chromedp.SendKeys(css(last+`input[name="mt.unit"]`), "°C"),
		chromedp.SendKeys(css(last+`input[name="mt.decimals"]`), "9"),
		chromedp.SetValue(css(last+`select[name="mt.audience"]`), "operators"),
		chromedp.SendKeys(css(last+`input[name="mt.states"]`), "0 = Cold / 低温; 1 = Hot / 高温"),
	)
	if n := js("the rows after adding", `String(document.querySelectorAll('#metric-rows tr[data-row]').length)`); n == rowsBefore {
		t.Fatalf("Add a metric left %s rows", n)
	}
	step("save with too many decimals",
		chromedp.Click(css(`section[aria-labelledby="type-form-h"] button[type=submit]`)),
		chromedp.WaitVisible(css(`#metric-rows tr.row-invalid .row-error`)),
	)
	why := js("the row's error", `document.querySelector('#metric-rows tr.row-invalid .row-error').innerText`)
	name := js("the refused row", `document.querySelector('#metric-rows tr.row-invalid input[name="mt.name"]').value`)
	invalid := js("its mark", `document.querySelector('#metric-rows tr.row-invalid input[name="mt.name"]').getAttribute('aria-invalid')`)
	if !strings.Contains(why, "decimals 9") || name != "flue_gas_c" || invalid != "true" {
		t.Errorf("the refusal is shown as %q in the row of %q (aria-invalid %s)", why, name, invalid)
	}
	if got, _ := e.types.Get("boiler"); !cmp.Equal(before, got) {
		t.Errorf("the refused form changed the type: %s", cmp.Diff(before, got))
	}
	step("correct it and save",
		chromedp.SetValue(css(`#metric-rows tr.row-invalid input[name="mt.decimals"]`), "1"),
		chromedp.Click(css(`section[aria-labelledby="type-form-h"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.notice`)),
	)
	after, err := e.types.Get("boiler")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before.Settings, after.Settings); diff != "" {
		t.Errorf("the settings changed going through the form (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(before.Metrics, after.Metrics[:len(before.Metrics)]); diff != "" {
		t.Errorf("the metrics there before changed (-before +after):\n%s", diff)
	}
	one := 1
	want := store.Metric{Name: "flue_gas_c", Unit: "°C", Labels: map[string]string{"en": "Flue gas", "ja": "排ガス温度"}, Decimals: &one,
		Audience: store.AudienceOperators, States: []store.MetricState{
			{Value: 0, Labels: map[string]string{"en": "Cold", "ja": "低温"}}, {Value: 1, Labels: map[string]string{"en": "Hot", "ja": "高温"}}}}
	if len(after.Metrics) != len(before.Metrics)+1 {
		t.Fatalf("%d metrics after saving, want %d", len(after.Metrics), len(before.Metrics)+1)
	}
	if diff := cmp.Diff(want, after.Metrics[len(before.Metrics)]); diff != "" {
		t.Errorf("the added metric (-want +got):\n%s", diff)
	}
}
