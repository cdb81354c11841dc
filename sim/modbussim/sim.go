package modbussim

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mbs "github.com/simonvetter/modbus"
	"go.yaml.in/yaml/v3"

	"github.com/hearthiot/hearth/modbus"
	"github.com/hearthiot/hearth/sim/model"
)

// The register maps of the profiles, as files to hand to a poller or the
// gateway agent. Their source is tcp: 127.0.0.1:1502, the simulator's
// default address; change it to where the simulator listens.
var (
	//go:embed chiller.yaml
	ChillerMap string
	//go:embed iaq.yaml
	IAQMap string
)

// Profile is the device a simulator plays.
type Profile string

// Profiles.
const (
	// Chiller is an absorption chiller-heater's controller (chiller.yaml).
	Chiller Profile = "chiller"
	// IAQ is an RS-485 CO2, temperature and humidity sensor (iaq.yaml).
	IAQ Profile = "iaq"
	// Bare is a register bank without a device: every coil, discrete
	// input and register of every address exists, holds 0 until set, and
	// may be written; tests fill it with SetRegisters and SetBits.
	Bare Profile = "bare"
)

// DefaultAddr is where a simulator listens unless told otherwise: the
// address in the shipped maps.
const DefaultAddr = "127.0.0.1:1502"

// MapYAML is a profile's register map file.
func MapYAML(p Profile) (string, error) {
	switch p {
	case Chiller:
		return ChillerMap, nil
	case IAQ:
		return IAQMap, nil
	}
	return "", fmt.Errorf("modbus simulator profile %q has no register map; use chiller or iaq", p)
}

// MapFile is a profile's register map file with its source set to addr,
// where a simulator listens: a map ready to hand to a poller or an agent.
// The rest of the file, comments included, is as shipped.
func MapFile(p Profile, addr string) (string, error) {
	text, err := MapYAML(p)
	if err != nil {
		return "", err
	}
	value, err := yaml.Marshal(addr)
	if err != nil {
		return "", fmt.Errorf("register map of %s at %q: %w", p, addr, err)
	}
	const shipped = "  tcp: " + DefaultAddr + "\n"
	if !strings.Contains(text, shipped) {
		return "", fmt.Errorf("register map of %s: no %q line to set", p, strings.TrimSpace(shipped))
	}
	text = strings.Replace(text, shipped, "  tcp: "+string(value), 1)
	if _, err := modbus.Parse(strings.NewReader(text), string(p)+".yaml"); err != nil {
		return "", fmt.Errorf("register map of %s at %q: %w", p, addr, err)
	}
	return text, nil
}

// Map is a profile's register map, parsed.
func Map(p Profile) (*modbus.Map, error) {
	text, err := MapYAML(p)
	if err != nil {
		return nil, err
	}
	return modbus.Parse(strings.NewReader(text), string(p)+".yaml")
}

// Config is a simulator's configuration.
type Config struct {
	// Addr is the TCP address to listen at; a port of 0 picks a free one
	// (see Addr). Default DefaultAddr.
	Addr     string
	Profile  Profile
	Seed     uint64
	Building model.Building // default office
	// UnitID is the unit the simulator answers as (default 1); requests to
	// other units get exception 11, as from a gateway whose target is
	// silent.
	UnitID uint8
	// Clock is the time the model runs at (default time.Now). The model
	// advances when it has moved Step (default 1 s) since the last step,
	// so that the registers of one poll round come from one step.
	Clock func() time.Time
	Step  time.Duration
}

// Sim is a simulated Modbus device: a Modbus TCP slave (simonvetter/modbus)
// whose registers follow a physics model of the profile's equipment and
// whose writable registers steer it, laid out by the profile's register
// map. ServeRTU serves the same device over a serial line.
type Sim struct {
	cfg    Config
	logger *slog.Logger
	m      *modbus.Map // nil for Bare

	mu       sync.Mutex
	coils    map[uint16]bool
	discrete map[uint16]bool
	holding  map[uint16]uint16
	input    map[uint16]uint16
	dev      device // nil for Bare
	stepped  bool
	last     time.Time

	failures map[failKey]modbus.Exception
	delay    time.Duration
	corrupt  int
	inFlight int
	wake     chan struct{} // closed by Stop, to release delayed answers

	requests atomic.Uint64

	srvMu  sync.Mutex
	server *mbs.ModbusServer
	addr   string
}

