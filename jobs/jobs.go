// Package jobs sends work to devices as AWS IoT Jobs does: a job is a
// JSON document for a set of target devices; each device's part is an
// execution that it reads, starts and ends over AWS's jobs MQTT topics
// (device.go). Jobs are rolled out at a rate, aborted when too many
// executions fail, timed out, canceled, and limited to maintenance windows
// (rollout.go). Everything is kept in the store, so a restart resumes a
// rollout where it was.
//
// A job document may name artifacts with placeholders, replaced for each
// execution as it is sent: ${hearth:artifact-url:NAME} by a fresh signed
// download URL, ${hearth:artifact-sha256:NAME}, ${hearth:artifact-size:NAME}
// and ${hearth:artifact-signature:NAME} by what Hearth knows of the file.
//
// The package imports store and protocol; it reaches devices through a
// Publisher, artifacts and calendars through interfaces the server fills.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hearthiot/hearth/jobs/artifact"
	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// Store keeps jobs and executions; *store.Store implements it.
type Store interface {
	CreateJob(j store.Job, targets []store.JobTarget) error
	GetJob(id string) (store.Job, error)
	ListJobs() ([]store.Job, error)
	ChangeJob(id string, fn func(j *store.Job, pending []store.JobExecution, waiting int) (bool, error)) (store.Job, []store.JobExecution, error)
	ReleaseJobTargets(id string, n int, at time.Time, allow func(store.JobTarget) bool, change func(j *store.Job, released int)) (store.Job, []store.JobExecution, error)
	GetJobExecution(thing, job string) (store.JobExecution, error)
	ThingJobExecutions(thing string) ([]store.JobExecution, error)
	JobExecutions(job string) ([]store.JobExecution, error)
	UpdateJobExecution(thing, job string, fn func(j *store.Job, e *store.JobExecution) error) (store.Job, store.JobExecution, error)
	DeleteJob(id string) error
}

// Devices lists the registered devices, to resolve a job's targets;
// *device.Registry implements it.
type Devices interface {
	Devices(f store.DeviceFilter) ([]store.Device, error)
	Device(name string) (store.Device, error)
}

// Publisher sends a message to devices; *broker.Outbound implements it.
type Publisher interface {
	Publish(topic string, payload []byte, qos byte) error
}

// Artifacts are the files jobs refer to; *artifact.Store implements it.
type Artifacts interface {
	Get(name string) (artifact.Artifact, error) // an error wrapping store.ErrNotFound for an unknown name
	SignedURL(name string, ttl time.Duration) (string, error)
}

// Calendars say what a device's operating calendar says, for maintenance
// windows.
type Calendars interface {
	// Zone is the time zone of the device's calendar; ok false without one.
	Zone(device string) (loc *time.Location, ok bool)
	// Idle reports whether the device's program has it off at t; ok false
	// without a calendar.
	Idle(device string, t time.Time) (idle, ok bool)
}

// Deps are what the service works with. Artifacts and Calendars may be nil.
type Deps struct {
	Store     Store
	Devices   Devices
	Publisher Publisher
	Artifacts Artifacts
	Calendars Calendars
	Logger    *slog.Logger
}

// Config tunes the service; zero values take the defaults.
type Config struct {
	Now       func() time.Time
	Tick      time.Duration // how often rollouts and timeouts are looked at; 1s
	URLExpiry time.Duration // lifetime of a signed artifact URL in a document; 1h
	// DefaultTimeZone is a maintenance window's zone for a device without
	// a calendar when the job names none; Asia/Tokyo.
	DefaultTimeZone string
}

// Service runs jobs.
type Service struct {
	d    Deps
	cfg  Config
	now  func() time.Time
	zone *time.Location
	log  *slog.Logger

	mu        sync.Mutex
	active    map[string]bool       // jobs in progress
	deadlines map[execKey]time.Time // executions in progress that can time out
	wake      chan struct{}
	cancel    context.CancelFunc
	done      chan struct{}
}

type execKey struct{ thing, job string }

