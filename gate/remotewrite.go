package gate

import "time"

// RemoteWrite reports the progress of mirroring telemetry to remote write
// receivers; the server adapts store/remotewrite to it, so the gate links
// no sender.
type RemoteWrite interface {
	Status() []RemoteWriteStatus
}

// RemoteWriteStatus is one receiver's progress. URL carries no
// credentials.
type RemoteWriteStatus struct {
	URL   string
	State string // caught up, sending, retrying
	// LagSamples is the samples not sent yet (-1 while the backlog found
	// at start is being counted); LagSeconds how old the newest sample
	// sent is while behind, 0 once caught up.
	LagSamples   int64
	LagSeconds   float64
	BacklogBytes int64
	MaxBacklog   int64
	SamplesSent  uint64
	BytesSent    uint64
	Retries      uint64
	// FailedBatches were refused by the receiver (a 4xx other than 429)
	// and dropped; Dropped counts every sample that will never be sent.
	FailedBatches uint64
	Dropped       uint64
	LastSent      time.Time
	LastError     string
	LastErrorAt   time.Time
}

// RemoteWriteStatus is every receiver's progress, for operators: the
// receivers and their errors are the installation's, not a customer's.
// Without remote write configured it is empty.
func (s Scope) RemoteWriteStatus() ([]RemoteWriteStatus, error) {
	if err := s.operatorOnly("remote write status"); err != nil {
		return nil, err
	}
	if s.g.remoteWrite == nil {
		return nil, nil
	}
	return s.g.remoteWrite.Status(), nil
}
