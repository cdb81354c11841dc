package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/store"
)

// Store is what the API reads and writes in the store directly: users,
// tokens, and customer and site listings. Records with rules beyond the
// store's own (customers, sites, devices) change through Registry.
type Store interface {
	CreateUser(u store.User) error
	GetUser(email string) (store.User, error)
	ListUsers() ([]store.User, error)
	DeleteUser(email string) error

	CreateToken(t store.Token) error
	TokenByHash(hash []byte) (store.Token, error)
	ListTokens() ([]store.Token, error)
	DeleteToken(id string) error

	GetCustomer(name string) (store.Customer, error)
	ListCustomers() ([]store.Customer, error)
	ListSites(customer string) ([]store.Site, error)

	History(q store.HistoryQuery) ([]store.HistoryEntry, string, error)

	AppendAudit(e store.AuditEntry) error
	Audit(q store.AuditQuery) ([]store.AuditEntry, string, error)
}

// Registry is the device registry: it creates customers, sites and devices
// and issues and revokes device credentials.
type Registry interface {
	CreateCustomer(c store.Customer) (store.Customer, error)
	CreateSite(s store.Site) (store.Site, error)
	CreateDevice(spec device.DeviceSpec) (device.Issued, error)
	RotateCredentials(name string) (device.Issued, error)
	RevokeCredentials(name, credentialID string) (store.Device, error)
	UpdateDevice(name string, change device.DeviceChange) (store.Device, error)
	SetCustomerDisplayName(name, display string) (store.Customer, error)
	SetSiteDisplayName(customer, name, display string) (store.Site, error)
	DeleteDevice(name string) error
	Device(name string) (store.Device, error)
	Devices(f store.DeviceFilter) ([]store.Device, error)
}

// Telemetry reads stored telemetry. It is declared here, with its own value
// types, so that the API does not link the telemetry engine; the server
// adapts the engine to it.
type Telemetry interface {
	// Latest returns the newest value of each metric of a device, as stored
	// for its customer.
	Latest(device, customer string) []LatestValue
	// QueryRange evaluates a MetricsQL query from start to end at step.
	QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]Series, error)
	// ServePrometheus answers one Prometheus HTTP API endpoint ("query",
	// "query_range", "labels", "series" or "label/NAME/values"). A non-empty
	// customer restricts every answer to that customer's series, whatever
	// the request says; an empty customer is unrestricted.
	ServePrometheus(w http.ResponseWriter, r *http.Request, endpoint, customer string)
}

// Presence tells whether devices are connected; device.Presence
// implements it. ok is false for a device not heard from since start.
type Presence interface {
	Get(name string) (device.PresenceInfo, bool)
}

// Shadows is the device shadow service, the one the MQTT topics use, so
// that a change through the API gets the same semantics, history and device
// messages as one from a device. Errors it decides are *shadow.Error with
// AWS's HTTP-like codes.
type Shadows interface {
	Update(thing, name string, body []byte, by device.Actor, now time.Time) ([]byte, error)
	Get(thing, name string) (shadow.Document, error)
	Delete(thing, name string, by device.Actor, now time.Time) ([]byte, error)
	// Violations lists the reported values of a shadow that break a rule
	// of the device type's settings.
	Violations(thing, name string, doc shadow.Document) ([]settings.Violation, error)
}

// DeviceTypes is the catalogue of device types and their settings;
// device.DeviceTypes implements it. Put refuses settings that do not
// compile with an error wrapping store.ErrInvalid.
type DeviceTypes interface {
	Put(t store.DeviceType) (store.DeviceType, error)
	Get(name string) (store.DeviceType, error)
	List() ([]store.DeviceType, error)
	Delete(name string) error
	SettingsOf(device string) (*settings.Schema, string, error)
}

// ErrTelemetryUnavailable is what a Telemetry implementation wraps when it
// cannot answer for now (all query slots taken, shutting down); the API
// answers 503 with Retry-After rather than 500, since trying again later
// helps.
var ErrTelemetryUnavailable = errors.New("telemetry unavailable")

// LatestValue is the newest value of one metric.
type LatestValue struct {
	Metric    string
	Timestamp int64 // unix milliseconds
	Value     float64
}

// Series is one time series of a query answer; Timestamps (unix
// milliseconds) and Values have the same length.
type Series struct {
	Labels     map[string]string
	Timestamps []int64
	Values     []float64
}

// Principal is who a request acts for. Role is store.RoleOperator or
// store.RoleCustomer; Customer is set exactly for customers. Name and TokenID
// say which token (or "local" for LocalHandler) made the request, for logs
// and audit records.
//
// User is set for a person signed in to the pages (their e-mail); changes
// they make are recorded as "user:EMAIL".
type Principal struct {
	Role     string
	Customer string
	Name     string
	TokenID  string
	User     string
	// Access is the level within the role (store.AccessAdmin, …); empty
	// is the role's default.
	Access string
}

