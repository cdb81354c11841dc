package server

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/hearthiot/hearth/store/remotewrite"
	"github.com/hearthiot/hearth/store/tsdb"
)

// metrics writes Prometheus text: the broker's, telemetry's and stores'
// counters, then the Go runtime and process metrics. Values are read from
// the components when scraped, so there is nothing to keep in step.
func (s *Server) metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.writeMetrics(w)
	metrics.WriteProcessMetrics(w)
}

func (s *Server) writeMetrics(w io.Writer) {
	b := s.broker.Stats()
	gauge(w, "hearth_mqtt_connected_clients", "MQTT clients connected now.", float64(b.Connected))
	counter(w, "hearth_mqtt_messages_received_total", "MQTT PUBLISH packets received from clients.", b.MessagesIn)
	counter(w, "hearth_mqtt_messages_sent_total", "MQTT PUBLISH packets sent to clients.", b.MessagesOut)
	counter(w, "hearth_mqtt_received_bytes_total", "Bytes received on MQTT connections.", b.BytesIn)
	counter(w, "hearth_mqtt_sent_bytes_total", "Bytes sent on MQTT connections.", b.BytesOut)
	counter(w, "hearth_mqtt_refused_connects_total", "MQTT connections refused (credentials, identity, limits).", b.RefusedConnects)
	counter(w, "hearth_mqtt_refused_publishes_total", "PUBLISH packets refused by the topic ACL.", b.RefusedPublishes)
	counter(w, "hearth_mqtt_refused_subscribes_total", "Subscriptions refused by the topic ACL.", b.RefusedSubscribes)
	s.writeMemoryMetrics(w)

	s.writeUpstreamMetrics(w)

	t := s.telemetry.Stats()
	counter(w, "hearth_telemetry_messages_total", "Telemetry messages handled, stored or rejected.", t.Messages)
	counter(w, "hearth_telemetry_samples_stored_total", "Telemetry samples stored.", t.Samples)
	counter(w, "hearth_telemetry_delayed_total", "Telemetry messages whose acknowledgement was held back because their device sent more samples than its rate.", t.Delayed)
	fmt.Fprintf(w, "# HELP hearth_telemetry_rejected_total Telemetry messages rejected whole, by reason.\n# TYPE hearth_telemetry_rejected_total counter\n")
	codes := make([]string, 0, len(t.RejectedByCode))
	for code := range t.RejectedByCode {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		fmt.Fprintf(w, "hearth_telemetry_rejected_total{code=%q} %d\n", code, t.RejectedByCode[code])
	}

	counter(w, "hearth_history_trimmed_total", "Shadow history entries deleted before their retention because their device's history outgrew --history-device-budget.", s.store.HistoryTrimmed())

	ts := s.tsdbStats()
	gauge(w, "hearth_tsdb_series", "Time series in the time-series store.", float64(ts.Series))
	gauge(w, "hearth_tsdb_rows", "Samples in the time-series store.", float64(ts.RowsStored))
	gauge(w, "hearth_tsdb_pending_rows", "Samples accepted but not yet searchable.", float64(ts.PendingRows))
	fmt.Fprintf(w, "# HELP hearth_store_size_bytes Size of each store on disk.\n# TYPE hearth_store_size_bytes gauge\n")
	fmt.Fprintf(w, "hearth_store_size_bytes{store=\"bbolt\"} %d\n", s.store.SizeBytes())
	fmt.Fprintf(w, "hearth_store_size_bytes{store=\"tsdb\"} %d\n", ts.SizeBytes)
	if s.disk != nil {
		gauge(w, "hearth_disk_free_bytes", "Free space of the data directory's file system.", float64(s.disk.free.Load()))
		low := 0.0
		if s.disk.low.Load() {
			low = 1
		}
		gauge(w, "hearth_disk_below_floor", "1 while the free space is below --min-free-disk and telemetry is refused.", low)
	}
	if s.wal != nil {
		l := s.wal.Stats()
		counter(w, "hearth_telemetry_log_records_total", "Telemetry messages written to the write-ahead log.", l.Records)
		counter(w, "hearth_telemetry_log_bytes_total", "Bytes written to the write-ahead log.", l.Bytes)
		counter(w, "hearth_telemetry_log_syncs_total", "Group commits (fsyncs) of the write-ahead log.", l.Syncs)
		gauge(w, "hearth_telemetry_log_segments", "Segment files of the write-ahead log on disk.", float64(l.Segments))
	}
	if s.remote != nil {
		writeRemoteWriteMetrics(w, s.remote.Status())
	}
	gauge(w, "hearth_telemetry_log_replayed_samples", "Samples replayed from the write-ahead log at the last start.", float64(s.walReplay.Points))
	gauge(w, "hearth_telemetry_log_cut_segments", "Segments whose torn or corrupt tail was cut at the last start.", float64(s.walReplay.Cut))
	if s.alarms != nil {
		counter(w, "hearth_alarm_events_dropped_total", "Events the alarm engine lost because it fell behind; rules missed them.", s.alarms.Dropped())
	}
	counter(w, "hearth_store_commits_total", "Write transactions committed to the bbolt store, each an fsync.", s.store.Commits())

	if s.notify != nil {
		n := s.notify.Stats()
		counter(w, "hearth_notifications_enqueued_total", "Notification deliveries added to the outbox, one per message and channel.", n.Enqueued)
		counter(w, "hearth_notifications_delivered_total", "Notification deliveries a receiver accepted; a grouped message counts once.", n.Delivered)
		counter(w, "hearth_notifications_failed_attempts_total", "Attempts to deliver a notification that failed, each retried or given up.", n.FailedAttempts)
		counter(w, "hearth_notifications_dead_total", "Notification deliveries given up as dead letters.", n.Dead)
		counter(w, "hearth_notifications_grouped_total", "Notification deliveries sent inside a grouped message.", n.Grouped)
	}
}

