package scans_test

import (
	"go/parser"
	"go/token"
	"regexp"
	"strings"
	"testing"

	"github.com/wxqr/wxqr/scans"
)

// TestKeyListIsComplete holds the key list of the package documentation to
// the keys a full round of events writes: each key written matches a listed
// pattern, and each pattern is written.
func TestKeyListIsComplete(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "scans.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	placeholder := regexp.MustCompile(`\\\{[a-z_]+\\\}`)
	patterns := map[string]*regexp.Regexp{}
	for line := range strings.SplitSeq(f.Doc.Text(), "\n") {
		key, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if strings.HasPrefix(key, "wxqr:scan:") {
			patterns[key] = regexp.MustCompile("^" + placeholder.ReplaceAllString(regexp.QuoteMeta(key), ".+") + "$")
		}
	}
	if len(patterns) < 9 {
		t.Fatalf("the documentation lists %d keys, want at least 9: is the parsing still right?", len(patterns))
	}

	fx := newFixture(t, scans.Config{})
	fullRound(t, fx, []string{"alice", "bob"})
	keys, err := fx.rdb.Keys(t.Context(), "wxqr:scan:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	written := map[string]bool{}
	for _, key := range keys {
		matched := false
		for doc, re := range patterns {
			if re.MatchString(key) {
				written[doc], matched = true, true
			}
		}
		if !matched {
			t.Errorf("key %s is not in the package documentation", key)
		}
	}
	for doc := range patterns {
		if !written[doc] {
			t.Errorf("documented key %s was never written", doc)
		}
	}
}
