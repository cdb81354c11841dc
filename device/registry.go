package device

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hearthiot/hearth/device/ca"
	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// Sentinel errors of authentication. Both are wrapped with context; check
// them with errors.Is.
var (
	// ErrBadCredentials: the device is unknown or the secret or certificate
	// matches none of its credentials.
	ErrBadCredentials = errors.New("bad credentials")
	// ErrRevoked: the secret or certificate is one of the device's revoked
	// credentials, worth telling apart in logs from a mistyped secret.
	ErrRevoked = errors.New("credential revoked")
)

// Limits of a device's descriptive fields. They follow AWS IoT's thing
// attributes, so records move between the two unchanged.
const (
	MaxTypeLength           = 64
	MaxAttributes           = 64
	MaxAttributeNameLength  = 128
	MaxAttributeValueLength = 800
	MaxDisplayNameLength    = 128
)

// CertificateValidity is the lifetime of a device's client certificate.
// Devices in plant rooms run for years without anyone at hand to renew a
// certificate, so it is long; a leaked one is revoked instead.
const CertificateValidity = 10 * 365 * 24 * time.Hour

// secretBytes is the entropy of a device secret: 256 bits.
const secretBytes = 32

// DeviceSpec describes a device to create. Site "" means store.DefaultSite.
type DeviceSpec struct {
	Name        string
	DisplayName string // what people call it; optional
	Customer    string
	Site        string
	Type        string
	Attributes  map[string]string
}

// Issued is the result of issuing credentials: the stored device and the
// secrets, which are shown once and never stored (only the secret's hash and
// the certificate's fingerprint are).
type Issued struct {
	Device         store.Device
	Secret         string
	CertificatePEM string
	PrivateKeyPEM  string
	CAPEM          string
}

// Registry is the device registry: it validates and stores devices, issues
// and revokes their credentials, and answers the per-connection and
// per-message questions (who is this, may it still connect, whose data is
// this) from an in-memory cache, so the broker never waits on the file.
//
// Every write goes to the store first; the cache changes only after the
// store committed. It is safe for concurrent use.
type Registry struct {
	st     *store.Store
	ca     *ca.CA
	logger *slog.Logger

	// cacheMu guards cache, which maps a device name to its access
	// record, with only the credentials authentication accepts (usable).
	// Entries are never modified, only replaced, so a reader may use one
	// after letting go of the lock. A plain map under a lock rather than
	// a sync.Map: it is filled at start and walked by Summaries several
	// times more quickly, and the lookups of the message path are a read
	// lock each.
	cacheMu sync.RWMutex
	cache   map[string]*store.DeviceAccess
	// summaries is Summaries' answer, made from cache when first asked
	// after a change (nil until then): at start the device topics, the
	// scheduler and the alarms each ask for it.
	summaries []DeviceSummary
	// writeMu orders writes, so that the cache ends in the state of the
	// last commit even when two writes to one device race.
	writeMu sync.Mutex

	hooksMu sync.Mutex
	hooks   []func(name string)
}

// NewRegistry loads every device of st into memory and returns the
// registry. authority issues the devices' client certificates.
func NewRegistry(st *store.Store, authority *ca.CA, logger *slog.Logger) (*Registry, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{st: st, ca: authority, logger: logger}
	// The access records hold what the cache needs, a small part of
	// each device's record: reading them instead of the records is what
	// keeps a start with tens of thousands of devices short. They are
	// the cache's entries as they come, rather than copies: making tens
	// of thousands of small allocations cost more than reading them.
	devices, err := st.ListDeviceAccess()
	if err != nil {
		return nil, fmt.Errorf("load device registry: %w", err)
	}
	r.cache = make(map[string]*store.DeviceAccess, len(devices))
	r.summaries = make([]DeviceSummary, 0, len(devices))
	for i := range devices {
		d := &devices[i]
		r.keepUsable(d)
		r.cache[d.Name] = d
		r.summaries = append(r.summaries, DeviceSummary{Name: d.Name, Customer: d.Customer, Site: d.Site, Type: d.Type})
	}
	logger.Info("loaded device registry", "devices", len(devices))
	return r, nil
}

