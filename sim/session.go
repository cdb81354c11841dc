package sim

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// errSilentBroker ends a session whose broker stopped answering within one
// and a half keepalive periods, the limit MQTT sets for the other side too.
var errSilentBroker = errors.New("broker sent nothing within 1.5 keepalive periods")

// dialConfig says how to open one session.
type dialConfig struct {
	broker  string
	tls     *tls.Config // nil = plain TCP
	connect connectOptions
	timeout time.Duration // dial + handshake + CONNACK
	readBuf int           // size of the buffered reader
	maxBody int           // largest packet body accepted from the broker
	epoch   time.Time     // origin of the session clock; zero = now
}

// session is one MQTT 3.1.1 connection. One goroutine reads with read; any
// goroutine may write. It is the whole client: a load tool needs CONNECT,
// PUBLISH, PUBACK, SUBSCRIBE, PINGREQ and DISCONNECT, and in an unpaced run
// a full client library's per-message bookkeeping would make the
// generator, not the broker, the thing being measured.
type session struct {
	conn      net.Conn
	br        *bufio.Reader
	rbuf      []byte
	maxBody   int
	keepAlive time.Duration
	epoch     time.Time

	wmu  sync.Mutex
	wbuf []byte

	lastRead  atomic.Int64 // nanoseconds since epoch
	lastWrite atomic.Int64 // nanoseconds since epoch

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}
}

// dial connects, performs the TLS handshake when configured, sends CONNECT
// and waits for a successful CONNACK, all within cfg.timeout and ctx.
func dial(ctx context.Context, cfg dialConfig) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", cfg.broker)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", cfg.broker, err)
	}
	conn := raw
	if cfg.tls != nil {
		tc := tls.Client(raw, cfg.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", cfg.broker, err)
		}
		conn = tc
	}
	// A deadline bounds the CONNECT exchange; cancelling ctx moves it to now.
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close()
		return nil, fmt.Errorf("set connect deadline: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if cfg.epoch.IsZero() {
		cfg.epoch = time.Now()
	}

	s := &session{
		conn:      conn,
		br:        bufio.NewReaderSize(conn, cfg.readBuf),
		maxBody:   cfg.maxBody,
		keepAlive: time.Duration(cfg.connect.keepAlive) * time.Second,
		epoch:     cfg.epoch,
		closed:    make(chan struct{}),
	}
	if err := s.write(func(b []byte) []byte { return appendConnect(b, cfg.connect) }); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send CONNECT to %s: %w", cfg.broker, err)
	}
	p, err := s.read()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read CONNACK from %s: %w", cfg.broker, err)
	}
	if p.kind != packetConnack {
		conn.Close()
		return nil, fmt.Errorf("read CONNACK from %s: got packet type %d", cfg.broker, p.kind)
	}
	if p.code != 0 {
		conn.Close()
		return nil, fmt.Errorf("connect to %s as %q: %w", cfg.broker, cfg.connect.clientID, connackError(p.code))
	}
	if !stop() || conn.SetDeadline(time.Time{}) != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to %s as %q: %w", cfg.broker, cfg.connect.clientID, context.Cause(ctx))
	}
	if s.keepAlive > 0 {
		go s.keepAliveLoop()
	}
	return s, nil
}

// now returns the session's monotonic clock in nanoseconds.
func (s *session) now() int64 { return int64(time.Since(s.epoch)) }

// read reads the next packet; only one goroutine may call it.
func (s *session) read() (packet, error) {
	p, buf, err := readPacket(s.br, s.rbuf, s.maxBody)
	s.rbuf = buf
	if err == nil {
		s.lastRead.Store(s.now())
	}
	return p, err
}

// write encodes one packet with fill into the session's buffer and writes
// it in a single call, so that each packet goes out as one TLS record.
func (s *session) write(fill func([]byte) []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.wbuf = fill(s.wbuf[:0])
	_, err := s.conn.Write(s.wbuf)
	if err == nil {
		s.lastWrite.Store(s.now())
	}
	return err
}

// acknowledge answers a PUBLISH of QoS 1 with its PUBACK, so that the
// broker does not send it again; QoS 0 needs no answer.
func (s *session) acknowledge(p packet) error {
	if p.qos() == 0 {
		return nil
	}
	id := p.id
	if err := s.write(func(b []byte) []byte { return appendPuback(b, id) }); err != nil {
		return fmt.Errorf("acknowledge PUBLISH: %w", err)
	}
	return nil
}

// keepAliveLoop sends PINGREQ when the client has been quiet for half the
// keepalive period and closes the session when the broker has been silent
// for one and a half periods. It ends when the session closes.
func (s *session) keepAliveLoop() {
	t := time.NewTicker(s.keepAlive / 2)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
		}
		now := s.now()
		if time.Duration(now-s.lastRead.Load()) > s.keepAlive*3/2 {
			s.close(errSilentBroker)
			return
		}
		if time.Duration(now-s.lastWrite.Load()) >= s.keepAlive/2 {
			if err := s.write(appendPingreq); err != nil {
				s.close(fmt.Errorf("send PINGREQ: %w", err))
				return
			}
		}
	}
}

// disconnect sends DISCONNECT and closes the connection.
func (s *session) disconnect() {
	// A failed DISCONNECT changes nothing: the connection closes either way.
	_ = s.write(appendDisconnect)
	s.close(nil)
}

// close closes the connection once, remembering why; a blocked read or
// write returns at once.
func (s *session) close(reason error) {
	s.closeOnce.Do(func() {
		s.closeErr = reason
		close(s.closed)
		s.conn.Close()
	})
}

// reason returns why the session was closed by this side, nil for a
// deliberate close or while it is open.
func (s *session) reason() error {
	select {
	case <-s.closed:
		return s.closeErr
	default:
		return nil
	}
}
