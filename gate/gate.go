package gate

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/gate/secret"
	"github.com/hearthiot/hearth/internal/loglimit"
	"github.com/hearthiot/hearth/store"
)

// Store is what the gate keeps in the record store; *store.Store
// implements it. Records with rules beyond the store's own (customers,
// sites, devices) change through Registry.
type Store interface {
	CreateUser(u store.User) error
	GetUser(email string) (store.User, error)
	ListUsers() ([]store.User, error)
	UpdateUser(email string, fn func(*store.User) error) (store.User, error)
	DeleteUser(email string) error

	CreateToken(t store.Token) error
	TokenByHash(hash []byte) (store.Token, error)
	ListTokens() ([]store.Token, error)
	DeleteToken(id string) error

	GetCustomer(name string) (store.Customer, error)
	ListCustomers() ([]store.Customer, error)
	ListSites(customer string) ([]store.Site, error)
	GetSite(customer, name string) (store.Site, error)
	DeleteCustomer(name string) error
	DeleteSite(customer, name string) error

	History(q store.HistoryQuery) ([]store.HistoryEntry, string, error)
	AppendAudit(e store.AuditEntry) error
	Audit(q store.AuditQuery) ([]store.AuditEntry, string, error)

	PutSSOProvider(p store.SSOProvider) (store.SSOProvider, bool, error)
	GetSSOProvider(name string) (store.SSOProvider, error)
	ListSSOProviders() ([]store.SSOProvider, error)
	DeleteSSOProvider(name string) error

	GetSiteEnergy(customer, site string) (store.SiteEnergy, error)
	UpdateSiteEnergy(customer, site string, fn func(*store.SiteEnergy) error) (store.SiteEnergy, error)

	PutPollMap(device, text string) (store.PollMap, bool, error)
	GetPollMap(device string) (store.PollMap, error)
	DeletePollMap(device string) error
}

// Registry is the device registry: it creates customers, sites and devices
// and issues and revokes device credentials; *device.Registry implements
// it.
type Registry interface {
	CreateCustomer(c store.Customer) (store.Customer, error)
	CreateSite(s store.Site) (store.Site, error)
	CreateDevice(spec device.DeviceSpec) (device.Issued, error)
	CreateDevices(specs []device.DeviceSpec) ([]device.Issued, error)
	RotateCredentials(name string) (device.Issued, error)
	RevokeCredentials(name, credentialID string) (store.Device, error)
	UpdateDevice(name string, change device.DeviceChange) (store.Device, error)
	SetCustomerDisplayName(name, display string) (store.Customer, error)
	UpdateSite(customer, name string, change store.SiteChange) (store.Site, error)
	DeleteDevice(name string) error
	Device(name string) (store.Device, error)
	Devices(f store.DeviceFilter) ([]store.Device, error)
	PageDevices(q store.DeviceQuery) (store.DevicePage, error)
}

// Telemetry reads stored telemetry. It is declared here, with its own value
// types, so that the gate does not link the telemetry engine; the server
// adapts the engine to it.
type Telemetry interface {
	// Latest returns the newest value of each metric of a device, as stored
	// for its customer.
	Latest(device, customer string) []LatestValue
	// Downsample returns one metric of a device from start to end, one
	// point per step with the minimum, average and maximum of the step's
	// samples, computed by the engine in one pass.
	Downsample(ctx context.Context, q DownsampleQuery) ([]Point, error)
	// DownsampleMany is Downsample for several queries, read side by side
	// as one query; the answers are in the order of qs.
	DownsampleMany(ctx context.Context, qs []DownsampleQuery) ([][]Point, error)
	// ServePrometheus answers one Prometheus HTTP API endpoint ("query",
	// "query_range", "labels", "series" or "label/NAME/values"). A non-empty
	// customer restricts every answer to that customer's series, whatever
	// the request says; an empty customer is unrestricted.
	ServePrometheus(w http.ResponseWriter, r *http.Request, endpoint, customer string)
	// MetricNames lists the metrics stored, sorted, at most limit (0: no
	// limit); a non-empty customer counts only that customer's series.
	MetricNames(ctx context.Context, customer string, limit int) ([]string, error)
}

// Presence tells whether devices are connected; device.Presence implements
// it. ok is false for a device not heard from since start.
type Presence interface {
	Get(name string) (device.PresenceInfo, bool)
}

// RateSource tells a device's rate limit and how the device has met it
// since start; *device.Telemetry (samples) and *device.Shadows (shadow
// updates over MQTT) implement it.
type RateSource interface {
	DeviceRate(device string) device.RateUse
}

