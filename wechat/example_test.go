package wechat_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr/wechat"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

func Example() {
	// The simulator stands in for WeChat, and an in-memory Redis for the
	// one the fleet shares; in production, leave the base URLs empty.
	sim := wechatsim.NewServer(wechatsim.Config{Apps: map[string]wechatsim.App{
		"wx0123456789abcdef": {Secret: "s3cret", Type: wechatsim.OfficialAccount},
	}})
	defer sim.Close()
	mr, err := miniredis.Run()
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	tokens, err := wechat.NewStableTokenSource(wechat.TokenConfig{
		AppID: "wx0123456789abcdef", Secret: "s3cret", Redis: rdb, APIBaseURL: sim.URL(),
	})
	if err != nil {
		log.Fatal(err)
	}
	client, err := wechat.NewClient(wechat.Config{
		AppID: "wx0123456789abcdef", Tokens: tokens, APIBaseURL: sim.URL(), MPBaseURL: sim.URL(),
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	ticket, err := client.CreateQRCode(ctx, &wechat.CreateQRCodeRequest{
		ActionName: wechat.QRStrScene, SceneStr: "spring-sale", ExpireSeconds: 7 * 24 * 3600,
	})
	if err != nil {
		log.Fatal(err)
	}
	img, err := client.ShowQRCode(ctx, ticket.Ticket)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ticket.ExpireSeconds, img.ContentType)

	// An Official Account may not make Mini Program codes: WeChat says 48001.
	_, err = client.GetWxaCodeUnlimited(ctx, &wechat.GetWxaCodeUnlimitedRequest{Scene: "id=1"})
	var apiErr *wechat.APIError
	fmt.Println(wechat.ClassOf(err), errors.As(err, &apiErr) && apiErr.Code == 48001)
	// Output:
	// 604800 image/jpeg
	// account true
}

func ExampleClassOf() {
	err := fmt.Errorf("generate: %w", &wechat.APIError{Op: "qrcode/create", Code: 45009, Msg: "reach max api daily quota limit"})
	switch wechat.ClassOf(err) {
	case wechat.ClassNone:
		fmt.Println("done")
	case wechat.ClassTransient, wechat.ClassToken:
		fmt.Println("retry with backoff")
	case wechat.ClassMinuteLimit:
		fmt.Println("wait for the next minute")
	case wechat.ClassDailyQuota:
		fmt.Println("pause the API until the quota resets")
	case wechat.ClassTotalQuota:
		fmt.Println("pause the class for good")
	default:
		fmt.Println("fail the task")
	}
	// Output: pause the API until the quota resets
}
