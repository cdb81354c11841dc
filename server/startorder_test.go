package server_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/server"
)

// docStep is one item of the start order in docs/architecture.md:
// "8. `telemetry ingest` — …".
var docStep = regexp.MustCompile("^([0-9]+)\\. (?:`([^`]+)`)?")

// TestStartOrderDocumented keeps the start order in docs/architecture.md the
// one Start runs: the same step names, in the same order.
func TestStartOrderDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Start and stop\n")
	if !ok {
		t.Fatal(`docs/architecture.md has no "## Start and stop" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")

	var documented []string
	for line := range strings.SplitSeq(section, "\n") {
		m := docStep.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n != len(documented)+1 {
			t.Errorf("step %q is numbered %d, want %d", line, n, len(documented)+1)
		}
		if m[2] == "" {
			t.Errorf("step %q does not start with its name in backquotes, as Start logs it", line)
		}
		documented = append(documented, m[2])
	}
	if diff := cmp.Diff(server.StartStepNames(), documented); diff != "" {
		t.Errorf("docs/architecture.md's start order differs from Start's steps (-code +docs):\n%s", diff)
	}
}
