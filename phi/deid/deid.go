package deid

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Identifier is one of the eighteen Safe Harbor identifier categories of
// 164.514(b)(2)(i)(A)–(R).
type Identifier int

// The Safe Harbor identifiers, in the order of the regulation.
const (
	Name          Identifier = iota + 1 // (A) names
	Geographic                          // (B) geographic subdivisions smaller than a state (street, city, county, precinct, geocodes)
	Date                                // (C) elements of dates (except year) directly related to an individual
	Telephone                           // (D) telephone numbers
	Fax                                 // (E) fax numbers
	Email                               // (F) e-mail addresses
	SSN                                 // (G) social security numbers
	MedicalRecord                       // (H) medical record numbers
	HealthPlan                          // (I) health plan beneficiary numbers
	Account                             // (J) account numbers
	License                             // (K) certificate and license numbers
	Vehicle                             // (L) vehicle identifiers and serial numbers, including license plates
	Device                              // (M) device identifiers and serial numbers
	URL                                 // (N) web URLs
	IPAddress                           // (O) IP addresses
	Biometric                           // (P) biometric identifiers, including finger and voice prints
	Photo                               // (Q) full-face photographs and comparable images
	OtherUnique                         // (R) any other unique identifying number, characteristic or code
)

var identifierNames = [...]string{
	Name: "name", Geographic: "geographic", Date: "date", Telephone: "telephone", Fax: "fax",
	Email: "email", SSN: "ssn", MedicalRecord: "medical_record_number", HealthPlan: "health_plan_number",
	Account: "account_number", License: "license_number", Vehicle: "vehicle_identifier",
	Device: "device_identifier", URL: "url", IPAddress: "ip_address", Biometric: "biometric",
	Photo: "photo", OtherUnique: "other_unique_identifier",
}

// String returns the identifier's short name, e.g. "ssn".
func (id Identifier) String() string {
	if id >= Name && id <= OtherUnique {
		return identifierNames[id]
	}
	return "identifier(" + strconv.Itoa(int(id)) + ")"
}

// Identifiers lists all eighteen categories.
func Identifiers() []Identifier {
	ids := make([]Identifier, 0, OtherUnique)
	for id := Name; id <= OtherUnique; id++ {
		ids = append(ids, id)
	}
	return ids
}

// Class says what Deidentify does with a field.
type Class struct {
	op op
	id Identifier
}

type op int

const (
	opDrop op = iota + 1
	opKeep
	opYear
	opBirthYear
	opZIP
	opAge
)

// Remove drops a field that holds identifier id (for example Remove(SSN)).
func Remove(id Identifier) Class { return Class{op: opDrop, id: id} }

// Keep passes a field through unchanged. Use it only for data that is not one
// of the eighteen identifiers, such as a diagnosis code or a lab value.
func Keep() Class { return Class{op: opKeep} }

// DateToYear reduces a date directly related to the individual (admission,
// discharge, death, service) to its year, or to "90+" when the individual was
// 90 or older on that date: such a year, with the record's other data, is
// indicative of an age over 89, which Safe Harbor requires to be aggregated.
// The age is taken from the record's birth date (the field its schema
// classifies BirthDateToYear; the earliest if there are several), so keep
// the birth date in the record being de-identified even when the export
// drops it afterwards. A date before the birth date is refused as invalid.
func DateToYear() Class { return Class{op: opYear, id: Date} }

// BirthDateToYear reduces a birth date to its year, or to "90+" when the
// individual is 90 or older at the reference time (Options.Now): for such ages
// even the year is indicative and must be aggregated.
func BirthDateToYear() Class { return Class{op: opBirthYear, id: Date} }

// ZIP3 keeps the first three digits of a ZIP code, or "000" when the
// three-digit area holds 20,000 people or fewer (RestrictedZIP3).
func ZIP3() Class { return Class{op: opZIP, id: Geographic} }

// Age keeps an age in whole years, aggregating 90 and over into "90+".
func Age() Class { return Class{op: opAge, id: Date} }

// Schema classifies every field of a record by name.
type Schema map[string]Class

// Errors.
var (
	// ErrUnclassified reports a field the schema does not classify.
	ErrUnclassified = errors.New("deid: field not classified by the schema")
	// ErrInvalidValue reports a value that a generalising class cannot parse
	// (for example a date that is not a date). The value is never quoted.
	ErrInvalidValue = errors.New("deid: value cannot be generalised")
)

// FieldError says which field failed; it never holds the value.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return fmt.Sprintf("%v: field %q", e.Err, e.Field) }
func (e *FieldError) Unwrap() error { return e.Err }

// Options tune Deidentify.
type Options struct {
	// Now is the reference time for ages derived from birth dates. Zero means
	// time.Now().
	Now time.Time
	// RestrictedZIP3 overrides the three-digit ZIP prefixes whose areas hold
	// 20,000 people or fewer. Nil means DefaultRestrictedZIP3.
	RestrictedZIP3 []string
}

