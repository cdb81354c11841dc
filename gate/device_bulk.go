package gate

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// Bounds of a bulk provisioning file.
const (
	MaxBulkDevices = 10_000
	MaxBulkBytes   = 2 << 20
	// maxProblemsNamed bounds the problems one refusal's message lists;
	// the BulkRefusal carries them all.
	maxProblemsNamed = 50
)

// BulkColumns are the columns of a bulk provisioning file, in the order
// its template shows them; name and customer are required.
var BulkColumns = []string{"name", "customer", "site", "type", "display_name"}

// BulkRow is one device of a bulk provisioning file and its line.
type BulkRow struct {
	Line int
	Spec device.DeviceSpec
}

// BulkProblem is what is wrong with one line of a bulk provisioning file.
type BulkProblem struct {
	Line   int
	Reason string
}

func (p BulkProblem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Reason) }

// BulkRefusal is a bulk provisioning file refused whole: every line that
// is wrong and why. Nothing was created.
type BulkRefusal struct {
	Problems []BulkProblem
}

func (e *BulkRefusal) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems in the file; no device was created", len(e.Problems))
	if len(e.Problems) == 1 {
		b.Reset()
		b.WriteString("1 problem in the file; no device was created")
	}
	for i, p := range e.Problems {
		if i == maxProblemsNamed {
			fmt.Fprintf(&b, "; … and %d more", len(e.Problems)-i)
			break
		}
		b.WriteString("; ")
		b.WriteString(p.String())
	}
	return b.String()
}

// ParseDeviceCSV reads a bulk provisioning file: a header row naming
// columns of BulkColumns (name and customer required, any order), then
// one device a row. It checks the form of each row (a thing name, a
// display name of printable text); whether customers, sites and types
// exist is CreateDevicesCSV's to check. Problems are per line; a file that
// is not CSV stops at its first broken line.
func ParseDeviceCSV(data []byte) ([]BulkRow, []BulkProblem) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF")) // as spreadsheets save it
	if !utf8.Valid(data) {
		return nil, []BulkProblem{{Line: 1, Reason: "the file is not UTF-8 text; save it as CSV UTF-8"}}
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil, []BulkProblem{{Line: 1, Reason: "the file is empty; its first row names the columns: " + strings.Join(BulkColumns, ",")}}
	}
	if err != nil {
		return nil, []BulkProblem{csvProblem(err)}
	}
	col := map[string]int{}
	var problems []BulkProblem
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case !isBulkColumn(h):
			problems = append(problems, BulkProblem{1, fmt.Sprintf("column %q is not one of %s", h, strings.Join(BulkColumns, ", "))})
		case col[h] != 0:
			problems = append(problems, BulkProblem{1, fmt.Sprintf("column %q appears twice", h)})
		default:
			col[h] = i + 1
		}
	}
	for _, need := range []string{"name", "customer"} {
		if col[need] == 0 {
			problems = append(problems, BulkProblem{1, fmt.Sprintf("the header row has no %q column; the first row names the columns: %s", need, strings.Join(BulkColumns, ","))})
		}
	}
	if problems != nil {
		return nil, problems
	}
	var rows []BulkRow
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, append(problems, csvProblem(err))
		}
		line, _ := cr.FieldPos(0)
		if len(rows) == MaxBulkDevices {
			return nil, []BulkProblem{{line, fmt.Sprintf("more than %d devices; split the file", MaxBulkDevices)}}
		}
		if len(rec) != len(header) {
			problems = append(problems, BulkProblem{line, fmt.Sprintf("%d fields, the header has %d", len(rec), len(header))})
			continue
		}
		field := func(name string) string {
			if i := col[name]; i != 0 {
				return strings.TrimSpace(rec[i-1])
			}
			return ""
		}
		spec := device.DeviceSpec{Name: field("name"), Customer: field("customer"), Site: field("site"), Type: field("type"), DisplayName: field("display_name")}
		if reason := bulkRowProblem(spec); reason != "" {
			problems = append(problems, BulkProblem{line, reason})
			continue
		}
		rows = append(rows, BulkRow{Line: line, Spec: spec})
	}
	if len(rows) == 0 && problems == nil {
		problems = []BulkProblem{{1, "the file has a header row and no device"}}
	}
	return rows, problems
}

func isBulkColumn(h string) bool {
	for _, c := range BulkColumns {
		if h == c {
			return true
		}
	}
	return false
}

