package config

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/wxqr/wxqr/storage"
)

// Storage is where images go: WXQR_STORAGE plus, for s3:// URLs, the S3
// settings from S3_ENDPOINT, S3_FORCE_PATH_STYLE and the standard AWS
// variables.
//
// Printing a Storage (any verb) never shows the secret key.
type Storage struct {
	// URL is "s3://bucket/prefix", "file:///abs/path" or "file://./rel";
	// default DefaultStorage.
	URL string
	// S3 holds the endpoint, region and credentials; Open fills in the bucket
	// and prefix from URL. Empty credentials mean the AWS SDK's default chain.
	S3 storage.S3Config
}

// LoadStorage reads the storage variables through getenv.
//
// When AWS_SESSION_TOKEN is set, the keys are left to the AWS SDK's default
// chain, which reads all three variables: storage.S3Config has no room for a
// session token, and static keys without it would be rejected.
func LoadStorage(getenv func(string) string) (Storage, error) {
	s := Storage{
		URL: getenv(EnvStorage),
		S3: storage.S3Config{
			Endpoint: getenv(EnvS3Endpoint),
			Region:   getenv(EnvAWSRegion),
		},
	}
	if s.URL == "" {
		s.URL = DefaultStorage
	}
	if err := checkStorageURL(s.URL); err != nil {
		return Storage{}, err
	}
	if err := checkEndpoint(s.S3.Endpoint); err != nil {
		return Storage{}, err
	}
	if getenv(EnvAWSSessionToken) == "" {
		s.S3.AccessKey = getenv(EnvAWSAccessKeyID)
		s.S3.SecretKey = getenv(EnvAWSSecretKey)
	}
	if v := getenv(EnvS3ForcePathStyle); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Storage{}, fmt.Errorf("%s: want true or false, got %q", EnvS3ForcePathStyle, v)
		}
		s.S3.ForcePathStyle = b
	}
	return s, nil
}

// checkStorageURL refuses a storage URL that carries what may be a secret
// (user info, a query, which a presigned URL signs, or an opaque part, which
// "s3:key:secret@bucket" is), without quoting it: storage.Open checks the
// rest and names the URL in its errors, and String shows it.
func checkStorageURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: not a valid URL (want s3://bucket/prefix or file:///path)", EnvStorage)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%s: must not carry credentials, a query or a fragment (want s3://bucket/prefix or file:///path; S3 keys go in %s and %s)",
			EnvStorage, EnvAWSAccessKeyID, EnvAWSSecretKey)
	}
	return nil
}

// checkEndpoint refuses an S3 endpoint with credentials or a query, without
// quoting it: String shows the endpoint.
func checkEndpoint(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: not a valid URL", EnvS3Endpoint)
	}
	if u.User != nil || u.RawQuery != "" {
		return fmt.Errorf("%s: must not carry credentials or a query (S3 keys go in %s and %s)", EnvS3Endpoint, EnvAWSAccessKeyID, EnvAWSSecretKey)
	}
	return nil
}

// Open opens the store s describes; errors name the URL.
func (s Storage) Open(ctx context.Context) (storage.Store, error) {
	return storage.Open(ctx, s.URL, s.S3)
}

// String describes the store without credentials.
func (s Storage) String() string {
	out := s.URL
	if s.S3.Endpoint != "" {
		out += " (endpoint " + s.S3.Endpoint + ")"
	}
	return out
}

// Format prints String for every verb: the struct holds the S3 secret key.
func (s Storage) Format(f fmt.State, verb rune) { io.WriteString(f, s.String()) }

// MarshalJSON writes the storage settings with the secret key redacted.
func (s Storage) MarshalJSON() ([]byte, error) {
	secret := ""
	if s.S3.SecretKey != "" {
		secret = redacted
	}
	return json.Marshal(struct {
		URL            string `json:"url"`
		Endpoint       string `json:"endpoint,omitempty"`
		Region         string `json:"region,omitempty"`
		ForcePathStyle bool   `json:"force_path_style,omitempty"`
		AccessKey      string `json:"access_key,omitempty"`
		SecretKey      string `json:"secret_key,omitempty"`
	}{s.URL, s.S3.Endpoint, s.S3.Region, s.S3.ForcePathStyle, s.S3.AccessKey, secret})
}
