package push_test

import (
	"fmt"

	"github.com/wxqr/wxqr/wechat/push"
)

// A push sealed as WeChat sends it in safe mode, then opened as a receiver
// does: query string and body in, the scan event out.
func Example() {
	codec, err := push.New(push.Config{
		AppID:  "wxb11529c136998cb6",
		Token:  "pamtest",
		AESKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
	})
	if err != nil {
		panic(err)
	}
	event := `<xml><ToUserName>gh_test</ToUserName><FromUserName>oUser</FromUserName>` +
		`<CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>SCAN</Event>` +
		`<EventKey>123</EventKey><Ticket>gQH47joAAA</Ticket></xml>`
	query, body, err := codec.Seal("gh_test", []byte(event), "1700000000", "nonce")
	if err != nil {
		panic(err)
	}

	ev, err := codec.Open(push.QueryFrom(query.Values()), body)
	if err != nil {
		panic(err)
	}
	fmt.Println(query.EncryptType, ev.Event, ev.EventKey, ev.Ticket)
	// Output: aes SCAN 123 gQH47joAAA
}