// toCache makes the cache entry of d.
func (r *Registry) toCache(d store.Device) *store.DeviceAccess {
	a := d.Access()
	r.keepUsable(&a)
	return &a
}

// usable tells whether authentication can use a credential: one of a
// known kind, and for a certificate a fingerprint that was hex. The store
// accepts no other, so keepUsable is only a safeguard.
func usable(cr store.CredentialAccess) bool {
	switch cr.Kind {
	case store.CredentialSecret:
		return true
	case store.CredentialCertificate:
		return cr.Digest != ""
	}
	return false
}

// keepUsable drops from d the credentials that are not usable, saying
// why; such a credential is refused like a wrong one.
func (r *Registry) keepUsable(d *store.DeviceAccess) {
	if !slices.ContainsFunc(d.Credentials, func(cr store.CredentialAccess) bool { return !usable(cr) }) {
		return
	}
	kept := make([]store.CredentialAccess, 0, len(d.Credentials))
	for _, cr := range d.Credentials {
		switch {
		case usable(cr):
			kept = append(kept, cr)
		case cr.Kind == store.CredentialCertificate:
			r.logger.Warn("credential has an unreadable fingerprint; it will be refused", "device", d.Name, "credential", cr.ID)
		default:
			r.logger.Warn("credential has an unknown kind; it will be refused", "device", d.Name, "credential", cr.ID, "kind", cr.Kind)
		}
	}
	d.Credentials = kept
}

func (r *Registry) cached(name string) (*store.DeviceAccess, bool) {
	r.cacheMu.RLock()
	c, ok := r.cache[name]
	r.cacheMu.RUnlock()
	return c, ok
}

// setCached replaces the cache entry of d.
func (r *Registry) setCached(d store.Device) {
	c := r.toCache(d)
	r.cacheMu.Lock()
	r.cache[d.Name] = c
	r.summaries = nil
	r.cacheMu.Unlock()
}

// OnChange registers fn, called synchronously after commit with the device
// name whenever a device is created, changed or deleted or its credentials
// change, so that the broker can drop sessions whose credential is no
// longer active and the scheduler give a new device its calendar.
// fn runs outside the registry's locks and may call the registry.
func (r *Registry) OnChange(fn func(name string)) {
	r.hooksMu.Lock()
	defer r.hooksMu.Unlock()
	r.hooks = append(r.hooks, fn)
}

func (r *Registry) changed(name string) {
	r.hooksMu.Lock()
	hooks := slices.Clone(r.hooks)
	r.hooksMu.Unlock()
	for _, fn := range hooks {
		fn(name)
	}
}

// CreateCustomer stores a new customer (and its default site) and returns
// it as stored.
func (r *Registry) CreateCustomer(c store.Customer) (store.Customer, error) {
	if err := r.st.CreateCustomer(c); err != nil {
		return store.Customer{}, err
	}
	return r.st.GetCustomer(c.Name)
}

// CreateSite stores a new site of an existing customer and returns it as
// stored.
func (r *Registry) CreateSite(s store.Site) (store.Site, error) {
	if err := r.st.CreateSite(s); err != nil {
		return store.Site{}, err
	}
	return r.st.GetSite(s.Customer, s.Name)
}

// SetCustomerDisplayName changes the name a customer is shown by.
func (r *Registry) SetCustomerDisplayName(name, display string) (store.Customer, error) {
	return r.st.SetCustomerDisplayName(name, display)
}

// SetSiteDisplayName changes the name a site is shown by.
func (r *Registry) SetSiteDisplayName(customer, name, display string) (store.Site, error) {
	return r.st.SetSiteDisplayName(customer, name, display)
}

// UpdateSite changes a site's display name, address or time zone.
func (r *Registry) UpdateSite(customer, name string, change store.SiteChange) (store.Site, error) {
	return r.st.UpdateSite(customer, name, change)
}

// DeviceChange is what an operator changes of a device; nil fields stay
// as they are. A device keeps its name and customer.
type DeviceChange struct {
	Site        *string // another site of the device's customer
	Type        *string // "" removes the type
	DisplayName *string // "" removes it
	Attributes  map[string]string
}