// New builds the service; Start runs its rollouts.
func New(d Deps, cfg Config) (*Service, error) {
	if d.Store == nil || d.Devices == nil || d.Publisher == nil {
		return nil, errors.New("jobs: a store, the devices and a publisher are required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.URLExpiry <= 0 {
		cfg.URLExpiry = time.Hour
	}
	if cfg.DefaultTimeZone == "" {
		cfg.DefaultTimeZone = "Asia/Tokyo"
	}
	zone, err := time.LoadLocation(cfg.DefaultTimeZone)
	if err != nil {
		return nil, fmt.Errorf("jobs: time zone %q: %w", cfg.DefaultTimeZone, err)
	}
	return &Service{
		d: d, cfg: cfg, now: cfg.Now, zone: zone, log: d.Logger,
		active: map[string]bool{}, deadlines: map[execKey]time.Time{}, wake: make(chan struct{}, 1),
	}, nil
}

// Load reads the jobs in progress and the deadlines of their executions.
func (s *Service) Load() error {
	jobs, err := s.d.Store.ListJobs()
	if err != nil {
		return fmt.Errorf("load jobs: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range jobs {
		if j.Counts[protocol.JobInProgress] > 0 || j.Status == store.JobActive {
			execs, err := s.d.Store.JobExecutions(j.ID)
			if err != nil {
				return fmt.Errorf("load the executions of job %q: %w", j.ID, err)
			}
			for _, e := range execs {
				if at, ok := deadline(j, e); ok {
					s.deadlines[execKey{e.Thing, j.ID}] = at
				}
			}
		}
		if j.Status == store.JobActive {
			s.active[j.ID] = true
		}
	}
	return nil
}

// Start loads the jobs and runs their rollouts until Stop.
func (s *Service) Start(ctx context.Context) error {
	if err := s.Load(); err != nil {
		return err
	}
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.done = make(chan struct{})
	go s.loop(ctx)
	return nil
}

// Stop ends the rollouts.
func (s *Service) Stop(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop jobs: %w", ctx.Err())
	}
}

func (s *Service) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		s.RunDue()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// Wake makes the loop look at the jobs now.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Errors of Create and Cancel that the caller is to show: what was wrong.
var (
	ErrInvalid  = errors.New("invalid job")
	ErrNotFound = store.ErrNotFound
	ErrExists   = store.ErrExists
	ErrState    = errors.New("not possible in the job's state")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// MaxDocument is the largest job document, as AWS IoT allows.
const MaxDocument = 32 << 10

// placeholder matches a document's artifact placeholders.
var placeholder = regexp.MustCompile(`\$\{hearth:artifact-(url|sha256|size|signature):([A-Za-z0-9._-]{1,128})\}`)

// Create checks a new job, resolves its targets and stores it; its
// rollout begins at once.
func (s *Service) Create(j store.Job, by string) (store.Job, error) {
	if err := s.check(&j); err != nil {
		return store.Job{}, err
	}
	targets, customers, err := s.resolve(j.Targets)
	if err != nil {
		return store.Job{}, err
	}
	now := s.now().UTC()
	j.Status, j.Reason, j.Counts, j.Released, j.CompletedAt = store.JobActive, "", map[string]int{}, 0, nil
	j.CreatedAt, j.UpdatedAt, j.CreatedBy, j.Customers = now, now, by, customers
	j.RateWindow, j.RateCount = time.Time{}, 0
	if err := s.d.Store.CreateJob(j, targets); err != nil {
		if errors.Is(err, store.ErrExists) {
			return store.Job{}, fmt.Errorf("%w: a job %q exists already", ErrExists, j.ID)
		}
		return store.Job{}, err
	}
	j.Total = len(targets)
	s.mu.Lock()
	s.active[j.ID] = true
	s.mu.Unlock()
	s.Wake()
	return j, nil
}

// check refuses a job whose fields are wrong, saying which.
func (s *Service) check(j *store.Job) error {
	if !protocol.IsValidJobID(j.ID) {
		return invalid("id %q: 1 to 64 letters, digits, '-' and '_'", j.ID)
	}
	if len(j.Description) > 2028 {
		return invalid("description: at most 2028 characters")
	}
	if len(j.Document) == 0 {
		return invalid("document: required, a JSON object")
	}
	if len(j.Document) > MaxDocument {
		return invalid("document: %d bytes; at most %d", len(j.Document), MaxDocument)
	}
	var doc map[string]any
	if err := json.Unmarshal(j.Document, &doc); err != nil || doc == nil {
		return invalid("document: a JSON object is expected")
	}
	compact, _ := json.Marshal(doc) // a canonical document: no stray whitespace
	j.Document = compact
	for _, m := range placeholder.FindAllStringSubmatch(string(j.Document), -1) {
		if s.d.Artifacts == nil {
			return invalid("document: names artifact %q, and this server keeps no artifacts", m[2])
		}
		if _, err := s.d.Artifacts.Get(m[2]); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return invalid("document: no artifact %q; upload it first", m[2])
			}
			return err
		}
	}
	if rest := placeholder.ReplaceAllString(string(j.Document), ""); strings.Contains(rest, "${hearth:") {
		return invalid("document: a ${hearth:…} placeholder is not one of ${hearth:artifact-url|sha256|size|signature:NAME}")
	}
	t := j.Targets
	if len(t.Devices)+len(t.Sites)+len(t.DeviceTypes)+len(t.Customers) == 0 {
		return invalid("targets: name devices, sites, device_types or customers")
	}
	r := j.Rollout
	switch {
	case r.MaximumPerMinute < 0 || r.MaximumPerMinute > 100_000:
		return invalid("rollout.maximum_per_minute: 0 (no limit) to 100000")
	case r.BaseRatePerMinute < 0 || r.BaseRatePerMinute > 100_000:
		return invalid("rollout.base_rate_per_minute: 0 (no exponential rollout) to 100000")
	case r.BaseRatePerMinute > 0 && (r.IncrementFactor < 1.1 || r.IncrementFactor > 5):
		return invalid("rollout.increment_factor: 1.1 to 5 with an exponential rollout")
	case r.BaseRatePerMinute > 0 && r.IncreaseEvery < 1:
		return invalid("rollout.increase_every: at least 1 with an exponential rollout")
	case r.BaseRatePerMinute == 0 && (r.IncrementFactor != 0 || r.IncreaseEvery != 0 || r.IncreaseOnSucceeded):
		return invalid("rollout: increment_factor and increase_every need base_rate_per_minute")
	}
	for i, a := range j.Abort {
		switch {
		case !slices.Contains([]string{protocol.JobFailed, protocol.JobRejected, protocol.JobTimedOut, "ALL"}, a.FailureType):
			return invalid("abort[%d].failure_type: FAILED, REJECTED, TIMED_OUT or ALL", i)
		case a.ThresholdPercentage <= 0 || a.ThresholdPercentage > 100:
			return invalid("abort[%d].threshold_percentage: more than 0, at most 100", i)
		case a.MinExecuted < 1:
			return invalid("abort[%d].min_executed: at least 1", i)
		}
	}
	if j.TimeoutMinutes < 0 || j.TimeoutMinutes > 10080 {
		return invalid("timeout_minutes: 0 (none) to 10080 (a week)")
	}
	if w := j.Window; w != nil {
		if (w.Start == "") != (w.End == "") {
			return invalid("maintenance_window: start and end go together")
		}
		if w.Start == "" && !w.WhenIdle {
			return invalid("maintenance_window: give start and end (HH:MM), when_idle, or both")
		}
		if w.Start != "" {
			a, errA := clock(w.Start)
			b, errB := clock(w.End)
			if errA != nil || errB != nil || a == b {
				return invalid("maintenance_window: start and end are HH:MM and differ")
			}
		}
		if w.TimeZone != "" {
			if _, err := time.LoadLocation(w.TimeZone); err != nil {
				return invalid("maintenance_window.time_zone %q is not a known time zone", w.TimeZone)
			}
		}
	}
	return nil
}

