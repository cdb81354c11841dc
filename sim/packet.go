package sim

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MQTT 3.1.1 control packet types (the high nibble of the first byte).
const (
	packetConnect    byte = 1
	packetConnack    byte = 2
	packetPublish    byte = 3
	packetPuback     byte = 4
	packetSubscribe  byte = 8
	packetSuback     byte = 9
	packetPingreq    byte = 12
	packetPingresp   byte = 13
	packetDisconnect byte = 14
)

// maxRemainingLength is the largest value the 4-byte variable length
// encoding can carry (MQTT 3.1.1 section 2.2.3).
const maxRemainingLength = 268_435_455

// errMalformed marks a packet from the broker that breaks MQTT 3.1.1.
var errMalformed = errors.New("malformed packet")

// packet is one decoded control packet from the broker. Only the packets a
// publishing or subscribing client receives are decoded. topic and payload
// alias the buffer passed to readPacket and are valid until the next read.
type packet struct {
	kind           byte
	flags          byte   // low nibble of the first byte
	id             uint16 // PUBACK, SUBACK, PUBLISH with QoS > 0
	code           byte   // CONNACK return code, SUBACK first return code
	codes          []byte // SUBACK: the return code of each filter, in order
	sessionPresent bool   // CONNACK
	topic          []byte // PUBLISH
	payload        []byte // PUBLISH
}

// qos returns the QoS of a PUBLISH.
func (p packet) qos() byte { return p.flags >> 1 & 3 }

// readPacket reads one control packet. buf is reused for the body when it is
// large enough; the possibly grown buffer is returned for the next call.
// Bodies longer than maxBody are refused rather than allocated, because the
// length comes from the network.
func readPacket(r *bufio.Reader, buf []byte, maxBody int) (packet, []byte, error) {
	first, err := r.ReadByte()
	if err != nil {
		return packet{}, buf, err
	}
	n, err := readRemainingLength(r)
	if err != nil {
		return packet{}, buf, err
	}
	if n > maxBody {
		return packet{}, buf, fmt.Errorf("%w: body of %d bytes exceeds limit %d", errMalformed, n, maxBody)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	body := buf[:n]
	if _, err := io.ReadFull(r, body); err != nil {
		return packet{}, buf, fmt.Errorf("read packet body: %w", noEOF(err))
	}
	p, err := decodeBody(first, body)
	return p, buf, err
}

// readRemainingLength decodes the variable length that follows the first
// byte: 7 bits per byte, least significant first, at most 4 bytes.
func readRemainingLength(r io.ByteReader) (int, error) {
	n, shift := 0, 0
	for i := 0; i < 4; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("read remaining length: %w", noEOF(err))
		}
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			return n, nil
		}
		shift += 7
	}
	return 0, fmt.Errorf("%w: remaining length longer than 4 bytes", errMalformed)
}

// noEOF turns an EOF inside a packet into io.ErrUnexpectedEOF: only an EOF
// between packets is a clean end of the stream.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// decodeBody checks the fixed-header flags and the body of one packet.
func decodeBody(first byte, body []byte) (packet, error) {
	p := packet{kind: first >> 4, flags: first & 0x0f}
	switch p.kind {
	case packetConnack:
		if p.flags != 0 || len(body) != 2 || body[0]&^1 != 0 {
			return p, fmt.Errorf("%w: CONNACK flags %#x length %d", errMalformed, p.flags, len(body))
		}
		p.sessionPresent = body[0] == 1
		p.code = body[1]
	case packetPuback:
		if p.flags != 0 || len(body) != 2 {
			return p, fmt.Errorf("%w: PUBACK flags %#x length %d", errMalformed, p.flags, len(body))
		}
		p.id = binary.BigEndian.Uint16(body)
		if p.id == 0 {
			return p, fmt.Errorf("%w: PUBACK packet id 0", errMalformed)
		}
	case packetSuback:
		if p.flags != 0 || len(body) < 3 {
			return p, fmt.Errorf("%w: SUBACK flags %#x length %d", errMalformed, p.flags, len(body))
		}
		p.id = binary.BigEndian.Uint16(body)
		p.code = body[2]
		p.codes = body[2:]
	case packetPingresp:
		if p.flags != 0 || len(body) != 0 {
			return p, fmt.Errorf("%w: PINGRESP flags %#x length %d", errMalformed, p.flags, len(body))
		}
	case packetPublish:
		q := p.qos()
		if q == 3 {
			return p, fmt.Errorf("%w: PUBLISH with QoS 3", errMalformed)
		}
		if q == 0 && p.flags&0x08 != 0 {
			return p, fmt.Errorf("%w: PUBLISH QoS 0 with DUP set", errMalformed)
		}
		if len(body) < 2 {
			return p, fmt.Errorf("%w: PUBLISH without topic", errMalformed)
		}
		tl := int(binary.BigEndian.Uint16(body))
		rest := body[2:]
		if tl == 0 || tl > len(rest) {
			return p, fmt.Errorf("%w: PUBLISH topic length %d of %d bytes", errMalformed, tl, len(rest))
		}
		p.topic, rest = rest[:tl], rest[tl:]
		if q > 0 {
			if len(rest) < 2 {
				return p, fmt.Errorf("%w: PUBLISH QoS %d without packet id", errMalformed, q)
			}
			p.id = binary.BigEndian.Uint16(rest)
			if p.id == 0 {
				return p, fmt.Errorf("%w: PUBLISH packet id 0", errMalformed)
			}
			rest = rest[2:]
		}
		p.payload = rest
	default:
		return p, fmt.Errorf("%w: unexpected packet type %d from broker", errMalformed, p.kind)
	}
	return p, nil
}

