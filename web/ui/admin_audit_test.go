package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestAuditPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	cust := e.signIn(acmeUser)
	if r := e.post(op, "/devices/acme-chiller-1/settings", url.Values{"s.chw_setpoint": {"9"}}); r.status != http.StatusSeeOther {
		t.Fatalf("operator saves: %d", r.status)
	}
	if r := e.post(cust, "/devices/acme-chiller-1/settings", url.Values{"s.chw_setpoint": {"8"}}); r.status != http.StatusSeeOther {
		t.Fatalf("customer saves: %d", r.status)
	}
	r := e.get(op, "/admin/audit")
	if r.status != http.StatusOK || !strings.Contains(r.body, "user:"+opUser) || !strings.Contains(r.body, "POST /devices/acme-chiller-1/settings") {
		t.Fatalf("audit page: %d\n%s", r.status, r.body)
	}
	if strings.Contains(r.body, acmeUser) {
		t.Error("a customer's change is in the operators' audit log")
	}
	if r := e.get(op, "/admin/audit?actor=user:nobody"); !strings.Contains(r.body, "Nothing recorded.") {
		t.Error("the actor filter shows entries of others")
	}
	if r := e.get(cust, "/admin/audit"); r.status != http.StatusNotFound {
		t.Errorf("a customer on the audit page: %d, want 404", r.status)
	}
}
