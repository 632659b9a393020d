package config

import (
	"os"
	"strings"
	"testing"
)

// TestLoadErrorsNeverEchoSecrets misconfigures every variable that can hold
// a secret, with the secret in the right place and in the wrong one, and
// looks for the secret in the error.
func TestLoadErrorsNeverEchoSecrets(t *testing.T) {
	// secret has the shape of a WeChat appsecret (32 hexadecimal digits).
	const secret = "0123456789abcdef0123456789abcdef"
	tests := []struct {
		name string
		env  map[string]string
		want string // the variable the error names
	}{
		// WXQR_APPS, a list.
		{"apps secret first", map[string]string{EnvApps: secret + ":wx1:oa"}, EnvApps},
		{"apps secret as kind", map[string]string{EnvApps: "wx1:oa:" + secret}, EnvApps},
		{"apps kind missing", map[string]string{EnvApps: "wx1:" + secret}, EnvApps},
		{"apps secret alone", map[string]string{EnvApps: secret}, EnvApps},
		{"apps secret first twice", map[string]string{EnvApps: secret + "x:wx1:oa," + secret + "x:wx2:oa"}, EnvApps},
		{"apps bad app id", map[string]string{EnvApps: secret + ".:wx1:oa"}, EnvApps},
		// WXQR_APPS, a file.
		{"apps file secret as kind", appsFile(t, `[{"app_id": "wx1", "secret": "oa", "kind": "`+secret+`"}]`), EnvApps},
		{"apps file secret as app id", appsFile(t, `[{"app_id": "`+secret+`", "secret": "wx1", "kind": "oa"}]`), EnvApps},
		{"apps file secret as token source", appsFile(t, `[{"app_id": "wx1", "kind": "oa", "token_source": "`+secret+`"}]`), EnvApps},
		{"apps file token url with credentials", appsFile(t, `[{"app_id": "wx1", "kind": "oa", "token_source": "url:ftp://u:`+secret+`@tokens/?key=`+secret+`"}]`), EnvApps},
		{"apps file bad secret type", appsFile(t, `[{"app_id": "wx1", "secret": ["`+secret+`"], "kind": "oa"}]`), EnvApps},
		{"apps file syntax", appsFile(t, `[{"app_id": "wx1", "secret": "`+secret+`" "kind": "oa"}]`), EnvApps},
		{"apps file callback key without token", appsFile(t, `[{"app_id": "wx1", "secret": "s", "kind": "oa", "callback_aes_key": "`+secret+`abcdefghijk"}]`), EnvApps},
		{"apps file callback key bad", appsFile(t, `[{"app_id": "wx1", "secret": "s", "kind": "oa", "callback_token": "`+secret+`", "callback_aes_key": "`+secret+`"}]`), EnvApps},
		{"apps file callback previous key bad", appsFile(t, `[{"app_id": "wx1", "secret": "s", "kind": "oa", "callback_token": "t", "callback_aes_key": "`+secret+`abcdefghijk", "callback_aes_key_previous": "`+secret+`-"}]`), EnvApps},
		{"apps file callback token as key", appsFile(t, `[{"app_id": "wx1", "secret": "s", "kind": "oa", "callback_aes_key": "`+secret+`"}]`), EnvApps},
		{"apps file callback forward with credentials", appsFile(t, `[{"app_id": "wx1", "secret": "s", "kind": "oa", "callback_token": "t", "callback_forward": "ftp://u:`+secret+`@bot/?key=`+secret+`"}]`), EnvApps},
		{"apps file callback token wrong type", appsFile(t, `[{"app_id": "wx1", "secret": "s", "kind": "oa", "callback_token": ["`+secret+`"]}]`), EnvApps},
		// REDIS_URL.
		{"redis bad port", map[string]string{EnvRedisURL: "redis://:" + secret + "@redis:port/0"}, EnvRedisURL},
		{"redis bad db", map[string]string{EnvRedisURL: "redis://wxqr:" + secret + "@redis:6379/x"}, EnvRedisURL},
		{"redis bad escape", map[string]string{EnvRedisURL: "redis://wxqr:" + secret + "%zz@redis:6379/0"}, EnvRedisURL},
		{"redis bad option", map[string]string{EnvRedisURL: "rediss://wxqr:" + secret + "@redis:6379/0?pool_size=" + secret}, EnvRedisURL},
		{"redis no scheme", map[string]string{EnvRedisURL: "wxqr:" + secret + "@redis:6379"}, EnvRedisURL},
		{"redis password alone", map[string]string{EnvRedisURL: "p" + secret + ":6379"}, EnvRedisURL},
		{"redis wrong scheme", map[string]string{EnvRedisURL: "http://wxqr:" + secret + "@redis:6379"}, EnvRedisURL},
		{"sentinel no master", map[string]string{EnvRedisURL: "redis-sentinel://wxqr:" + secret + "@s1:26379"}, EnvRedisURL},
		{"sentinel bad address", map[string]string{EnvRedisURL: "redis-sentinel://wxqr:" + secret + "@s1/m"}, EnvRedisURL},
		{"sentinel bad option", map[string]string{EnvRedisURL: "redis-sentinel://s1:26379/m?sentinel_password=" + secret + "&pasword=" + secret}, EnvRedisURL},
		{"sentinel bad db", map[string]string{EnvRedisURL: "redis-sentinel://s1:26379/m/x?sentinel_password=" + secret}, EnvRedisURL},
		// WXQR_STORAGE, S3_ENDPOINT and the S3 keys.
		{"storage with credentials", map[string]string{EnvStorage: "s3://AKIAEXAMPLE:" + secret + "@bucket/codes"}, EnvStorage},
		{"storage with signed query", map[string]string{EnvStorage: "s3://bucket/codes?X-Amz-Signature=" + secret}, EnvStorage},
		{"storage unparsable", map[string]string{EnvStorage: "s3://AKIAEXAMPLE:" + secret + "@bucket:x/codes"}, EnvStorage},
		{"endpoint with credentials", map[string]string{EnvS3Endpoint: "https://AKIAEXAMPLE:" + secret + "@minio:9000"}, EnvS3Endpoint},
		{"s3 keys with another error", map[string]string{EnvAWSAccessKeyID: "AKIAEXAMPLE", EnvAWSSecretKey: secret, EnvS3ForcePathStyle: "maybe"}, EnvS3ForcePathStyle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(env(tt.env))
			if err == nil {
				t.Fatalf("Load = %v, want an error", cfg)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

// appsFile writes contents to a WXQR_APPS file and returns the environment
// that names it.
func appsFile(t *testing.T, contents string) map[string]string {
	t.Helper()
	path := t.TempDir() + "/apps.json"
	if err := os.WriteFile(path, []byte(contents), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{EnvApps: "@" + path}
}
