package ui

import (
	"slices"
	"testing"

	"github.com/hearthiot/hearth/gate"
)

// TestJobStatusesShown: every status the gate counts has a label and a
// part of the progress bar, so that no execution is left out of either.
func TestJobStatusesShown(t *testing.T) {
	for _, st := range gate.JobStatuses {
		if _, ok := jobStatusKeys[st]; !ok {
			t.Errorf("status %s has no label", st)
		}
		if !slices.Contains(jobBarOrder, st) {
			t.Errorf("status %s has no part of the progress bar", st)
		}
	}
}
