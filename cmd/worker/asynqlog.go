package main

import (
	"fmt"

	"github.com/rs/zerolog"
)

// asynqLogger sends asynq's own log lines through the worker's zerolog
// logger, so that one process writes one log format.
type asynqLogger struct{ log zerolog.Logger }

func (a asynqLogger) Debug(args ...any) { a.log.Debug().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.log.Info().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.log.Warn().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.log.Error().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) { a.log.Fatal().Msg(fmt.Sprint(args...)) }
