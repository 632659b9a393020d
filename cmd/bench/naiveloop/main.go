// Command naiveloop is the baseline that cmd/bench measures wxqr against:
// what a plain script does to make temporary Official Account codes, with
// no queue, no catalog and no retries. C goroutines share the codes; each
// code is qrcode/create, then showqrcode, then one S3 PUT of the image.
// It takes one access token (cgi-bin/token) at the start.
//
// With --asynq, the same work comes from asynq instead: an asynq server of
// concurrency C runs the tasks that bench queued in --queue (each task's
// payload is its code's scene id), and the loop exits once it has made
// --codes codes. That is the floor of what a queue costs: asynq's own
// dequeue, completion and bookkeeping, and none of wxqr's.
//
// Its HTTP clients keep C idle connections per host, as a competent script
// would: the baseline should not lose on connection churn.
//
// The S3 keys come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (never
// flags, which other users of the machine can read). It prints nothing on
// success; cmd/bench times it and reads its CPU time when it exits.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hibiken/asynq"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "naiveloop:", err)
		os.Exit(1)
	}
}

// options are the loop's flags and keys.
type options struct {
	wechat, appID, secret       string
	endpoint, bucket, prefix    string
	accessKey, secretKey        string
	codes, concurrency, firstID int
	asynqAddr, queue            string
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	o := options{accessKey: getenv("AWS_ACCESS_KEY_ID"), secretKey: getenv("AWS_SECRET_ACCESS_KEY"),
		secret: getenv("WECHAT_APP_SECRET")}
	fs := flag.NewFlagSet("naiveloop", flag.ContinueOnError)
	fs.StringVar(&o.wechat, "wechat", "", "base URL of WeChat (the simulator)")
	fs.StringVar(&o.appID, "app-id", "", "the Official Account (its secret in WECHAT_APP_SECRET)")
	fs.StringVar(&o.endpoint, "s3-endpoint", "", "S3 endpoint URL (path-style addressing)")
	fs.StringVar(&o.bucket, "bucket", "", "bucket")
	fs.StringVar(&o.prefix, "prefix", "naive", "key prefix")
	fs.IntVar(&o.codes, "codes", 1000, "codes to make")
	fs.IntVar(&o.concurrency, "concurrency", 32, "codes made at once")
	fs.IntVar(&o.firstID, "first-scene-id", 1, "scene id of the first code; the others follow")
	fs.StringVar(&o.asynqAddr, "asynq", "", "Redis address: make the codes of the tasks queued in asynq there instead")
	fs.StringVar(&o.queue, "queue", "naive", "with --asynq, the queue")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.wechat == "" || o.appID == "" || o.secret == "" || o.endpoint == "" || o.bucket == "" || o.concurrency < 1 {
		return errors.New("--wechat, --app-id, --s3-endpoint, --bucket, WECHAT_APP_SECRET and a positive --concurrency are required")
	}
	if o.asynqAddr != "" && o.queue == "" {
		return errors.New("--asynq needs a --queue to serve")
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = o.concurrency
	hc := &http.Client{Timeout: 30 * time.Second, Transport: transport}
	store := s3.New(s3.Options{
		BaseEndpoint: aws.String(o.endpoint),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(o.accessKey, o.secretKey, ""),
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = o.concurrency
		}),
	})

	token, err := fetchToken(ctx, hc, o)
	if err != nil {
		return err
	}
	makeOne := func(ctx context.Context, sceneID int) error {
		return makeCode(ctx, hc, store, o, token, sceneID)
	}
	if o.asynqAddr != "" {
		return serveQueue(ctx, o, makeOne)
	}
	var next atomic.Int64
	errs := make(chan error, o.concurrency)
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= o.codes || ctx.Err() != nil {
					return
				}
				if err := makeOne(ctx, o.firstID+i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return errors.Join(<-errs, ctx.Err())
}

// serveQueue makes the codes of the tasks in o.queue with makeOne, C at
// once, until it has made o.codes of them. A code that fails fails the
// loop: it has no retries.
func serveQueue(ctx context.Context, o options, makeOne func(context.Context, int) error) error {
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: o.asynqAddr}, asynq.Config{
		Concurrency: o.concurrency,
		Queues:      map[string]int{o.queue: 1},
		LogLevel:    asynq.WarnLevel,
	})
	var made atomic.Int64
	done := make(chan error, 1)
	finish := func(err error) {
		select {
		case done <- err:
		default:
		}
	}
	err := srv.Start(asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		sceneID, err := strconv.Atoi(string(t.Payload()))
		if err == nil {
			err = makeOne(ctx, sceneID)
		}
		if err != nil {
			finish(err)
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
		if made.Add(1) == int64(o.codes) {
			finish(nil)
		}
		return nil
	}))
	if err != nil {
		return err
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	srv.Shutdown()
	return err
}

// fetchToken asks cgi-bin/token for an access token.
func fetchToken(ctx context.Context, hc *http.Client, o options) (string, error) {
	q := url.Values{"grant_type": {"client_credential"}, "appid": {o.appID}, "secret": {o.secret}}
	var out struct {
		AccessToken string `json:"access_token"`
		ErrCode     int    `json:"errcode"`
	}
	if err := call(ctx, hc, http.MethodGet, o.wechat+"/cgi-bin/token?"+q.Encode(), nil, &out); err != nil {
		return "", fmt.Errorf("cgi-bin/token: %w", err)
	}
	if out.AccessToken == "" {
		return "", fmt.Errorf("cgi-bin/token: errcode %d", out.ErrCode)
	}
	return out.AccessToken, nil
}

// makeCode makes one temporary code and stores its image.
func makeCode(ctx context.Context, hc *http.Client, store *s3.Client, o options, token string, sceneID int) error {
	body, _ := json.Marshal(map[string]any{
		"expire_seconds": 3600,
		"action_name":    "QR_SCENE",
		"action_info":    map[string]any{"scene": map[string]int{"scene_id": sceneID}},
	})
	var created struct {
		Ticket  string `json:"ticket"`
		ErrCode int    `json:"errcode"`
	}
	if err := call(ctx, hc, http.MethodPost, o.wechat+"/cgi-bin/qrcode/create?access_token="+url.QueryEscape(token), body, &created); err != nil {
		return fmt.Errorf("qrcode/create: %w", err)
	}
	if created.Ticket == "" {
		return fmt.Errorf("qrcode/create: errcode %d", created.ErrCode)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.wechat+"/cgi-bin/showqrcode?ticket="+url.QueryEscape(created.Ticket), nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("showqrcode: %w", err)
	}
	img, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("showqrcode: HTTP %d: %v", resp.StatusCode, err)
	}
	_, err = store.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(o.bucket),
		Key:           aws.String(o.prefix + "/" + strconv.Itoa(sceneID) + ".jpg"),
		Body:          bytes.NewReader(img),
		ContentLength: aws.Int64(int64(len(img))),
		ContentType:   aws.String(resp.Header.Get("Content-Type")),
	})
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	return nil
}

// call sends a request and decodes its JSON answer into out.
func call(ctx context.Context, hc *http.Client, method, u string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return errors.Unwrap(err) // the *url.Error's URL carries the token
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
