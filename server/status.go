package server

import (
	"html/template"
	"net/http"
	"time"
)

// statusPage is what the root URL shows: that Hearth runs, its version and
// counts, and where its API and documentation are. It needs no sign-in and
// shows no customer's data.
var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hearth</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
dt{font-weight:600}dd{margin:0 0 .6rem 0}code{background:#f3f3f3;padding:.1rem .3rem}</style></head>
<body><h1>Hearth {{.Version}}</h1>
<p>{{if .Ready}}Ready{{else}}Starting or stopping{{end}} — up {{.Uptime}}.</p>
<dl>
<dt>Devices</dt><dd>{{.Devices}} registered, {{.Connected}} connected over MQTT</dd>
<dt>Telemetry</dt><dd>{{.Samples}} samples stored since start, {{.Rejected}} messages rejected</dd>
<dt>JSON API</dt><dd><code>/api/v1</code> with a bearer token (<code>hearth token create</code>)</dd>
<dt>Prometheus-compatible API</dt><dd><code>/prometheus</code>, for Grafana's Prometheus data source</dd>
<dt>Health</dt><dd><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>, <a href="/metrics">/metrics</a></dd>
</dl></body></html>
`))

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	t := s.telemetry.Stats()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = statusPage.Execute(w, map[string]any{
		"Version":   s.version,
		"Ready":     s.ready.Load(),
		"Uptime":    time.Since(s.started).Round(time.Second),
		"Devices":   s.registry.Count(),
		"Connected": s.broker.Stats().Connected,
		"Samples":   t.Samples,
		"Rejected":  t.Rejected,
	})
}
