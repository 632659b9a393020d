package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// S3Config configures an S3Store.
type S3Config struct {
	// Bucket is the bucket to use. Required.
	Bucket string
	// Prefix is prepended, with a "/", to every key. Default: none.
	Prefix string
	// Endpoint is the URL of an S3-compatible server such as MinIO, e.g.
	// "http://127.0.0.1:9000". Default: AWS, found from the region.
	Endpoint string
	// Region is the bucket's region. Default: the SDK's (AWS_REGION, the
	// shared config file), else "us-east-1", which MinIO accepts.
	Region string
	// ForcePathStyle addresses buckets as <endpoint>/<bucket> instead of
	// <bucket>.<endpoint>; most S3-compatible servers need it. Default: false.
	ForcePathStyle bool
	// AccessKey and SecretKey are static credentials, given together.
	// Default (both empty): the SDK's default chain (AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY, shared files, instance roles...).
	AccessKey, SecretKey string
	// IdleConns is how many connections to the server are kept open
	// between requests, for the next ones: set it to the number of
	// requests sent at once (a worker's concurrency), or most requests
	// open a connection (and make a TLS handshake) only to close it after
	// one request. It never limits how many are open. Default (0): the AWS
	// SDK's, 10.
	IdleConns int
}

// defaultRegion is the region when neither S3Config nor the SDK names one.
const defaultRegion = "us-east-1"

// S3Store keeps objects in an S3 bucket (AWS or S3-compatible) under a
// prefix: key "a/b.jpg" is object "<prefix>/a/b.jpg".
//
// Metadata is stored as S3 user metadata, which must be ASCII: values are
// stored with every byte outside printable ASCII, and every space and "%",
// percent-encoded ("café" becomes "caf%C3%A9"), so plain values stay
// readable in other tools, and Get decodes them. A value written by another
// tool that is not valid percent-encoding is returned as it is.
type S3Store struct {
	client *s3.Client
	bucket string
	prefix string // no surrounding slashes; may be ""
}

var _ Store = (*S3Store)(nil)

// NewS3 returns a store for cfg. It loads the SDK's configuration (which is
// where ctx is used) but does not contact the server: call Check for that.
// It fails if Bucket is empty, Prefix is not a valid key (see
// ErrInvalidKey), or only one of AccessKey and SecretKey is given.
func NewS3(ctx context.Context, cfg S3Config) (*S3Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("storage: s3: bucket is empty")
	}
	prefix, err := trimPrefix(cfg.Prefix)
	if err != nil {
		return nil, fmt.Errorf("storage: s3: %w", err)
	}
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	switch {
	case cfg.AccessKey != "" && cfg.SecretKey != "":
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	case cfg.AccessKey != "" || cfg.SecretKey != "":
		return nil, errors.New("storage: s3: give both the access key and the secret key, or neither")
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("storage: s3: load configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = defaultRegion
	}
	// The SDK's own client, unless the shared config gave another: it
	// keeps the SDK's dial and TLS settings.
	if hc, ok := awsCfg.HTTPClient.(*awshttp.BuildableClient); ok && cfg.IdleConns > 0 {
		awsCfg.HTTPClient = hc.WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = cfg.IdleConns
			t.MaxIdleConns = max(t.MaxIdleConns, cfg.IdleConns)
		})
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.ForcePathStyle
	})
	return &S3Store{client: client, bucket: cfg.Bucket, prefix: prefix}, nil
}

// Put stores body at key. See Store.
func (s *S3Store) Put(ctx context.Context, key string, body []byte, contentType string, meta map[string]string) error {
	contentType, err := checkPut(key, contentType, meta)
	if err != nil {
		return opError("put", key, err)
	}
	encoded := make(map[string]string, len(meta))
	for name, value := range meta {
		encoded[name] = encodeMetaValue(value)
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(joinPrefix(s.prefix, key)),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String(contentType),
		Metadata:      encoded,
	})
	if err != nil {
		return opError("put", key, err)
	}
	return nil
}

