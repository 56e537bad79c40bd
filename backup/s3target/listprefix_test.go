package s3target_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/s3target"
)

// TestS3ListIgnoredPrefix: a server that ignores the Prefix of a listing and
// returns every key must not make List pass on names outside the prefix
// (the repository would act on them, or slice them and panic).
func TestS3ListIgnoredPrefix(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyCount>5</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>
<Contents><Key>c/config</Key><Size>1</Size></Contents>
<Contents><Key>c/manifests/x</Key><Size>1</Size></Contents>
<Contents><Key>c/verified/x</Key><Size>1</Size></Contents>
<Contents><Key>c/manifestsx</Key><Size>1</Size></Contents>
<Contents><Key>other/manifests/y</Key><Size>1</Size></Contents>
</ListBucketResult>`)
	}))
	t.Cleanup(ts.Close)
	c, err := s3target.NewClient(s3target.ClientOptions{Endpoint: ts.URL, AccessKey: "a", SecretKey: "s", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := s3target.New(c, s3target.Config{Bucket: "b", Prefix: "c/"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := tg.List(context.Background(), "manifests/", func(o backup.ObjectInfo) error {
		got = append(got, o.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "manifests/x" {
		t.Fatalf("List(manifests/) = %q, want only manifests/x", got)
	}
}
