package api

import (
	"errors"
	"net/url"
	"time"
)

// ParsedRange is parseRangeQuery's result in exported form.
type ParsedRange struct {
	Metric   string
	From, To time.Time
	Step     time.Duration
}

// ParseRangeQuery exposes the telemetry query-parameter parser to tests.
func ParseRangeQuery(v url.Values, now time.Time) (ParsedRange, error) {
	q, err := parseRangeQuery(v, now)
	if err != nil {
		return ParsedRange{}, err
	}
	return ParsedRange{Metric: q.metric, From: q.from(), To: q.to(), Step: q.step()}, nil
}

// ErrorStatus is the status writeError would answer err with when a handler
// decided it, or 0.
func ErrorStatus(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status
	}
	return 0
}