// UpdateDevice applies change to the device and returns it as stored.
// Moving it to a site that does not exist is store.ErrNotFound; rule
// violations wrap ErrInvalid.
func (r *Registry) UpdateDevice(name string, change DeviceChange) (store.Device, error) {
	d, err := r.update(name, func(d *store.Device) error {
		if change.Site != nil {
			d.Site = *change.Site
		}
		if change.Type != nil {
			d.Type = *change.Type
		}
		if change.DisplayName != nil {
			d.DisplayName = *change.DisplayName
		}
		if change.Attributes != nil {
			d.Attributes = change.Attributes
		}
		return validateSpec(DeviceSpec{Name: d.Name, DisplayName: d.DisplayName, Customer: d.Customer, Site: d.Site, Type: d.Type, Attributes: d.Attributes})
	})
	if err != nil {
		return store.Device{}, fmt.Errorf("update device %q: %w", name, err)
	}
	r.changed(name)
	return d, nil
}

// CreateDevice validates spec, issues the device's first credentials (a
// secret and a client certificate with CN = name) and stores the device.
// Rule violations wrap ErrInvalid; a missing customer or site and a taken
// name come from the store (store.ErrNotFound, store.ErrExists).
func (r *Registry) CreateDevice(spec DeviceSpec) (Issued, error) {
	if err := validateSpec(spec); err != nil {
		return Issued{}, fmt.Errorf("create device %q: %w", spec.Name, err)
	}
	site := spec.Site
	if site == "" {
		site = store.DefaultSite
	}
	now := time.Now().UTC()
	iss, creds, err := r.issue(spec.Name, now)
	if err != nil {
		return Issued{}, fmt.Errorf("create device %q: %w", spec.Name, err)
	}
	d := store.Device{
		Name:        spec.Name,
		DisplayName: spec.DisplayName,
		Customer:    spec.Customer,
		Site:        site,
		Type:        spec.Type,
		Attributes:  maps.Clone(spec.Attributes),
		CreatedAt:   now,
		Credentials: creds,
	}

	if err := r.storeNew(d); err != nil {
		return Issued{}, err
	}
	r.logger.Info("created device", "device", d.Name, "customer", d.Customer, "site", d.Site)
	r.changed(d.Name)
	iss.Device = d
	return iss, nil
}

// CreateDevices validates every spec, issues each device's first
// credentials and stores them all in one transaction: all are created, or
// none.
func (r *Registry) CreateDevices(specs []DeviceSpec) ([]Issued, error) {
	out := make([]Issued, 0, len(specs))
	ds := make([]store.Device, 0, len(specs))
	now := time.Now().UTC()
	for _, spec := range specs {
		if err := validateSpec(spec); err != nil {
			return nil, fmt.Errorf("create device %q: %w", spec.Name, err)
		}
		iss, creds, err := r.issue(spec.Name, now)
		if err != nil {
			return nil, fmt.Errorf("create device %q: %w", spec.Name, err)
		}
		site := spec.Site
		if site == "" {
			site = store.DefaultSite
		}
		iss.Device = store.Device{
			Name: spec.Name, DisplayName: spec.DisplayName, Customer: spec.Customer, Site: site, Type: spec.Type,
			Attributes: maps.Clone(spec.Attributes), CreatedAt: now, Credentials: creds,
		}
		out = append(out, iss)
		ds = append(ds, iss.Device)
	}
	r.writeMu.Lock()
	err := r.st.CreateDevices(ds)
	if err == nil {
		for _, d := range ds {
			r.setCached(d)
		}
	}
	r.writeMu.Unlock()
	if err != nil {
		return nil, err
	}
	r.logger.Info("created devices", "devices", len(ds))
	for _, d := range ds {
		r.changed(d.Name)
	}
	return out, nil
}

// storeNew stores a new device and caches it.
func (r *Registry) storeNew(d store.Device) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if err := r.st.CreateDevice(d); err != nil {
		return err
	}
	r.setCached(d)
	return nil
}

