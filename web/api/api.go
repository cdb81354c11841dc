package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/audit"
)

// API serves the REST and Prometheus APIs over the gate.
type API struct {
	gate   *gate.Gate
	logger *slog.Logger
	loc    *time.Location

	handler http.Handler
	local   http.Handler
	// openAPI is the OpenAPI document as JSON, converted once.
	openAPI func() ([]byte, error)
}

// Config configures the API. Zero values take the defaults.
type Config struct {
	// Location is the time zone of CSV downloads that name none (tz=);
	// default UTC. The server sets the pages' default zone, so a download
	// from the API and one from the pages read alike.
	Location *time.Location
	Logger   *slog.Logger // default discards
}

// New builds the API over g.
func New(g *gate.Gate, cfg Config) *API {
	a := &API{gate: g, logger: cfg.Logger, loc: cfg.Location}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if a.loc == nil {
		a.loc = time.UTC
	}
	a.openAPI = sync.OnceValues(func() ([]byte, error) { return yamlToJSON(openAPIYAML) })
	a.handler = a.routes(a.tokenAuth)
	a.local = a.routes(asLocalOperator)
	return a
}

// Handler serves the API to the network: every request needs an API token,
// as "Authorization: Bearer hth_…" or as the password of Basic
// authentication, and acts with that token's role. Only the API's own
// description, GET /api/v1/openapi.json, is public.
func (a *API) Handler() http.Handler { return a.handler }

// LocalHandler serves the same routes without tokens, every request acting
// as the local operator. It is for the admin Unix socket, whose file
// permissions decide who may connect, and for the command line in-process.
func (a *API) LocalHandler() http.Handler { return a.local }

type principalKey struct{}

func withPrincipal(ctx context.Context, p gate.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal a request acts for, so that handlers
// wrapping the API (access logs) can name who did something.
func PrincipalFrom(ctx context.Context) (gate.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(gate.Principal)
	return p, ok
}

// scope is what the principal of r may see and do. Every route runs behind
// the authentication middleware, so a missing principal is a wiring
// mistake; the zero principal is nobody, and the gate refuses it.
func (a *API) scope(r *http.Request) gate.Scope {
	p, _ := PrincipalFrom(r.Context())
	return a.gate.Scope(p)
}

// Request body limits: JSON bodies are small records; Prometheus form
// bodies carry query text and series selectors.
const (
	maxJSONBody       = 64 << 10
	maxPrometheusBody = 1 << 20
)

// routes builds the router behind the given authentication middleware,
// which every route but the API's public description passes. The route
// names are a public contract, described by openapi.yaml. Who may use a
// route is the gate's to decide, not the router's.
func (a *API) routes(authenticate func(http.Handler) http.Handler) http.Handler {
	r := chi.NewRouter()
	r.NotFound(a.routeNotFound)
	r.MethodNotAllowed(a.methodNotAllowed)
	r.Use(exceptPublic(authenticate))

	r.Route("/api/v1", func(r chi.Router) {
		r.Use(limitRequestBody)
		r.Use(audit.Changes(gate.AuditChannelAPI, func(r *http.Request) audit.Recorder { return a.scope(r) }))
		r.Get("/openapi.json", a.showOpenAPI)
		r.Get("/audit", a.listAudit)
		r.Post("/backup", a.createBackup)

		r.Route("/customers", func(r chi.Router) {
			r.Post("/", a.createCustomer)
			r.Get("/", a.listCustomers)
			r.Route("/{customer}", func(r chi.Router) {
				r.Get("/", a.showCustomer)
				r.Patch("/", a.renameCustomer)
				r.Post("/sites", a.createSite)
				r.Get("/sites", a.listSites)
				r.Get("/sites/{site}", a.getSite)
				r.Patch("/sites/{site}", a.updateSite)
				a.energyRoutes(r)
				a.siteStrategyRoutes(r)
			})
		})

		r.Route("/devices", func(r chi.Router) {
			r.Post("/", a.createDevice)
			r.Get("/", a.listDevices)
			r.Post("/bulk", a.createDevicesCSV)
			r.Route("/{name}", func(r chi.Router) {
				r.Get("/", a.showDevice)
				r.Patch("/", a.updateDevice)
				r.Delete("/", a.deleteDevice)
				r.Post("/credentials/rotate", a.rotateCredentials)
				r.Post("/credentials/revoke", a.revokeCredentials)
				r.Get("/telemetry/latest", a.showLatestTelemetry)
				r.Get("/telemetry", a.queryTelemetry)
				r.Get("/shadow", a.showShadow)
				r.Patch("/shadow", a.updateShadow)
				r.Delete("/shadow", a.deleteShadow)
				r.Get("/shadow/history", a.listShadowHistory)
				r.Get("/settings", a.showDeviceSettings)
				r.Get("/schedule", a.showDeviceSchedule)
				r.Get("/schedule/pushes", a.listDevicePushes)
				r.Post("/schedule/push", a.retryDevicePush)
				r.Get("/modbus", a.showPollMap)
				r.Put("/modbus", a.putPollMap)
				r.Delete("/modbus", a.deletePollMap)
				r.Get("/jobs", a.listDeviceJobs)
				r.Get("/strategy-changes", a.listDeviceStrategyChanges)
			})
		})

		a.calendarRoutes(r)
		a.alarmRoutes(r)
		a.channelRoutes(r)
		a.jobRoutes(r)
		a.ruleRoutes(r)
		a.artifactRoutes(r)

		r.Route("/device-types", func(r chi.Router) {
			r.Get("/", a.listDeviceTypes)
			r.Get("/{type}", a.showDeviceType)
			r.Put("/{type}", a.putDeviceType)
			r.Delete("/{type}", a.deleteDeviceType)
		})

		r.Route("/tokens", func(r chi.Router) {
			r.Post("/", a.createToken)
			r.Get("/", a.listTokens)
			r.Delete("/{id}", a.deleteToken)
		})

		r.Route("/sso-providers", func(r chi.Router) {
			r.Get("/", a.listSSOProviders)
			r.Get("/{name}", a.showSSOProvider)
			r.Put("/{name}", a.putSSOProvider)
			r.Delete("/{name}", a.deleteSSOProvider)
		})

		r.Route("/users", func(r chi.Router) {
			r.Post("/", a.createUser)
			r.Get("/", a.listUsers)
			r.Patch("/{email}", a.updateUser)
			r.Delete("/{email}", a.deleteUser)
			r.Post("/{email}/reset-password", a.resetPassword)
		})
	})

	r.Route("/prometheus/api/v1", func(r chi.Router) {
		r.Use(limitBody(maxPrometheusBody))
		for _, endpoint := range []string{"query", "query_range", "labels", "series"} {
			h := a.servePrometheus(endpoint)
			r.Get("/"+endpoint, h)
			r.Post("/"+endpoint, h)
		}
		r.Get("/label/{label}/values", a.servePrometheusLabelValues)
		r.Post("/label/{label}/values", a.servePrometheusLabelValues)
		r.Get("/status/buildinfo", a.showBuildInfo)
		r.Get("/metadata", a.showMetadata)
		r.Get("/rules", a.showRules)
		r.Get("/query_exemplars", a.showExemplars)
		r.Post("/query_exemplars", a.showExemplars)
	})
	return r
}

// exceptPublic applies authenticate to every request but a GET of the
// API's description, which is public documentation. Everything else, an
// unknown route too, asks for credentials first. Only the path as the
// router reads it is public: an escaped spelling of it is not.
func exceptPublic(authenticate func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		authenticated := authenticate(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.URL.Path == openAPIPath && r.URL.RawPath == "" {
				next.ServeHTTP(w, r)
				return
			}
			authenticated.ServeHTTP(w, r)
		})
	}
}

