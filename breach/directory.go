package breach

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/hipaakit/hipaakit/phi"
)

// Directory file limits.
const (
	// MaxDirectoryLine is the longest line of a directory file.
	MaxDirectoryLine = 16 << 10
	// maxContactLen bounds each contact member.
	maxContactLen = 1024
)

// Directory is a Resolver read from a directory file: the application's
// export of the affected patients' residence and contact details, for
// operators who run breach response from the CLI (hipaakit breach notify
// --directory). Locate reads the State and whether contact details
// suffice; Contact, which Manager calls only inside RevealContacts after
// the audited reveal, returns the details as phi.Text. A subject the file
// does not list has an unknown State, insufficient contact information
// and an empty Contact, so that it counts toward substitute notice and is
// never dropped from a mailing list.
//
// The file is JSON Lines, one object per subject (FORMAT.md, "Directory
// file"):
//
//	{"subject":"p-0042","state":"NY","name":"…","address":"…","email":"…"}
//
// with the optional members "v" (1, the only version) and
// "contact_sufficient" (default: an address or an e-mail address is
// given). Blank lines are skipped; unknown members, duplicate subjects,
// invalid subject IDs, States that are not two letters and control
// characters are refused with ErrInvalid and a *FieldError naming the
// line, never quoting its content.
type Directory struct {
	entries map[string]directoryEntry
}

type directoryEntry struct {
	res     Residence
	contact Contact
}

// directoryLine is one line of a directory file.
type directoryLine struct {
	V                 *int    `json:"v"`
	Subject           string  `json:"subject"`
	State             string  `json:"state"`
	Name              *string `json:"name"`
	Address           *string `json:"address"`
	Email             *string `json:"email"`
	ContactSufficient *bool   `json:"contact_sufficient"`
}

var _ Resolver = (*Directory)(nil)

// ParseDirectory reads a directory file.
func ParseDirectory(r io.Reader) (*Directory, error) {
	d := &Directory{entries: map[string]directoryEntry{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxDirectoryLine)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := d.add(line); err != nil {
			return nil, invalid(fmt.Sprintf("directory line %d", n), err.Error())
		}
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return nil, invalid(fmt.Sprintf("directory line %d", n+1), fmt.Sprintf("longer than %d bytes", MaxDirectoryLine))
		}
		return nil, fmt.Errorf("breach: read the directory file: %w", ErrInvalid)
	}
	return d, nil
}

// lineError is why a directory line is refused: a fixed text, never the
// line's content.
type lineError string

func (e lineError) Error() string { return string(e) }

func (d *Directory) add(line []byte) error {
	var l directoryLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil || dec.More() {
		return lineError("not one JSON object of the directory members (subject, state, name, address, email, contact_sufficient, v)")
	}
	if l.V != nil && *l.V != 1 {
		return lineError("unsupported version (v must be 1)")
	}
	if !phi.ValidSubject(l.Subject) {
		return lineError("subject is not a valid subject ID")
	}
	if _, dup := d.entries[l.Subject]; dup {
		return lineError("the subject is listed twice")
	}
	st := strings.ToUpper(l.State)
	if st != "" && (len(st) != 2 || st[0] < 'A' || st[0] > 'Z' || st[1] < 'A' || st[1] > 'Z') {
		return lineError("state must be a two-letter code (USPS) or empty")
	}
	var c Contact
	for _, m := range []struct {
		name string
		v    *string
		dst  *phi.Text
	}{{"name", l.Name, &c.Name}, {"address", l.Address, &c.Address}, {"email", l.Email, &c.Email}} {
		if m.v == nil {
			continue
		}
		if len(*m.v) > maxContactLen || !utf8.ValidString(*m.v) || strings.ContainsFunc(*m.v, isControl) {
			return lineError(fmt.Sprintf("%s must be at most %d bytes of text without control characters", m.name, maxContactLen))
		}
		*m.dst = phi.NewText(*m.v)
	}
	sufficient := (l.Address != nil && strings.TrimSpace(*l.Address) != "") || (l.Email != nil && strings.TrimSpace(*l.Email) != "")
	if l.ContactSufficient != nil {
		sufficient = *l.ContactSufficient
	}
	d.entries[l.Subject] = directoryEntry{res: Residence{State: st, ContactSufficient: sufficient}, contact: c}
	return nil
}

// isControl reports C0 and C1 control characters and DEL (a newline in an
// address belongs to the mail house's format, not to this file: use ", ").
func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// Len is the number of subjects listed.
func (d *Directory) Len() int { return len(d.entries) }

// Locate implements Resolver: the subject's State and whether its contact
// details suffice (unknown subjects: unknown State, insufficient).
func (d *Directory) Locate(_ context.Context, subject string) (Residence, error) {
	return d.entries[subject].res, nil
}

// Contact implements Resolver: the subject's contact details (unknown
// subjects: empty).
func (d *Directory) Contact(_ context.Context, subject string) (Contact, error) {
	return d.entries[subject].contact, nil
}
