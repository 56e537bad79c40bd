package s3target

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/hipaakit/hipaakit/clock"
)

// PutRetained stores data under name like Put, with an object-lock
// retention until the given date (audit/archive's Retainer): in compliance
// mode, or in the mode of Config.ObjectLock when that is set (governance
// only in tests). The bucket must have object lock enabled. A date not
// after now is refused.
func (t *Target) PutRetained(ctx context.Context, name string, data []byte, until time.Time) error {
	now := t.cfg.Clock.Now()
	if !until.After(now) {
		return errors.New("backup/s3target: a retention date must be in the future")
	}
	mode := types.ObjectLockModeCompliance
	if t.cfg.ObjectLock != nil {
		mode = t.cfg.ObjectLock.Mode
	}
	c := *t
	c.cfg.ObjectLock = &ObjectLock{Mode: mode, Retain: until.Sub(now)}
	c.cfg.Clock = clock.Func(func() time.Time { return now })
	return c.Put(ctx, name, data)
}
