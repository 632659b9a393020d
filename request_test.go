package wxqr_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
)

func TestRequestValidate(t *testing.T) {
	temp := wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxa", SceneID: 1}
	perm := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxa", SceneID: 1}
	mp := wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "wxm", Path: "p"}
	tests := []struct {
		name  string
		r     wxqr.Request
		field string // the field an error names; "" for a valid request
		rule  string // a piece of that error's rule
	}{
		{"temporary, default validity", wxqr.Request{Spec: temp}, "", ""},
		{"temporary, 1 s", wxqr.Request{Spec: temp, ExpireSeconds: 1}, "", ""},
		{"temporary, 30 days", wxqr.Request{Spec: temp, ExpireSeconds: 2592000}, "", ""},
		{"temporary, over 30 days", wxqr.Request{Spec: temp, ExpireSeconds: 2592001}, "expire_seconds", "1..2592000"},
		{"temporary, negative validity", wxqr.Request{Spec: temp, ExpireSeconds: -5}, "expire_seconds", "1..2592000"},
		{"temporary, regenerated", wxqr.Request{Spec: temp, Generation: 3}, "", ""},
		{"temporary, repaired", wxqr.Request{Spec: temp, Repair: true}, "", ""},
		{"permanent", wxqr.Request{Spec: perm, Campaign: "spring"}, "", ""},
		{"permanent with a validity", wxqr.Request{Spec: perm, ExpireSeconds: 60}, "expire_seconds", "only used by oa_temp"},
		{"mini program with a validity", wxqr.Request{Spec: mp, ExpireSeconds: 60}, "expire_seconds", "only used by oa_temp"},
		// A second generation of a permanent code would spend lifetime quota again.
		{"permanent, regenerated", wxqr.Request{Spec: perm, Generation: 2}, "generation", "only temporary codes"},
		{"mini program, regenerated", wxqr.Request{Spec: mp, Generation: 2}, "generation", "only temporary codes"},
		{"repair of a generation", wxqr.Request{Spec: temp, Generation: 2, Repair: true}, "repair", "no generation"},
		{"invalid spec", wxqr.Request{Spec: wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxa"}}, "scene_id", "required"},
		{"unknown kind", wxqr.Request{Spec: wxqr.Spec{Kind: "oa_forever", AppID: "wxa", SceneID: 1}, ExpireSeconds: 60}, "kind", "unknown kind"},
		{"named", wxqr.Request{Spec: perm, Name: "Store 12 - entrance"}, "", ""},
		// Characters, not bytes: 100 Chinese characters are 300 bytes.
		{"name of 100 characters", wxqr.Request{Spec: perm, Name: strings.Repeat("门", 100)}, "", ""},
		{"name of 100 characters and spaces around", wxqr.Request{Spec: perm, Name: "  " + strings.Repeat("n", 100) + " "}, "", ""},
		{"name of 101 characters", wxqr.Request{Spec: perm, Name: strings.Repeat("门", 101)}, "name", "at most 100 characters, got 101"},
		{"name with a newline", wxqr.Request{Spec: perm, Name: "Store 12\nentrance"}, "name", "control characters"},
		{"name with a tab", wxqr.Request{Spec: perm, Name: "Store\t12"}, "name", "control characters"},
		{"name with DEL", wxqr.Request{Spec: perm, Name: "Store\x7f12"}, "name", "control characters"},
		{"name not UTF-8", wxqr.Request{Spec: perm, Name: "Store \xff"}, "name", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := tt.r.Validate()
			if tt.field == "" {
				if len(errs) > 0 {
					t.Fatalf("Validate() = %v, want no error", errs)
				}
				return
			}
			found := false
			for _, err := range errs {
				var fe *wxqr.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("Validate() returned %T (%v), want *wxqr.FieldError", err, err)
				}
				found = found || fe.Field == tt.field && strings.Contains(fe.Rule, tt.rule)
			}
			if !found {
				t.Errorf("Validate() = %v, want an error on %s saying %q", errs, tt.field, tt.rule)
			}
		})
	}
}

func TestRequestValidateStopsAtAnUnknownKind(t *testing.T) {
	// Every rule past the spec's depends on the kind: an unknown kind is the
	// one error, not one per rule it seems to break.
	r := wxqr.Request{Spec: wxqr.Spec{Kind: "oa_forever", AppID: "wxa"}, ExpireSeconds: 60, Generation: 2}
	if errs := r.Validate(); len(errs) != 1 {
		t.Errorf("Validate() = %v, want the unknown kind only", errs)
	}
}

