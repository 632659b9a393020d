package e2e

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// scanCounts are what wxqr must count for one code.
type scanCounts struct {
	scans, newFollows, unfollows int
	scanners                     map[string]bool // the openids that scanned it
}

func (c *scanCounts) scanned(openID string) {
	c.scans++
	if c.scanners == nil {
		c.scanners = map[string]bool{}
	}
	c.scanners[openID] = true
}

// scanCode is a code the events are about: its id, campaign, app and the
// tickets WeChat issued for it (two once regenerated).
type scanCode struct {
	id, campaign, app string
	tickets           []string
}

// pushTarget is how one app's pushes are sent: its server URL and
// configuration.
type pushTarget struct {
	url, token, aesKey string
}

// plannedPush is one push of the plan.
type plannedPush struct {
	push  wechatsim.Push
	valid bool // false: a bad signature, to be refused and not counted
	// oldTicket: the push names a regenerated code by its previous ticket.
	oldTicket bool
}

// scanPlan is what the pushes of one run are and what they must count.
// Each user's pushes are in order (a follow before its unfollow); users are
// independent, so their sequences may run side by side.
type scanPlan struct {
	users  [][]plannedPush
	counts map[string]*scanCounts // by code id
	// unattributed counts the events that are counted but name no code:
	// scenes wxqr never made, unfollows of such follows.
	unattributed int
	// counted is every valid push (each counted once however often delivered).
	counted int
}

// scanPlanConfig shapes a plan.
type scanPlanConfig struct {
	targets       map[string]pushTarget // by app id
	codes         []*scanCode
	events        int // pushes in all
	badSignatures int // of which signed with a wrong token
	unknownScenes int // of which for scenes wxqr never made
	usersPerApp   int
	start         time.Time // CreateTime of the first push, one second apart
}

// userState is where one user of one app stands.
type userState struct {
	openID    string
	follows   bool
	followVia *scanCode // the code their follow is attributed to; nil: elsewhere
	pushes    []plannedPush
}

// newScanPlan draws a plan: a user who does not follow subscribes by
// scanning a code, a follower scans or (one time in four) unsubscribes; each
// push is delivered 1 to 3 times, in plain or safe mode as its app is set.
func newScanPlan(cfg scanPlanConfig, rng *rand.Rand) *scanPlan {
	p := &scanPlan{counts: map[string]*scanCounts{}}
	users := map[string][]*userState{}
	for app := range cfg.targets {
		for i := range cfg.usersPerApp {
			users[app] = append(users[app], &userState{openID: fmt.Sprintf("oE2E%s%012d", app[len(app)-4:], i)})
		}
	}
	for i := range cfg.events {
		code := cfg.codes[rng.IntN(len(cfg.codes))]
		u := users[code.app][rng.IntN(cfg.usersPerApp)]
		target := cfg.targets[code.app]
		ticket := rng.IntN(len(code.tickets))
		push := wechatsim.Push{
			URL: target.url, AppID: code.app, Token: target.token, AESKey: target.aesKey,
			OpenID: u.openID, Ticket: code.tickets[ticket],
			CreateTime: cfg.start.Add(time.Duration(i) * time.Second),
			Deliveries: 1 + rng.IntN(3),
		}
		planned := plannedPush{valid: true, oldTicket: ticket < len(code.tickets)-1}
		switch {
		case i < cfg.badSignatures:
			push.Event, push.BadSignature = wechatsim.EventScan, true
			planned.valid = false
		case i < cfg.badSignatures+cfg.unknownScenes:
			push.Ticket, push.Scene = "", fmt.Sprintf("never-made-%d", i)
			push.Event = p.follow(u, nil)
		case !u.follows:
			push.Event = p.follow(u, code)
		case rng.IntN(4) == 0:
			push.Ticket, push.Event = "", wechatsim.EventUnsubscribe
			p.unfollow(u)
		default:
			push.Event = wechatsim.EventScan
			p.count(code).scanned(u.openID)
		}
		if planned.valid {
			p.counted++
		}
		planned.push = push
		u.pushes = append(u.pushes, planned)
	}
	for _, appUsers := range users {
		for _, u := range appUsers {
			if len(u.pushes) > 0 {
				p.users = append(p.users, u.pushes)
			}
		}
	}
	return p
}

// follow is a scan by u of code (nil: a scene wxqr never made): a subscribe
// if u does not follow yet, else a SCAN. It returns the event.
func (p *scanPlan) follow(u *userState, code *scanCode) string {
	event := wechatsim.EventScan
	if !u.follows {
		event = wechatsim.EventSubscribe
		u.follows, u.followVia = true, code
	}
	if code == nil {
		p.unattributed++
		return event
	}
	c := p.count(code)
	c.scanned(u.openID)
	if event == wechatsim.EventSubscribe {
		c.newFollows++
	}
	return event
}

// unfollow is u leaving: counted on the code that brought them, if any.
func (p *scanPlan) unfollow(u *userState) {
	if u.followVia != nil {
		p.count(u.followVia).unfollows++
	} else {
		p.unattributed++
	}
	u.follows, u.followVia = false, nil
}

func (p *scanPlan) count(c *scanCode) *scanCounts {
	if p.counts[c.id] == nil {
		p.counts[c.id] = &scanCounts{}
	}
	return p.counts[c.id]
}

// campaignCounts sums the plan's counts per campaign.
func (p *scanPlan) campaignCounts(codes []*scanCode) map[string]*scanCounts {
	sums := map[string]*scanCounts{}
	for _, code := range codes {
		c, ok := p.counts[code.id]
		if !ok {
			continue
		}
		s := sums[code.campaign]
		if s == nil {
			s = &scanCounts{scanners: map[string]bool{}}
			sums[code.campaign] = s
		}
		s.scans += c.scans
		s.newFollows += c.newFollows
		s.unfollows += c.unfollows
		for id := range c.scanners {
			s.scanners[id] = true
		}
	}
	return sums
}