type failKey struct {
	fn   modbus.Function
	addr uint16
}

// device is a profile's equipment: it steps its model and gives the value
// of every point of the map, and takes written settings.
type device interface {
	// step advances the model to t and returns the values of the map's
	// points, by metric or (for points without one) setting, each as a
	// shadow holds it: a float64, a name from the point's values, or a
	// bool for a bit.
	step(t time.Time) map[string]any
	// set applies a written setting, in the same form; it has been
	// checked against the map.
	set(key string, value any)
}

// New returns a simulator; Start makes it listen. A nil logger logs
// nothing.
func New(cfg Config, logger *slog.Logger) (*Sim, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Building == "" {
		cfg.Building = model.Office
	}
	if cfg.UnitID == 0 {
		cfg.UnitID = 1
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Step <= 0 {
		cfg.Step = time.Second
	}
	s := &Sim{
		cfg: cfg, logger: logger,
		coils: map[uint16]bool{}, discrete: map[uint16]bool{}, holding: map[uint16]uint16{}, input: map[uint16]uint16{},
		failures: map[failKey]modbus.Exception{}, wake: make(chan struct{}),
	}
	switch cfg.Profile {
	case Bare:
		return s, nil
	case Chiller:
		s.dev = newChiller(cfg.Seed, cfg.Building)
	case IAQ:
		s.dev = newIAQ(cfg.Seed, cfg.Building, cfg.Clock())
	default:
		return nil, fmt.Errorf("new modbus simulator: profile %q: use chiller, iaq or bare", cfg.Profile)
	}
	m, err := Map(cfg.Profile)
	if err != nil {
		return nil, fmt.Errorf("new modbus simulator: %w", err)
	}
	s.m = m
	return s, nil
}

// RegisterMap is the map the simulator is laid out by, with its source set
// to where it listens; nil for Bare.
func (s *Sim) RegisterMap() *modbus.Map {
	if s.m == nil {
		return nil
	}
	m, _ := Map(s.cfg.Profile)
	m.Source.TCP = s.Addr()
	return m
}

// Start listens for Modbus TCP. After Stop it listens again at the same
// address: a device that went away and came back.
func (s *Sim) Start(ctx context.Context) error {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.server != nil {
		return errors.New("start modbus simulator: already listening")
	}
	addr := s.addr
	if addr == "" {
		addr = s.cfg.Addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("start modbus simulator: listen address %q is not HOST:PORT: %w", addr, err)
	}
	// simonvetter/modbus listens itself and does not say where, so a port
	// of 0 is resolved first; another process may take the port in
	// between, so that is tried a few times.
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("start modbus simulator: %w", err)
		}
		try := addr
		if port == "0" {
			l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
			if err != nil {
				return fmt.Errorf("start modbus simulator: listen at %s: %w", addr, err)
			}
			try = l.Addr().String()
			_ = l.Close()
		}
		srv, err := mbs.NewServer(&mbs.ServerConfiguration{
			URL:        "tcp://" + try,
			Timeout:    5 * time.Minute,
			MaxClients: 64,
			Logger:     slog.NewLogLogger(s.logger.With("component", "modbus-server").Handler(), slog.LevelDebug),
		}, &tcpHandler{s})
		if err != nil {
			return fmt.Errorf("start modbus simulator at %s: %w", try, err)
		}
		err = srv.Start()
		if err == nil {
			s.server, s.addr = srv, try
			s.mu.Lock()
			s.wake = make(chan struct{})
			s.mu.Unlock()
			return nil
		}
		if port != "0" || !errors.Is(err, syscall.EADDRINUSE) || attempt >= 4 {
			return fmt.Errorf("start modbus simulator: listen at %s: %w", try, err)
		}
	}
}

// Stop closes the listener and every connection; requests waiting on a
// delay are released.
func (s *Sim) Stop(ctx context.Context) error {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.server == nil {
		return nil
	}
	s.mu.Lock()
	close(s.wake)
	s.mu.Unlock()
	err := s.server.Stop()
	s.server = nil
	if err != nil {
		return fmt.Errorf("stop modbus simulator at %s: %w", s.addr, err)
	}
	return nil
}