// RotateCredentials revokes every active credential of the device and
// issues a new secret and certificate, in one store transaction.
func (r *Registry) RotateCredentials(name string) (Issued, error) {
	if _, ok := r.cached(name); !ok {
		if _, err := r.st.GetDevice(name); err != nil {
			return Issued{}, fmt.Errorf("rotate credentials: %w", err)
		}
	}
	now := time.Now().UTC()
	iss, creds, err := r.issue(name, now)
	if err != nil {
		return Issued{}, fmt.Errorf("rotate credentials of device %q: %w", name, err)
	}
	var revoked int
	d, err := r.update(name, func(d *store.Device) error {
		revoked = revoke(d, "", now)
		d.Credentials = append(d.Credentials, creds...)
		return nil
	})
	if err != nil {
		return Issued{}, fmt.Errorf("rotate credentials: %w", err)
	}
	r.logger.Info("rotated device credentials", "device", name, "revoked", revoked)
	r.changed(name)
	iss.Device = d
	return iss, nil
}

// RevokeCredentials revokes the credential with the given ID, or every
// active credential when credentialID is "". Revoking an already revoked
// credential changes nothing; an unknown ID is store.ErrNotFound.
func (r *Registry) RevokeCredentials(name, credentialID string) (store.Device, error) {
	now := time.Now().UTC()
	var revoked int
	d, err := r.update(name, func(d *store.Device) error {
		if credentialID != "" && !slices.ContainsFunc(d.Credentials, func(c store.Credential) bool { return c.ID == credentialID }) {
			return fmt.Errorf("credential %q: %w", credentialID, store.ErrNotFound)
		}
		revoked = revoke(d, credentialID, now)
		return nil
	})
	if err != nil {
		return store.Device{}, fmt.Errorf("revoke credentials: %w", err)
	}
	if revoked > 0 {
		r.logger.Info("revoked device credentials", "device", name, "revoked", revoked)
		r.changed(name)
	}
	return d, nil
}

// revoke marks the active credential id, or all active ones for "", as
// revoked at now, and returns how many it revoked.
func revoke(d *store.Device, id string, now time.Time) int {
	n := 0
	for i := range d.Credentials {
		c := &d.Credentials[i]
		if c.Active() && (id == "" || c.ID == id) {
			c.RevokedAt = &now
			n++
		}
	}
	return n
}

// update applies fn to the stored device and refreshes the cache from the
// committed result.
func (r *Registry) update(name string, fn func(*store.Device) error) (store.Device, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	d, err := r.st.UpdateDevice(name, fn)
	if err != nil {
		return store.Device{}, err
	}
	r.setCached(d)
	return d, nil
}

// DeleteDevice removes the device; its credentials stop working at once.
func (r *Registry) DeleteDevice(name string) error {
	r.writeMu.Lock()
	err := r.st.DeleteDevice(name)
	if err == nil {
		r.cacheMu.Lock()
		delete(r.cache, name)
		r.summaries = nil
		r.cacheMu.Unlock()
	}
	r.writeMu.Unlock()
	if err != nil {
		return err
	}
	r.logger.Info("deleted device", "device", name)
	r.changed(name)
	return nil
}

// Device returns the stored device.
func (r *Registry) Device(name string) (store.Device, error) { return r.st.GetDevice(name) }

// Devices returns the stored devices that match f.
func (r *Registry) Devices(f store.DeviceFilter) ([]store.Device, error) {
	return r.st.ListDevices(f)
}

// PageDevices returns one page of the stored devices that match q.
func (r *Registry) PageDevices(q store.DeviceQuery) (store.DevicePage, error) {
	return r.st.PageDevices(q)
}

// Labels returns the customer and site of a device from memory. The ingest
// path calls it for every telemetry message.
func (r *Registry) Labels(name string) (customer, site string, ok bool) {
	c, ok := r.cached(name)
	if !ok {
		return "", "", false
	}
	return c.Customer, c.Site, true
}

// Type returns the type of a device from memory; the shadow service asks
// it for every update, to find the settings that apply.
func (r *Registry) Type(name string) (string, bool) {
	c, ok := r.cached(name)
	if !ok {
		return "", false
	}
	return c.Type, true
}