// clock parses HH:MM into minutes of the day.
func clock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

// resolve lists the devices a job's targets name, each once, in name
// order, and their customers.
func (s *Service) resolve(t store.JobTargets) ([]store.JobTarget, []string, error) {
	all, err := s.d.Devices.Devices(store.DeviceFilter{})
	if err != nil {
		return nil, nil, err
	}
	type site struct{ customer, name string }
	sites := map[site]bool{}
	for _, name := range t.Sites {
		if c, n, ok := strings.Cut(name, "/"); ok {
			sites[site{c, n}] = true
			continue
		}
		var owners []string
		for _, d := range all {
			if d.Site == name && !slices.Contains(owners, d.Customer) {
				owners = append(owners, d.Customer)
			}
		}
		switch len(owners) {
		case 0:
			return nil, nil, invalid("targets.sites: no devices on a site %q", name)
		case 1:
			sites[site{owners[0], name}] = true
		default:
			return nil, nil, invalid("targets.sites: customers %s each have a site %q; write customer/site", strings.Join(owners, ", "), name)
		}
	}
	byName := map[string]store.Device{}
	for _, d := range all {
		byName[d.Name] = d
	}
	for _, name := range t.Devices {
		if _, ok := byName[name]; !ok {
			return nil, nil, invalid("targets.devices: no device %q", name)
		}
	}
	var out []store.JobTarget
	var customers []string
	for _, d := range all {
		if slices.Contains(t.Devices, d.Name) || sites[site{d.Customer, d.Site}] ||
			slices.Contains(t.DeviceTypes, d.Type) || slices.Contains(t.Customers, d.Customer) {
			out = append(out, store.JobTarget{Thing: d.Name, Customer: d.Customer, Site: d.Site})
			if !slices.Contains(customers, d.Customer) {
				customers = append(customers, d.Customer)
			}
		}
	}
	if len(out) == 0 {
		return nil, nil, invalid("targets: no device matches")
	}
	slices.SortFunc(out, func(a, b store.JobTarget) int { return strings.Compare(a.Thing, b.Thing) })
	slices.Sort(customers)
	return out, customers, nil
}