// Addr is where the simulator listens, with the port it got; before the
// first Start, the configured address.
func (s *Sim) Addr() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.addr == "" {
		return s.cfg.Addr
	}
	return s.addr
}

// Requests counts the requests the simulator has received.
func (s *Sim) Requests() uint64 { return s.requests.Load() }

// Fail makes every request that touches address of table fn answer with
// exception e; e = 0 clears it.
func (s *Sim) Fail(fn modbus.Function, address uint16, e modbus.Exception) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e == 0 {
		delete(s.failures, failKey{fn, address})
		return
	}
	s.failures[failKey{fn, address}] = e
}

// SetDelay makes every answer wait d, to drive clients into their
// timeouts; 0 answers at once.
func (s *Sim) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// CorruptCRC spoils the checksum of the next n answers sent over a serial
// line (ServeRTU).
func (s *Sim) CorruptCRC(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corrupt = n
}

// Idle reports whether no request is being answered, for tests that must
// wait for a delayed answer to go out.
func (s *Sim) Idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight == 0
}

// SetRegisters sets registers of a table (Holding or Input), as raw words.
func (s *Sim) SetRegisters(fn modbus.Function, address uint16, words ...uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.registers(fn)
	for i, w := range words {
		t[address+uint16(i)] = w
	}
}

// Registers returns registers of a table as the device holds them.
func (s *Sim) Registers(fn modbus.Function, address uint16, n int) []uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.registers(fn)
	out := make([]uint16, n)
	for i := range out {
		out[i] = t[address+uint16(i)]
	}
	return out
}

// SetBits sets coils or discrete inputs.
func (s *Sim) SetBits(fn modbus.Function, address uint16, bits ...bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.bits(fn)
	for i, b := range bits {
		t[address+uint16(i)] = b
	}
}

func (s *Sim) registers(fn modbus.Function) map[uint16]uint16 {
	if fn == modbus.Input {
		return s.input
	}
	return s.holding
}

func (s *Sim) bits(fn modbus.Function) map[uint16]bool {
	if fn == modbus.Discrete {
		return s.discrete
	}
	return s.coils
}

// begin counts a request in, waits out the delay, and locks the device.
// It returns false (unlocked) when the simulator stopped meanwhile.
func (s *Sim) begin() bool {
	s.requests.Add(1)
	s.mu.Lock()
	s.inFlight++
	d, wake := s.delay, s.wake
	s.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-wake:
			s.mu.Lock()
			s.inFlight--
			s.mu.Unlock()
			return false
		}
	}
	s.mu.Lock()
	return true
}

func (s *Sim) end() {
	s.inFlight--
	s.mu.Unlock()
}

// check says which exception, if any, a request for n items from address
// of table fn to unit gets. s.mu is held.
func (s *Sim) check(unit uint8, fn modbus.Function, address uint16, n int) modbus.Exception {
	if unit != s.cfg.UnitID {
		return modbus.GatewayTargetNotResponding
	}
	for i := range n {
		if e, ok := s.failures[failKey{fn, address + uint16(i)}]; ok {
			return e
		}
	}
	if s.dev == nil {
		return 0
	}
	s.refresh()
	for i := range n {
		a := address + uint16(i)
		var ok bool
		if fn == modbus.Coil || fn == modbus.Discrete {
			_, ok = s.bits(fn)[a]
		} else {
			_, ok = s.registers(fn)[a]
		}
		if !ok {
			return modbus.IllegalDataAddress
		}
	}
	return 0
}

// refresh steps the model when the clock has moved on and lays its values
// out in the registers. s.mu is held.
func (s *Sim) refresh() {
	now := s.cfg.Clock()
	if s.stepped && now.Sub(s.last) < s.cfg.Step {
		return
	}
	s.stepped, s.last = true, now
	values := s.dev.step(now)
	for _, p := range s.m.Points {
		key := p.Metric
		if key == "" {
			key = p.Setting
		}
		var v float64
		switch x := values[key].(type) {
		case float64:
			v = x
		case bool:
			if x {
				v = 1
			}
		case string:
			raw, ok := p.Values[x]
			if !ok {
				continue // a name the map does not know: the register keeps what it held
			}
			v = float64(raw)
		default:
			continue // no value: the point's registers stay absent, and reading them fails
		}
		s.put(p, v)
	}
}

