package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hearthiot/hearth/device"
)

// MQTT 3.1.1 CONNACK return codes (section 3.2.2.3).
const (
	v3IdentifierRejected  byte = 2
	v3ServerUnavailable   byte = 3
	v3BadUsernamePassword byte = 4
	v3NotAuthorized       byte = 5
)

// refusal says why a CONNECT is refused and what each protocol version is
// told. reason is a constant phrase: it keys the log rate limit and lets an
// operator grep for one kind of failure.
type refusal struct {
	reason string
	v5     packets.Code // MQTT 5 reason code and reason string
	v3     byte         // MQTT 3.1.1 return code
	err    error        // underlying cause for the log; never holds a secret
}

// badCredentials: the certificate or secret does not identify a device.
// The client learns only that, not whether the device exists.
func badCredentials(reason string, err error) *refusal {
	return &refusal{reason: reason, v5: packets.ErrBadUsernameOrPassword, v3: v3BadUsernamePassword, err: err}
}

// notAuthorized: the client proved an identity, but not one allowed to
// connect this way (revoked, or a client id that is not its name).
func notAuthorized(reason string, err error) *refusal {
	return &refusal{reason: reason, v5: packets.ErrNotAuthorized, v3: v3NotAuthorized, err: err}
}

// authFailure turns an Authenticator error into a refusal. how is
// "secret" or "certificate".
func authFailure(how string, err error) *refusal {
	switch {
	case errors.Is(err, device.ErrRevoked):
		return notAuthorized(how+" revoked", err)
	case errors.Is(err, device.ErrBadCredentials):
		return badCredentials("bad "+how, err)
	default:
		// The registry could not answer; the device may retry.
		return &refusal{reason: how + " check failed", v5: packets.ErrServerUnavailable, v3: v3ServerUnavailable, err: err}
	}
}

// connect authenticates a CONNECT. On success it records the connection
// and the credential it used; on failure it sends the CONNACK with the
// reason and returns an error, which makes mochi close the connection.
func (b *Broker) connect(cl *mqtt.Client, pk packets.Packet) error {
	id := pk.Connect.ClientIdentifier
	if err := device.ValidName(id); err != nil {
		return b.refuse(cl, id, &refusal{
			reason: "client id is not a device name",
			v5:     packets.ErrClientIdentifierNotValid,
			v3:     v3IdentifierRejected,
			err:    err,
		})
	}
	if b.full(id) {
		return b.refuse(cl, id, &refusal{reason: "too many clients", v5: packets.ErrServerBusy, v3: v3ServerUnavailable})
	}
	cred, r := b.authenticate(cl, pk)
	if r != nil {
		return b.refuse(cl, id, r)
	}
	if pk.Connect.WillFlag && !device.MayPublish(id, pk.Connect.WillTopic) {
		return b.refuse(cl, id, notAuthorized("will topic is not one of the device's own topics", nil))
	}
	b.track(cl, id, cred)
	// A revocation that landed between the check above and track found no
	// connection to close; looking once more closes that gap.
	if !b.auth.CredentialActive(id, cred) {
		b.untrack(cl)
		return b.refuse(cl, id, notAuthorized("credential revoked while connecting", nil))
	}
	if max := b.cfg.KeepAliveMax; max > 0 && cl.Properties.ProtocolVersion == 5 {
		secs := uint16(max / time.Second)
		if ka := cl.State.Keepalive; ka == 0 || ka > secs {
			cl.State.Keepalive = secs
			cl.State.ServerKeepalive = true // mochi sends it as Server Keep Alive in CONNACK
		}
	}
	return nil
}

// full reports whether the client limit is reached. A device reconnecting
// while its old connection is still open takes that connection's place, so
// it is let in. Connections authenticating at the same moment are counted
// only once admitted and can overshoot the limit by their number.
func (b *Broker) full(id string) bool {
	if atomic.LoadInt64(&b.server.Info.ClientsConnected) < int64(b.cfg.MaxClients) {
		return false
	}
	old, ok := b.server.Clients.Get(id)
	return !ok || old.Closed()
}

// authenticate checks the client certificate when one was presented, the
// username and secret otherwise, and returns the credential ID. With a
// certificate the user name is not looked at.
func (b *Broker) authenticate(cl *mqtt.Client, pk packets.Packet) (string, *refusal) {
	id := pk.Connect.ClientIdentifier
	if tc, ok := cl.Net.Conn.(*tls.Conn); ok {
		if st := tc.ConnectionState(); len(st.PeerCertificates) > 0 {
			return b.authenticateCertificate(id, pk, st)
		}
	}
	if !pk.Connect.UsernameFlag || !pk.Connect.PasswordFlag {
		return "", badCredentials("no client certificate and no username and secret", nil)
	}
	if string(pk.Connect.Username) != id {
		return "", notAuthorized("username is not the client id", nil)
	}
	cred, err := b.auth.AuthenticateSecret(id, string(pk.Connect.Password))
	if err != nil {
		return "", authFailure("secret", err)
	}
	return cred, nil
}

func (b *Broker) authenticateCertificate(id string, pk packets.Packet, st tls.ConnectionState) (string, *refusal) {
	if len(st.VerifiedChains) == 0 {
		// Only possible with a TLS config that requests certificates
		// without verifying them; New does not build one.
		return "", badCredentials("client certificate not verified", nil)
	}
	name, cred, err := b.auth.AuthenticateCertificate(st.PeerCertificates[0])
	if err != nil {
		return "", authFailure("certificate", err)
	}
	if name != id {
		return "", notAuthorized("client id is not the certificate's device", fmt.Errorf("certificate is for device %q", name))
	}
	// The certificate alone identifies the device. As on AWS IoT Core, a
	// user name (and password) beside it is ignored: the AWS IoT Device
	// SDKs send one by default for AWS's usage metrics
	// ("?SDK=JavaScript&Version=2.2.16"), and firmware must connect with
	// the SDKs' defaults.
	return cred, nil
}

