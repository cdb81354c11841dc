package shadow_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/device/shadow"
)

// BenchmarkApply merges a one-key report into a typical shadow of 20 desired
// and 20 reported keys, a few of them nested, with a delta pending.
func BenchmarkApply(b *testing.B) {
	var d, r []string
	for i := range 20 {
		v := fmt.Sprintf(`"k%02d":%d`, i, i)
		if i%5 == 0 {
			v = fmt.Sprintf(`"k%02d":{"on":true,"sp":%d.5,"days":[1,2,3]}`, i, i)
		}
		d = append(d, v)
		r = append(r, strings.Replace(v, ":1", ":2", 1))
	}
	body := `{"state":{"desired":{` + strings.Join(d, ",") + `},"reported":{` + strings.Join(r, ",") + `}}}`
	upd, err := shadow.ParseUpdate([]byte(body), shadow.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	res, err := shadow.Apply(nil, upd, 1, shadow.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	doc := res.Document
	report := []byte(`{"state":{"reported":{"k03":3}},"clientToken":"c"}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		u, err := shadow.ParseUpdate(report, shadow.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := shadow.Apply(&doc, u, 2, shadow.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