// limitRequestBody bounds every JSON API request body to maxJSONBody, and
// a register map (PUT /api/v1/devices/{name}/modbus), which is YAML and
// may describe a thousand points, to what the store keeps. A device name
// has no '/', so the path has exactly this shape. Reading past the bound
// fails with *http.MaxBytesError, which is answered with 413. An
// artifact's upload is bounded by the artifact limit instead.
func limitRequestBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int64(maxJSONBody)
		path := strings.TrimSuffix(r.URL.Path, "/")
		switch {
		case r.Method == http.MethodPut && strings.HasPrefix(path, "/api/v1/devices/") && strings.Count(path, "/") == 5 && strings.HasSuffix(path, "/modbus"):
			n = store.MaxPollMapSize
		case r.Method == http.MethodPut && strings.HasPrefix(path, "/api/v1/calendars/") && strings.Count(path, "/") == 4:
			// A calendar with a year of exceptions outgrows a record.
			n = 1 << 20
		case r.Method == http.MethodPut && strings.HasSuffix(path, "/closures.csv"):
			n = gate.MaxCalendarCSVBytes
		case r.Method == http.MethodPost && path == "/api/v1/devices/bulk":
			n = gate.MaxBulkBytes
		case isArtifactUpload(r):
			// A file as large as the artifact limit, which the gate
			// enforces while it streams the file to disk.
			n = -1
		}
		if n >= 0 {
			r.Body = http.MaxBytesReader(w, r.Body, n)
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody bounds the request bodies of the routes it guards to n bytes.
func limitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// sitePath is the customer and site a site's route names.
func sitePath(r *http.Request) (customer, site string, err error) {
	if customer, err = pathParam(r, "customer"); err != nil {
		return "", "", err
	}
	site, err = pathParam(r, "site")
	return customer, site, err
}

// pathParam returns a decoded path parameter. chi matches on the escaped
// path when the request has one, and then hands parameters over escaped.
func pathParam(r *http.Request, key string) (string, error) {
	v := chi.URLParam(r, key)
	if r.URL.RawPath == "" {
		return v, nil
	}
	u, err := url.PathUnescape(v)
	if err != nil {
		return "", gate.Invalid("path parameter %s %q: bad escaping: %v", key, v, err)
	}
	return u, nil
}
