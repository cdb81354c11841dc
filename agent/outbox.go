package agent

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/protocol/program"
)

// Event codes the agent raises.
const (
	CodeModbusRecovered   = "modbus_recovered"     // points that failed are read again
	CodeSettingOutOfRange = "setting_out_of_range" // a desired value the setting does not take
	CodeSettingNotApplied = "setting_not_applied"  // writing a setting failed
	CodeSettingNotHeld    = "setting_not_held"     // the read-back differs from what was written
	CodeSettingUnknown    = "setting_unknown"      // a desired key that is no writable point
	CodeProgramInvalid    = program.EventInvalid   // desired.program cannot be followed
	CodeProgramStep       = "program_step"         // a step of the program was applied
	CodeSpoolFull         = "spool_full"           // the oldest samples were dropped
	CodeTelemetryRejected = "telemetry_rejected"   // Hearth refused a sample for good
	CodeAgentStarted      = "agent_started"
	codeModbusFaultPrefix = "modbus_"        // + fault kind: modbus_timeout, modbus_exception, …
	CodeEventsDropped     = "events_dropped" // events that did not fit the queue while offline
	maxQueuedEvents       = 256
)

// outbox holds what the equipment side has for Hearth besides samples:
// the reported state still to send, desired keys to clear, device events,
// and whether the whole shadow should be fetched. It is kept in memory
// while Hearth cannot be reached; a report merges into the one waiting, so
// only the latest value of each key is sent.
type outbox struct {
	mu       sync.Mutex
	reported map[string]any
	clear    map[string]bool // desired keys to set to null
	gen      uint64          // counts changes of reported and clear
	events   []protocol.Event
	dropped  int // events dropped since the last one sent
	wantGet  bool
	wake     chan struct{}
}

func newOutbox() *outbox {
	return &outbox{reported: map[string]any{}, clear: map[string]bool{}, wake: make(chan struct{}, 1)}
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// report merges values into the reported state to send.
func (o *outbox) report(values map[string]any, clearDesired ...string) {
	if len(values) == 0 && len(clearDesired) == 0 {
		return
	}
	o.mu.Lock()
	maps.Copy(o.reported, values)
	for _, k := range clearDesired {
		o.clear[k] = true
	}
	o.gen++
	o.mu.Unlock()
	o.signal()
}

// pendingReport is the report to send now, and its generation for done.
func (o *outbox) pendingReport() (reported map[string]any, clears []string, gen uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.reported) == 0 && len(o.clear) == 0 {
		return nil, nil, o.gen
	}
	return maps.Clone(o.reported), slices.Sorted(maps.Keys(o.clear)), o.gen
}

// reportSent forgets what a sent report carried, keeping whatever changed
// since it was taken.
func (o *outbox) reportSent(reported map[string]any, clears []string, gen uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if gen == o.gen {
		clear(o.reported)
		clear(o.clear)
		return
	}
	for k, v := range reported {
		if w, ok := o.reported[k]; ok && sameValue(v, w) {
			delete(o.reported, k)
		}
	}
	for _, k := range clears {
		delete(o.clear, k)
	}
}

// event queues a device event. When the queue is full, the oldest event
// goes and is counted; the count is sent as an event of its own. The
// message is made one Hearth takes (see eventMessage).
func (o *outbox) event(e protocol.Event) {
	e.Message = eventMessage(e.Message)
	o.mu.Lock()
	if len(o.events) >= maxQueuedEvents {
		o.events = o.events[1:]
		o.dropped++
	}
	o.events = append(o.events, e)
	o.mu.Unlock()
	o.signal()
}

// eventMessage makes msg a message Hearth takes in a device event: valid
// UTF-8 without control characters other than newline and tab, of at most
// protocol.MaxEventMessage bytes. A longer one is cut at a character boundary and
// ends in "…". A message is mostly the agent's own words, but it quotes
// errors and values from the equipment, which may be anything.
func eventMessage(msg string) string {
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	msg = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return ' '
		}
		return r
	}, msg)
	if len(msg) <= protocol.MaxEventMessage {
		return msg
	}
	const more = "…"
	cut := protocol.MaxEventMessage - len(more)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + more
}

// nextEvent is the oldest event waiting, and the number dropped before it.
func (o *outbox) nextEvent() (protocol.Event, int, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.events) == 0 {
		return protocol.Event{}, 0, false
	}
	return o.events[0], o.dropped, true
}

// eventSent removes the oldest event once Hearth has it.
func (o *outbox) eventSent(e protocol.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.events) > 0 && o.events[0] == e {
		o.events = o.events[1:]
		o.dropped = 0
	}
}

// requestGet asks for the whole shadow to be fetched.
func (o *outbox) requestGet() {
	o.mu.Lock()
	o.wantGet = true
	o.mu.Unlock()
	o.signal()
}

// takeGet reports and clears a pending request for the whole shadow.
func (o *outbox) takeGet() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	w := o.wantGet
	o.wantGet = false
	return w
}
