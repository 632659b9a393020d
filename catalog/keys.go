package catalog

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/wxqr/wxqr"
)

// keys names every Redis key the catalog uses, each in one method. The
// package documentation lists them all; TestKeyListIsComplete holds it to
// that.
type keys struct{ prefix string }

// A code's record and the indexes over the records (see Put).
func (k keys) code(id string) string       { return k.prefix + "code:" + id }
func (k keys) noCampaign() string          { return k.prefix + "codes" } // the ids of the codes without a campaign
func (k keys) campaign(name string) string { return k.prefix + "campaign:" + name }
func (k keys) campaigns() string           { return k.prefix + "campaigns" }
func (k keys) apps() string                { return k.prefix + "apps" }
func (k keys) expiry() string              { return k.prefix + "expiry" }
func (k keys) quota(app string, class wxqr.QuotaClass) string {
	return k.prefix + "quota:" + app + ":" + string(class)
}

// The index by which a launch finds its code (see ByEntry).
func (k keys) entries(app string) string { return k.prefix + "entries:" + app }

// The ticket index of a catalog written before records kept their earlier
// tickets: read (see ByScan) and deleted (see legacyTicketKey), never
// written. Its key holds a short hash of the ticket, long enough that two
// tickets never share one.
func (k keys) legacyTicket(ticket string) string {
	sum := sha256.Sum256([]byte(ticket))
	return k.prefix + "ticket:" + hex.EncodeToString(sum[:16])
}

// The counters of one campaign's codes; "" = the codes without a campaign (see stats.go).
func (k keys) stats(campaign string) string { return k.prefix + "stats" + campaignSuffix(campaign) }

// Campaigns retired as a whole (see RetireCampaign).
func (k keys) retiredCampaigns() string { return k.prefix + "retired-campaigns" }

// A campaign's plan and failures (see Plan and Fail), and its plan as a
// catalog written before held it (see upgradePlan).
func (k keys) unmade(campaign string) string        { return k.prefix + "unmade:" + campaign }
func (k keys) failed(campaign string) string        { return k.prefix + "failed:" + campaign }
func (k keys) legacyPlanned(campaign string) string { return k.prefix + "planned:" + campaign }

// Making one code: its lock (see Lock), the generation an attempt asked
// WeChat for (see MarkCalled) and the staged result (see Stage).
func (k keys) lock(id string) string   { return k.prefix + "lock:" + id }
func (k keys) called(id string) string { return k.prefix + "called:" + id }
func (k keys) staged(id string) string { return k.prefix + "staged:" + id }

// The count of the staged results' bytes, kept exact (see staged.go).
func (k keys) stagedBytes() string  { return k.prefix + "staged_bytes" }
func (k keys) stagedSizes() string  { return k.prefix + "staged_sizes" }
func (k keys) stagedExpiry() string { return k.prefix + "staged_expiry" }
