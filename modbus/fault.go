package modbus

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/goburrow/modbus"
	"github.com/goburrow/serial"
)

// FaultKind classifies why a request failed.
type FaultKind string

// Kinds of faults, as the counters and Fault.Kind name them.
const (
	// FaultTimeout: the device did not answer within the source's timeout.
	FaultTimeout FaultKind = "timeout"
	// FaultException: the device answered with a Modbus exception.
	FaultException FaultKind = "exception"
	// FaultCRC: an RTU answer whose checksum is wrong (line noise, two
	// devices with one address, a wrong baud rate).
	FaultCRC FaultKind = "crc"
	// FaultConnect: no connection could be made: refused, unreachable,
	// no such serial device.
	FaultConnect FaultKind = "connect"
	// FaultLost: the connection broke during the request.
	FaultLost FaultKind = "lost"
	// FaultInvalid: an answer that does not fit the request (wrong length,
	// transaction or unit), or a value that is not a reading (a float32
	// NaN).
	FaultInvalid FaultKind = "invalid"
)

// FaultKinds lists every kind, for exporting counters.
var FaultKinds = []FaultKind{FaultTimeout, FaultException, FaultCRC, FaultConnect, FaultLost, FaultInvalid}

// Exception is a Modbus exception code.
type Exception uint8

// Exception codes of the Modbus application protocol.
const (
	IllegalFunction            Exception = 1
	IllegalDataAddress         Exception = 2
	IllegalDataValue           Exception = 3
	ServerDeviceFailure        Exception = 4
	Acknowledge                Exception = 5
	ServerDeviceBusy           Exception = 6
	MemoryParityError          Exception = 8
	GatewayPathUnavailable     Exception = 10
	GatewayTargetNotResponding Exception = 11
)

// String is the exception's name in the Modbus specification.
func (e Exception) String() string {
	switch e {
	case IllegalFunction:
		return "illegal function"
	case IllegalDataAddress:
		return "illegal data address"
	case IllegalDataValue:
		return "illegal data value"
	case ServerDeviceFailure:
		return "server device failure"
	case Acknowledge:
		return "acknowledge"
	case ServerDeviceBusy:
		return "server device busy"
	case MemoryParityError:
		return "memory parity error"
	case GatewayPathUnavailable:
		return "gateway path unavailable"
	case GatewayTargetNotResponding:
		return "gateway target device failed to respond"
	}
	return "unknown exception"
}

// Fault is one failed request: what was asked of which unit, why it failed,
// and the points it carried. It is an error.
type Fault struct {
	Kind      FaultKind
	Write     bool // a write rather than a read
	UnitID    uint8
	Function  Function
	Address   uint16
	Count     int       // registers or bits
	Exception Exception // for FaultException
	Points    []*Point
	Err       error
}

func (f *Fault) Error() string {
	verb := "read"
	if f.Write {
		verb = "write"
	}
	what := f.Function.plural()
	span := fmt.Sprintf("%d-%d", f.Address, int(f.Address)+f.Count-1)
	if f.Count == 1 {
		what, span = f.Function.singular(), fmt.Sprint(f.Address)
	}
	return fmt.Sprintf("%s %s %s of unit %d: %v", verb, what, span, f.UnitID, f.Err)
}

func (f *Fault) Unwrap() error { return f.Err }

// ExceptionError is a Modbus exception answer.
type ExceptionError struct {
	Code Exception
}

func (e *ExceptionError) Error() string {
	return fmt.Sprintf("exception %d (%s)", uint8(e.Code), e.Code)
}

// CRCError is an RTU answer whose checksum is wrong.
type CRCError struct {
	Got, Want uint16
}

func (e *CRCError) Error() string {
	return fmt.Sprintf("bad CRC: the answer carries %04x, its bytes give %04x", e.Got, e.Want)
}

// errTimeout is what a fault of kind timeout carries.
type timeoutError struct {
	after string
	err   error
}

func (e *timeoutError) Error() string { return "no answer within " + e.after }
func (e *timeoutError) Unwrap() error { return e.err }

// classify names the kind of a request's error and words it for people.
func classify(err error) (FaultKind, Exception, error) {
	var me *modbus.ModbusError
	var crc *CRCError
	var ne net.Error
	switch {
	case errors.As(err, &me):
		return FaultException, Exception(me.ExceptionCode), &ExceptionError{Code: Exception(me.ExceptionCode)}
	case errors.As(err, &crc):
		return FaultCRC, 0, err
	case errors.Is(err, serial.ErrTimeout), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return FaultTimeout, 0, err
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.EIO):
		return FaultLost, 0, fmt.Errorf("connection lost: %w", err)
	}
	return FaultInvalid, 0, fmt.Errorf("invalid answer: %w", err)
}
