package sim_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hearthiot/hearth/sim"
)

// comparable flattens credentials to what must survive a save and load.
type flatCredentials struct {
	Name, Secret, CA string
	Chain            [][]byte
	HasKey           bool
}

func flatten(creds []sim.Credentials) []flatCredentials {
	out := make([]flatCredentials, len(creds))
	for i, c := range creds {
		out[i] = flatCredentials{Name: c.Name, Secret: c.Secret, CA: string(c.CAPEM)}
		if c.Certificate != nil {
			out[i].Chain = c.Certificate.Certificate
			out[i].HasKey = c.Certificate.PrivateKey != nil
		}
	}
	return out
}

func TestCredentialsRoundTrip(t *testing.T) {
	t.Parallel()
	authority := newCA(t)
	withCert, err := authority.IssueCredentials("dev-00000", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	both, err := authority.IssueCredentials("dev-00001", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	both.Secret = "s3cr3t"
	creds := []sim.Credentials{withCert, both, {Name: "dev-00002", Secret: "only-secret"}}

	dir := filepath.Join(t.TempDir(), "creds")
	if err := sim.SaveCredentials(dir, creds); err != nil {
		t.Fatalf("SaveCredentials: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the credentials file", len(entries))
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), perm)
		}
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v (%v), want 0700", info.Mode().Perm(), err)
	}

	got, err := sim.LoadCredentials(dir)
	if err != nil {
		t.Fatalf("LoadCredentials: %v", err)
	}
	if diff := cmp.Diff(flatten(creds), flatten(got)); diff != "" {
		t.Errorf("round trip mismatch (-saved +loaded):\n%s", diff)
	}
	pool, err := sim.CAPool(got)
	if err != nil || pool == nil || !pool.Equal(authority.Pool()) {
		t.Errorf("CAPool of loaded credentials = %v, %v; want the issuing CA", pool, err)
	}

	// Saving again replaces the file.
	if err := sim.SaveCredentials(dir, creds[2:]); err != nil {
		t.Fatalf("SaveCredentials again: %v", err)
	}
	got, err = sim.LoadCredentials(dir)
	if err != nil || len(got) != 1 || got[0].Name != "dev-00002" {
		t.Errorf("after second save loaded %v, %v", flatten(got), err)
	}
}

func TestLoadCredentialsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string // "" writes no file
		want    string
		is      error
	}{
		{name: "missing", is: sim.ErrNoCredentials},
		{name: "empty list", content: `{"version":1,"devices":[]}`, is: sim.ErrNoCredentials},
		{name: "not json", content: `devices`, want: "cannot parse"},
		{name: "other version", content: `{"version":2,"devices":[{"name":"a","secret":"b"}]}`, want: "version 2"},
		{name: "no name", content: `{"version":1,"devices":[{"secret":"b"}]}`, want: "no name"},
		{name: "twice", content: `{"version":1,"devices":[{"name":"a","secret":"b"},{"name":"a","secret":"c"}]}`, want: "twice"},
		{name: "nothing to log in with", content: `{"version":1,"devices":[{"name":"a"}]}`, want: "neither"},
		{name: "broken certificate", content: `{"version":1,"devices":[{"name":"a","certificate_pem":"x","private_key_pem":"y"}]}`, want: `device "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != "" {
				writeFile(t, dir, "credentials.json", []byte(tt.content))
			}
			_, err := sim.LoadCredentials(dir)
			if err == nil {
				t.Fatal("LoadCredentials succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}