// Shadows is the device shadow service, the one the MQTT topics use, so
// that a change through the gate gets the same semantics, history and
// device messages as one from a device. Errors it decides are
// *shadow.Error with AWS's HTTP-like codes.
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
	Settings(typ string) (*settings.Schema, error)
}

// Polling is the server's direct polling, told when a device's register
// map changes so that it polls with the new one at once; *poll.Service
// implements it.
type Polling interface {
	Reload(ctx context.Context, device string) error
}

// MapChecker reads a register map for direct polling and says what it
// polls, or refuses it with a *Error whose Lines name each problem. It is
// declared here so that the gate, and the web layer above it, link no
// Modbus code; the server adapts device/poll to it.
type MapChecker interface {
	CheckMap(device, text string) (MapSummary, error)
}

// MapSummary is what a register map polls.
type MapSummary struct {
	Source string // "tcp host:port"
	Points int
}

// Deps are what the gate works with. Store and Registry are required. The
// others may be nil on a server built without them: the operations that
// need them then refuse with KindUnavailable.
type Deps struct {
	Store     Store
	Registry  Registry
	Telemetry Telemetry
	// Energy reckons energy use from telemetry; without it (or without
	// Telemetry and Types) the energy operations refuse with
	// KindUnavailable.
	Energy EnergyEngine
	// Zone is where a site without its own time zone reckons its days
	// (the server's --timezone); nil is the calendars' default zone.
	Zone     *time.Location
	Shadows  Shadows
	Presence Presence
	Types    DeviceTypes
	// TelemetryRates and ShadowRates tell each device's rate limits of
	// telemetry and of shadow updates; without them a device's view has
	// none.
	TelemetryRates RateSource
	ShadowRates    RateSource
	// Maps checks register maps; without it the register map operations
	// refuse with KindUnavailable.
	Maps MapChecker
	// Polling, when set, is told of register map changes.
	Polling Polling
	// Calendars and Scheduler keep and run operating calendars; without
	// them the calendar operations refuse with KindUnavailable.
	Calendars CalendarStore
	Scheduler Scheduler
	// AlarmStore and Alarms keep and run alarm rules; without them the
	// alarm operations refuse with KindUnavailable.
	AlarmStore AlarmStore
	Alarms     AlarmEngine
	// Channels and Notifier keep notification channels and deliver to
	// them; without them the notification operations refuse with
	// KindUnavailable.
	Channels NotifyStore
	Notifier Notifier
	// Backups writes backups; without it PrepareBackup refuses with
	// KindUnavailable.
	Backups Backups
	// RemoteWrite reports remote write progress; nil when none is
	// configured.
	RemoteWrite RemoteWrite
	// JobStore and Jobs keep and run jobs; without them the job operations
	// refuse with KindUnavailable.
	JobStore JobStore
	Jobs     JobService
	// RuleStore and Rules keep and run message rules; without them the
	// rule operations refuse with KindUnavailable.
	RuleStore MessageRuleStore
	Rules     RuleEngine
	// Artifacts keeps the files devices download; without it the
	// artifact operations refuse with KindUnavailable.
	Artifacts Artifacts
	// StrategyStore and Strategies keep and run the energy-saving
	// strategies; without them their operations refuse with
	// KindUnavailable.
	StrategyStore StrategyStore
	Strategies    StrategyRunner
	// Mailer, when set, e-mails set-password links to invited users;
	// without it (or without SMTP) the link is shown to the inviting
	// admin to pass on.
	Mailer Mailer
	// FixedSSO names the single sign-on providers the command line sets;
	// a configured provider may not take their names.
	FixedSSO []string
	// GroupsOperator is the groups claim value that makes a person signed
	// in through single sign-on an operator, and GroupsCustomerPrefix
	// followed by a customer name makes them that customer's user
	// ("hearth-customer:acme"). Empty values turn group mapping off.
	GroupsOperator       string
	GroupsCustomerPrefix string
	Logger               *slog.Logger
	Now                  func() time.Time
}

