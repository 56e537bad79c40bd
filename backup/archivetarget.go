package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hipaakit/hipaakit/audit/archive"
)

// ArchiveTarget adapts a Target (DirTarget, backup/s3target) to the target
// of an audit archive (audit/archive): a missing object is
// archive.ErrNotFound, and a target that can store objects under a
// retention date (s3target.Target.PutRetained: S3 object lock) stays an
// archive.Retainer.
func ArchiveTarget(t Target) archive.Target {
	a := archiveTarget{t: t}
	if r, ok := t.(interface {
		PutRetained(ctx context.Context, name string, data []byte, until time.Time) error
	}); ok {
		return retainingArchiveTarget{archiveTarget: a, r: r}
	}
	return a
}

type archiveTarget struct{ t Target }

func (a archiveTarget) Put(ctx context.Context, name string, data []byte) error {
	return a.t.Put(ctx, name, data)
}

func (a archiveTarget) Get(ctx context.Context, name string) ([]byte, error) {
	r, err := a.t.Open(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", archive.ErrNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, &ObjectError{Op: "read", Object: name, Err: err}
	}
	return b, nil
}

func (a archiveTarget) List(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	err := a.t.List(ctx, prefix, func(o ObjectInfo) error {
		names = append(names, o.Name)
		return nil
	})
	return names, err
}

func (a archiveTarget) Delete(ctx context.Context, name string) error { return a.t.Delete(ctx, name) }

type retainingArchiveTarget struct {
	archiveTarget
	r interface {
		PutRetained(ctx context.Context, name string, data []byte, until time.Time) error
	}
}

func (a retainingArchiveTarget) PutRetained(ctx context.Context, name string, data []byte, until time.Time) error {
	return a.r.PutRetained(ctx, name, data, until)
}