// appendRemainingLength appends n in MQTT's variable length encoding.
func appendRemainingLength(b []byte, n int) []byte {
	for {
		d := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// connectOptions are the fields of a CONNECT packet this client sends.
type connectOptions struct {
	clientID string
	username string
	password string
	// keepAlive in seconds; 0 turns the broker's keepalive check off.
	keepAlive uint16
}

// appendConnect appends a CONNECT with a clean session, as a load client
// must not make the broker keep state between runs.
func appendConnect(b []byte, o connectOptions) []byte {
	flags := byte(0x02) // clean session
	n := 10 + 2 + len(o.clientID)
	if o.username != "" {
		flags |= 0x80
		n += 2 + len(o.username)
		if o.password != "" {
			flags |= 0x40
			n += 2 + len(o.password)
		}
	}
	b = append(b, packetConnect<<4)
	b = appendRemainingLength(b, n)
	b = appendString(b, "MQTT")
	b = append(b, 4, flags) // protocol level 4 = 3.1.1
	b = binary.BigEndian.AppendUint16(b, o.keepAlive)
	b = appendString(b, o.clientID)
	if o.username != "" {
		b = appendString(b, o.username)
		if o.password != "" {
			b = appendString(b, o.password)
		}
	}
	return b
}

// appendPublish appends a PUBLISH; id is ignored for QoS 0.
func appendPublish(b []byte, topic string, payload []byte, qos byte, id uint16) []byte {
	n := 2 + len(topic) + len(payload)
	if qos > 0 {
		n += 2
	}
	b = append(b, packetPublish<<4|qos<<1)
	b = appendRemainingLength(b, n)
	b = appendString(b, topic)
	if qos > 0 {
		b = binary.BigEndian.AppendUint16(b, id)
	}
	return append(b, payload...)
}

func appendPuback(b []byte, id uint16) []byte {
	return binary.BigEndian.AppendUint16(append(b, packetPuback<<4, 2), id)
}

// appendSubscribe appends a SUBSCRIBE for one or more filters, all with the
// same QoS; its fixed-header flags must be 0b0010.
func appendSubscribe(b []byte, id uint16, qos byte, filters ...string) []byte {
	n := 2
	for _, f := range filters {
		n += 2 + len(f) + 1
	}
	b = append(b, packetSubscribe<<4|0x02)
	b = appendRemainingLength(b, n)
	b = binary.BigEndian.AppendUint16(b, id)
	for _, f := range filters {
		b = appendString(b, f)
		b = append(b, qos)
	}
	return b
}

func appendPingreq(b []byte) []byte { return append(b, packetPingreq<<4, 0) }

func appendDisconnect(b []byte) []byte { return append(b, packetDisconnect<<4, 0) }

// connackError explains a refused CONNACK return code.
func connackError(code byte) error {
	reasons := [...]string{
		1: "unacceptable protocol version",
		2: "client identifier rejected",
		3: "server unavailable",
		4: "bad user name or password",
		5: "not authorized",
	}
	if int(code) < len(reasons) && reasons[code] != "" {
		return fmt.Errorf("connection refused: %s (code %d)", reasons[code], code)
	}
	return fmt.Errorf("connection refused: code %d", code)
}
