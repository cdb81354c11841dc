package agent

import (
	"log/slog"
	"testing"

	"github.com/hearthiot/hearth/protocol"
)

// FuzzParseUpdateState: an update state file that reads holds what its
// phase needs.
func FuzzParseUpdateState(f *testing.F) {
	f.Add([]byte(`{"phase":"installed","job_id":"j-1","execution_number":1,"version_number":3,"version":"2","previous_version":"1",
		"executable":"/x","new_file":"/x.new","backup":"/x.previous","sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","starts":1}`))
	f.Add([]byte(`{"phase":"report","job_id":"j-1","status":"FAILED","status_details":{"reason":"x"},"restore":true,"executable":"/x","backup":"/y"}`))
	f.Add([]byte(`{"phase":"trial"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseUpdateState(b)
		if err != nil {
			return
		}
		if !protocol.IsValidJobID(st.JobID) {
			t.Fatalf("accepted job id %q", st.JobID)
		}
		switch st.Phase {
		case phaseTrial, phaseInstalled:
			if st.Executable == "" || st.NewFile == "" || st.Backup == "" || len(st.SHA256) != 64 {
				t.Fatalf("accepted %+v", st)
			}
		case phaseReport:
			if !protocol.JobStatusTerminal(st.Status) || st.Restore && (st.Executable == "" || st.Backup == "") {
				t.Fatalf("accepted %+v", st)
			}
		default:
			t.Fatalf("accepted phase %q", st.Phase)
		}
	})
}

// FuzzContentRange: a Content-Range header that reads gives no negative
// numbers.
func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"bytes 100-199/1000", "bytes */1000", "bytes 0-0/*", "bytes -1-2/3", "items 1-2/3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, size, ok := contentRange(s)
		if ok && (start < 0 || size < 0) {
			t.Fatalf("%q: start %d, size %d", s, start, size)
		}
	})
}

// FuzzJobMessage: whatever Hearth sends on the jobs topics, the client
// neither panics nor blocks the reader, and a message it cannot read
// offers no job.
func FuzzJobMessage(f *testing.F) {
	f.Add("notify-next", []byte(`{"timestamp":1,"execution":{"jobId":"j","status":"QUEUED","jobDocument":{"operation":"x"},"versionNumber":1,"executionNumber":1}}`))
	f.Add("$next/get/accepted", []byte(`{"execution":{"jobId":"j"},"clientToken":"agent-job-1"}`))
	f.Add("j/update/rejected", []byte(`{"code":"VersionMismatch","clientToken":"agent-job-2","executionState":{"status":"CANCELED","versionNumber":4}}`))
	f.Add("notify-next", []byte(`{"execution":null}`))
	f.Fuzz(func(t *testing.T, rest string, payload []byte) {
		j := newJobsClient("gw-1", true, slog.New(slog.DiscardHandler))
		ch := make(chan jobReply, 1)
		j.waiting["agent-job-2"] = ch
		j.deliver(protocol.JobsTopic("gw-1")+"/"+rest, payload)
		j.mu.Lock()
		next, has := j.next, j.hasNext
		_, stillWaiting := j.waiting["agent-job-2"]
		j.mu.Unlock()
		if has && rest != "notify-next" && rest != "$next/get/accepted" {
			t.Fatalf("offered %+v from %s", next, rest)
		}
		// A reply reaches its request, and only a reply.
		if !stillWaiting && len(ch) != 1 {
			t.Fatalf("the request's token was taken from %s without a reply", rest)
		}
	})
}