// Cancel cancels a job in progress: targets not yet released never get
// it, queued executions are CANCELED, and with force so are those in
// progress (a device that goes on with one is refused its updates).
func (s *Service) Cancel(id string, force bool, reason string) (store.Job, error) {
	now := s.now().UTC()
	var before []store.JobExecution
	job, changed, err := s.d.Store.ChangeJob(id, func(j *store.Job, pending []store.JobExecution, _ int) (bool, error) {
		before = slices.Clone(pending)
		if j.Status != store.JobActive && !(force && j.Status == store.JobCanceled) {
			return false, fmt.Errorf("%w: job %q is %s", ErrState, id, j.Status)
		}
		if j.Status == store.JobActive {
			j.Status, j.Reason = store.JobCanceled, reason
			j.CompletedAt = &now
		}
		j.UpdatedAt = now
		cancelExecutions(pending, force, now)
		return true, nil
	})
	if err != nil {
		return job, err
	}
	s.mu.Lock()
	delete(s.active, id)
	s.mu.Unlock()
	s.ended(before, changed)
	return job, nil
}

// cancelExecutions cancels the queued executions, and with force those in
// progress.
func cancelExecutions(pending []store.JobExecution, force bool, now time.Time) {
	for i := range pending {
		e := &pending[i]
		if e.Status == protocol.JobQueued || force && e.Status == protocol.JobInProgress {
			e.Status, e.LastUpdatedAt, e.StepTimeoutAt = protocol.JobCanceled, now, nil
			e.VersionNumber++
		}
	}
}

// ended tells the devices whose executions the server ended, which were
// before as given.
func (s *Service) ended(before, changed []store.JobExecution) {
	s.mu.Lock()
	for _, e := range changed {
		delete(s.deadlines, execKey{e.Thing, e.JobID})
	}
	s.mu.Unlock()
	for _, e := range changed {
		i := slices.IndexFunc(before, func(b store.JobExecution) bool { return b.Thing == e.Thing })
		if i >= 0 {
			s.notify(e.Thing, e.JobID, &before[i])
		}
	}
}

// Delete removes a job that is over, with its executions.
func (s *Service) Delete(id string) error {
	err := s.d.Store.DeleteJob(id)
	if errors.Is(err, store.ErrInvalid) {
		return fmt.Errorf("%w: job %q is in progress; cancel it first", ErrState, id)
	}
	return err
}

// deadline is when an execution in progress times out: its step timer or
// the job's in-progress timeout, whichever comes first.
func deadline(j store.Job, e store.JobExecution) (time.Time, bool) {
	if e.Status != protocol.JobInProgress {
		return time.Time{}, false
	}
	var at time.Time
	if e.StepTimeoutAt != nil {
		at = *e.StepTimeoutAt
	}
	if j.TimeoutMinutes > 0 && e.StartedAt != nil {
		t := e.StartedAt.Add(time.Duration(j.TimeoutMinutes) * time.Minute)
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	return at, !at.IsZero()
}

// rate is how many targets the rollout may release in the current minute.
func rate(j store.Job) int {
	r := j.Rollout
	max := r.MaximumPerMinute
	if r.BaseRatePerMinute > 0 {
		n := j.Released
		if r.IncreaseOnSucceeded {
			n = j.Counts[protocol.JobSucceeded]
		}
		v := float64(r.BaseRatePerMinute) * math.Pow(r.IncrementFactor, float64(n/r.IncreaseEvery))
		if max == 0 || v < float64(max) {
			max = int(math.Min(v, 1e9))
		}
	}
	if max == 0 {
		return math.MaxInt32
	}
	return max
}

// substitute replaces a document's artifact placeholders for one
// execution.
func (s *Service) substitute(doc []byte) ([]byte, error) {
	if s.d.Artifacts == nil || !placeholder.Match(doc) {
		return doc, nil
	}
	var failed error
	out := placeholder.ReplaceAllFunc(doc, func(m []byte) []byte {
		sub := placeholder.FindSubmatch(m)
		kind, name := string(sub[1]), string(sub[2])
		var v string
		switch kind {
		case "url":
			u, err := s.d.Artifacts.SignedURL(name, s.cfg.URLExpiry)
			if err != nil {
				failed = err
				return m
			}
			v = u
		default:
			a, err := s.d.Artifacts.Get(name)
			if err != nil {
				failed = err
				return m
			}
			v = map[string]string{"sha256": a.SHA256, "size": strconv.FormatInt(a.Size, 10), "signature": a.Signature}[kind]
		}
		q, _ := json.Marshal(v)
		return q[1 : len(q)-1] // inside the document's string already
	})
	if failed != nil {
		return nil, fmt.Errorf("artifact in the job document: %w", failed)
	}
	return out, nil
}
