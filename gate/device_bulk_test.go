package gate_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/protocol"
)

// FuzzParseDeviceCSV: any file is either rows that each hold a valid name
// and a customer, or problems each with a line within the file; never
// both empty, never a panic.
func FuzzParseDeviceCSV(f *testing.F) {
	for _, seed := range []string{
		"name,customer,site,type,display_name\nahu-1,acme,hq,ahu,Roof AHU\n",
		"\uFEFFName,Customer\r\nx,acme\r\n",
		"name,customer\n\"open,acme\n",
		"name,customer,name\n",
		"customer\nacme\n",
		"",
		"name,customer\na/b,acme\n,acme\nx,\n",
		"name,customer,display_name\nx,acme,\"a\x07b\"\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, problems := gate.ParseDeviceCSV(data)
		if len(rows) == 0 && len(problems) == 0 {
			t.Fatalf("no rows and no problems for %q", data)
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, p := range problems {
			if p.Line < 1 || p.Line > lines || p.Reason == "" {
				t.Fatalf("problem %+v outside the file's %d lines: %q", p, lines, data)
			}
		}
		for _, r := range rows {
			if protocol.ValidName(r.Spec.Name) != nil || r.Spec.Customer == "" || !utf8.ValidString(r.Spec.DisplayName) {
				t.Fatalf("row %+v accepted from %q", r, data)
			}
			if r.Line < 2 || r.Line > lines {
				t.Fatalf("row on line %d of %d", r.Line, lines)
			}
		}
	})
}
