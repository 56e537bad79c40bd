package main

import (
	"encoding/csv"
	"strconv"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// accountingHeader lists the columns of "hipaakit audit disclosures".
var accountingHeader = []string{
	"time", "actor_user_id", "actor_role", "actor_tenant_id", "emergency", "emergency_reason",
	"action", "outcome", "reason", "recipient_name", "recipient_kind", "recipient_address", "recipient_id",
	"record_type", "record_id", "field", "purpose", "channel", "route", "stream", "seq",
}

// writeAccounting prints an accounting of disclosures as CSV, one row per
// disclosure with its recipient; every cell passes through audit.CSVSafe
// (controls escaped, formulas defused).
func writeAccounting(c *cli, acc audit.Accounting) int {
	w := csv.NewWriter(c.stdout)
	_ = w.Write(accountingHeader)
	row := make([]string, len(accountingHeader))
	for _, d := range acc.Disclosures {
		cells := [...]string{
			d.Time.UTC().Format(time.RFC3339Nano), d.Actor.UserID, d.Actor.Role, d.Actor.TenantID,
			strconv.FormatBool(d.Actor.Emergency), d.Actor.EmergencyReason,
			string(d.Action), string(d.Outcome), d.Reason,
			d.Recipient.Name, string(d.Recipient.Kind), d.Recipient.Address, d.Recipient.ID, d.RecordType, d.RecordID, d.Field, d.Purpose,
			string(d.Channel), d.Route, d.Stream, strconv.FormatUint(d.Seq, 10),
		}
		for i, s := range cells {
			row[i] = audit.CSVSafe(s)
		}
		_ = w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fail(c, err)
	}
	return exitOK
}
