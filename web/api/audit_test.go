package api_test

import (
	"net/http"
	"testing"
)

func TestAuditLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{realClock: true})
	e.run(t, []scenario{
		{name: "operator creates a customer", method: http.MethodPost, path: "/api/v1/customers", as: asOperator,
			body: `{"name": "initech"}`, status: http.StatusCreated},
		{name: "operator's refused attempt", method: http.MethodPost, path: "/api/v1/customers", as: asOperator,
			body: `{"name": "initech"}`, status: http.StatusConflict},
		{name: "operator reads", method: http.MethodGet, path: "/api/v1/customers", as: asOperator, status: http.StatusOK},
		{name: "customer reads its device", method: http.MethodGet, path: "/api/v1/devices/" + acmeDevice, as: asAcme, status: http.StatusOK},
		{name: "customer may not read the log", method: http.MethodGet, path: "/api/v1/audit", as: asAcme, status: http.StatusForbidden},
		{name: "the log has both writes, newest first, and no read", method: http.MethodGet, path: "/api/v1/audit", as: asOperator,
			status: http.StatusOK,
			contains: []string{`"actor":"token:operator-token","channel":"api","action":"POST /api/v1/customers","status":409`,
				`"action":"POST /api/v1/customers","status":201`},
			notContains: []string{`"action":"GET`, "acme-token"}},
		{name: "filtered by actor", method: http.MethodGet, path: "/api/v1/audit?actor=token:nobody", as: asOperator,
			status: http.StatusOK, contains: []string{`"entries":[]`}},
		{name: "bad limit", method: http.MethodGet, path: "/api/v1/audit?limit=0", as: asOperator, status: http.StatusBadRequest},
	})
}
