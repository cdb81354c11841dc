package ui_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDeviceListInBrowser: over 50,000 devices, an operator in a real
// browser pages forward and back, searches by display name and filters by
// customer; then uploads a CSV file with bad rows and is shown every bad
// line by number, with nothing created.
func TestDeviceListInBrowser(t *testing.T) {
	e := newEnv(t, envOptions{})
	fiftyThousand(t, e)
	step, js := signedInBrowser(t, e, opUser)
	type css = chromedp.CSS
	step("open the device list",
		chromedp.Navigate(e.srv.URL+"/admin/devices"),
		chromedp.WaitVisible(css(`#device-page`)),
	)
	if p := js("the page", `document.querySelector('#device-page').innerText`); p != "Page 1" {
		t.Fatalf("the list opens at %q", p)
	}
	first := js("the first row", `document.querySelector('table tbody tr').innerText`)
	step("next page",
		chromedp.Click(css(`a[rel=next]`)),
		chromedp.WaitVisible(css(`a[rel=prev]`)),
	)
	if p := js("the page", `document.querySelector('#device-page').innerText`); p != "Page 2" {
		t.Fatalf("after Next the list shows %q", p)
	}
	if row := js("the first row", `document.querySelector('table tbody tr').innerText`); row == first {
		t.Fatalf("page 2 starts with page 1's first row %q", row)
	}
	step("previous page",
		chromedp.Click(css(`a[rel=prev]`)),
		chromedp.WaitVisible(css(`a[rel=next]`)),
	)
	if row := js("the first row", `document.querySelector('table tbody tr').innerText`); row != first {
		t.Fatalf("back on page 1 the first row is %q, want %q", row, first)
	}

	step("search by display name",
		chromedp.SendKeys(css(`#q`), "handler 4999"),
		chromedp.Click(css(`#device-filter button[type=submit]`)),
		chromedp.WaitVisible(css(`#q[value="handler 4999"]`)),
	)
	rows := js("the rows", `String(document.querySelectorAll('table tbody tr').length)`)
	text := js("the table", `document.querySelector('table').innerText`)
	// "Air handler 4999" and "Air handler 49990" to "49999".
	if rows != "11" || !strings.Contains(text, "Air handler 49995") || !strings.Contains(text, "dev-04999") {
		t.Fatalf("searching 'handler 4999' lists %s rows:\n%s", rows, text)
	}
	js("clear the search", `document.querySelector('#q').value = ''`)
	step("filter by customer",
		chromedp.SetValue(css(`#filter-customer`), "globex"),
		chromedp.Click(css(`#device-filter button[type=submit]`)),
		chromedp.WaitVisible(css(`#filter-site`)),
	)
	if got := js("customers listed", `[...new Set([...document.querySelectorAll('table tbody tr')].map(r => r.innerText.includes('globex') ? 'globex' : 'other'))].join()`); got != "globex" {
		t.Errorf("filtered by globex, the rows are of %q", got)
	}

	csv := filepath.Join(t.TempDir(), "devices.csv")
	body := "name,customer,site,type,display_name\n" +
		"new-ok,acme,tokyo-tower,chiller,Fine\n" +
		"new-bad,nobody,tokyo-tower,chiller,Unknown customer\n" +
		"dev-00001,acme,tokyo-tower,chiller,Exists already\n" +
		"new-ok,acme,tokyo-tower,chiller,Twice in the file\n"
	if err := os.WriteFile(csv, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	step("upload a CSV file with bad rows",
		chromedp.Navigate(e.srv.URL+"/admin/devices/import"),
		chromedp.WaitVisible(css(`#import-file`)),
		chromedp.SetUploadFiles(css(`#import-file`), []string{csv}),
		chromedp.Click(css(`form[action="/admin/devices/import"] button[type=submit]`)),
		chromedp.WaitVisible(css(`#import-problems`)),
	)
	problems := js("the problems", `document.querySelector('#import-problems').innerText`)
	for _, line := range []string{"Line 3:", "Line 4:", "Line 5:"} {
		if !strings.Contains(problems, line) {
			t.Errorf("the problems do not name %s:\n%s", line, problems)
		}
	}
	if strings.Contains(problems, "Line 2:") {
		t.Errorf("the good line 2 is named a problem:\n%s", problems)
	}
	if _, err := e.st.GetDevice("new-ok"); err == nil {
		t.Error("a file with bad lines created its good line's device")
	}
}