func csvProblem(err error) BulkProblem {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return BulkProblem{pe.Line, "not CSV: " + pe.Err.Error()}
	}
	return BulkProblem{1, "not CSV: " + err.Error()}
}

// bulkRowProblem checks the form of a row's fields.
func bulkRowProblem(spec device.DeviceSpec) string {
	switch {
	case spec.Name == "":
		return "no name"
	case spec.Customer == "":
		return "no customer"
	}
	if err := protocol.ValidName(spec.Name); err != nil {
		return fmt.Sprintf("bad name %q: %v", spec.Name, err)
	}
	if len(spec.DisplayName) > device.MaxDisplayNameLength {
		return fmt.Sprintf("display name is %d bytes long; at most %d are accepted", len(spec.DisplayName), device.MaxDisplayNameLength)
	}
	if strings.IndexFunc(spec.DisplayName, unicode.IsControl) >= 0 {
		return "display name has control characters"
	}
	return ""
}

// CreateDevicesCSV provisions the devices of a bulk provisioning file
// (ParseDeviceCSV) and issues each its first credentials, which the
// answer carries this once. The file is checked whole first: a row naming
// a customer, site or device type that does not exist, a name used twice
// in the file or by an existing device makes a *BulkRefusal with every
// such line, and nothing is created. A file over MaxBulkBytes or
// MaxBulkDevices is too large.
func (s Scope) CreateDevicesCSV(data []byte) ([]device.Issued, error) {
	if err := s.operatorOnly("creating devices"); err != nil {
		return nil, err
	}
	if len(data) > MaxBulkBytes {
		return nil, Refuse(KindTooLarge, "the file is %d bytes; at most %d (2 MiB) are accepted; split it", len(data), MaxBulkBytes)
	}
	rows, problems := ParseDeviceCSV(data)
	if len(problems) == 1 && strings.HasPrefix(problems[0].Reason, "more than ") {
		return nil, Refuse(KindTooLarge, "%s", problems[0])
	}
	customers := map[string]bool{}
	sites := map[string]map[string]bool{}
	types := map[string]bool{}
	seen := map[string]int{}
	for _, row := range rows {
		spec := row.Spec
		problem := func(format string, args ...any) {
			problems = append(problems, BulkProblem{row.Line, fmt.Sprintf(format, args...)})
		}
		if first, ok := seen[spec.Name]; ok {
			problem("name %q is also on line %d", spec.Name, first)
			continue
		}
		seen[spec.Name] = row.Line
		if _, err := s.g.registry.Device(spec.Name); err == nil {
			problem("a device named %q already exists", spec.Name)
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		ok, err := s.bulkCustomer(customers, sites, spec.Customer)
		if err != nil {
			return nil, err
		}
		if !ok {
			problem("unknown customer %q", spec.Customer)
			continue
		}
		site := spec.Site
		if site == "" {
			site = store.DefaultSite
		}
		if !sites[spec.Customer][site] {
			problem("unknown site %q of customer %q", site, spec.Customer)
			continue
		}
		if spec.Type != "" {
			known, ok := types[spec.Type]
			if !ok {
				known = s.knownType(spec.Type) == nil
				types[spec.Type] = known
			}
			if !known {
				problem("unknown device type %q", spec.Type)
			}
		}
	}
	if problems != nil {
		return nil, &BulkRefusal{Problems: problems}
	}
	specs := make([]device.DeviceSpec, len(rows))
	for i, row := range rows {
		specs[i] = row.Spec
	}
	issued, err := s.g.registry.CreateDevices(specs)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists) {
		// Changed since the check: nothing was created.
		return nil, Invalid("%v; no device was created", err)
	}
	return issued, err
}

// bulkCustomer reports whether a customer exists, keeping its sites.
func (s Scope) bulkCustomer(customers map[string]bool, sites map[string]map[string]bool, name string) (bool, error) {
	if ok, seen := customers[name]; seen {
		return ok, nil
	}
	_, err := s.g.store.GetCustomer(name)
	if errors.Is(err, store.ErrNotFound) {
		customers[name] = false
		return false, nil
	}
	if err != nil {
		return false, err
	}
	list, err := s.g.store.ListSites(name)
	if err != nil {
		return false, err
	}
	sites[name] = map[string]bool{}
	for _, st := range list {
		sites[name][st.Name] = true
	}
	customers[name] = true
	return true, nil
}
