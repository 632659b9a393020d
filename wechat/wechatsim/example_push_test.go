package wechatsim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/wxqr/wxqr/wechat/push"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

func ExampleServer_PushScan() {
	const appID, token = "wx0123456789abcdef", "callback-token"
	sim := wechatsim.NewServer(wechatsim.Config{Apps: map[string]wechatsim.App{
		appID: {Secret: "s3cret", Type: wechatsim.OfficialAccount},
	}})
	defer sim.Close()

	// A code to scan, made as wxqr's workers make it.
	resp, err := http.Get(sim.URL() + "/cgi-bin/token?grant_type=client_credential&appid=" + appID + "&secret=s3cret")
	if err != nil {
		panic(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	body := `{"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"spring-sale"}}}`
	resp, err = http.Post(sim.URL()+"/cgi-bin/qrcode/create?access_token="+url.QueryEscape(tok.AccessToken), "application/json", strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	ticket := sim.Tickets(appID)[0].Ticket

	// The account's server, checking pushes as wxqr's receiver does.
	codec, err := push.New(push.Config{AppID: appID, Token: token})
	if err != nil {
		panic(err)
	}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := push.ReadBody(r.Body)
		ev, err := codec.Open(push.QueryFrom(r.URL.Query()), body)
		if err != nil {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		fmt.Println(ev.Event, ev.EventKey, ev.Ticket == ticket)
		fmt.Fprint(w, "success")
	}))
	defer server.Close()

	// A new follower scans the code; WeChat delivers the push twice.
	res, err := sim.PushScan(context.Background(), wechatsim.Push{
		URL: server.URL + "/wechat/" + appID, AppID: appID, Token: token,
		Event: wechatsim.EventSubscribe, Ticket: ticket, Deliveries: 2,
	})
	if err != nil {
		panic(err)
	}
	for _, d := range res.Deliveries {
		fmt.Println(d.Status, string(d.Body))
	}
	// Output:
	// subscribe qrscene_spring-sale true
	// subscribe qrscene_spring-sale true
	// 200 success
	// 200 success
}
