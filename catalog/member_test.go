package catalog

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

func TestMemberForm(t *testing.T) {
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = hex.EncodeToString([]byte(rand.Text())[:16])
	}
	ids = append(ids, strings.Repeat("0", 32), strings.Repeat("f", 32))
	slices.Sort(ids)
	members := make([]string, len(ids))
	for i, id := range ids {
		members[i] = member(id)
		if len(members[i]) != memberLen || idOf(members[i]) != id {
			t.Fatalf("member(%s) = %q, back to %s", id, members[i], idOf(members[i]))
		}
	}
	if !slices.IsSorted(members) {
		t.Error("the short forms do not sort as the ids do")
	}
	for _, id := range []string{"queued-id", strings.Repeat("A", 32), "abc"} {
		if member(id) != id || idOf(id) != id || len(memberForms(id)) != 1 {
			t.Errorf("an id that is not 32 lower-case hex digits, %q, is not kept as it is", id)
		}
	}
}
