package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// TestJobPagesWithDevice follows an operator in a real browser against
// the real server while a real device runs the job over MQTT: the job is
// created on the page, the running rollout sends it, the device starts it
// and reports success on AWS's topics, and the job's page, the list and
// the device's page show it done, with the device's status details.
func TestJobPagesWithDevice(t *testing.T) {
	ctx := browser(t)
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "gw-1", "acme")
	const email, pw = "ops@hearth.example", "a passphrase long enough"
	if st := h.adminCall("POST", "/api/v1/users", map[string]string{"email": email, "role": "operator", "password": pw}, nil); st != http.StatusCreated {
		t.Fatalf("create the operator: %d", st)
	}
	c, _, err := h.v5("gw-1", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	if code := c.subscribe(t, protocol.JobsTopic("gw-1")+"/#"); code > 1 {
		t.Fatalf("subscribe to the jobs topics: %#x", code)
	}

	type css = chromedp.CSS
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	text := func(what, sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
		return v
	}
	step("sign in",
		chromedp.Navigate(h.https+"/login"),
		chromedp.WaitVisible(css(`#email`)),
		chromedp.SendKeys(css(`#email`), email),
		chromedp.SendKeys(css(`#password`), pw),
		chromedp.Click(css(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`nav a[href="/admin/jobs"]`)),
	)
	step("create a job on the page",
		chromedp.Click(css(`nav a[href="/admin/jobs"]`)),
		chromedp.WaitVisible(css(`a[href="/admin/jobs/new"]`)),
		chromedp.Click(css(`a[href="/admin/jobs/new"]`)),
		chromedp.WaitVisible(css(`#job-id`)),
		chromedp.SendKeys(css(`#job-id`), "agent-150"),
		chromedp.SendKeys(css(`#job-description`), "Agent 1.5.0"),
		chromedp.SendKeys(css(`#job-devices`), "gw-1"),
		chromedp.SetValue(css(`#job-document`), `{"operation": "update-agent", "version": "1.5.0"}`),
		chromedp.SendKeys(css(`#job-timeout`), "30"),
		chromedp.Click(css(`form.job-form button[type=submit]`)),
		chromedp.WaitVisible(css(`p.notice`)),
	)

	// The rollout tells the device, which runs the job to its end.
	var next protocol.JobsNotifyNext
	receive(t, c, protocol.JobsNotifyNextTopic("gw-1"), &next)
	if next.Execution == nil || next.Execution.JobID != "agent-150" || string(next.Execution.JobDocument) != `{"operation":"update-agent","version":"1.5.0"}` {
		t.Fatalf("notify-next: %+v", next.Execution)
	}
	publishQoS1(t, c, protocol.JobRequestTopic("gw-1", "", protocol.JobsStartNext), `{"statusDetails":{"step":"downloading"}}`)
	var started protocol.ExecutionResponse
	receive(t, c, protocol.JobRequestTopic("gw-1", "", protocol.JobsStartNext)+"/accepted", &started)
	step("see it in progress", chromedp.Reload(), chromedp.WaitVisible(css(`tr[data-device="gw-1"][data-status="IN_PROGRESS"]`)))
	details := text("the status details in progress", `tr[data-device="gw-1"] td.wrap`)
	update := protocol.JobRequestTopic("gw-1", "agent-150", protocol.JobsUpdate)
	publishQoS1(t, c, update, `{"status":"SUCCEEDED","statusDetails":{"version":"1.5.0"}}`)
	var done protocol.UpdateJobResponse
	receive(t, c, update+"/accepted", &done)

	// The job completes once its only execution ended; the page follows.
	deadline := time.Now().Add(15 * time.Second)
	for {
		step("read the job", chromedp.Reload(), chromedp.WaitVisible(css(`#progress .job-legend`)))
		if text("the status", `h1 .job-status`) == "Completed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	status := text("the status", `h1 .job-status`)
	legend := text("the legend", `#progress .job-legend`)
	row := text("the device's row", `tr[data-device="gw-1"]`)
	if details != "step: downloading" {
		t.Errorf("in progress the device's status details read %q", details)
	}
	if status != "Completed" || !strings.Contains(legend, "Succeeded 1 (100 %)") || !strings.Contains(row, "Succeeded") || !strings.Contains(row, "version: 1.5.0") {
		t.Errorf("the job's page: status %q, legend %q, the device's row %q", status, legend, row)
	}
	step("the list", chromedp.Click(css(`a[href="/admin/jobs"]`)), chromedp.WaitVisible(css(`tr[data-job="agent-150"]`)))
	if s := text("the list's status", `tr[data-job="agent-150"] .job-status`); s != "Completed" {
		t.Errorf("the list says %q", s)
	}
	step("the device's page", chromedp.Navigate(h.https+"/devices/gw-1"), chromedp.WaitVisible(css(`#jobs tr[data-job="agent-150"]`)))
	if s := text("the device's job", `#jobs tr[data-job="agent-150"] .job-status`); s != "Succeeded" {
		t.Errorf("the device's page says %q of its job", s)
	}
}
