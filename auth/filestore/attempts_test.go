package filestore

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzAttemptFile: decoding a damaged attempt file never panics and never
// yields a negative count.
func FuzzAttemptFile(f *testing.F) {
	f.Add([]byte(`{"v":1,"count":3,"last":"2026-03-01T09:30:15Z"}` + "\n"))
	f.Add([]byte(`{"v":1,"count":-1,"last":"2026-03-01T09:30:15Z"}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a := decodeAttemptFile(b)
		if a.Count < 0 || (a.V != 1 && a != attemptFile{}) {
			t.Fatalf("decoded %+v", a)
		}
	})
}

func TestFileAttemptStorePurgeAndDamage(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenAttemptStore(dir)
	require.NoError(t, err)
	defer st.Close()
	ctx := t.Context()
	count := func(int, time.Time) time.Duration { return 0 }
	_, err = st.Reserve(ctx, attemptKey("old"), testEpoch, time.Hour, count)
	require.NoError(t, err)
	_, err = st.Reserve(ctx, attemptKey("new"), testEpoch.Add(2*time.Hour), time.Hour, count)
	require.NoError(t, err)
	n, err := st.Purge(testEpoch.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = st.Reserve(ctx, "../../etc/passwd", testEpoch, time.Hour, count)
	require.Error(t, err, "a key that is not a digest never names a file")
}

var testEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// attemptKey is the AttemptStore key of a throttle key (as package auth
// makes it).
func attemptKey(k string) string {
	h := sha256.Sum256([]byte(k))
	return hex.EncodeToString(h[:])
}