// put lays a value out in a point's registers or bit. s.mu is held.
func (s *Sim) put(p *modbus.Point, v float64) {
	wire, err := p.Registers(v)
	if err != nil {
		// A model value past what the register holds: the device shows
		// its limit, as a real one would.
		lo, hi := limits(p)
		wire, _ = p.Registers(max(lo, min(hi, v)))
	}
	if p.Type == modbus.Bool {
		s.bits(p.Function)[p.Address] = wire[0] == 1
		return
	}
	t := s.registers(p.Function)
	for i := range p.Width() {
		t[p.Address+uint16(i)] = uint16(wire[2*i])<<8 | uint16(wire[2*i+1])
	}
}

// limits are the engineering values a point's registers can show.
func limits(p *modbus.Point) (lo, hi float64) {
	var rlo, rhi float64
	switch p.Type {
	case modbus.Int16:
		rlo, rhi = -32768, 32767
	case modbus.Uint16:
		rlo, rhi = 0, 65535
	case modbus.Int32:
		rlo, rhi = -2147483648, 2147483647
	case modbus.Uint32:
		rlo, rhi = 0, 4294967295
	default:
		return -3e38, 3e38
	}
	a, b := rlo*p.Scale+p.Offset, rhi*p.Scale+p.Offset
	return min(a, b), max(a, b)
}

// readBits answers a read of coils or discrete inputs.
func (s *Sim) readBits(unit uint8, fn modbus.Function, address uint16, n int) ([]bool, modbus.Exception) {
	if !s.begin() {
		return nil, modbus.ServerDeviceFailure
	}
	defer s.end()
	if e := s.check(unit, fn, address, n); e != 0 {
		return nil, e
	}
	t := s.bits(fn)
	out := make([]bool, n)
	for i := range out {
		out[i] = t[address+uint16(i)]
	}
	return out, 0
}

// readRegisters answers a read of holding or input registers.
func (s *Sim) readRegisters(unit uint8, fn modbus.Function, address uint16, n int) ([]uint16, modbus.Exception) {
	if !s.begin() {
		return nil, modbus.ServerDeviceFailure
	}
	defer s.end()
	if e := s.check(unit, fn, address, n); e != 0 {
		return nil, e
	}
	t := s.registers(fn)
	out := make([]uint16, n)
	for i := range out {
		out[i] = t[address+uint16(i)]
	}
	return out, 0
}

// writeCoils answers a write of coils.
func (s *Sim) writeCoils(unit uint8, address uint16, bits []bool) modbus.Exception {
	if !s.begin() {
		return modbus.ServerDeviceFailure
	}
	defer s.end()
	if e := s.check(unit, modbus.Coil, address, len(bits)); e != 0 {
		return e
	}
	old := make([]bool, len(bits))
	for i, b := range bits {
		old[i] = s.coils[address+uint16(i)]
		s.coils[address+uint16(i)] = b
	}
	return s.apply(modbus.Coil, address, len(bits), func() {
		for i, b := range old {
			s.coils[address+uint16(i)] = b
		}
	})
}

// writeRegisters answers a write of holding registers.
func (s *Sim) writeRegisters(unit uint8, address uint16, words []uint16) modbus.Exception {
	if !s.begin() {
		return modbus.ServerDeviceFailure
	}
	defer s.end()
	if e := s.check(unit, modbus.Holding, address, len(words)); e != 0 {
		return e
	}
	old := make([]uint16, len(words))
	for i, w := range words {
		old[i] = s.holding[address+uint16(i)]
		s.holding[address+uint16(i)] = w
	}
	return s.apply(modbus.Holding, address, len(words), func() {
		for i, w := range old {
			s.holding[address+uint16(i)] = w
		}
	})
}

// apply checks the settings a write touched against the map, as the
// device's controller would, and hands them to the model; a write that
// touches a read-only register or leaves a setting out of its range is
// undone and answered with exception 2 or 3. s.mu is held.
func (s *Sim) apply(fn modbus.Function, address uint16, n int, undo func()) modbus.Exception {
	if s.dev == nil {
		return 0
	}
	type change struct {
		key string
		v   any
	}
	var changes []change
	for a := int(address); a < int(address)+n; a++ {
		p := s.pointAt(fn, uint16(a))
		if p == nil || !p.Writable {
			undo()
			return modbus.IllegalDataAddress
		}
		if a != int(address) && int(p.Address) != a {
			continue // the rest of a point already seen
		}
		v, ok := s.valueOf(p)
		if !ok {
			undo()
			return modbus.IllegalDataValue
		}
		changes = append(changes, change{p.Setting, v})
	}
	// The registers hold the new settings already; the model follows
	// them from its next step.
	for _, c := range changes {
		s.dev.set(c.key, c.v)
	}
	return 0
}

