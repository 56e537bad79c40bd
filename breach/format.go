package breach

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// FormatVersion is the version of the entry encoding (FORMAT.md).
const FormatVersion = 1

// MaxEntryLine is the longest encoded entry, in bytes.
const MaxEntryLine = 64 << 10

// maxChanges bounds the changes of one entry.
var maxChanges = len(knownFields)

type wireEntry struct {
	V        int      `json:"v"`
	Incident string   `json:"incident"`
	Seq      uint64   `json:"seq"`
	At       string   `json:"at"`
	By       Actor    `json:"by"`
	Op       string   `json:"op"`
	Changes  []Change `json:"changes"`
}

// Marshal encodes e as one canonical JSON line (without the newline), the
// persisted form of both stores. It validates e first.
func (e Entry) Marshal() ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	return e.encode(), nil
}

func (e *Entry) encode() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	w := wireEntry{V: FormatVersion, Incident: e.Incident, Seq: e.Seq, At: e.At.UTC().Format(time.RFC3339Nano),
		By: e.By, Op: e.Op, Changes: e.Changes}
	_ = enc.Encode(&w) // only strings and numbers: cannot fail
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// ParseEntry decodes one line written by Marshal. It refuses unknown
// members, other versions (ErrVersion), invalid values and any encoding
// other than the canonical one (ErrMalformed), so that a stored line has
// exactly one meaning. Errors are *EntryError and never quote the line.
func ParseEntry(line []byte) (Entry, error) {
	bad := func(reason string) (Entry, error) {
		return Entry{}, &EntryError{Reason: reason, Err: ErrMalformed}
	}
	if len(line) > MaxEntryLine {
		return bad("longer than the limit")
	}
	var probe struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal(line, &probe); err != nil || probe.V == nil {
		return bad("not a JSON object with a version")
	}
	if *probe.V != FormatVersion {
		return Entry{}, &EntryError{Reason: "format version is not 1", Err: ErrVersion}
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var w wireEntry
	if err := dec.Decode(&w); err != nil || dec.More() {
		return bad("not a valid entry object")
	}
	at, err := time.Parse(time.RFC3339Nano, w.At)
	if err != nil || !strings.HasSuffix(w.At, "Z") {
		return bad("time is not RFC 3339 UTC")
	}
	e := Entry{Incident: w.Incident, Seq: w.Seq, At: at, By: w.By, Op: w.Op, Changes: w.Changes}
	if err := e.validate(); err != nil {
		return Entry{}, &EntryError{Incident: safeID(w.Incident), Seq: w.Seq, Reason: err.Error(), Err: ErrMalformed}
	}
	if !bytes.Equal(e.encode(), line) {
		return Entry{}, &EntryError{Incident: e.Incident, Seq: e.Seq, Reason: "not in canonical form", Err: ErrMalformed}
	}
	return e, nil
}

func safeID(id string) string {
	if ValidID(id) {
		return id
	}
	return ""
}

// ValidID reports whether id is an incident identifier: "INC-" and 1 to 60
// ASCII letters, digits or '-'.
func ValidID(id string) bool {
	rest, ok := strings.CutPrefix(id, "INC-")
	if !ok || len(rest) == 0 || len(rest) > 60 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

var validOps = []string{"open", "update", "assess", "scope", "status", "delay"}

func (e *Entry) validate() error {
	switch {
	case !ValidID(e.Incident):
		return invalid("incident", "not an incident identifier (INC-...)")
	case e.Seq == 0:
		return invalid("seq", "must be at least 1")
	case e.At.IsZero() || e.At.UTC().Year() < 1970 || e.At.UTC().Year() > 9999:
		return invalid("at", "missing or out of range")
	case e.By.UserID == "" || len(e.By.UserID) > 256 || len(e.By.Role) > 256:
		return invalid("by", "needs a user identifier of at most 256 bytes")
	case !slices.Contains(validOps, e.Op):
		return invalid("op", "unknown operation")
	case len(e.Changes) == 0 || len(e.Changes) > maxChanges:
		return invalid("changes", "needs 1 to one per field")
	}
	for _, s := range []string{e.By.UserID, e.By.Role} {
		if err := checkIdent("by", s); err != nil {
			return err
		}
	}
	seen := map[Field]bool{}
	for _, c := range e.Changes {
		if !KnownField(c.Field) || seen[c.Field] {
			return invalid("changes", "unknown or repeated field")
		}
		seen[c.Field] = true
		if c.Prior == c.New {
			return invalid(string(c.Field), "prior and new value are equal")
		}
		for _, v := range []string{c.Prior, c.New} {
			if err := checkValue(c.Field, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func isFreeText(f Field) bool {
	switch f {
	case FieldDescription, FieldNature, FieldPerson, FieldAcquired, FieldMitigation, FieldConclusionWhy, FieldDelayNote:
		return true
	}
	return false
}

// checkValue validates one field's value ("" is always valid: unset).
func checkValue(f Field, v string) error {
	if v == "" {
		return nil
	}
	bad := func(reason string) error { return invalid(string(f), reason) }
	switch f {
	case FieldDiscoveredOn, FieldDelayUntil, FieldNotifiedOn:
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return bad("must be a date YYYY-MM-DD")
		}
	case FieldTimeZone:
		if _, err := time.LoadLocation(v); err != nil || v == "Local" || len(v) > 64 {
			return bad("must be an IANA time zone such as America/New_York")
		}
	case FieldEntity:
		if v != string(CoveredEntity) && v != string(BusinessAssociate) {
			return bad("must be covered_entity or business_associate")
		}
	case FieldStatus:
		if !slices.Contains([]Status{StatusOpen, StatusAssessed, StatusNotified, StatusClosed}, Status(v)) {
			return bad("unknown status")
		}
	case FieldConclusion:
		if !validConclusion(Conclusion(v)) {
			return bad("unknown conclusion")
		}
	case FieldScopeDigest:
		if b, err := hex.DecodeString(v); err != nil || len(b) != 32 || strings.ToLower(v) != v {
			return bad("must be a lower-case hex SHA-256")
		}
	case FieldAffected, FieldExcluded:
		if n, err := strconv.Atoi(v); err != nil || n < 0 || strconv.Itoa(n) != v {
			return bad("must be a decimal count")
		}
	case FieldReportedBy, FieldAssessedBy:
		return checkIdent(string(f), v)
	default:
		max := 256
		if isFreeText(f) {
			max = MaxText
		}
		return checkShortText(string(f), v, max)
	}
	return nil
}

// checkIdent validates an opaque identifier (a user ID, a role): at most
// 256 bytes of valid UTF-8 without control or format characters. The PHI
// heuristics do not apply: identifiers are random strings, not text.
func checkIdent(field, v string) error {
	if len(v) > 256 || !utf8.ValidString(v) {
		return invalid(field, "not an identifier of at most 256 bytes of UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) {
			return invalid(field, "holds space, control or format characters")
		}
	}
	return nil
}
