package hipaakit

import (
	"fmt"

	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/retention/pgretention"
)

// RetentionSweeper returns a retention sweeper over the application's
// records src under policies, wired to the deployment: it respects d.Holds,
// shreds with d.Shredder, and keeps its cursor in the data directory
// (DirSweep) or, on PostgreSQL, in the sweep state called name (default
// "default"). Run its Sweep on the schedule the application chooses.
func (d *Deployment) RetentionSweeper(src retention.Source, policies retention.Policies, name string) (*retention.Sweeper, error) {
	state, err := d.sweepState(name)
	if err != nil {
		return nil, err
	}
	return retention.NewSweeper(retention.SweeperConfig{Source: src, Policies: policies, Holds: d.Holds,
		Disposer: d.Shredder, State: state, Clock: d.Clock})
}

// sweepState is the retention sweep state called name (default
// "default") on PostgreSQL, or the data directory's (DirSweep).
func (d *Deployment) sweepState(name string) (retention.SweepState, error) {
	if d.DB != nil {
		if name == "" {
			name = "default"
		}
		return pgretention.NewSweepState(d.DB, name), nil
	}
	fs, err := retention.OpenFileSweepState(d.path(DirSweep))
	if err != nil {
		return nil, fmt.Errorf("hipaakit: open the retention sweep state: %w", err)
	}
	return fs, nil
}
