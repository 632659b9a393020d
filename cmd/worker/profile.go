package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// envCPUProfile names a file the worker writes a CPU profile of its whole run
// to (go tool pprof reads it); unset, no profile is taken. It is for
// measuring the worker (cmd/bench --worker-profile sets it), not for
// production, where the profile grows with the run.
const envCPUProfile = "WXQR_CPU_PROFILE"

// startCPUProfile starts the profile getenv asks for, if any, and returns
// the function that stops it and closes the file.
func startCPUProfile(getenv func(string) string) (stop func(), err error) {
	path := getenv(envCPUProfile)
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envCPUProfile, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", envCPUProfile, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