func counter(w io.Writer, name, help string, v uint64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
}

func gauge(w io.Writer, name, help string, v float64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v)
}

// tsdbStatsMaxAge is how long the time-series store's statistics are reused:
// reading them walks the data directory and VictoriaMetrics' metrics, too
// much for every scrape of an unauthenticated endpoint.
const tsdbStatsMaxAge = 15 * time.Second

// tsdbStats returns the time-series store's statistics, at most
// tsdbStatsMaxAge old.
func (s *Server) tsdbStats() tsdb.Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if time.Since(s.statsAt) > tsdbStatsMaxAge {
		s.stats, s.statsAt = s.tsdb.Stats(), time.Now()
	}
	return s.stats
}

// writeRemoteWriteMetrics writes each remote write receiver's progress,
// labelled by its URL without credentials.
func writeRemoteWriteMetrics(w io.Writer, sts []remotewrite.Status) {
	family := func(name, typ, help string, v func(remotewrite.Status) string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, st := range sts {
			fmt.Fprintf(w, "%s{url=%q} %s\n", name, st.URL, v(st))
		}
	}
	u := func(f func(remotewrite.Status) uint64) func(remotewrite.Status) string {
		return func(st remotewrite.Status) string { return strconv.FormatUint(f(st), 10) }
	}
	family("hearth_remote_write_samples_sent_total", "counter", "Samples a remote write receiver accepted.", u(func(st remotewrite.Status) uint64 { return st.SamplesSent }))
	family("hearth_remote_write_bytes_sent_total", "counter", "Request bytes (snappy-compressed protobuf) a remote write receiver accepted.", u(func(st remotewrite.Status) uint64 { return st.BytesSent }))
	family("hearth_remote_write_batches_sent_total", "counter", "Requests a remote write receiver accepted.", u(func(st remotewrite.Status) uint64 { return st.BatchesSent }))
	family("hearth_remote_write_retries_total", "counter", "Requests sent again after a server error, 429 or network error.", u(func(st remotewrite.Status) uint64 { return st.Retries }))
	family("hearth_remote_write_failed_batches_total", "counter", "Batches a remote write receiver refused with a 4xx other than 429, dropped.", u(func(st remotewrite.Status) uint64 { return st.FailedBatches }))
	family("hearth_remote_write_lag_samples", "gauge", "Samples in the telemetry log not yet sent to the receiver (-1 while the backlog found at start is counted).", func(st remotewrite.Status) string { return strconv.FormatInt(st.LagSamples, 10) })
	family("hearth_remote_write_lag_seconds", "gauge", "While behind, how old the newest sample sent is; 0 once caught up.", func(st remotewrite.Status) string { return strconv.FormatFloat(st.LagSeconds, 'g', -1, 64) })
	family("hearth_remote_write_backlog_bytes", "gauge", "Telemetry log bytes on disk the receiver has not been sent.", func(st remotewrite.Status) string { return strconv.FormatInt(st.BacklogBytes, 10) })
	family("hearth_remote_write_max_backlog_bytes", "gauge", "The disk budget of --remote-write-max-backlog.", func(st remotewrite.Status) string { return strconv.FormatInt(st.MaxBacklog, 10) })
	fmt.Fprintf(w, "# HELP hearth_remote_write_dropped_samples_total Samples that will never be sent, by reason: backlog (the disk budget outgrown), rejected (a 4xx answer), gap (log segments gone before they were sent).\n# TYPE hearth_remote_write_dropped_samples_total counter\n")
	for _, st := range sts {
		for _, reason := range []string{remotewrite.ReasonBacklog, remotewrite.ReasonRejected, remotewrite.ReasonGap} {
			fmt.Fprintf(w, "hearth_remote_write_dropped_samples_total{url=%q,reason=%q} %d\n", st.URL, reason, st.Dropped[reason])
		}
	}
}
