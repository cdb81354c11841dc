package protocol

// Sample is one telemetry message of readings at one time, the form a
// device uses when it sends the time itself (back-fill after an outage, or
// readings taken some time before they are sent):
//
//	{"ts": 1796184000000, "values": {"chw_supply_c": 7.1, "co2_ppm": 612}}
//
// Hearth also takes a flat object of numbers (stamped when received) and an
// array of samples; docs/device-protocol.md describes every form.
type Sample struct {
	TS     int64              `json:"ts"` // unix milliseconds
	Values map[string]float64 `json:"values"`
}
