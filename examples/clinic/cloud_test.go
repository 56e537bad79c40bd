package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi/awskms/kmstest"
	"github.com/hipaakit/hipaakit/serviceconfig"
)

// awsTestEnv gives the AWS SDK's default chain static credentials and
// nothing else: no shared files, no instance metadata.
func awsTestEnv(t *testing.T, accessKey, secretKey string) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": accessKey, "AWS_SECRET_ACCESS_KEY": secretKey, "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
}

// TestKMSKeyEncryptionKey: with -kms-key-id every patient key is wrapped by
// AWS KMS (a fake KMS here); no local master key is created, and the same
// data directory refuses to start under a local key.
func TestKMSKeyEncryptionKey(t *testing.T) {
	srv := kmstest.NewServer(t)
	awsTestEnv(t, "AKIDCLINICTEST", "clinic-test-secret")
	cfg := testConfig(t.TempDir())
	cfg.KMSKeyID, cfg.KMSEndpoint = srv.KeyARN(), srv.URL()

	tc := startClinicWith(t, cfg, nil, nil)
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-8001", "Kms Patient")
	var v patientView
	doc.mustStatus(http.StatusOK, "GET", "/api/patients/"+id, nil, &v)
	if v.Fields["name"] != "Kms Patient" {
		t.Fatalf("read back: %+v", v)
	}
	if srv.Calls("Encrypt") == 0 {
		t.Fatal("no key was wrapped by KMS")
	}
	if _, err := os.Stat(hipaakit.DefaultKeyFile(cfg.DataDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a local master key was created beside KMS: %v", err)
	}
	sc, err := serviceconfig.Load(filepath.Join(cfg.DataDir, serviceconfig.FileName))
	if err != nil || sc.KEK != "aws-kms:"+srv.KeyARN() || sc.KMSEndpoint != srv.URL() {
		t.Fatalf("hipaakit.json: kek %q endpoint %q: %v", sc.KEK, sc.KMSEndpoint, err)
	}
	clk, users := tc.clock, tc.users
	tc.stop()

	// The same stores under the local master key: refused at start.
	local := cfg
	local.KMSKeyID, local.KMSEndpoint = "", ""
	_, err = openApp(context.Background(), local, clk, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "wrapped by aws-kms") || !strings.Contains(err.Error(), "there is no master key file") {
		t.Fatalf("start without the KMS key: %v", err)
	}
	if _, err := os.Stat(hipaakit.DefaultKeyFile(cfg.DataDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused start left a new master key behind: %v", err)
	}

	// Back under KMS, after a restart: the patient opens (unwrapped by KMS).
	decrypts := srv.Calls("Decrypt")
	tc2 := startClinicWith(t, cfg, clk, users)
	tc2.login(rolePhysician).mustStatus(http.StatusOK, "GET", "/api/patients/"+id, nil, nil)
	if srv.Calls("Decrypt") == decrypts {
		t.Fatal("the restarted clinic opened the patient without KMS")
	}
}

// TestS3Backups: with -s3-bucket the backups go to S3 (an S3-compatible
// server, see package hipaakittest), verify, and pass the restore drill.
func TestS3Backups(t *testing.T) {
	s := hipaakittest.S3(t)
	bucket := s.Bucket(t, false)
	awsTestEnv(t, s.AccessKey, s.SecretKey)
	cfg := testConfig(t.TempDir())
	cfg.S3Bucket, cfg.S3Endpoint, cfg.S3Region = bucket, s.Endpoint, s.Region

	tc := startClinicWith(t, cfg, nil, nil)
	newPatient(t, tc.login(rolePhysician), "MRN-8101", "S3 Patient")
	admin := tc.login(roleAdmin)
	var made struct{ Backups []string }
	admin.mustStatus(http.StatusCreated, "POST", "/api/backups", nil, &made)
	if len(made.Backups) != len(tc.app.d.BackupSources) {
		t.Fatalf("backups: %v", made.Backups)
	}
	var ver struct{ OK bool }
	admin.mustStatus(http.StatusOK, "POST", "/api/backups/"+made.Backups[0]+"/verify", nil, &ver)
	var drill struct{ Pass bool }
	admin.mustStatus(http.StatusOK, "POST", "/api/backups/drill", nil, &drill)
	if !ver.OK || !drill.Pass {
		t.Fatalf("verify %v, drill %v", ver.OK, drill.Pass)
	}
	out, err := s.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("clinic/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) == 0 {
		t.Fatal("no backup object in the bucket")
	}
	if _, err := os.Stat(hipaakit.DefaultBackupDir(cfg.DataDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("backups were also written to the data directory: %v", err)
	}
}
