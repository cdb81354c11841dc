package tsdb

import (
	"context"
	"fmt"
	"time"

	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/netstorage"
	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/searchutil"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/storage"
)

// MetricNames returns the names of the metrics stored within the retention
// period, sorted, at most limit of them (0: no limit); customer "" is
// every customer's, otherwise only that customer's series count. It takes
// one of the DB's query slots, like QueryRange.
func (db *DB) MetricNames(ctx context.Context, customer string, limit int) ([]string, error) {
	var filters [][]storage.TagFilter
	if customer != "" {
		filters = [][]storage.TagFilter{{{Key: []byte("customer"), Value: []byte(customer)}}}
	}
	now := time.Now()
	sq := storage.NewSearchQuery(now.Add(-db.retention).UnixMilli(), now.UnixMilli(), filters, 0)
	if limit <= 0 {
		limit = 1e6
	}
	var names []string
	err := db.inSlot(ctx, func(deadline searchutil.Deadline) error {
		var err error
		names, err = netstorage.LabelValues(nil, "__name__", sq, limit, deadline)
		return classify(err)
	})
	if err != nil {
		return nil, fmt.Errorf("list metric names: %w", err)
	}
	return names, nil
}
