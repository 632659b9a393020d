package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/storage"
)

// What other S3 tools see: the object at Location, with readable ASCII
// metadata.
func TestS3StoreObjectAsOthersSeeIt(t *testing.T) {
	cfg := testenv.S3(t)
	s := newS3StoreIn(t, cfg)
	meta := map[string]string{"campaign": "春节 sale", "app_id": "wx1234", "path": "pages/a?x=1&y=%"}
	if err := s.Put(t.Context(), "a/b.jpg", []byte("img"), "image/jpeg", meta); err != nil {
		t.Fatalf("Put: %v", err)
	}
	bucket, key := s.Location("a/b.jpg")
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(cfg.Endpoint),
		Region:       cfg.Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
	})
	out, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject(%s, %s): %v", bucket, key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil || string(body) != "img" {
		t.Errorf("body = %q, %v; want %q", body, err, "img")
	}
	want := map[string]string{"campaign": "%E6%98%A5%E8%8A%82%20sale", "app_id": "wx1234", "path": "pages/a?x=1&y=%25"}
	for name, value := range want {
		if got := out.Metadata[name]; got != value {
			t.Errorf("raw metadata %s = %q, want %q", name, got, value)
		}
	}
}

// A missing bucket is a configuration error, not a missing object.
func TestS3StoreMissingBucket(t *testing.T) {
	cfg := testenv.S3(t)
	cfg.Bucket += "-missing"
	s := newS3StoreIn(t, cfg)
	if err := s.Check(t.Context()); err == nil {
		t.Error("Check = nil, want an error")
	}
	if _, err := s.Get(t.Context(), "a.jpg"); err == nil || errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get = %v, want an error that is not ErrNotFound", err)
	}
}

func TestNewS3Errors(t *testing.T) {
	tests := []struct {
		name string
		cfg  storage.S3Config
	}{
		{"no bucket", storage.S3Config{}},
		{"access key alone", storage.S3Config{Bucket: "b", AccessKey: "ak"}},
		{"secret key alone", storage.S3Config{Bucket: "b", SecretKey: "sk"}},
		{"prefix escapes", storage.S3Config{Bucket: "b", Prefix: "a/../.."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := storage.NewS3(context.Background(), tt.cfg); err == nil {
				t.Errorf("NewS3 = %v, want an error", s)
			}
		})
	}
}

// With IdleConns at the number of requests sent at once, a store opens
// about that many connections in all, not one per request beyond the SDK's
// pool of 10. The server is a stand-in that accepts every PUT, once
// concurrency of them are in flight, in rounds: what is counted is connections, which
// MinIO does not report.
func TestS3StoreReusesConnections(t *testing.T) {
	const concurrency, rounds = 24, 4
	var opened atomic.Int64
	inFlight := testenv.NewBarrier(concurrency)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			http.Error(w, "only PUT here", http.StatusMethodNotAllowed)
			return
		}
		io.Copy(io.Discard, r.Body) //nolint:errcheck // a short body fails the client, not this count
		if err := inFlight.Wait(r.Context()); err != nil {
			return
		}
		w.Header().Set("ETag", `"0"`)
	}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s, err := storage.NewS3(t.Context(), storage.S3Config{
		Bucket: "pool", Endpoint: srv.URL, Region: "us-east-1", ForcePathStyle: true,
		AccessKey: "pool-access", SecretKey: "pool-secret", IdleConns: concurrency,
	})
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 30<<10)
	for round := range rounds {
		var wg sync.WaitGroup
		for i := range concurrency {
			wg.Go(func() {
				if err := s.Put(t.Context(), fmt.Sprintf("pool/%d-%d.png", round, i), body, "image/png", nil); err != nil {
					t.Errorf("Put: %v", err)
				}
			})
		}
		wg.Wait()
	}
	// Each round finds the connections of the last one idle.
	if limit := int64(concurrency + 2); opened.Load() > limit {
		t.Errorf("%d rounds of %d PUTs at once opened %d connections; want at most %d", rounds, concurrency, opened.Load(), limit)
	}
}
