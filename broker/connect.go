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
	v3UnacceptableVersion byte = 1
	v3IdentifierRejected  byte = 2
	v3ServerUnavailable   byte = 3
	v3BadUsernamePassword byte = 4
	v3NotAuthorized       byte = 5
)

// refusal says why a CONNECT is refused and what each protocol version is
// told. reason is a constant phrase: it keys the log rate limit and lets an
// operator grep for one kind of failure. A zero code is no CONNACK: the
// connection is closed, as MQTT demands for a malformed CONNECT.
type refusal struct {
	reason string
	v5     packets.Code // MQTT 5 reason code and reason string
	v3     byte         // MQTT 3.1.1 return code
	err    error        // underlying cause for the log; never holds a secret
}

// malformed: the CONNECT breaks the protocol. MQTT 3.1.1 (section 3.1.4)
// has no code for that: the connection is closed without a CONNACK. MQTT 5
// clients are told v5 (0x81 malformed packet or 0x82 protocol error), or
// nothing when v5 is zero.
func malformed(reason string, v5 packets.Code) *refusal {
	return &refusal{reason: reason, v5: v5}
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

// connectRead checks a CONNECT as it is read, before mochi's own checks,
// and refuses a malformed one (see connectFault). mochi (v2.7.9) answers
// those with a CONNACK whose code 3.1.1 does not have, which reached a
// 3.1.1 client as 3 "server unavailable": firmware takes that for a
// passing fault and retries for ever.
//
// It also lets a CONNECT with an empty password through to
// authentication. MQTT allows a zero-length password, but mochi refuses
// one as a protocol error. Without the flag, a password is simply absent,
// so the client is told what is true: bad user name or password (3.1.1:
// 4; MQTT 5: 0x86), or, with a client certificate, nothing at all, since
// the certificate alone identifies the device.
func (b *Broker) connectRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if r := connectFault(pk); r != nil {
		if string(pk.Connect.ProtocolName) == "MQTT" && pk.ProtocolVersion == 5 {
			// mochi records the version only after this hook; the
			// CONNACK is encoded, and the code chosen, for it.
			cl.Properties.ProtocolVersion = 5
		}
		// mochi ignores any other error of this hook.
		return pk, fmt.Errorf("%w: %w", packets.ErrRejectPacket, b.refuse(cl, pk.Connect.ClientIdentifier, r))
	}
	return withoutEmptyPassword(pk), nil
}

func withoutEmptyPassword(pk packets.Packet) packets.Packet {
	if pk.Connect.PasswordFlag && len(pk.Connect.Password) == 0 {
		pk.Connect.PasswordFlag = false
	}
	return pk
}

