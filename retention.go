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
	var state retention.SweepState
	if d.DB != nil {
		if name == "" {
			name = "default"
		}
		state = pgretention.NewSweepState(d.DB, name)
	} else {
		fs, err := retention.OpenFileSweepState(d.path(DirSweep))
		if err != nil {
			return nil, fmt.Errorf("hipaakit: open the retention sweep state: %w", err)
		}
		state = fs
	}
	return retention.NewSweeper(retention.SweeperConfig{Source: src, Policies: policies, Holds: d.Holds,
		Disposer: d.Shredder, State: state, Clock: d.Clock})
}
