package catalog

import (
	"context"
	"encoding/base64"
	"encoding/hex"

	"github.com/redis/go-redis/v9"
)

// The id and expiry indexes hold a code's id in a shorter form than its 32
// hex digits: its 16 bytes in 22 characters of base64 whose alphabet is in
// ASCII order, so that the short forms sort as the ids do. Redis allocates
// a member of 22 characters in 32 bytes and one of 32 in 48, so each index
// costs 16 B less per code, and the form stays printable and safe in a URL,
// where a page's cursor goes.
//
// A catalog written before holds hex ids in its indexes: both forms are
// read, a write removes both, and a code put again is indexed in the short
// form.

// memberLen is the length of an id in the short form.
const memberLen = 22

// memberEncoding is base64 with the URL-safe alphabet in ASCII order: the
// encodings of equally long inputs sort as the inputs do.
var memberEncoding = base64.NewEncoding("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz").WithPadding(base64.NoPadding)

// member returns id in the short form, or id itself when it is not 32
// lower-case hex digits, as Spec.ID makes them.
func member(id string) string {
	raw, err := hex.DecodeString(id)
	if err != nil || len(raw) != 16 || hex.EncodeToString(raw) != id {
		return id
	}
	return memberEncoding.EncodeToString(raw)
}

// memberForms returns the forms id may have in an index: the short one,
// and id itself when it differs, for writes that remove a code.
func memberForms(id string) []any {
	if m := member(id); m != id {
		return []any{m, id}
	}
	return []any{id}
}

// addMember queues adding id to the index key at score, in the short form,
// and removing the hex form that a catalog written before may have left
// there: a code put again moves to the short form.
func addMember(ctx context.Context, p redis.Pipeliner, key string, score float64, id string) {
	short := member(id)
	if short != id {
		p.ZRem(ctx, key, id)
	}
	p.ZAdd(ctx, key, redis.Z{Score: score, Member: short})
}

// idOf returns the id of an index member: a short one in hex, any other as
// it is.
func idOf(m string) string {
	if len(m) != memberLen {
		return m
	}
	raw, err := memberEncoding.DecodeString(m)
	if err != nil || len(raw) != 16 {
		return m
	}
	return hex.EncodeToString(raw)
}

// idsOf returns the ids of index members.
func idsOf(members []string) []string {
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = idOf(m)
	}
	return ids
}
