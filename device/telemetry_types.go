package device

import "fmt"

// Reading is one decoded telemetry value: a metric of one device at a time.
type Reading struct {
	Metric    string
	Timestamp int64 // unix milliseconds
	Value     float64
}

// Telemetry rejection codes, sent to devices in the JSON error on
// hearth/things/{name}/telemetry/rejected.
const (
	CodeBadJSON       = "bad_json"        // not JSON, or not one of the accepted shapes
	CodeBadValue      = "bad_value"       // a value is not a number or a boolean
	CodeBadMetric     = "bad_metric"      // a metric name breaks the naming rule
	CodeBadTimestamp  = "bad_timestamp"   // too far in the future or outside retention
	CodeBatchTooLarge = "batch_too_large" // more entries than the configured maximum
	CodeEmpty         = "empty"           // no values at all
	CodeUnknownDevice = "unknown_device"  // the device is not (or no longer) registered
	CodeInternal      = "internal"        // storing failed; the device may retry
	CodeStorageFull   = "storage_full"    // Hearth's disk is nearly full; the device keeps the readings and retries
	CodeRateLimited   = "rate_limited"    // the device sends more samples than it may; it keeps them and sends them later
)

// TelemetryError says why a telemetry message was rejected. The message is
// rejected whole: nothing of it was stored. Code and Message are what the
// device is told; Err, when set, is the internal cause (a storage failure),
// kept out of the device's reply but available to logs and errors.Is.
type TelemetryError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Err     error  `json:"-"`
}

func (e *TelemetryError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the internal cause, if any.
func (e *TelemetryError) Unwrap() error { return e.Err }
