package disposal

import "context"

// HoldChecker reports whether a legal hold covers a subject. retention.Registry
// implements it; disposal defines it so that it does not depend on retention.
//
// kinds lists the kinds of the subject's records when the caller knows them
// (the retention sweeper does); when kinds is empty the subject's records may
// be of any kind, so a hold on a whole record kind covers the subject too.
// An implementation that cannot read the hold state returns an error, and
// Shred then refuses to destroy anything (fail closed).
type HoldChecker interface {
	SubjectHold(ctx context.Context, subject string, kinds []string) (held bool, holdID string, err error)
}

// NoHolds is a HoldChecker for deployments without legal holds: it reports
// every subject as not held.
type NoHolds struct{}

// SubjectHold reports false.
func (NoHolds) SubjectHold(context.Context, string, []string) (bool, string, error) {
	return false, "", nil
}