// DefaultRestrictedZIP3 returns the three-digit ZIP prefixes that HHS guidance
// lists as covering 20,000 or fewer people (2000 Census). Safe Harbor requires
// them to be replaced with "000". Pass a newer list in Options when the Census
// Bureau's figures change.
func DefaultRestrictedZIP3() []string {
	return []string{"036", "059", "063", "102", "203", "556", "692", "790", "821",
		"823", "830", "831", "878", "879", "884", "890", "893"}
}

// Report tells, per identifier category, how many values were removed or
// generalised, for the export's audit event.
type Report struct {
	Removed     map[Identifier]int
	Generalised map[Identifier]int
}

// Deidentify returns the de-identified copy of rec under schema. Fields
// classified Remove are absent from the result; empty values stay empty.
func Deidentify(rec map[string]string, schema Schema, opts Options) (map[string]string, Report, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	restricted := opts.RestrictedZIP3
	if restricted == nil {
		restricted = DefaultRestrictedZIP3()
	}
	rep := Report{Removed: map[Identifier]int{}, Generalised: map[Identifier]int{}}
	out := make(map[string]string, len(rec))
	birth, err := birthDate(rec, schema)
	if err != nil {
		return nil, Report{}, err
	}
	// Walk fields in a fixed order so that the first error is deterministic.
	names := make([]string, 0, len(rec))
	for k := range rec {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, field := range names {
		v := rec[field]
		c, ok := schema[field]
		if !ok || c.op == 0 {
			return nil, Report{}, &FieldError{Field: field, Err: ErrUnclassified}
		}
		if c.op == opDrop {
			rep.Removed[c.id]++
			continue
		}
		if c.op == opKeep || strings.TrimSpace(v) == "" {
			out[field] = v
			continue
		}
		g, err := generalise(c.op, v, now, birth, restricted)
		if err != nil {
			return nil, Report{}, &FieldError{Field: field, Err: err}
		}
		out[field] = g
		rep.Generalised[c.id]++
	}
	return out, rep, nil
}

// birthDate returns the earliest birth date in rec (a field schema classifies
// BirthDateToYear), or the zero time when rec holds none.
func birthDate(rec map[string]string, schema Schema) (time.Time, error) {
	var birth time.Time
	for field, c := range schema {
		v, ok := rec[field]
		if c.op != opBirthYear || !ok || strings.TrimSpace(v) == "" {
			continue
		}
		d, err := parseDate(v)
		if err != nil {
			return time.Time{}, &FieldError{Field: field, Err: err}
		}
		if birth.IsZero() || d.Before(birth) {
			birth = d
		}
	}
	return birth, nil
}

func generalise(o op, v string, now, birth time.Time, restricted []string) (string, error) {
	switch o {
	case opYear:
		d, err := parseDate(v)
		if err != nil {
			return "", err
		}
		if !birth.IsZero() {
			if d.Before(birth) {
				return "", ErrInvalidValue
			}
			if AgeAt(birth, d) >= 90 {
				return "90+", nil
			}
		}
		return strconv.Itoa(d.Year()), nil
	case opBirthYear:
		d, err := parseDate(v)
		if err != nil {
			return "", err
		}
		if AgeAt(d, now) >= 90 {
			return "90+", nil
		}
		return strconv.Itoa(d.Year()), nil
	case opZIP:
		return zip3(v, restricted)
	case opAge:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > 200 {
			return "", ErrInvalidValue
		}
		if n >= 90 {
			return "90+", nil
		}
		return strconv.Itoa(n), nil
	}
	return "", ErrInvalidValue
}

// dateLayouts are the accepted date forms: ISO 8601 calendar dates and RFC 3339 timestamps.
var dateLayouts = [...]string{"2006-01-02", time.RFC3339, time.RFC3339Nano, "2006-01-02T15:04:05"}

func parseDate(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, ErrInvalidValue
}

// AgeAt returns the age in whole years at now of someone born on birth.
func AgeAt(birth, now time.Time) int {
	by, bm, bd := birth.Date()
	ny, nm, nd := now.Date()
	age := ny - by
	if nm < bm || (nm == bm && nd < bd) {
		age--
	}
	return age
}

func zip3(v string, restricted []string) (string, error) {
	digits := strings.TrimSpace(v)
	// Accept ZIP and ZIP+4 ("12345" or "12345-6789").
	if i := strings.IndexByte(digits, '-'); i == 5 {
		digits = digits[:5]
	}
	if len(digits) != 5 {
		return "", ErrInvalidValue
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", ErrInvalidValue
		}
	}
	p := digits[:3]
	for _, r := range restricted {
		if p == r {
			return "000", nil
		}
	}
	return p, nil
}
