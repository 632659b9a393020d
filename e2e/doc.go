// Package e2e holds wxqr's end-to-end tests: they build the real commands,
// run them as a user would (flags, environment, exit status) against the
// WeChat simulator, the test Redis and the test MinIO that scripts/test.sh
// starts, and check what lands in the bucket, the catalog and the export.
package e2e