// Level is the principal's effective access level.
func (p Principal) Level() string { return store.EffectiveAccess(p.Role, p.Access) }

// MayChangeSettings reports whether p may change shadows' desired state:
// every operator, and customers' admins and editors (not viewers).
func (p Principal) MayChangeSettings() bool { return p.Level() != store.AccessViewer }

// Admin reports whether p is an operator admin, who alone manages users
// and API tokens.
func (p Principal) Admin() bool { return p.operator() && p.Level() == store.AccessAdmin }

// Valid reports whether p is a principal the API and the pages can scope.
func (p Principal) Valid() bool { return p.valid() }

// Operator reports whether p sees everything.
func (p Principal) Operator() bool { return p.operator() }

// valid reports whether p is a role the API knows how to scope. A customer
// principal without a customer would otherwise be scoped to nothing, which
// the device list filter reads as everything.
func (p Principal) valid() bool {
	switch p.Role {
	case store.RoleOperator:
		return p.Customer == ""
	case store.RoleCustomer:
		return p.Customer != ""
	}
	return false
}

func (p Principal) operator() bool { return p.Role == store.RoleOperator }

type contextKey int

const (
	principalKey contextKey = iota
	deviceKey
)

// PrincipalFrom returns the principal a request acts for, so that handlers
// wrapping the API (access logs, audit) can name who did something.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey).(Principal)
	return p, ok
}

// principal returns the principal the authentication middleware put on r.
// Every route runs behind one, so a missing principal is a wiring mistake
// and is treated as nobody.
func principal(r *http.Request) Principal {
	p, _ := PrincipalFrom(r.Context())
	return p
}

// Deps are what the API works with. Store and Registry are required.
// Telemetry may be nil: the telemetry and Prometheus routes then answer 503.
// Shadows may be nil: the shadow routes then answer 503. Presence may be
// nil: devices are then shown without their connection state and the
// online filter answers 503. Types may be nil: the device type and
// settings routes then answer 503. Logger defaults to discarding; Now to
// time.Now.
type Deps struct {
	Store     Store
	Registry  Registry
	Telemetry Telemetry
	Shadows   Shadows
	Presence  Presence
	Types     DeviceTypes
	// Polling, when set, is told of register map changes.
	Polling Polling
	// FixedSSO names the single sign-on providers the command line sets;
	// a configured provider may not take their names.
	FixedSSO []string
	Logger   *slog.Logger
	Now      func() time.Time
}

// API serves the REST and Prometheus APIs.
type API struct {
	store     Store
	registry  Registry
	telemetry Telemetry
	shadows   Shadows
	presence  Presence
	types     DeviceTypes
	polling   Polling
	fixedSSO  []string
	logger    *slog.Logger
	now       func() time.Time

	handler http.Handler
	local   http.Handler
}

