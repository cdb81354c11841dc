package broker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hearthiot/hearth/device"
)

// PresenceRecorder keeps track of which devices are connected;
// device.Presence implements it. session numbers one connection; a later
// connection of the same device has a larger one.
type PresenceRecorder interface {
	Connected(name string, session uint64, remote string, protocol byte, at time.Time)
	Disconnected(name string, session uint64, reason string, at time.Time)
	Seen(name string, at time.Time)
}

// Presence topics, as AWS IoT Core publishes them. Devices may neither
// subscribe to nor publish on them: they tell of every device's
// connection, and are meant for server-side consumers.
const (
	presenceConnectedTopic    = "$aws/events/presence/connected/"
	presenceDisconnectedTopic = "$aws/events/presence/disconnected/"
)

// presenceEvent is AWS IoT Core's lifecycle event document.
type presenceEvent struct {
	ClientID                  string `json:"clientId"`
	Timestamp                 int64  `json:"timestamp"` // unix ms
	EventType                 string `json:"eventType"` // "connected" or "disconnected"
	SessionIdentifier         string `json:"sessionIdentifier"`
	PrincipalIdentifier       string `json:"principalIdentifier"`
	IPAddress                 string `json:"ipAddress,omitempty"`
	VersionNumber             uint64 `json:"versionNumber"`
	ClientInitiatedDisconnect *bool  `json:"clientInitiatedDisconnect,omitempty"`
	DisconnectReason          string `json:"disconnectReason,omitempty"`
}

// awsDisconnectReason maps Hearth's disconnect reasons to AWS's.
func awsDisconnectReason(reason string) string {
	switch reason {
	case device.ReasonClean:
		return "CLIENT_INITIATED_DISCONNECT"
	case device.ReasonTakenOver:
		return "DUPLICATE_CLIENTID"
	case device.ReasonKeepaliveTimeout:
		return "MQTT_KEEP_ALIVE_TIMEOUT"
	case device.ReasonCredentialRevoked:
		return "AUTHORIZATION_FAILURE"
	case device.ReasonServerShutdown:
		return "SERVER_INITIATED_DISCONNECT"
	}
	return "CONNECTION_LOST"
}

// conn is what the broker remembers of an established connection.
type conn struct {
	session   uint64
	principal string // credential id
}

// sessionEstablished records a device connection once its CONNACK is
// written: a connection whose CONNACK fails is never reported as ended by
// mochi, and must not leave its device online.
func (b *Broker) sessionEstablished(cl *mqtt.Client) {
	if cl.Net.Inline {
		return
	}
	c := conn{session: b.sessionSeq.Add(1), principal: b.credential(cl)}
	b.conns.Store(cl, c)
	// mochi runs this hook after the CONNACK, so a connection can be taken
	// over by a newer one, which may already be recorded with a lower
	// number, before its own hook runs. Such a connection is closed by
	// now and is not recorded; one closed after this check is closed by a
	// connection whose hook, and number, come later.
	if cl.Closed() {
		b.conns.Delete(cl)
		return
	}
	now := time.Now()
	if b.presence != nil {
		b.presence.Connected(cl.ID, c.session, cl.Net.Remote, cl.Properties.ProtocolVersion, now)
	}
	b.publishPresence(presenceEvent{
		ClientID:            cl.ID,
		Timestamp:           now.UnixMilli(),
		EventType:           "connected",
		SessionIdentifier:   sessionIdentifier(c.session),
		PrincipalIdentifier: c.principal,
		IPAddress:           host(cl.Net.Remote),
		VersionNumber:       c.session,
	})
}

// sessionEnded records the end of a connection established before.
func (b *Broker) sessionEnded(cl *mqtt.Client, err error) {
	v, ok := b.conns.LoadAndDelete(cl)
	_, revoked := b.revoking.LoadAndDelete(cl)
	if !ok {
		return
	}
	c := v.(conn)
	reason := disconnectReason(cl, err, revoked)
	if reason == device.ReasonError && b.stopping.Load() {
		// Stop closes the listeners before it tells each client why, so a
		// read loop may end on the closed connection first.
		reason = device.ReasonServerShutdown
	}
	now := time.Now()
	if b.presence != nil {
		b.presence.Disconnected(cl.ID, c.session, reason, now)
	}
	clientInitiated := reason == device.ReasonClean
	b.publishPresence(presenceEvent{
		ClientID:                  cl.ID,
		Timestamp:                 now.UnixMilli(),
		EventType:                 "disconnected",
		SessionIdentifier:         sessionIdentifier(c.session),
		PrincipalIdentifier:       c.principal,
		IPAddress:                 host(cl.Net.Remote),
		VersionNumber:             c.session,
		ClientInitiatedDisconnect: &clientInitiated,
		DisconnectReason:          awsDisconnectReason(reason),
	})
}

// disconnectReason tells why a connection ended, from the error mochi's
// read loop returned and the cause the connection was stopped with.
func disconnectReason(cl *mqtt.Client, err error, revoked bool) string {
	cause := cl.StopCause()
	is := func(target error) bool { return errors.Is(err, target) || errors.Is(cause, target) }
	switch {
	case revoked:
		return device.ReasonCredentialRevoked
	case cl.IsTakenOver() || is(packets.ErrSessionTakenOver):
		return device.ReasonTakenOver
	case is(packets.ErrServerShuttingDown):
		return device.ReasonServerShutdown
	case is(packets.CodeDisconnect) || is(packets.CodeDisconnectWillMessage):
		return device.ReasonClean
	case is(packets.ErrKeepAliveTimeout) || errors.Is(err, os.ErrDeadlineExceeded):
		// mochi sets the read deadline to 1.5 times the keepalive.
		return device.ReasonKeepaliveTimeout
	}
	return device.ReasonError
}

// publishPresence sends an AWS lifecycle event through the inline client.
// Nobody need be subscribed; a failure is logged, never returned to the
// device path.
func (b *Broker) publishPresence(e presenceEvent) {
	topic := presenceConnectedTopic + e.ClientID
	if e.EventType == "disconnected" {
		topic = presenceDisconnectedTopic + e.ClientID
	}
	payload, err := json.Marshal(e)
	if err == nil {
		err = b.send(topic, payload, 1)
	}
	if err != nil {
		b.logLimit.Log(context.Background(), slog.LevelError, "mqtt presence event not sent", "device", e.ClientID, "event", e.EventType, "error", err)
	}
}

// credential returns the credential id cl authenticated with.
func (b *Broker) credential(cl *mqtt.Client) string {
	b.sessionsMu.Lock()
	defer b.sessionsMu.Unlock()
	return b.sessions[cl.ID][cl]
}

func sessionIdentifier(session uint64) string {
	return strconv.FormatUint(session, 10)
}

// host is the IP address of a remote address, as AWS reports it.
func host(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}
