package audit

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"time"
)

// ExportFormat names an export format.
type ExportFormat string

// Export formats.
const (
	// ExportJSONL writes one canonical record line per record (FORMAT.md),
	// exactly as the file log stores it, so an export of a whole stream
	// verifies with the same code as the log.
	ExportJSONL ExportFormat = "jsonl"
	// ExportCSV writes a header row and one row per record with the columns
	// of CSVColumns; cells are protected against formula injection.
	ExportCSV ExportFormat = "csv"
)

// ErrExportFormat reports an unknown ExportFormat.
var ErrExportFormat = errors.New("audit: unknown export format")

// csvHeader lists the columns of ExportCSV (see CSVColumns).
var csvHeader = []string{
	"time", "stream", "seq", "hash", "action", "outcome", "reason",
	"actor_user_id", "actor_tenant_id", "actor_role", "actor_session_id", "emergency", "emergency_reason",
	"channel", "client_ip", "user_agent", "request_id", "route",
	"record_type", "record_id", "field", "subject", "purpose",
	"change_new", "change_prior", "attrs",
	"recipient_id", "recipient_kind", "recipient_name", "recipient_address",
}

// CSVColumns returns the columns of ExportCSV, in order. Times are RFC 3339
// with nanoseconds in UTC, sealed change values are lower-case hex, and attrs
// is a JSON object with sorted keys. Every cell passes through CSVSafe:
// control, bidirectional and invisible format characters are escaped
// (EscapeText) and a cell that starts with '=', '+', '-' or '@' carries one
// leading apostrophe.
func CSVColumns() []string { return append([]string(nil), csvHeader...) }

// Export writes every record that matches f (after f.After, ignoring
// f.Limit) to w and returns how many it wrote. ExportJSONL from a
// ChainSearcher (FileSearcher, VerifiedSearcher, pgaudit.Store) with a zero
// f.After is written in chain order — each stream's records by sequence
// number — so an export of whole streams verifies with Verify (ParseLine
// each line) whatever order the events' times are in; every other export
// is in listing order. With a VerifiedSearcher, a trail that fails
// verification makes Export fail instead of writing the tampered records.
// It streams: memory does not grow with the number of records. It ignores
// f.Descending: an export is never newest first.
func Export(ctx context.Context, w io.Writer, s Searcher, f Filter, format ExportFormat) (int64, error) {
	if format != ExportJSONL && format != ExportCSV {
		return 0, ErrExportFormat
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	f.Limit, f.Descending = 0, false
	bw := bufio.NewWriterSize(w, 64<<10)
	var cw *csv.Writer
	if format == ExportCSV {
		cw = csv.NewWriter(bw)
		if err := cw.Write(csvHeader); err != nil {
			return 0, exportWriteErr(err)
		}
	}
	var n int64
	var line []byte
	row := make([]string, len(csvHeader))
	records := s.Search
	if cs, ok := s.(ChainSearcher); ok && format == ExportJSONL && f.After.IsZero() {
		records = cs.SearchChain
	}
	for r, err := range records(ctx, f) {
		if err != nil {
			return n, err
		}
		if cw != nil {
			csvRow(row, &r)
			if err := cw.Write(row); err != nil {
				return n, exportWriteErr(err)
			}
		} else {
			line, err = r.AppendMarshal(line[:0])
			if err != nil {
				return n, err
			}
			line = append(line, '\n')
			if _, err := bw.Write(line); err != nil {
				return n, exportWriteErr(err)
			}
		}
		n++
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, exportWriteErr(err)
		}
	}
	if err := bw.Flush(); err != nil {
		return n, exportWriteErr(err)
	}
	return n, nil
}

// exportError wraps a failure of the destination writer.
type exportError struct{ err error }

func (e *exportError) Error() string { return "audit: export: write: " + e.err.Error() }
func (e *exportError) Unwrap() error { return e.err }

func exportWriteErr(err error) error { return &exportError{err} }

// csvRow fills row (len(csvHeader)) with r's cells.
func csvRow(row []string, r *Record) {
	e := &r.Event
	var nw, pr string
	if e.Change != nil {
		nw = hex.EncodeToString(e.Change.New)
		pr = hex.EncodeToString(e.Change.Prior)
	}
	cells := [...]string{
		e.Time.UTC().Format(time.RFC3339Nano), r.Stream, strconv.FormatUint(r.Seq, 10), r.Hash.String(),
		string(e.Action), string(e.Outcome), e.Reason,
		e.Actor.UserID, e.Actor.TenantID, e.Actor.Role, e.Actor.SessionID, strconv.FormatBool(e.Actor.Emergency), e.Actor.EmergencyReason,
		string(e.Origin.Channel), e.Origin.ClientIP, e.Origin.UserAgent, e.Origin.RequestID, e.Origin.Route,
		e.Target.RecordType, e.Target.RecordID, e.Target.Field, e.Target.Subject, e.Purpose,
		nw, pr, attrsCell(e.Attrs),
		e.Recipient.ID, string(e.Recipient.Kind), e.Recipient.Name, e.Recipient.Address,
	}
	for i, c := range cells {
		row[i] = CSVSafe(c)
	}
}

func attrsCell(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(m) // keys sorted
	if err != nil {
		return ""
	}
	return string(b)
}

// CSVSafe makes s safe for a CSV cell that a person opens in a spreadsheet
// or prints to a terminal. It first escapes every control, bidirectional and
// invisible format character with EscapeText (so ESC, BEL, a newline or
// U+202E arrive as the visible \x1b, \x07, \n, \u202e), then defuses
// formula injection (CWE-1236): a cell that starts with '=', '+', '-' or
// '@' gets a leading apostrophe, so a spreadsheet shows it as text instead
// of evaluating it. Quoting of commas and quotes is left to encoding/csv.
func CSVSafe(s string) string {
	s = EscapeText(s)
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@':
		return "'" + s
	}
	return s
}
