package hipaakittest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestBucketIsUsableAndRemoved(t *testing.T) {
	s := S3(t)
	var name string
	t.Run("bucket", func(t *testing.T) {
		name = s.Bucket(t, false)
		_, err := s.Client().HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
	})
	if _, err := s.Client().HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(name)}); err == nil {
		t.Fatal("bucket left behind after the test")
	}
}
