// Package exitcode carries a command's exit status in the error its run
// function returns, so that run (which tests call) never exits, and main
// turns the error into a status in one place.
package exitcode

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// The statuses every command shares; a command documents its own above them.
const (
	OK    = 0
	Error = 1 // any failure without a status of its own
	Usage = 2 // bad flags or configuration
)

// Status is an error with the exit status it calls for.
type Status struct {
	Code int
	Err  error
}

func (s *Status) Error() string { return s.Err.Error() }
func (s *Status) Unwrap() error { return s.Err }

// With returns err with exit status code.
func With(code int, err error) error { return &Status{Code: code, Err: err} }

// Withf is With of a formatted error.
func Withf(code int, format string, args ...any) error {
	return With(code, fmt.Errorf(format, args...))
}

// UsageError returns err with status Usage.
func UsageError(err error) error { return With(Usage, err) }

// Of returns the exit status err calls for: OK for nil and for a help
// request (flag.ErrHelp), the code of a Status in its chain, else Error.
func Of(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return OK
	}
	if st, ok := errors.AsType[*Status](err); ok {
		return st.Code
	}
	return Error
}

// Exit ends the process with the status err calls for, first printing err
// to stderr as "name: err" unless it is nil or a help request.
func Exit(name string, err error) {
	exit(name, err, os.Stderr, os.Exit)
}

func exit(name string, err error, stderr io.Writer, osExit func(int)) {
	if code := Of(err); code != OK {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		osExit(code)
		return
	}
	osExit(OK)
}
