package wechatsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/wechat"
)

// TestWxqrAgreesWithWeChat holds wxqr's copy of WeChat's rules against the
// simulator's own, taken from WeChat's documentation: a limit that drifts
// in wxqr would otherwise pass enqueue, the workers and this simulator at
// once.
func TestWxqrAgreesWithWeChat(t *testing.T) {
	t.Run("field limits", func(t *testing.T) {
		for _, c := range []struct {
			name         string
			wxqr, wechat int64
		}{
			{"MaxPermSceneID", wxqr.MaxPermSceneID, maxPermSceneID},
			{"MaxSceneStrLen", wxqr.MaxSceneStrLen, maxSceneStrLen},
			{"MaxTempExpire (s)", int64(wxqr.MaxTempExpire / time.Second), maxExpireSeconds},
			{"MaxWxaQRPathLen", wxqr.MaxWxaQRPathLen, maxWxaQRPathLen},
			{"MaxWxaCodePathLen", wxqr.MaxWxaCodePathLen, maxWxaCodePathLen},
			{"MaxUnlimitedScene", wxqr.MaxUnlimitedScene, maxUnlimitedScene},
			{"MinWidth", wxqr.MinWidth, minWidth},
			{"MaxWidth", wxqr.MaxWidth, maxWidth},
			{"DefaultWidth", wxqr.DefaultWidth, defaultWidth},
		} {
			if c.wxqr != c.wechat {
				t.Errorf("wxqr.%s = %d, WeChat documents %d", c.name, c.wxqr, c.wechat)
			}
		}
		// wxqr picks its own default life for temporary codes (and always
		// sends it): it must be one WeChat accepts.
		if d := wxqr.DefaultTempExpire; d < time.Second || d > maxExpireSeconds*time.Second {
			t.Errorf("wxqr.DefaultTempExpire = %v, WeChat accepts 1 s..%d s", d, maxExpireSeconds)
		}
	})

	t.Run("kinds", func(t *testing.T) {
		for _, k := range wxqr.Kinds {
			api := k.API()
			if _, ok := apiPaths[api]; !ok {
				t.Errorf("%s: wxqr calls %q, which WeChat does not serve", k, api)
				continue
			}
			if got, want := accountTypes[k.AppType()], callers[api]; got != want {
				t.Errorf("%s: wxqr makes it with an app of type %q, but %s answers only a %q (48001 for others)", k, k.AppType(), api, want)
			}
			// quota/get is asked about an API by its path: 76021 for any
			// other.
			if got, _ := wechat.CGIPath(api); got != apiPaths[api] {
				t.Errorf("%s: wxqr asks quota/get about %q, WeChat serves %s at %q", k, got, api, apiPaths[api])
			}
		}
	})

	t.Run("styling", func(t *testing.T) {
		for _, k := range wxqr.Kinds {
			if got, want := k.Styled(), styledAPIs[k.API()]; got != want {
				t.Errorf("%s: wxqr styles it: %v; %s documents styling: %v", k, got, k.API(), want)
			}
		}
		wxqrVersions := []string{string(wxqr.EnvRelease), string(wxqr.EnvTrial), string(wxqr.EnvDevelop)}
		if !slices.Equal(wxqrVersions, envVersions) {
			t.Errorf("wxqr's env versions %q, WeChat documents %q", wxqrVersions, envVersions)
		}
		if string(wxqr.EnvRelease) != defaultEnvVersion {
			t.Errorf("wxqr takes %q for WeChat's default version, WeChat documents %q", wxqr.EnvRelease, defaultEnvVersion)
		}
		// check_path is sent only for wxa_unlimited: its spec refuses it
		// on every other kind.
		for _, k := range wxqr.Kinds {
			spec := wxqr.Spec{Kind: k, AppID: "wx1", SceneStr: "s", Path: "p", CheckPath: wxqr.BoolFalse}
			refused := slices.ContainsFunc(spec.Validate(), func(err error) bool {
				fe, ok := err.(*wxqr.FieldError)
				return ok && fe.Field == "check_path"
			})
			if documented := k.API() == checkPathAPI; refused == documented {
				t.Errorf("%s: wxqr refuses check_path: %v; %s documents it: %v", k, refused, k.API(), documented)
			}
		}
	})

	// Each pair of kinds on one app with lifetime caps of 1: after one code
	// of the first kind, a new code of the second is refused (45029) exactly
	// when wxqr counts both against the same lifetime quota class.
	t.Run("lifetime quota classes", func(t *testing.T) {
		for _, k := range wxqr.Kinds {
			for _, j := range wxqr.Kinds {
				if k.AppType() != j.AppType() {
					continue
				}
				s, tok := oracleServer(t, k.AppType())
				if got := oracleCall(t, s, tok, k, 1); got != 0 {
					t.Fatalf("%s: the first code: errcode %d", k, got)
				}
				want := 0
				if k.Class() == j.Class() && k.Class().Lifetime() {
					want = errTotalQuota
				}
				if got := oracleCall(t, s, tok, j, 2); got != want {
					t.Errorf("a %s code after a %s code, caps 1: errcode %d, want %d (wxqr's classes: %s, %s; lifetime: %v, %v)",
						j, k, got, want, k.Class(), j.Class(), k.Class().Lifetime(), j.Class().Lifetime())
				}
			}
		}
	})

	t.Run("lifetime caps", func(t *testing.T) {
		quotas, err := config.LoadLifetimeQuotas(func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		for class, n := range map[wxqr.QuotaClass]int{wxqr.ClassOAPerm: permCodeCap, wxqr.ClassWxaLimited: wxaCodeCap} {
			if got, ok := quotas.Cap("wxany", class); !ok || got != int64(n) {
				t.Errorf("wxqr's default lifetime cap of %s = %d (%v), WeChat's is %d", class, got, ok, n)
			}
		}
	})

	t.Run("daily and minute limits", func(t *testing.T) {
		documented := wechatLimits()
		for api, n := range documented.Daily {
			if got := config.DefaultDailyBudgets[api]; got != int64(n) {
				t.Errorf("wxqr's default daily budget for %s = %d, WeChat's quota is %d", api, got, n)
			}
		}
		for api, n := range config.DefaultDailyBudgets {
			if _, ok := documented.Daily[api]; !ok {
				t.Errorf("wxqr budgets %s at %d a day, a quota WeChat does not document", api, n)
			}
		}
		for api, n := range documented.PerMinute {
			l, ok := config.DefaultRateLimits[api]
			if !ok {
				t.Errorf("wxqr has no default rate for %s, whose limit is %d a minute", api, n)
				continue
			}
			if perMinute := float64(l.Rate) * float64(time.Minute) / float64(l.Per); perMinute > float64(n) {
				t.Errorf("wxqr's default rate for %s is %v, over WeChat's %d a minute", api, l, n)
			}
		}
	})
}

// accountTypes translate wxqr's app types into WeChat's account types.
var accountTypes = map[wxqr.AppType]AccountType{
	wxqr.AppOA: OfficialAccount,
	wxqr.AppMP: MiniProgram,
}

// oracleServer returns a Server with one app of type typ and lifetime caps
// of 1, and a token of that app.
func oracleServer(t *testing.T, typ wxqr.AppType) (*Server, string) {
	t.Helper()
	const appID, secret = "wx00000000000000c3", "oracle-secret"
	s, err := New(Config{
		Apps:   map[string]App{appID: {Secret: secret, Type: accountTypes[typ]}},
		Limits: Limits{PermCap: 1, WxaCap: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	q := url.Values{"grant_type": {"client_credential"}, "appid": {appID}, "secret": {secret}}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, apiPaths[APIToken]+"?"+q.Encode(), nil))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %s", rec.Body)
	}
	return s, tok.AccessToken
}

// oracleCall makes the n-th distinct code of kind k, with the request the
// WeChat documentation gives for it, and returns the errcode (0: made).
func oracleCall(t *testing.T, s *Server, tok string, k wxqr.Kind, n int) int {
	t.Helper()
	var body string
	switch k {
	case wxqr.KindOATemp:
		body = fmt.Sprintf(`{"expire_seconds":60,"action_name":%q,"action_info":{"scene":{"scene_id":%d}}}`, actionTempID, n)
	case wxqr.KindOAPerm:
		body = fmt.Sprintf(`{"action_name":%q,"action_info":{"scene":{"scene_id":%d}}}`, actionPermID, n)
	case wxqr.KindWxaQRCode, wxqr.KindWxaCode:
		body = fmt.Sprintf(`{"path":"pages/p?n=%d"}`, n)
	case wxqr.KindWxaUnlimited:
		body = fmt.Sprintf(`{"page":"pages/p","scene":"n=%d"}`, n)
	default:
		t.Fatalf("kind %s is new: give it a request here", k)
	}
	target := apiPaths[k.API()] + "?access_token=" + url.QueryEscape(tok)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, target, strings.NewReader(body)))
	if rec.Header().Get("Content-Type") == "image/jpeg" {
		return 0 // a Mini Program code
	}
	var ans struct {
		Errcode int    `json:"errcode"`
		Ticket  string `json:"ticket"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || ans.Errcode == 0 && ans.Ticket == "" {
		t.Fatalf("%s: neither a code nor an errcode: %s", k, rec.Body)
	}
	return ans.Errcode
}
