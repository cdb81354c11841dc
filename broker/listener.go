package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// listener accepts MQTT connections on one TCP address, optionally with TLS.
// It replaces mochi's own TCP listener for three reasons: a connection must
// finish its TLS handshake and send CONNECT within a deadline (mochi sets
// none until CONNECT is read, so an idle socket would be held forever), a
// failed handshake is counted and logged (a device with a wrong or expired
// certificate never reaches the auth hook), and Stop must be able to close
// connections that are still handshaking.
type listener struct {
	id      string
	address string
	tls     *tls.Config // nil for plain TCP
	timeout time.Duration
	broker  *Broker

	ln net.Listener

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{} // raw connections still being served
	wg     sync.WaitGroup        // one per connection in conns
}

var _ listeners.Listener = (*listener)(nil)

func newListener(id, address string, tlsConfig *tls.Config, timeout time.Duration, b *Broker) *listener {
	return &listener{
		id:      id,
		address: address,
		tls:     tlsConfig,
		timeout: timeout,
		broker:  b,
		conns:   make(map[net.Conn]struct{}),
	}
}

func (l *listener) ID() string { return l.id }

func (l *listener) Protocol() string {
	if l.tls != nil {
		return "mqtt+tls"
	}
	return "mqtt"
}

// Address is the bound address once Init has run, so that ":0" shows the
// port actually chosen.
func (l *listener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.address
}

// addr is the bound address; nil before Init.
func (l *listener) addr() net.Addr {
	if l.ln == nil {
		return nil
	}
	return l.ln.Addr()
}

// Init binds the address. mochi calls it from AddListener, so a bind error
// surfaces from Broker.Start. The broker's own logger is used rather than
// mochi's, which keeps only warnings.
func (l *listener) Init(*slog.Logger) error {
	ln, err := net.Listen("tcp", l.address)
	if err != nil {
		return err
	}
	l.ln = ln
	return nil
}

// Serve accepts connections until Close. Errors such as running out of file
// descriptors are retried after a short pause instead of ending the loop.
func (l *listener) Serve(establish listeners.EstablishFn) {
	var pause time.Duration
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if l.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			l.broker.warnLimited("mqtt accept failed", "", "listener", l.id, "error", err, "retry_in", pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		if !l.track(conn) {
			_ = conn.Close()
			return
		}
		go l.serveConn(conn, establish)
	}
}

func (l *listener) serveConn(raw net.Conn, establish listeners.EstablishFn) {
	defer l.untrack(raw)
	// mochi replaces this deadline with one derived from the keepalive as
	// soon as the CONNECT has been accepted.
	_ = raw.SetDeadline(time.Now().Add(l.timeout))
	conn := raw
	if l.tls != nil {
		tc := tls.Server(raw, l.tls)
		ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			l.broker.handshakeFailed(l.id, raw.RemoteAddr(), err)
			return
		}
		conn = tc
	}
	err := establish(l.id, conn)
	if err != nil && !errors.Is(err, io.EOF) {
		l.broker.log.Debug("mqtt connection ended", "listener", l.id, "remote", raw.RemoteAddr().String(), "error", err)
	}
}

func (l *listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	l.wg.Add(1)
	return true
}

func (l *listener) untrack(c net.Conn) {
	_ = c.Close()
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	l.wg.Done()
}

func (l *listener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Close stops accepting, sends DISCONNECT (server shutting down) to every
// connected client, closes whatever is still open (handshakes, connections
// that have not sent CONNECT yet), and waits until every connection's
// goroutine has returned.
//
// mochi's closeClients is not used: its client list (v2.7.9,
// Clients.GetByListener) takes its read lock a second time while holding
// it, so a connection ending at that moment, whose removal waits for the
// write lock, blocks the second read lock and both wait for ever. A device
// that disconnects as the server stops is enough.
func (l *listener) Close(listeners.CloseFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.mu.Unlock()

	if l.ln != nil {
		_ = l.ln.Close()
	}
	l.broker.disconnectListener(l.id)
	l.abort()
	l.wg.Wait()
}

// abort closes every raw connection at once. Closing the raw connection
// also unblocks a write stuck on a client that stopped reading.
func (l *listener) abort() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		_ = c.Close()
	}
}

// disconnectListener sends DISCONNECT (server shutting down) to every open
// client connection of the listener, as mochi's closeListenerClients does,
// reading the client list under one read lock.
func (b *Broker) disconnectListener(id string) {
	for _, cl := range b.server.Clients.GetAll() {
		if cl.Net.Listener == id && !cl.Closed() {
			_ = b.server.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
}
