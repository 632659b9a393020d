package wechatsim

import (
	"errors"
	"fmt"
	"time"
)

// App is one WeChat account.
type App struct {
	// Secret is the appsecret that the token endpoints check. Required.
	Secret string
	// Type is OfficialAccount (may call qrcode/create) or MiniProgram (may
	// call the Mini Program code APIs); the others answer 48001. Required.
	Type AccountType
}

func (a App) validate(appID string) error {
	if appID == "" {
		return errors.New("empty appid")
	}
	if a.Secret == "" {
		return fmt.Errorf("app %s: empty secret", appID)
	}
	if a.Type != OfficialAccount && a.Type != MiniProgram {
		return fmt.Errorf("app %s: type %q is neither %q nor %q", appID, a.Type, OfficialAccount, MiniProgram)
	}
	return nil
}

// AddApp adds an account, or replaces the secret and type of an existing one
// (its tokens, codes and counters stay). It panics if app is invalid.
func (s *Server) AddApp(appID string, app App) {
	if err := app.validate(appID); err != nil {
		panic(fmt.Sprintf("wechatsim: AddApp: %v", err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.apps[appID]; ok {
		st.app = app
		return
	}
	s.apps[appID] = newAppState(appID, app)
}

// InvalidateTokens kills every token of the app now, as a password reset
// or a force refresh elsewhere would: calls with them get 40001.
func (s *Server) InvalidateTokens(appID string) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.apps[appID]
	if !ok {
		return
	}
	for _, t := range st.classic {
		t.endBy(now)
	}
	for _, t := range st.stable {
		t.endBy(now)
	}
	st.classic, st.stable = nil, nil
}

// appState is everything the Server keeps about one app.
type appState struct {
	appID   string
	app     App
	classic []*token // cgi-bin/token tokens still alive, oldest first
	stable  []*token // stable tokens still alive, the current one last
	issued  int

	forceDay   string // Shanghai day of forceCount
	forceCount int
	lastForce  time.Time

	usage map[string]*usage // by API: calls in the current limit windows
	made  map[string]*Usage // by API

	perm map[string]*oaCode  // permanent codes by scene key
	wxa  map[wxaKey]struct{} // codes spending WxaCap
}

func newAppState(appID string, app App) *appState {
	return &appState{
		appID: appID,
		app:   app,
		usage: map[string]*usage{},
		made:  map[string]*Usage{},
		perm:  map[string]*oaCode{},
		wxa:   map[wxaKey]struct{}{},
	}
}

// madeBy returns the app's Usage of api, to be updated under s.mu.
func (st *appState) madeBy(api string) *Usage {
	u, ok := st.made[api]
	if !ok {
		u = &Usage{}
		st.made[api] = u
	}
	return u
}