func TestRequestNormalize(t *testing.T) {
	temp := wxqr.Request{Spec: wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxa", SceneID: 1}}
	got := temp.Normalize()
	if got.ExpireSeconds != 2592000 {
		t.Errorf("temporary code's validity = %d, want the default 2592000", got.ExpireSeconds)
	}
	if got.ID != temp.Spec.ID() {
		t.Errorf("ID = %q, want the spec's %q", got.ID, temp.Spec.ID())
	}
	if again := got.Normalize(); again != got {
		t.Errorf("Normalize is not idempotent: %+v, then %+v", got, again)
	}
	week := temp
	week.ExpireSeconds = 604800
	if got := week.Normalize(); got.ExpireSeconds != 604800 {
		t.Errorf("a given validity became %d, want 604800", got.ExpireSeconds)
	}

	mp := wxqr.Request{Spec: wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "wxm", Path: "p"}}
	got = mp.Normalize()
	if got.Spec.Width != wxqr.DefaultWidth || got.ExpireSeconds != 0 {
		t.Errorf("mini program request normalised to width %d, validity %d; want %d, 0",
			got.Spec.Width, got.ExpireSeconds, wxqr.DefaultWidth)
	}

	carried := mp
	carried.ID = "carried"
	if got := carried.Normalize(); got.ID != "carried" {
		t.Errorf("Normalize replaced the carried id with %q", got.ID)
	}
}

func TestRequestNameIsNotIdentity(t *testing.T) {
	spec := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxa", SceneID: 1}
	a := wxqr.Request{Spec: spec, Name: " Store 12 - entrance "}.Normalize()
	b := wxqr.Request{Spec: spec, Name: "Store 12 - exit"}.Normalize()
	if a.ID != b.ID {
		t.Errorf("one code under two names has ids %s and %s, want one", a.ID, b.ID)
	}
	if a.Name != "Store 12 - entrance" {
		t.Errorf("Normalize left the name %q, want it trimmed", a.Name)
	}
}

func TestRequestCheckID(t *testing.T) {
	r := wxqr.Request{Spec: wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxa", SceneID: 1}}
	if err := r.CheckID(); err != nil {
		t.Errorf("CheckID of a request without an id: %v, want nil", err)
	}
	if err := r.Normalize().CheckID(); err != nil {
		t.Errorf("CheckID of a normalised request: %v, want nil", err)
	}
	r.ID = wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxa", SceneID: 2}.ID()
	var fe *wxqr.FieldError
	if err := r.CheckID(); !errors.As(err, &fe) || fe.Field != "id" {
		t.Errorf("CheckID of another code's id = %v, want a FieldError on id", err)
	}
}

func TestRecordDone(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		rec  wxqr.Record
		want bool
	}{
		{"never expires", wxqr.Record{}, true},
		{"expires later", wxqr.Record{ExpiresAt: now.Add(time.Second)}, true},
		{"expires now", wxqr.Record{ExpiresAt: now}, false},
		{"expired", wxqr.Record{ExpiresAt: now.Add(-time.Hour)}, false},
		{"expired but retired", wxqr.Record{ExpiresAt: now.Add(-time.Hour), Retired: true}, true},
		{"retired", wxqr.Record{Retired: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rec.Done(now); got != tt.want {
				t.Errorf("Done = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseQuotaClass(t *testing.T) {
	for _, c := range wxqr.QuotaClasses {
		if got, ok := wxqr.ParseQuotaClass(string(c)); !ok || got != c {
			t.Errorf("ParseQuotaClass(%q) = %q, %v", c, got, ok)
		}
	}
	for _, s := range []string{"", "regen", "OA_TEMP", "oa_temp "} {
		if got, ok := wxqr.ParseQuotaClass(s); ok {
			t.Errorf("ParseQuotaClass(%q) = %q, want not a class", s, got)
		}
	}
}

func TestQuotaClassesListsEveryClass(t *testing.T) {
	for _, k := range wxqr.Kinds {
		if _, ok := wxqr.ParseQuotaClass(string(k.Class())); !ok {
			t.Errorf("the class of %s, %s, is not in QuotaClasses", k, k.Class())
		}
	}
}
