package pgaudit

import "github.com/hipaakit/hipaakit/audit"

// NewTrail returns the audit.Trail of the PostgreSQL audit trail: w for
// appending, s for search, verification and export.
func NewTrail(w *Writer, s *Store) audit.Trail { return audit.SearcherTrail(w, s) }