// connectFault returns the refusal of a CONNECT that MQTT says must be
// refused before anything else is looked at, nil for any other. A CONNECT
// mochi could not even decode (a flag of the fixed header set, a string
// that is not UTF-8, a field cut short) never gets here: mochi closes the
// connection without a CONNACK, for either version.
func connectFault(pk packets.Packet) *refusal {
	name, v := string(pk.Connect.ProtocolName), pk.ProtocolVersion
	c := pk.Connect
	switch {
	case name != "MQTT" && name != "MQIsdp":
		// Not MQTT at all; there is no CONNACK it would understand.
		return malformed("protocol name is not MQTT", packets.Code{})
	case name == "MQTT" && v != 4 && v != 5 || name == "MQIsdp" && v != 3:
		// Answered as 3.1.1 does (MQTT 5 section 3.1.2.2 allows 0x84):
		// the client learns the server speaks another version.
		return &refusal{reason: "unsupported protocol version", v5: packets.ErrUnsupportedProtocolVersion, v3: v3UnacceptableVersion}
	case v < 5 && c.PasswordFlag && !c.UsernameFlag:
		// [MQTT-3.1.2-22]; MQTT 5 allows a password alone.
		return malformed("password without user name", packets.Code{})
	case pk.ReservedBit != 0:
		// [MQTT-3.1.2-3]; MQTT 5 calls it a malformed packet, where
		// mochi says protocol error.
		return malformed("reserved flag set", packets.Code{Code: packets.ErrMalformedPacket.Code, Reason: "malformed packet: reserved flag set"})
	case c.WillFlag && c.WillQos > 2:
		// [MQTT-3.1.2-14]; a malformed packet in MQTT 5, as above.
		return malformed("will QoS 3", packets.Code{Code: packets.ErrMalformedPacket.Code, Reason: "malformed packet: will qos 3"})
	case !c.WillFlag && c.WillQos != 0:
		// [MQTT-3.1.2-13], MQTT 5 [MQTT-3.1.2-11]; mochi lets it pass.
		return malformed("will QoS without a will", packets.Code{Code: packets.ErrMalformedPacket.Code, Reason: "malformed packet: will qos without will flag"})
	case v < 5 && !c.Clean && c.ClientIdentifier == "":
		// [MQTT-3.1.3-8]. Hearth refuses every empty client id; mochi
		// would answer this one with a code 3.1.1 does not have.
		return &refusal{reason: "client id is not a device name", v5: packets.ErrClientIdentifierNotValid, v3: v3IdentifierRejected}
	}
	// mochi's own checks: user name and password flags without their
	// fields, a will without topic or message, will retain without a
	// will. Each is a protocol error (0x82) in MQTT 5.
	checked := withoutEmptyPassword(pk)
	if code := checked.ConnectValidate(); code != packets.CodeSuccess {
		return malformed(code.Reason, code)
	}
	return nil
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

// refuse counts and logs a refused CONNECT and answers it, or closes the
// connection without a CONNACK when the refusal has no code for the
// client's version. It returns the error that ends mochi's connection
// handling.
func (b *Broker) refuse(cl *mqtt.Client, id string, r *refusal) error {
	b.refusedConnects.Add(1)
	code := r.v5
	if cl.Properties.ProtocolVersion < 5 {
		code = packets.Code{Code: r.v3, Reason: r.v5.Reason}
	}
	b.logRefusal(cl, id, r.reason, code.Code, r.err)
	if code.Code == 0 {
		return fmt.Errorf("refuse connect of %q: %s", clip(id), r.reason)
	}
	b.refusing.Store(cl, struct{}{})
	err := b.server.SendConnack(cl, code, false, nil)
	b.refusing.Delete(cl)
	if err != nil {
		return fmt.Errorf("refuse connect of %q: send connack: %w", clip(id), err)
	}
	return r.v5
}

// logRefusal logs a refused CONNECT with the code the client was sent,
// "none" when it was sent no CONNACK.
func (b *Broker) logRefusal(cl *mqtt.Client, id, reason string, code byte, err error) {
	sent := "none"
	if code != 0 {
		sent = fmt.Sprintf("0x%02x", code)
	}
	attrs := []any{
		"device", clip(id),
		"remote", cl.Net.Remote,
		"listener", cl.Net.Listener,
		"protocol_version", cl.Properties.ProtocolVersion,
		"reason_code", sent,
	}
	if err != nil {
		attrs = append(attrs, "error", err)
	}
	b.warnLimited("mqtt connect refused", reason, attrs...)
}

// connackSent looks at every CONNACK on its way out: it advertises the
// limits of a successful MQTT 5 connection, and counts and logs refusals
// that mochi made before the auth hook ran: a will with QoS 2 or with
// retain set, which this server does not offer. (A malformed CONNECT was
// refused by connectRead before mochi looked at it.)
func (b *Broker) connackSent(cl *mqtt.Client, pk *packets.Packet) {
	v5 := cl.Properties.ProtocolVersion == 5
	if pk.ReasonCode < 0x80 && (v5 || pk.ReasonCode == 0) {
		if v5 {
			pk.Properties.MaximumPacketSize = b.server.Options.Capabilities.MaximumPacketSize
			pk.Properties.TopicAliasMaximum = topicAliasMaximum
		}
		return
	}
	if !v5 && pk.ReasonCode > v3NotAuthorized {
		// mochi passes MQTT 5 codes it has no 3.1.1 mapping for
		// unchanged; 3.1.1 clients only know 1 to 5. What mochi refuses
		// here is what the CONNECT asks for, which retrying does not
		// change; "server unavailable" would have firmware retry for
		// ever, so it is kept for a server that cannot take the client.
		switch pk.ReasonCode {
		case packets.ErrServerUnavailable.Code, packets.ErrServerBusy.Code:
			pk.ReasonCode = v3ServerUnavailable
		default:
			pk.ReasonCode = v3NotAuthorized
		}
	}
	if _, ours := b.refusing.Load(cl); !ours {
		b.refusedConnects.Add(1)
		b.logRefusal(cl, cl.ID, "invalid connect", pk.ReasonCode, nil)
	}
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
