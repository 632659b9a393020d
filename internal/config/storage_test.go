package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadStorage(t *testing.T) {
	tests := []struct {
		name                string
		env                 map[string]string
		wantKey, wantSecret string
		wantPathStyle       bool
	}{
		{"static keys", map[string]string{EnvAWSAccessKeyID: "AKID", EnvAWSSecretKey: "s3cr3t"}, "AKID", "s3cr3t", false},
		{"session token leaves keys to the SDK", map[string]string{EnvAWSAccessKeyID: "AKID", EnvAWSSecretKey: "s3cr3t", EnvAWSSessionToken: "tok"}, "", "", false},
		{"path style", map[string]string{EnvS3ForcePathStyle: "1"}, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadStorage(env(tt.env))
			if err != nil {
				t.Fatalf("LoadStorage: %v", err)
			}
			if s.S3.AccessKey != tt.wantKey || s.S3.SecretKey != tt.wantSecret || s.S3.ForcePathStyle != tt.wantPathStyle {
				t.Errorf("S3 = key %q secret %q path style %v, want %q %q %v",
					s.S3.AccessKey, s.S3.SecretKey, s.S3.ForcePathStyle, tt.wantKey, tt.wantSecret, tt.wantPathStyle)
			}
		})
	}
}

func TestStorageNeverShowsSecretKey(t *testing.T) {
	s, err := LoadStorage(env(map[string]string{EnvStorage: "s3://b/p", EnvS3Endpoint: "http://minio:9000", EnvAWSSecretKey: "s3cr3t"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d"} {
		if got := fmt.Sprintf(verb, s); strings.Contains(got, "s3cr3t") {
			t.Errorf("%s shows the secret key: %s", verb, got)
		}
	}
	if got, want := s.String(), "s3://b/p (endpoint http://minio:9000)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestStorageOpen(t *testing.T) {
	dir := t.TempDir()
	s, err := LoadStorage(env(map[string]string{EnvStorage: "file://" + filepath.ToSlash(dir)}))
	if err != nil {
		t.Fatal(err)
	}
	store, err := s.Open(t.Context())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := store.Check(t.Context()); err != nil {
		t.Errorf("Check: %v", err)
	}

	if _, err := (Storage{URL: "ftp://x"}).Open(t.Context()); err == nil || !strings.Contains(err.Error(), "ftp://x") {
		t.Errorf("Open(ftp://x) error = %v, want one naming the URL", err)
	}
}
