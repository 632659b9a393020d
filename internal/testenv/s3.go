package testenv

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Config is where a test's bucket is: an S3-compatible server reached
// with path-style addressing, and a bucket that belongs to the test.
type S3Config struct {
	Endpoint  string // e.g. http://127.0.0.1:9000
	Region    string // always "us-east-1", which MinIO accepts
	AccessKey string
	SecretKey string
	Bucket    string
}

// S3 creates a bucket for the calling test on the server named by
// WXQR_TEST_S3_ENDPOINT (with WXQR_TEST_S3_ACCESS_KEY and
// WXQR_TEST_S3_SECRET_KEY) and returns how to reach it. When the test ends,
// the bucket's objects and the bucket are deleted. If the variables are
// unset or the server does not answer, the test is skipped, or fails under
// CI=true.
func S3(tb testing.TB) S3Config {
	tb.Helper()
	cfg := S3Config{
		Endpoint:  os.Getenv(EnvS3Endpoint),
		Region:    "us-east-1",
		AccessKey: os.Getenv(EnvS3AccessKey),
		SecretKey: os.Getenv(EnvS3SecretKey),
		Bucket:    "wxqr-test-" + strings.ToLower(rand.Text()),
	}
	if cfg.Endpoint == "" || cfg.AccessKey == "" || cfg.SecretKey == "" {
		unavailable(tb, "S3 is not configured (%s, %s and %s must be set)", EnvS3Endpoint, EnvS3AccessKey, EnvS3SecretKey)
	}
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(cfg.Endpoint),
		Region:       cfg.Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
	})
	_, err := client.CreateBucket(tb.Context(), &s3.CreateBucketInput{Bucket: aws.String(cfg.Bucket)})
	if err != nil {
		if _, ok := errors.AsType[*net.OpError](err); ok {
			unavailable(tb, "S3 at %s does not answer (%v)", cfg.Endpoint, err)
		}
		tb.Fatalf("testenv: create bucket %s at %s: %v", cfg.Bucket, cfg.Endpoint, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := deleteBucket(ctx, client, cfg.Bucket); err != nil {
			tb.Errorf("testenv: delete bucket %s: %v", cfg.Bucket, err)
		}
	})
	return cfg
}

// deleteBucket deletes every object in bucket, then the bucket.
func deleteBucket(ctx context.Context, client *s3.Client, bucket string) error {
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, obj := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: obj.Key}
		}
		out, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return err
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return errors.New("delete " + aws.ToString(e.Key) + ": " + aws.ToString(e.Message))
		}
	}
	_, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	return err
}
