package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wxqr/wxqr/tasks"
)

// Format is how a webhook is sent.
type Format string

const (
	// FormatJSON posts the Event as JSON, signed (see Sign) in
	// X-Wxqr-Signature and named in X-Wxqr-Event.
	FormatJSON Format = "json"
	// FormatWeCom posts a markdown message to a WeCom (企业微信) group
	// robot: {"msgtype":"markdown","markdown":{"content":"..."}}.
	FormatWeCom Format = "wecom"
)

// Headers of the JSON format.
const (
	HeaderSignature = "X-Wxqr-Signature"
	HeaderEvent     = "X-Wxqr-Event"
)

// Sign returns the X-Wxqr-Signature of body: "sha256=" and the hex
// HMAC-SHA256 of body keyed with secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature is body's X-Wxqr-Signature under
// secret, in constant time: what a receiver checks before it trusts a
// notice.
func Verify(secret string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}

// maxMarkdown is the longest content a WeCom robot takes, in bytes.
const maxMarkdown = 4096

// weComBody is the robot message of ev.
func weComBody(ev Event) ([]byte, error) {
	type markdown struct {
		Content string `json:"content"`
	}
	return json.Marshal(struct {
		MsgType  string   `json:"msgtype"`
		Markdown markdown `json:"markdown"`
	}{"markdown", markdown{clip(markdownOf(ev), maxMarkdown)}})
}

// markdownOf says ev for people, in the markdown a WeCom robot shows.
func markdownOf(ev Event) string {
	var b strings.Builder
	switch ev.Kind {
	case CampaignFinished:
		fmt.Fprintf(&b, "**wxqr: campaign %s finished**\n", quote(ev.Campaign))
		fmt.Fprintf(&b, "> planned %d, generated <font color=\"info\">%d</font>, failed <font color=\"warning\">%d</font>\n",
			ev.Counts["planned"], ev.Counts["generated"], ev.Counts["failed"])
	case CampaignPaused:
		pausedMarkdown(&b, ev)
	case CodesFailed:
		fmt.Fprintf(&b, "**wxqr: <font color=\"warning\">%d</font> codes of campaign %s failed for good**\n",
			ev.Counts["failed"], quote(ev.Campaign))
		if total, ok := ev.Counts["failed_total"]; ok {
			fmt.Fprintf(&b, "> %d failed of %d planned so far\n", total, ev.Counts["planned"])
		}
		for _, f := range ev.Failures {
			fmt.Fprintf(&b, "> %s (%s): %s\n", quote(f.ID), plain(f.AppID), plain(f.Reason))
		}
	}
	fmt.Fprintf(&b, "> %s, %s", ev.At.Format(time.RFC3339), quote(ev.ID))
	return b.String()
}

func pausedMarkdown(b *strings.Builder, ev Event) {
	fmt.Fprintf(b, "**wxqr: <font color=\"warning\">work paused</font>** on %s (app %s)\n", quote(ev.Queue), plain(ev.AppID))
	fmt.Fprintf(b, "> %s", causeText(ev.Reason))
	if ev.Detail != "" {
		fmt.Fprintf(b, ": %s", plain(ev.Detail))
	}
	b.WriteString("\n")
	if ev.Campaign != "" {
		fmt.Fprintf(b, "> paused by campaign %s; ", quote(ev.Campaign))
	} else {
		b.WriteString("> ")
	}
	fmt.Fprintf(b, "%d tasks wait\n", ev.Counts["tasks_waiting"])
	if ev.ResumeAt.IsZero() {
		b.WriteString("> an operator must resume it (`enqueue resume`)\n")
	} else {
		fmt.Fprintf(b, "> resumes by itself at %s\n", ev.ResumeAt.Format(time.RFC3339))
	}
}

// causeText says a pause's cause for people.
func causeText(cause string) string {
	switch cause {
	case tasks.CauseTotalQuota:
		return "WeChat's lifetime quota is spent"
	case tasks.CauseDailyQuota:
		return "WeChat's daily quota is spent"
	case tasks.CauseDailyBudget:
		return "wxqr's daily budget is spent"
	case tasks.CauseAccount:
		return "WeChat refuses the account"
	case tasks.ReasonStorage:
		return "storage does not take the images"
	}
	return plain(cause)
}

// quote puts text people typed (a campaign name) in code style, where
// markdown means nothing; a backquote in it would end the quote.
func quote(s string) string { return "`" + strings.ReplaceAll(plain(s), "`", "'") + "`" }

// plain keeps text on one line of the message: a line break in it would
// start markdown of its own.
func plain(s string) string { return strings.Join(strings.Fields(s), " ") }