// pointAt is the map's point that holds address of table fn.
func (s *Sim) pointAt(fn modbus.Function, address uint16) *modbus.Point {
	for _, p := range s.m.Points {
		if p.Function == fn && address >= p.Address && int(address) < int(p.Address)+p.Width() {
			return p
		}
	}
	return nil
}

// valueOf decodes a point from the registers and checks it against the
// map's rules for it; the value is in the form device.set takes. s.mu is
// held.
func (s *Sim) valueOf(p *modbus.Point) (any, bool) {
	var wire []byte
	if p.Type == modbus.Bool {
		wire = []byte{0}
		if s.bits(p.Function)[p.Address] {
			wire[0] = 1
		}
	} else {
		t := s.registers(p.Function)
		for i := range p.Width() {
			w := t[p.Address+uint16(i)]
			wire = append(wire, byte(w>>8), byte(w))
		}
	}
	v, err := p.Value(wire)
	if err != nil {
		return 0, false
	}
	switch {
	case p.Values != nil:
		for name, raw := range p.Values {
			if float64(raw) == v {
				return name, true
			}
		}
		return nil, false
	case p.Type == modbus.Bool:
		return v == 1, true
	case p.Minimum != nil && v < *p.Minimum, p.Maximum != nil && v > *p.Maximum:
		return nil, false
	}
	return v, true
}

// tcpHandler serves simonvetter/modbus's requests from the simulator.
type tcpHandler struct{ s *Sim }

func (h *tcpHandler) HandleCoils(req *mbs.CoilsRequest) ([]bool, error) {
	if req.IsWrite {
		return nil, exceptionErr(h.s.writeCoils(req.UnitId, req.Addr, req.Args))
	}
	out, e := h.s.readBits(req.UnitId, modbus.Coil, req.Addr, int(req.Quantity))
	return out, exceptionErr(e)
}

func (h *tcpHandler) HandleDiscreteInputs(req *mbs.DiscreteInputsRequest) ([]bool, error) {
	out, e := h.s.readBits(req.UnitId, modbus.Discrete, req.Addr, int(req.Quantity))
	return out, exceptionErr(e)
}

func (h *tcpHandler) HandleHoldingRegisters(req *mbs.HoldingRegistersRequest) ([]uint16, error) {
	if req.IsWrite {
		return nil, exceptionErr(h.s.writeRegisters(req.UnitId, req.Addr, req.Args))
	}
	out, e := h.s.readRegisters(req.UnitId, modbus.Holding, req.Addr, int(req.Quantity))
	return out, exceptionErr(e)
}

func (h *tcpHandler) HandleInputRegisters(req *mbs.InputRegistersRequest) ([]uint16, error) {
	out, e := h.s.readRegisters(req.UnitId, modbus.Input, req.Addr, int(req.Quantity))
	return out, exceptionErr(e)
}

// exceptionErr is the simonvetter/modbus error that makes its server
// answer with exception e.
func exceptionErr(e modbus.Exception) error {
	switch e {
	case 0:
		return nil
	case modbus.IllegalFunction:
		return mbs.ErrIllegalFunction
	case modbus.IllegalDataAddress:
		return mbs.ErrIllegalDataAddress
	case modbus.IllegalDataValue:
		return mbs.ErrIllegalDataValue
	case modbus.Acknowledge:
		return mbs.ErrAcknowledge
	case modbus.ServerDeviceBusy:
		return mbs.ErrServerDeviceBusy
	case modbus.MemoryParityError:
		return mbs.ErrMemoryParityError
	case modbus.GatewayPathUnavailable:
		return mbs.ErrGWPathUnavailable
	case modbus.GatewayTargetNotResponding:
		return mbs.ErrGWTargetFailedToRespond
	}
	return mbs.ErrServerDeviceFailure
}
