package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/durable"
)

// readDirectory reads --directory (breach.ParseDirectory).
func readDirectory(path string) (*breach.Directory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the directory file %s: %w", filepath.Base(path), durable.WithoutPath(err))
	}
	defer f.Close()
	return breach.ParseDirectory(f)
}

// notifyScope reads --scope when --directory or --mailing-list needs it:
// the scope recorded on the incident (same digest), or an error.
func (b *breachFlags) notifyScope(inc *breach.Incident) (*breach.Scope, error) {
	if b.dir == nil && *b.mailing == "" {
		if *b.scopeFile != "" {
			return nil, &breach.FieldError{Field: "--scope", Reason: "needs --directory", Err: breach.ErrInvalid}
		}
		return nil, nil
	}
	if b.dir == nil || *b.scopeFile == "" {
		return nil, &breach.FieldError{Field: "--directory", Reason: "--directory and --mailing-list need --directory and --scope",
			Err: breach.ErrInvalid}
	}
	f, err := os.Open(*b.scopeFile)
	if err != nil {
		return nil, fmt.Errorf("read the scope file %s: %w", filepath.Base(*b.scopeFile), durable.WithoutPath(err))
	}
	defer f.Close()
	sc, err := breach.ReadScopeJSON(f)
	if err != nil {
		return nil, err
	}
	recorded := inc.Get(breach.FieldScopeDigest)
	if recorded == "" {
		return nil, fmt.Errorf("incident %s has no recorded scope (run breach scope without --dry-run): %w", inc.ID, breach.ErrTransition)
	}
	if sc.Digest() != recorded {
		return nil, &breach.FieldError{Field: "--scope", Reason: "not the scope recorded on incident " + inc.ID +
			" (its digest differs)", Err: breach.ErrInvalid}
	}
	return sc, nil
}

// mailingList writes --mailing-list through Manager.RevealContacts: an
// audited reveal per subject, the disclosures to the mail house, then the
// list, into a new file (0600, never an existing one). A failed run leaves
// no file behind.
func (b *breachFlags) mailingList(ctx context.Context, c *cli, m *breach.Manager, officer audit.Actor, id string, sc *breach.Scope) error {
	if *b.mailHouse == "" {
		return &breach.FieldError{Field: "--mail-house", Reason: "required with --mailing-list", Err: breach.ErrInvalid}
	}
	for f, v := range map[string]string{"--mail-house": *b.mailHouse, "--mail-house-address": *b.mailAddress} {
		if len(v) > 256 || strings.ContainsFunc(v, unicode.IsControl) {
			return &breach.FieldError{Field: f, Reason: "at most 256 bytes without control characters", Err: breach.ErrInvalid}
		}
	}
	path := *b.mailing
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create the mailing list %s: %w", filepath.Base(path), durable.WithoutPath(err))
	}
	n, err := m.RevealContacts(ctx, officer, id, breach.MailingRequest{Scope: sc, Format: breach.MailingFormat(*b.mailFormat),
		Recipient: audit.Recipient{Kind: audit.RecipientOrganization, Name: *b.mailHouse, Address: *b.mailAddress}}, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if rerr := os.Remove(path); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove the incomplete mailing list %s", filepath.Base(path)))
		}
		return err
	}
	fmt.Fprintf(c.stderr, "hipaakit breach notify: mailing list of %d individuals written to %s; disclosed to %s (recorded per subject)\n",
		n, filepath.Base(path), audit.EscapeText(*b.mailHouse))
	return nil
}
