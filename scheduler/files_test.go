package scheduler_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/scheduler"
	"github.com/hearthiot/hearth/store"
)

func TestCSVRoundTrip(t *testing.T) {
	cal := officeCalendar()
	cal.Closures = append(cal.Closures, store.CalendarClosure{Name: "改修工事, 東棟", From: "2027-02-01", To: "2027-02-05", DayType: "closed"})
	cal.Exceptions = append(cal.Exceptions, store.CalendarException{Date: "2026-10-01", Name: "創立記念日", DayType: "closed"})
	var b bytes.Buffer
	if err := scheduler.WriteCSV(&b, cal); err != nil {
		t.Fatal(err)
	}
	want := "kind,name,from,to,day_type\n" +
		"closure,年末年始,12-29,01-03,closed\n" +
		"closure,\"改修工事, 東棟\",2027-02-01,2027-02-05,closed\n" +
		"exception,創立記念日,2026-10-01,,closed\n"
	if b.String() != want {
		t.Errorf("CSV:\n%s\nwant\n%s", b.String(), want)
	}
	// A spreadsheet's byte order mark and CRLF line ends read alike.
	in := "\ufeff" + strings.ReplaceAll(b.String(), "\n", "\r\n")
	closures, exceptions, err := scheduler.ReadCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cal.Closures, closures); diff != "" {
		t.Errorf("closures (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]store.CalendarException{{Date: "2026-10-01", Name: "創立記念日", DayType: "closed"}}, exceptions); diff != "" {
		t.Errorf("exceptions (-want +got):\n%s", diff)
	}
}

// TestCSVBadRows: every bad row is reported with its line, and nothing is
// read from a file that has one.
func TestCSVBadRows(t *testing.T) {
	in := "kind,name,from,to,day_type\n" +
		"closure,年末年始,12-29,01-03,closed\n" + // line 2: fine
		"closure,お盆,08-13,2026-08-16,closed\n" + // 3: mixed forms
		"exception,x,2026-13-01,,closed\n" + // 4: no such date
		"holiday,y,2026-01-01,,closed\n" + // 5: unknown kind
		"exception,z,2026-05-01,,\n" + // 6: no day type
		"closure,,12-01,12-02,closed\n" + // 7: no name
		"exception,w,2026-05-01\n" // 8: short row
	_, _, err := scheduler.ReadCSV(strings.NewReader(in))
	var ce *scheduler.CSVError
	if !errors.As(err, &ce) {
		t.Fatalf("ReadCSV: %v; want a *CSVError", err)
	}
	var lines []int
	for _, p := range ce.Problems {
		lines = append(lines, p.Line)
	}
	if diff := cmp.Diff([]int{3, 4, 5, 6, 7, 8}, lines); diff != "" {
		t.Errorf("lines of the problems (-want +got):\n%s\n%v", diff, err)
	}
	for _, tt := range []struct{ in, want string }{
		{"", "the file is empty"},
		{"name,from\nx,y\n", "first row must be the header"},
		{"kind,name,from,to,day_type\nclosure,\"open quote,12-01,12-02,closed\n", "line 2"},
		{"kind,name,from,to,day_type\n\xff\xfe\n", "not UTF-8"},
	} {
		if _, _, err := scheduler.ReadCSV(strings.NewReader(tt.in)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadCSV(%q): %v; want %q", tt.in, err, tt.want)
		}
	}
}

// FuzzReadCSV: a file from a customer's spreadsheet never panics the
// reader, and what it accepts writes back to a file it reads alike.
func FuzzReadCSV(f *testing.F) {
	f.Add("kind,name,from,to,day_type\nclosure,年末年始,12-29,01-03,closed\nexception,x,2026-10-01,,closed\n")
	f.Add("kind,name,from,to,day_type\nclosure,a,2027-02-01,2027-02-05,closed\n")
	f.Add("\ufeffkind,name,from,to,day_type\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		closures, exceptions, err := scheduler.ReadCSV(strings.NewReader(in))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := scheduler.WriteCSV(&b, store.Calendar{Closures: closures, Exceptions: exceptions}); err != nil {
			t.Fatal(err)
		}
		c2, e2, err := scheduler.ReadCSV(&b)
		if err != nil {
			t.Fatalf("%q read, written as %q, then refused: %v", in, b.String(), err)
		}
		if !cmp.Equal(closures, c2) || !cmp.Equal(exceptions, e2) {
			t.Fatalf("%q does not read back alike", in)
		}
	})
}

// TestICal: the feed is iCalendar a client reads back, with one all-day
// event per closure, holiday and exception.
func TestICal(t *testing.T) {
	c := compile(t, officeCalendar())
	feed, err := c.ICal(date("2026-12-20"), date("2027-01-15"), time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	cal, err := ics.ParseCalendar(strings.NewReader(feed))
	if err != nil {
		t.Fatalf("the feed does not parse: %v\n%s", err, feed)
	}
	var got []string
	for _, ev := range cal.Events() {
		start, _ := ev.GetAllDayStartAt()
		end, _ := ev.GetAllDayEndAt()
		got = append(got, start.Format(time.DateOnly)+".."+end.Format(time.DateOnly)+" "+ev.GetProperty(ics.ComponentPropertySummary).Value)
	}
	want := []string{
		"2026-12-29..2027-01-04 年末年始 (closed)",
		"2027-01-11..2027-01-12 成人の日 (closed)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s\n%s", diff, feed)
	}
	if !strings.Contains(feed, "X-WR-CALNAME:Office") || !strings.Contains(feed, "METHOD:PUBLISH") {
		t.Errorf("the feed lacks its name or method:\n%s", feed)
	}
}
