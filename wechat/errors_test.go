package wechat

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestAPIErrorClasses(t *testing.T) {
	tests := []struct {
		code int
		want Class
	}{
		{-1, ClassTransient},
		{40001, ClassToken}, {40014, ClassToken}, {42001, ClassToken},
		{45011, ClassMinuteLimit},
		{45009, ClassDailyQuota},
		{45029, ClassTotalQuota},
		{40052, ClassBadRequest}, {40053, ClassBadRequest}, {40097, ClassBadRequest}, {40129, ClassBadRequest},
		{40159, ClassBadRequest}, {40169, ClassBadRequest}, {41030, ClassBadRequest}, {47001, ClassBadRequest},
		{85096, ClassBadRequest}, {76003, ClassBadRequest}, {76021, ClassBadRequest},
		{40013, ClassAccount}, {40125, ClassAccount}, {40164, ClassAccount}, {48001, ClassAccount}, {76022, ClassAccount},
		{40002, ClassUnknown}, {43001, ClassUnknown}, {99999, ClassUnknown},
	}
	sentinels := map[Class]error{
		ClassTransient: ErrTransient, ClassToken: ErrToken, ClassMinuteLimit: ErrMinuteLimit,
		ClassDailyQuota: ErrDailyQuota, ClassTotalQuota: ErrTotalQuota, ClassBadRequest: ErrBadRequest,
		ClassAccount: ErrAccount, ClassTicketNotFound: ErrTicketNotFound,
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			err := fmt.Errorf("handling task: %w", &APIError{Op: "qrcode/create", Code: tt.code, Msg: "m"})
			if got := ClassOf(err); got != tt.want {
				t.Errorf("ClassOf = %v, want %v", got, tt.want)
			}
			// Exactly one sentinel matches, or none for unknown codes.
			for class, sentinel := range sentinels {
				if got, want := errors.Is(err, sentinel), class == tt.want; got != want {
					t.Errorf("errors.Is(err, %v) = %v, want %v", sentinel, got, want)
				}
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != tt.code {
				t.Errorf("errors.As: %v, want the *APIError with code %d", ae, tt.code)
			}
		})
	}
}

func TestAPIErrorString(t *testing.T) {
	err := &APIError{Op: "wxa/getwxacode", Code: 45029, Msg: "qrcode count out of limit rid: 1"}
	if got, want := err.Error(), "wechat: wxa/getwxacode: errcode 45029: qrcode count out of limit rid: 1"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestClassOfOtherErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, ClassNone},
		{"context", context.Canceled, ClassUnknown},
		{"sentinel", ErrTotalQuota, ClassTotalQuota},
		{"failure", &failure{op: "x", class: ErrTransient, msg: "HTTP 502"}, ClassTransient},
		{"unclassified failure", &failure{op: "x", msg: "m", err: context.Canceled}, ClassUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClassOf(tt.err); got != tt.want {
				t.Errorf("ClassOf = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClassString(t *testing.T) {
	seen := map[string]bool{}
	for c := ClassNone; c <= ClassUnknown; c++ {
		s := c.String()
		if seen[s] {
			t.Errorf("%d: name %q used twice", c, s)
		}
		seen[s] = true
	}
	if got := ClassMinuteLimit.String(); got != "minute_limit" {
		t.Errorf("ClassMinuteLimit.String() = %q", got)
	}
}