// Get returns the object at key. See Store.
func (s *S3Store) Get(ctx context.Context, key string) (*Object, error) {
	if err := checkKey(key); err != nil {
		return nil, opError("get", key, err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(joinPrefix(s.prefix, key)),
	})
	if err != nil {
		if isNotFound(err) {
			return nil, opError("get", key, ErrNotFound)
		}
		return nil, opError("get", key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, opError("get", key, err)
	}
	return s3Object(body, out.ContentType, out.Metadata), nil
}

// Head returns the object at key without its body. See Store.
func (s *S3Store) Head(ctx context.Context, key string) (*Object, error) {
	if err := checkKey(key); err != nil {
		return nil, opError("head", key, err)
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(joinPrefix(s.prefix, key)),
	})
	if err != nil {
		if isNotFound(err) {
			return nil, opError("head", key, ErrNotFound)
		}
		return nil, opError("head", key, err)
	}
	return s3Object(nil, out.ContentType, out.Metadata), nil
}

// s3Object is the Object of what S3 returned, its metadata decoded.
func s3Object(body []byte, contentType *string, meta map[string]string) *Object {
	obj := &Object{Body: body, ContentType: aws.ToString(contentType), Meta: make(map[string]string, len(meta))}
	for name, value := range meta {
		obj.Meta[name] = decodeMetaValue(value)
	}
	return obj
}

// isNotFound reports whether err says that the object does not exist (but
// not that the bucket does not: that is a configuration error).
func isNotFound(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode() {
	case "NoSuchKey", "NotFound":
		return true
	}
	return false
}

// Walk calls fn with every key that starts with prefix. See Store.
func (s *S3Store) Walk(ctx context.Context, prefix string, fn func(key string) error) error {
	if err := checkWalkPrefix(prefix); err != nil {
		return opError("walk", prefix, err)
	}
	base := joinPrefix(s.prefix, "")
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(base + prefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return opError("walk", prefix, err)
		}
		// S3 lists keys in byte order, which Walk promises.
		for _, obj := range page.Contents {
			if err := ctx.Err(); err != nil {
				return opError("walk", prefix, err)
			}
			if err := fn(strings.TrimPrefix(aws.ToString(obj.Key), base)); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkKeyName is the object Check writes and deletes. It starts with ".",
// so it can never be a key that Put accepts.
const checkKeyName = ".wxqr-check"

// Check asks whether the bucket exists and is reachable, then writes and
// deletes a probe object under the prefix. See Store.
func (s *S3Store) Check(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		return fmt.Errorf("storage: check bucket %q: %w", s.bucket, err)
	}
	probe := aws.String(joinPrefix(s.prefix, checkKeyName))
	if _, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: probe, Body: strings.NewReader("ok"), ContentLength: aws.Int64(2),
	}); err != nil {
		return fmt.Errorf("storage: check bucket %q: write: %w", s.bucket, err)
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: probe}); err != nil {
		return fmt.Errorf("storage: check bucket %q: delete: %w", s.bucket, err)
	}
	return nil
}

// Location returns the bucket and the object's key in it. See Store.
func (s *S3Store) Location(key string) (bucket, objectKey string) {
	return s.bucket, joinPrefix(s.prefix, key)
}

// encodeMetaValue makes v safe for S3 user metadata (an HTTP header):
// percent-encodes every byte that is not printable ASCII, and space (which
// a header would lose at either end) and "%" (so decoding is exact).
func encodeMetaValue(v string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c > ' ' && c < 0x7f && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// decodeMetaValue undoes encodeMetaValue. A value that is not valid
// percent-encoding (written by another tool) is returned unchanged.
func decodeMetaValue(v string) string {
	d, err := url.PathUnescape(v)
	if err != nil {
		return v
	}
	return d
}
