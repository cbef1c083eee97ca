package nook

import (
	"errors"
	"syscall"

	"nook.dev/nook/internal/capi"
)

// ErrorKind is the coarse kind of an *Error (nook_error_kind_t).
type ErrorKind int

// Error kinds. New kinds may be added; treat unknown ones like KindOS.
const (
	KindOS              = ErrorKind(capi.KindOS)
	KindInvalidConfig   = ErrorKind(capi.KindInvalidConfig)
	KindNotFound        = ErrorKind(capi.KindNotFound)
	KindAlreadyExists   = ErrorKind(capi.KindAlreadyExists)
	KindInvalidState    = ErrorKind(capi.KindInvalidState)
	KindUnsupported     = ErrorKind(capi.KindUnsupported)
	KindInvalidArgument = ErrorKind(capi.KindInvalidArgument)
	KindInternal        = ErrorKind(capi.KindInternal)
)

// Error is an error reported by libnook. It unwraps to its syscall.Errno,
// so errors.Is(err, os.ErrNotExist) and errors.Is(err, syscall.EBUSY) work.
type Error struct {
	// Op is the Go method that failed, e.g. "nook: create".
	Op string
	// Kind classifies the error.
	Kind ErrorKind
	// Errno is the errno that best describes the error.
	Errno syscall.Errno
	// Message is libnook's message: which step failed, on what, and why.
	Message string
}

func (e *Error) Error() string { return e.Op + ": " + e.Message }

// Unwrap returns the errno.
func (e *Error) Unwrap() error { return e.Errno }

// ErrClosed is returned when a Context or Container is used after Close.
var ErrClosed = errors.New("nook: use of closed handle")

// wrapErr turns a capi error into an *Error (and a nil one into nil).
func wrapErr(op string, e *capi.Error) error {
	if e == nil {
		return nil
	}
	return &Error{Op: "nook: " + op, Kind: ErrorKind(e.Kind), Errno: e.Errno, Message: e.Message}
}