// AuthenticateSecret checks a device's secret and returns the ID of the
// credential it matched.
//
// Secrets are 32 random bytes, so guessing one is hopeless whatever the
// hash; a deliberately slow hash (argon2, bcrypt) would add no safety but
// would cost every connection tens of milliseconds of CPU and turn a
// reconnect storm of the whole fleet into an outage. SHA-256 is compared in
// constant time.
func (r *Registry) AuthenticateSecret(name, secret string) (credentialID string, err error) {
	c, ok := r.cached(name)
	if !ok {
		return "", fmt.Errorf("device %q is not registered: %w", name, ErrBadCredentials)
	}
	sum := sha256.Sum256([]byte(secret))
	return match(c, name, store.CredentialSecret, sum[:])
}

// AuthenticateCertificate identifies a device by its client certificate,
// which TLS has already verified against the CA: the CN names the device,
// and the certificate's SHA-256 must be one of its active credentials. A
// certificate of a revoked credential, or of another device, is refused
// though it is validly signed.
func (r *Registry) AuthenticateCertificate(cert *x509.Certificate) (name, credentialID string, err error) {
	if cert == nil {
		return "", "", fmt.Errorf("no client certificate: %w", ErrBadCredentials)
	}
	name = cert.Subject.CommonName
	c, ok := r.cached(name)
	if !ok {
		return "", "", fmt.Errorf("device %q is not registered: %w", name, ErrBadCredentials)
	}
	sum := sha256.Sum256(cert.Raw)
	id, err := match(c, name, store.CredentialCertificate, sum[:])
	if err != nil {
		return "", "", err
	}
	return name, id, nil
}

func match(c *store.DeviceAccess, name, kind string, digest []byte) (string, error) {
	for _, cr := range c.Credentials {
		if cr.Kind != kind || subtle.ConstantTimeCompare([]byte(cr.Digest), digest) != 1 {
			continue
		}
		if !cr.Active() {
			return "", fmt.Errorf("device %q credential %q: %w", name, cr.ID, ErrRevoked)
		}
		return cr.ID, nil
	}
	return "", fmt.Errorf("device %q: no %s credential matches: %w", name, kind, ErrBadCredentials)
}

// CredentialActive reports whether the device exists and its credential is
// still active; the broker asks it for connected sessions after OnChange.
func (r *Registry) CredentialActive(name, credentialID string) bool {
	c, ok := r.cached(name)
	if !ok {
		return false
	}
	for _, cr := range c.Credentials {
		if cr.ID == credentialID {
			return cr.Active()
		}
	}
	return false
}

