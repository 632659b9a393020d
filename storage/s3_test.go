package storage_test

import (
	"context"
	"errors"
	"io"
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