// Gate is every operation a person or an API token may do: it decides who
// may do it (roles, access levels, tenancy), then does it. The REST API and
// the pages call the same methods, so they cannot disagree.
type Gate struct {
	store     Store
	registry  Registry
	telemetry Telemetry
	energy    EnergyEngine
	zone      *time.Location
	shadows   Shadows
	presence  Presence
	types     DeviceTypes
	maps      MapChecker
	polling   Polling
	calendars CalendarStore
	scheduler Scheduler
	// alarmStore and alarmEngine keep and run alarm rules.
	alarmStore  AlarmStore
	alarmEngine AlarmEngine
	// channels and notifier keep notification channels and deliver.
	channels    NotifyStore
	notifier    Notifier
	backups     Backups
	remoteWrite RemoteWrite
	jobStore    JobStore
	jobs        JobService
	// ruleStore and ruleEngine keep and run message rules.
	ruleStore  MessageRuleStore
	ruleEngine RuleEngine
	fixedSSO   []string
	groupsOp   string
	groupsCu   string
	logger     *slog.Logger
	now        func() time.Time

	// artifacts keeps the files devices download.
	artifacts Artifacts

	// strategyStore and strategies keep and run energy-saving strategies.
	strategyStore StrategyStore
	strategies    StrategyRunner

	// telemetryRates and shadowRates tell each device's rate limits.
	telemetryRates, shadowRates RateSource

	// verify checks a password against a stored hash; dummyHash is the
	// hash checked for an address without one; accounts counts failed
	// sign-ins by address.
	verify    func(encoded, password string) (bool, error)
	dummyHash func() string
	accounts  *accountLimiter
	// logLimit writes lines that anyone can cause by the thousand.
	logLimit *loglimit.Limiter
	// accountsMu orders the changes of users that check, before they
	// write, that a customer keeps an admin.
	accountsMu sync.Mutex
	// mailer sends set-password links; nil shows them instead.
	mailer Mailer
}

// Lines that unauthenticated requests cause are written logBurst of a
// kind per logWindow, then summarised.
const (
	logBurst  = 5
	logWindow = time.Minute
)

// New builds the gate.
func New(d Deps) (*Gate, error) {
	if d.Store == nil || d.Registry == nil {
		return nil, errors.New("new gate: Deps.Store and Deps.Registry are required")
	}
	g := &Gate{
		store:       d.Store,
		registry:    d.Registry,
		telemetry:   d.Telemetry,
		energy:      d.Energy,
		zone:        d.Zone,
		shadows:     d.Shadows,
		presence:    d.Presence,
		types:       d.Types,
		maps:        d.Maps,
		polling:     d.Polling,
		calendars:   d.Calendars,
		scheduler:   d.Scheduler,
		alarmStore:  d.AlarmStore,
		alarmEngine: d.Alarms,
		channels:    d.Channels,
		notifier:    d.Notifier,
		backups:     d.Backups,
		remoteWrite: d.RemoteWrite,
		jobStore:    d.JobStore,
		jobs:        d.Jobs,
		ruleStore:   d.RuleStore,
		ruleEngine:  d.Rules,
		artifacts:   d.Artifacts,
		fixedSSO:    d.FixedSSO,
		groupsOp:    d.GroupsOperator,
		groupsCu:    d.GroupsCustomerPrefix,
		logger:      d.Logger,
		now:         d.Now,
		mailer:      d.Mailer,

		telemetryRates: d.TelemetryRates,
		shadowRates:    d.ShadowRates,
		strategyStore:  d.StrategyStore,
		strategies:     d.Strategies,
	}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	g.verify = secret.VerifyPassword
	g.dummyHash = sync.OnceValue(dummyPasswordHash)
	g.accounts = newAccountLimiter()
	g.logLimit = loglimit.New(g.logger, logBurst, logWindow, g.now)
	return g, nil
}

// Scope is what one principal may see and do. Its methods decide access
// first and act second; records of other customers answer like records
// that do not exist.
type Scope struct {
	g *Gate
	p Principal
}

// Scope returns what p may see and do.
func (g *Gate) Scope(p Principal) Scope { return Scope{g: g, p: p} }

// Principal is who the scope acts for.
func (s Scope) Principal() Principal { return s.p }

// check refuses a principal that is not valid.
func (s Scope) check() error {
	if !s.p.Valid() {
		return ErrNoAccess
	}
	return nil
}

// operatorOnly refuses principals that are not operators; what names the
// action for the message.
func (s Scope) operatorOnly(what string) error {
	if err := s.check(); err != nil {
		return err
	}
	if !s.p.Operator() {
		return Forbidden(what + " is for operators")
	}
	return nil
}

// adminOnly refuses principals that are not operator admins: users, API
// tokens and single sign-on decide who may do anything.
func (s Scope) adminOnly(what string) error {
	if err := s.check(); err != nil {
		return err
	}
	if !s.p.Admin() {
		return Forbidden(what + " is for operator admins")
	}
	return nil
}

// Now is the gate's clock, for channels that stamp their answers with the
// time the operation ran.
func (g *Gate) Now() time.Time { return g.now() }
