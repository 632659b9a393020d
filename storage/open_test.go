package storage_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxqr/wxqr/storage"
)

func TestOpen(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	abs := t.TempDir()
	tests := []struct {
		url                 string
		wantType            string
		wantBucket, wantKey string // Location("k.jpg")
	}{
		{"s3://bucket/some/prefix/", "*storage.S3Store", "bucket", "some/prefix/k.jpg"},
		{"s3://bucket", "*storage.S3Store", "bucket", "k.jpg"},
		{"file://" + abs, "*storage.DirStore", abs, "k.jpg"},
		{"file://localhost" + abs, "*storage.DirStore", abs, "k.jpg"},
		{"file://./out", "*storage.DirStore", filepath.Join(cwd, "out"), "k.jpg"},
		{"file://./a/../b", "*storage.DirStore", filepath.Join(cwd, "b"), "k.jpg"},
		{"file://.", "*storage.DirStore", cwd, "k.jpg"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			s, err := storage.Open(t.Context(), tt.url, storage.S3Config{Region: "us-east-1"})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got := typeName(s); got != tt.wantType {
				t.Errorf("type = %s, want %s", got, tt.wantType)
			}
			if bucket, key := s.Location("k.jpg"); bucket != tt.wantBucket || key != tt.wantKey {
				t.Errorf("Location = %q, %q; want %q, %q", bucket, key, tt.wantBucket, tt.wantKey)
			}
		})
	}
}

func typeName(s storage.Store) string {
	switch s.(type) {
	case *storage.S3Store:
		return "*storage.S3Store"
	case *storage.DirStore:
		return "*storage.DirStore"
	}
	return "unknown"
}

func TestOpenErrors(t *testing.T) {
	for _, url := range []string{
		"", "out", "./out", "/var/lib/wxqr", "file://out", "file://", "s3://", "s3:///prefix",
		"s3://bucket/../up", "s3://bucket/p?region=x", "http://host/x", "file:///tmp/x#frag", "s3://user@bucket/p",
	} {
		t.Run(url, func(t *testing.T) {
			s, err := storage.Open(t.Context(), url, storage.S3Config{Region: "us-east-1"})
			if err == nil {
				t.Fatalf("Open(%q) = %v, want an error", url, s)
			}
			if strings.Contains(url, "../") {
				return // a bad prefix: the error is about keys
			}
			if !strings.Contains(err.Error(), "s3://bucket/prefix") || !strings.Contains(err.Error(), "file:///") {
				t.Errorf("error %q does not name the accepted forms", err)
			}
		})
	}
}
