package wxqr

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen bounds Request.Name, in characters: a label that fits under a
// printed code and in a file name.
const MaxNameLen = 100

// Request asks for one code: what to make, for which campaign, how long a
// temporary code lives, and which generation. The producer builds one per
// code, the queues carry it (as a generate task's payload) and the worker
// makes what it asks, each checking it with the same Validate.
type Request struct {
	// ID is the code's id, Spec.ID(): worked out once, by Normalize where
	// the request is made, and carried from there so that no step along the
	// way hashes the spec again. Empty in requests made before it was
	// carried.
	ID       string `json:"id,omitempty"`
	Spec     Spec   `json:"spec"`
	Campaign string `json:"campaign,omitempty"`
	// Name is a person's label for the code ("Store 12 - entrance"): free
	// text of at most MaxNameLen characters, without control characters,
	// trimmed by Normalize. It is not part of the code's identity: the same
	// code asked for under another name is the same code, and its record
	// takes the name of the latest request that gives one.
	Name string `json:"name,omitempty"`
	// ExpireSeconds is the validity of a temporary code (oa_temp only):
	// 1 s .. MaxTempExpire, 0 meaning DefaultTempExpire.
	ExpireSeconds int `json:"expire_seconds,omitempty"`
	// Generation is 0 to make the code if it does not exist yet; n > 0 to
	// regenerate it as generation n (temporary codes only).
	Generation int `json:"generation,omitempty"`
	// Repair asks to mend a code whose stored image was found missing or
	// broken: the worker checks the object again and, if it is still
	// broken, fetches the image again with the recorded ticket (no quota),
	// makes an expired temporary code anew, and asks WeChat again for a
	// Mini Program code only when nothing usable is left.
	Repair bool `json:"repair,omitempty"`
}

// Normalize returns r with its defaults filled in: the spec's (see
// Spec.Normalize), a temporary code's validity, and the id when r carries
// none; its name is trimmed. A carried id is kept as it is: whoever reads a request from outside
// checks it (see CheckID).
func (r Request) Normalize() Request {
	r.Spec = r.Spec.Normalize()
	r.Name = strings.TrimSpace(r.Name)
	if r.Spec.Kind.Temporary() && r.ExpireSeconds == 0 {
		r.ExpireSeconds = int(DefaultTempExpire / time.Second)
	}
	if r.ID == "" {
		r.ID = r.Spec.ID()
	}
	return r
}

// Validate checks r against WeChat's rules for its spec (Spec.Validate) and
// wxqr's for the request: only temporary codes have a validity, which is
// WeChat's 1 s .. 30 days; only temporary codes are regenerated (a second
// generation of any other kind would spend lifetime quota again); a repair
// mends the current generation; a name is short, printable text (see
// Name). It returns every broken rule, each as a *FieldError naming the
// field. It does not need r normalised.
func (r Request) Validate() []error {
	errs := fieldErrors(r.Spec.Validate())
	r.validateName(&errs)
	if _, err := ParseKind(string(r.Spec.Kind)); err != nil {
		return errs // the rules below depend on the kind
	}
	kind := r.Spec.Kind
	if max := int(MaxTempExpire / time.Second); kind.Temporary() && (r.ExpireSeconds < 0 || r.ExpireSeconds > max) {
		errs.add("expire_seconds", "must be 1..%d (30 days) for %s, got %d", max, kind, r.ExpireSeconds)
	} else if !kind.Temporary() && r.ExpireSeconds != 0 {
		errs.add("expire_seconds", "is only used by %s", KindOATemp)
	}
	if r.Generation > 0 && !kind.Temporary() {
		errs.add("generation", "is %d, but only temporary codes are regenerated, not %s", r.Generation, kind)
	}
	if r.Generation > 0 && r.Repair {
		errs.add("repair", "a repair mends the current generation: it takes no generation")
	}
	return errs
}

// CheckID reports whether the id r carries is its spec's (or r carries none,
// as requests made before the id was carried do). It is for a request read
// from outside, checked once where it comes in.
func (r Request) CheckID() error {
	if r.ID == "" {
		return nil
	}
	if want := r.Spec.ID(); r.ID != want {
		return &FieldError{Field: "id", Rule: "is " + r.ID + ", but the spec's id is " + want}
	}
	return nil
}

// validateName checks the name as Normalize leaves it, trimmed.
func (r Request) validateName(errs *fieldErrors) {
	name := strings.TrimSpace(r.Name)
	if !utf8.ValidString(name) {
		errs.add("name", "must be UTF-8 text")
		return
	}
	if n := utf8.RuneCountInString(name); n > MaxNameLen {
		errs.add("name", "must be at most %d characters, got %d", MaxNameLen, n)
	}
	if i := strings.IndexFunc(name, unicode.IsControl); i >= 0 {
		c, _ := utf8.DecodeRuneInString(name[i:])
		errs.add("name", "must not hold control characters, got %q", c)
	}
}