// refuse counts and logs a refused CONNECT and answers it. It returns the
// MQTT 5 code as the error that ends mochi's connection handling.
func (b *Broker) refuse(cl *mqtt.Client, id string, r *refusal) error {
	b.refusedConnects.Add(1)
	b.logRefusal(cl, id, r.reason, r.v5.Code, r.err)

	code := r.v5
	if cl.Properties.ProtocolVersion < 5 {
		code = packets.Code{Code: r.v3, Reason: r.v5.Reason}
	}
	b.refusing.Store(cl, struct{}{})
	err := b.server.SendConnack(cl, code, false, nil)
	b.refusing.Delete(cl)
	if err != nil {
		return fmt.Errorf("refuse connect of %q: send connack: %w", clip(id), err)
	}
	return r.v5
}

func (b *Broker) logRefusal(cl *mqtt.Client, id, reason string, code byte, err error) {
	attrs := []any{
		"device", clip(id),
		"remote", cl.Net.Remote,
		"listener", cl.Net.Listener,
		"protocol_version", cl.Properties.ProtocolVersion,
		"reason_code", fmt.Sprintf("0x%02x", code),
	}
	if err != nil {
		attrs = append(attrs, "error", err)
	}
	b.warnLimited("mqtt connect refused", reason, attrs...)
}

// connackSent looks at every CONNACK on its way out: it advertises the
// limits of a successful MQTT 5 connection, and counts and logs refusals
// that mochi made before the auth hook ran (a malformed CONNECT, an
// unsupported protocol version, a will with QoS 2).
func (b *Broker) connackSent(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	v5 := cl.Properties.ProtocolVersion == 5
	if pk.ReasonCode < 0x80 && (v5 || pk.ReasonCode == 0) {
		if v5 {
			pk.Properties.MaximumPacketSize = b.server.Options.Capabilities.MaximumPacketSize
			pk.Properties.TopicAliasMaximum = topicAliasMaximum
		}
		return pk
	}
	if !v5 && pk.ReasonCode > v3NotAuthorized {
		// mochi passes MQTT 5 codes it has no 3.1.1 mapping for
		// unchanged; 3.1.1 clients only know 1 to 5.
		pk.ReasonCode = v3ServerUnavailable
	}
	if _, ours := b.refusing.Load(cl); !ours {
		b.refusedConnects.Add(1)
		b.logRefusal(cl, cl.ID, "invalid connect", pk.ReasonCode, nil)
	}
	return pk
}

// predecessorWait bounds how long a reconnecting device waits for its
// previous connection to finish ending, which takes as long as the
// disconnect hooks.
const predecessorWait = 3 * time.Second

// endingKept is how long a connection stays marked as ending: mochi
// removes it from its list microseconds after the disconnect hooks, so
// a mark this old is of a connection long gone.
const endingKept = 10 * time.Second

// settlePredecessor closes a race in mochi (v2.7.9) that loses a device
// reconnecting with the same client id. When a connection whose session
// ends with it finishes, mochi runs the OnDisconnect hooks, then, unless
// the connection was taken over, removes the client *id* from its client
// list. A new connection marks the old one taken over only when it looks
// for the previous session, right after this hook; if the old connection
// checked before that, its removal can land after the new client was
// added, and the new connection stays open but receives nothing: not its
// shadow deltas, not its jobs. The window is short, but a busy box with
// devices that reconnect at once does hit it.
//
// So the new connection closes a live predecessor itself, as mochi is about
// to (reason: taken over), and waits until mochi has dropped it, for as
// long as the predecessor is either still established (its disconnect
// hooks have not run) or marked as ending with its session (they ran and
// mochi said the session expires). A predecessor whose session outlives it
// stays listed for mochi to hand over, and is not waited for; nor is one
// that never got its CONNACK. The decision reads nothing of the old
// client's properties, which its own goroutine may still be writing.
func (b *Broker) settlePredecessor(cl *mqtt.Client) {
	old, ok := b.server.Clients.Get(cl.ID)
	if !ok || old == cl || old.IsTakenOver() {
		return
	}
	if !old.Closed() {
		_ = b.server.DisconnectClient(old, packets.ErrSessionTakenOver)
	}
	defer b.ending.Delete(old)
	deadline := time.Now().Add(predecessorWait)
	for pause := 100 * time.Microsecond; ; pause = min(2*pause, 10*time.Millisecond) {
		if cur, ok := b.server.Clients.Get(cl.ID); !ok || cur != old || old.IsTakenOver() {
			return
		}
		_, ending := b.ending.Load(old)
		_, established := b.conns.Load(old)
		if !ending && !established {
			return
		}
		if time.Now().After(deadline) {
			b.warnLimited("mqtt previous connection still listed", "it did not finish ending in time",
				"device", cl.ID, "remote", cl.Net.Remote, "previous_remote", old.Net.Remote, "waited", predecessorWait)
			return
		}
		time.Sleep(pause)
	}
}

// markEnding notes that cl's session ends with it, for settlePredecessor,
// and forgets marks older than endingKept, at most once a second.
func (b *Broker) markEnding(cl *mqtt.Client) {
	now := time.Now()
	b.ending.Store(cl, now)
	if last := b.endingSwept.Load(); now.UnixNano()-last < int64(time.Second) || !b.endingSwept.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	b.ending.Range(func(k, v any) bool {
		if now.Sub(v.(time.Time)) > endingKept {
			b.ending.Delete(k)
		}
		return true
	})
}