// New builds the API. It panics when Store or Registry is missing: that is a
// wiring mistake no request could recover from.
func New(d Deps) *API {
	if d.Store == nil || d.Registry == nil {
		panic("api.New: Deps.Store and Deps.Registry are required")
	}
	a := &API{
		store:     d.Store,
		registry:  d.Registry,
		telemetry: d.Telemetry,
		shadows:   d.Shadows,
		presence:  d.Presence,
		types:     d.Types,
		polling:   d.Polling,
		fixedSSO:  d.FixedSSO,
		logger:    d.Logger,
		now:       d.Now,
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.handler = a.routes(a.bearerAuth)
	a.local = a.routes(a.asLocalOperator)
	return a
}

// Handler serves the API to the network: every request needs an
// "Authorization: Bearer hth_…" token and acts with that token's role.
func (a *API) Handler() http.Handler { return a.handler }

// LocalHandler serves the same routes without tokens, every request acting
// as an operator. It is for the admin Unix socket, whose file permissions
// decide who may connect, and for the command line in-process.
func (a *API) LocalHandler() http.Handler { return a.local }

// Request body limits: JSON bodies are small records; Prometheus form
// bodies carry query text and series selectors.
const (
	maxJSONBody       = 64 << 10
	maxPrometheusBody = 1 << 20
)

// routes builds the router behind the given authentication middleware. The
// route names are a public contract.
func (a *API) routes(authenticate func(http.Handler) http.Handler) http.Handler {
	r := chi.NewRouter()
	r.NotFound(a.routeNotFound)
	r.MethodNotAllowed(a.methodNotAllowed)
	r.Use(authenticate)

	r.Route("/api/v1", func(r chi.Router) {
		r.Use(limitRequestBody)
		r.Use(a.auditOperators)
		r.With(a.requireOperator).Get("/audit", a.listAudit)

		r.Route("/customers", func(r chi.Router) {
			r.With(a.requireOperator).Post("/", a.createCustomer)
			r.Get("/", a.listCustomers)
			r.Route("/{customer}", func(r chi.Router) {
				r.Use(a.scopeCustomer)
				r.Get("/", a.showCustomer)
				r.With(a.requireOperator).Patch("/", a.renameCustomer)
				r.With(a.requireOperator).Post("/sites", a.createSite)
				r.Get("/sites", a.listSites)
				r.With(a.requireOperator).Patch("/sites/{site}", a.renameSite)
			})
		})

		r.Route("/devices", func(r chi.Router) {
			r.With(a.requireOperator).Post("/", a.createDevice)
			r.Get("/", a.listDevices)
			r.Route("/{name}", func(r chi.Router) {
				r.Use(a.scopeDevice)
				r.Get("/", a.showDevice)
				r.With(a.requireOperator).Patch("/", a.updateDevice)
				r.With(a.requireOperator).Delete("/", a.deleteDevice)
				r.With(a.requireOperator).Post("/credentials/rotate", a.rotateCredentials)
				r.With(a.requireOperator).Post("/credentials/revoke", a.revokeCredentials)
				r.With(a.requireTelemetry).Get("/telemetry/latest", a.showLatestTelemetry)
				r.With(a.requireTelemetry).Get("/telemetry", a.queryTelemetry)
				r.Route("/shadow", func(r chi.Router) {
					r.Use(a.requireShadows)
					r.Get("/", a.showShadow)
					r.Patch("/", a.updateShadow)
					r.With(a.requireOperator).Delete("/", a.deleteShadow)
					r.Get("/history", a.listShadowHistory)
				})
				r.With(a.requireTypes).Get("/settings", a.showDeviceSettings)
				r.Route("/modbus", func(r chi.Router) {
					r.Use(a.requireOperator)
					r.Get("/", a.showPollMap)
					r.Put("/", a.putPollMap)
					r.Delete("/", a.deletePollMap)
				})
			})
		})

		r.Route("/device-types", func(r chi.Router) {
			r.Use(a.requireOperator, a.requireTypes)
			r.Get("/", a.listDeviceTypes)
			r.Get("/{type}", a.showDeviceType)
			r.Put("/{type}", a.putDeviceType)
			r.Delete("/{type}", a.deleteDeviceType)
		})

		r.Route("/tokens", func(r chi.Router) {
			r.Use(a.requireAdmin)
			r.Post("/", a.createToken)
			r.Get("/", a.listTokens)
			r.Delete("/{id}", a.deleteToken)
		})

		r.Route("/sso-providers", func(r chi.Router) {
			r.Use(a.requireAdmin)
			r.Get("/", a.listSSOProviders)
			r.Get("/{name}", a.showSSOProvider)
			r.Put("/{name}", a.putSSOProvider)
			r.Delete("/{name}", a.deleteSSOProvider)
		})

		r.Route("/users", func(r chi.Router) {
			r.Use(a.requireAdmin)
			r.Post("/", a.createUser)
			r.Get("/", a.listUsers)
			r.Delete("/{email}", a.deleteUser)
		})
	})

	r.Route("/prometheus/api/v1", func(r chi.Router) {
		r.Use(a.requireTelemetry)
		r.Use(limitBody(maxPrometheusBody))
		for _, endpoint := range []string{"query", "query_range", "labels", "series"} {
			h := a.servePrometheus(endpoint)
			r.Get("/"+endpoint, h)
			r.Post("/"+endpoint, h)
		}
		r.Get("/label/{label}/values", a.servePrometheusLabelValues)
		r.Post("/label/{label}/values", a.servePrometheusLabelValues)
		r.Get("/status/buildinfo", a.showBuildInfo)
	})
	return r
}

// unlessMissing serves next, or 503 when the server was built without the
// part a route needs; what names the part ("telemetry is").
func (a *API) unlessMissing(missing bool, what string, next http.Handler) http.Handler {
	if !missing {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, unavailable(what+" not available on this server"))
	})
}

// limitBody caps how much of a request body handlers can read; reading past
// the cap fails with *http.MaxBytesError, which writeError answers with 413.
// limitRequestBody bounds every JSON API request body to maxJSONBody, and
// a register map (PUT /api/v1/devices/{name}/modbus), which is YAML and
// may describe a thousand points, to what the store keeps. A device name
// has no '/', so the path has exactly this shape.
func limitRequestBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int64(maxJSONBody)
		path := strings.TrimSuffix(r.URL.Path, "/")
		if r.Method == http.MethodPut && strings.HasPrefix(path, "/api/v1/devices/") && strings.Count(path, "/") == 5 && strings.HasSuffix(path, "/modbus") {
			n = store.MaxPollMapSize
		}
		r.Body = http.MaxBytesReader(w, r.Body, n)
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