// issue makes a new secret and client certificate for device name and
// returns them with their credential records.
func (r *Registry) issue(name string, now time.Time) (Issued, []store.Credential, error) {
	raw := make([]byte, secretBytes)
	if _, err := rand.Read(raw); err != nil {
		return Issued{}, nil, fmt.Errorf("generate secret: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(secret))

	certPEM, keyPEM, cert, err := r.ca.IssueClient(name, CertificateValidity)
	if err != nil {
		return Issued{}, nil, err
	}
	fp := sha256.Sum256(cert.Raw)

	secretID, err := credentialID()
	if err != nil {
		return Issued{}, nil, err
	}
	certID, err := credentialID()
	if err != nil {
		return Issued{}, nil, err
	}
	for certID == secretID {
		if certID, err = credentialID(); err != nil {
			return Issued{}, nil, err
		}
	}
	creds := []store.Credential{
		{ID: secretID, Kind: store.CredentialSecret, SecretHash: sum[:], CreatedAt: now},
		{
			ID:          certID,
			Kind:        store.CredentialCertificate,
			CertSerial:  cert.SerialNumber.Text(16),
			Fingerprint: hex.EncodeToString(fp[:]),
			NotAfter:    cert.NotAfter.UTC(),
			CreatedAt:   now,
		},
	}
	return Issued{
		Secret:         secret,
		CertificatePEM: string(certPEM),
		PrivateKeyPEM:  string(keyPEM),
		CAPEM:          string(r.ca.CertPEM()),
	}, creds, nil
}

// credentialID returns 8 random bytes in hex: short enough to read out on
// the phone, and collisions among one device's few credentials are
// negligible (and checked by the store).
func credentialID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate credential id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// validateSpec applies the registry's rules to a new device.
func validateSpec(spec DeviceSpec) error {
	if err := protocol.ValidName(spec.Name); err != nil {
		return err
	}
	if len(spec.Type) > MaxTypeLength {
		return fmt.Errorf("type is %d bytes long; at most %d are allowed: %w", len(spec.Type), MaxTypeLength, ErrInvalid)
	}
	if !printable(spec.Type) {
		return fmt.Errorf("type %q has characters that are not printable: %w", spec.Type, ErrInvalid)
	}
	if len(spec.DisplayName) > MaxDisplayNameLength {
		return fmt.Errorf("display name is %d bytes long; at most %d are allowed: %w", len(spec.DisplayName), MaxDisplayNameLength, ErrInvalid)
	}
	if !printable(spec.DisplayName) {
		return fmt.Errorf("display name %q has characters that are not printable: %w", spec.DisplayName, ErrInvalid)
	}
	if len(spec.Attributes) > MaxAttributes {
		return fmt.Errorf("device has %d attributes; at most %d are allowed: %w", len(spec.Attributes), MaxAttributes, ErrInvalid)
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Attributes)) {
		v := spec.Attributes[k]
		if k == "" || len(k) > MaxAttributeNameLength {
			return fmt.Errorf("attribute name %q must be 1 to %d bytes long: %w", k, MaxAttributeNameLength, ErrInvalid)
		}
		for i := 0; i < len(k); i++ {
			if !attributeNameByte(k[i]) {
				return fmt.Errorf("attribute name %q has %q; only letters, digits and _ . , @ / : # - are allowed: %w", k, k[i], ErrInvalid)
			}
		}
		if len(v) > MaxAttributeValueLength {
			return fmt.Errorf("attribute %q is %d bytes long; at most %d are allowed: %w", k, len(v), MaxAttributeValueLength, ErrInvalid)
		}
		if !printable(v) {
			return fmt.Errorf("attribute %q has characters that are not printable: %w", k, ErrInvalid)
		}
	}
	return nil
}

// attributeNameByte is AWS IoT's character set for attribute names: a
// thing name's (protocol.ValidName) and . , @ / #.
func attributeNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == ':' || c == '_' || c == '-' || c == '.' || c == ',' || c == '@' || c == '/' || c == '#'
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// DeviceSummary is what the registry keeps in memory of every device
// besides its credentials: enough to route its topics, resolve its
// calendar or watch it for alarms without reading its record.
type DeviceSummary struct {
	Name, Customer, Site, Type string
}

// Summaries returns every registered device's summary from memory, in no
// particular order: what Devices(store.DeviceFilter{}) says of them,
// without reading and decoding each record, which at start with tens of
// thousands of devices took most of the time. The slice is shared by
// every caller until a device changes: read it, never modify it.
func (r *Registry) Summaries() []DeviceSummary {
	r.cacheMu.RLock()
	sums := r.summaries
	r.cacheMu.RUnlock()
	if sums == nil {
		r.cacheMu.Lock()
		if r.summaries == nil {
			r.summaries = make([]DeviceSummary, 0, len(r.cache))
			for name, c := range r.cache {
				r.summaries = append(r.summaries, DeviceSummary{Name: name, Customer: c.Customer, Site: c.Site, Type: c.Type})
			}
		}
		sums = r.summaries
		r.cacheMu.Unlock()
	}
	return sums
}

// Count is the number of registered devices, from memory.
func (r *Registry) Count() int {
	r.cacheMu.RLock()
	defer r.cacheMu.RUnlock()
	return len(r.cache)
}

// HasActiveCredential reports whether device name exists and may still
// connect with at least one credential. When it may not (deleted, or every
// credential revoked), whatever the broker kept of its sessions must go.
func (r *Registry) HasActiveCredential(name string) bool {
	c, ok := r.cached(name)
	if !ok {
		return false
	}
	for _, cr := range c.Credentials {
		if cr.Active() {
			return true
		}
	}
	return false
}
