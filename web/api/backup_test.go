package api_test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/store/backup"
)

// TestBackup: an operator admin, over the network or the admin socket,
// gets a whole archive of the store and the CA that restores; others are
// refused, a second backup while one is pending is a conflict, and a
// server without backups says so.
func TestBackup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addToken(t, asPlainOp, store.RoleOperator, "", store.AccessOperator)
	for name, h := range map[string]http.Handler{"network": e.api.Handler(), "local": e.api.LocalHandler()} {
		t.Run(name, func(t *testing.T) {
			rec := e.do(t, h, scenario{method: http.MethodPost, path: "/api/v1/backup", as: asOperator})
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/zstd" {
				t.Fatalf("status %d, Content-Type %q: %s", rec.Code, rec.Header().Get("Content-Type"), truncate(rec.Body.String()))
			}
			if cd := rec.Header().Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="hearth-\d{8}T\d{6}Z\.tar\.zst"$`).MatchString(cd) {
				t.Errorf("Content-Disposition %q", cd)
			}
			m, err := backup.Verify(bytes.NewReader(rec.Body.Bytes()), nil)
			if err != nil {
				t.Fatalf("the archive does not verify: %v", err)
			}
			var names []string
			for _, f := range m.Files {
				names = append(names, f.Path)
			}
			for _, want := range []string{"hearth.db", "ca/ca.pem", "ca/ca.key"} {
				if !slices.Contains(names, want) {
					t.Errorf("the archive lacks %s: %v", want, names)
				}
			}
			dir := filepath.Join(t.TempDir(), "restored")
			if _, err := backup.Restore(bytes.NewReader(rec.Body.Bytes()), dir, nil); err != nil {
				t.Fatal(err)
			}
			st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.GetCustomer(globex); err != nil {
				t.Errorf("the restored store lacks customer %s: %v", globex, err)
			}
		})
	}

	p, err := e.backups.Prepare(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.run(t, []scenario{
		{name: "one at a time", method: http.MethodPost, path: "/api/v1/backup", as: asOperator, status: http.StatusConflict, contains: []string{"another backup is being written"}},
		{name: "not for customers", method: http.MethodPost, path: "/api/v1/backup", as: asAcme, status: http.StatusForbidden, contains: []string{"taking a backup is for operator admins"}},
		{name: "nor for plain operators", method: http.MethodPost, path: "/api/v1/backup", as: asPlainOp, status: http.StatusForbidden},
		{name: "nor without a token", method: http.MethodPost, path: "/api/v1/backup", status: http.StatusUnauthorized},
	})
	p.Close()

	without := newEnv(t, envOptions{noBackups: true})
	without.run(t, []scenario{
		{name: "a server without backups", method: http.MethodPost, path: "/api/v1/backup", as: asOperator, status: http.StatusServiceUnavailable, contains: []string{"admin socket"}},
	})
}
