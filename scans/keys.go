package scans

// keys names every Redis key the store uses, each in one method. The package
// documentation lists them all; TestKeyListIsComplete holds it to that.
type keys struct{ prefix string }

// The counts of one code and of one campaign: a hash of totals and per-day
// fields, and a HyperLogLog of the scanners' openid hashes.
func (k keys) code(id string) string           { return k.prefix + "scan:code:" + id }
func (k keys) codeUniq(id string) string       { return k.prefix + "scan:code-uniq:" + id }
func (k keys) campaign(name string) string     { return k.prefix + "scan:campaign:" + name }
func (k keys) campaignUniq(name string) string { return k.prefix + "scan:campaign-uniq:" + name }

// A campaign's codes ranked by scans + launches (see Top).
func (k keys) top(campaign string) string { return k.prefix + "scan:top:" + campaign }

// Every counted event, by app, type and whether it was attributed (see
// EventTotals).
func (k keys) events() string { return k.prefix + "scan:events" }

// The marker of an event already counted (h: the event's keyed hash).
func (k keys) seen(h string) string { return k.prefix + "scan:seen:" + h }

// The code a follower's subscribe was attributed to (h: the openid's keyed
// hash), so that the unsubscribe is counted there.
func (k keys) follow(app, h string) string { return k.prefix + "scan:follow:" + app + ":" + h }

// The fleet's openid key, when the configuration gives none.
func (k keys) openIDKey() string { return k.prefix + "scan:key" }
