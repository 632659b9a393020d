package wechatsim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/wxqr/wxqr/wechat/wechatsim"
)

func Example() {
	sim := wechatsim.NewServer(wechatsim.Config{Apps: map[string]wechatsim.App{
		"wx0123456789abcdef": {Secret: "s3cret", Type: wechatsim.OfficialAccount},
	}})
	defer sim.Close()

	resp, err := http.Get(sim.URL() + "/cgi-bin/token?grant_type=client_credential&appid=wx0123456789abcdef&secret=s3cret")
	if err != nil {
		panic(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()

	body := `{"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"spring-sale"}}}`
	resp, err = http.Post(sim.URL()+"/cgi-bin/qrcode/create?access_token="+url.QueryEscape(tok.AccessToken), "application/json", strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	var code struct{ Ticket, URL string }
	json.NewDecoder(resp.Body).Decode(&code)
	resp.Body.Close()

	// The ticket is base64 with + / =: escape it exactly once.
	img, err := http.Get(sim.URL() + "/cgi-bin/showqrcode?ticket=" + url.QueryEscape(code.Ticket))
	if err != nil {
		panic(err)
	}
	img.Body.Close()

	fmt.Println(tok.ExpiresIn, img.StatusCode, img.Header.Get("Content-Type"))
	fmt.Println(sim.Usage("wx0123456789abcdef", wechatsim.APICreateQRCode).Capped, "permanent code made")
	// Output:
	// 7200 200 image/jpg
	// 1 permanent code made
}
