package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/breach"
)

const breachUsage = `usage: hipaakit breach <command>

commands:
  open --discovered YYYY-MM-DD --tz ZONE --description TEXT [--vector V] [--business-associate] [--by USER]
         record an incident (prints its ID)
  list   [--format table|json]                list incidents
  show ID [--format table|json]               an incident's fields and its history (who, when, prior value)
  scope ID --since T --until T [--actor U] [--session S] [--network CIDR] [--route R] [--record TYPE:ID]
         [--kek-compromised] [--compromised-subject S] [--trail DIR|pg] [--key PEM] [--format csv|json] [--dry-run]
         [--no-shredded-check]
         affected subjects from the verified audit trail (exit 1 if it does not verify); recorded on the incident;
         shredded subjects are marked from the disposal ledger (exit 3 if it cannot be opened, unless
         --no-shredded-check, which says so on stderr)
  assess ID --nature T --person T --acquired T --mitigation T --conclusion C --reason T [--by USER]
         the four-factor risk assessment (164.402(2)); conclusions: breach, low_probability, secured,
         exception_workforce_good_faith, exception_inadvertent_authorized, exception_could_not_retain
  update ID [--delay-until YYYY-MM-DD --delay-note T] [--vector V] [--description T] [--by USER]
  notify ID [--counts FILE | --directory FILE --scope FILE] [--format table|csv|json] [--sent YYYY-MM-DD] [--by USER]
         [--mailing-list OUT --mail-house NAME [--mail-house-address A] [--mailing-format csv|json]]
         required notices and deadlines (exit 1 if one is overdue); --sent records that they went out;
         --mailing-list writes the individuals' mailing list (0600, never overwritten), recorded as a
         disclosure of each subject's contact details to the mail house
  close ID [--by USER]
  report [--format table|json]                open incidents with their next deadline (exit 1 if one is overdue)

Times are RFC 3339. --counts is a JSON file {"by_state":{"NY":12},"insufficient_contact":0} from the
application's directory; without it (or --directory) every affected subject counts with an unknown
State. --directory is the application's export of the affected patients, JSON Lines, one
{"subject":"p-1","state":"NY","name":"...","address":"...","email":"..."} per line (breach/FORMAT.md);
--scope is the incident's scope as "breach scope --format json" wrote it, checked against the digest
recorded on the incident. The CLI acts as the privacy officer (role privacy_officer): each contact is
revealed through an audited reveal (purpose breach_notification) before it is read from the directory,
and the list is written only after its disclosures to the mail house were recorded (hipaakit audit
disclosures shows them).
`

// cmdBreach runs `hipaakit breach ...`.
func cmdBreach(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, breachUsage)
		return exitUsage
	}
	sub := args[0]
	if sub == "help" || sub == "-h" || sub == "--help" {
		fmt.Fprint(c.stdout, breachUsage)
		return exitOK
	}
	fs := drFlags(c, "breach "+sub)
	var b breachFlags
	b.define(fs, sub)
	if b.unknown {
		fmt.Fprintf(c.stderr, "hipaakit breach: unknown command %q\n\n%s", sub, breachUsage)
		return exitUsage
	}
	pos, err := drParse(fs, args[1:])
	wantPos := map[string]int{"list": 0, "report": 0, "open": 0}
	want, ok := wantPos[sub]
	if !ok {
		want = 1
	}
	if err != nil || len(pos) != want {
		fmt.Fprint(c.stderr, breachUsage)
		return exitUsage
	}
	t, err := openTool(ctx, c)
	if err != nil {
		return drFail(c, "breach", err)
	}
	defer t.Close()
	if sub == "notify" && *b.directory != "" {
		if b.dir, err = readDirectory(*b.directory); err != nil {
			return breachFail(c, sub, err)
		}
	}
	m, err := breachManager(ctx, t, b.dir)
	if err != nil {
		return breachFail(c, sub, err)
	}
	id := ""
	if len(pos) == 1 {
		id = pos[0]
	}
	return breachFail(c, sub, b.run(ctx, c, t, m, sub, id))
}

// breachFail maps err to an exit code: a trail that does not verify or an
// overdue notice is a failed check (1); bad input, an unknown incident or
// a refused change is a usage error (2); the rest is operational (3).
func breachFail(c *cli, sub string, err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errOverdue):
		fmt.Fprintf(c.stderr, "hipaakit breach %s: %v\n", sub, err)
		return exitCheck
	case errors.Is(err, breach.ErrTrailUnverified), errors.As(err, new(*audit.VerifyError)):
		fmt.Fprintf(c.stderr, "hipaakit breach %s: FAILED: %v\n", sub, err)
		return exitCheck
	case errors.Is(err, breach.ErrInvalid), errors.Is(err, breach.ErrPHIText), errors.Is(err, breach.ErrNotFound),
		errors.Is(err, breach.ErrTransition), errors.Is(err, breach.ErrConflict):
		fmt.Fprintf(c.stderr, "hipaakit breach %s: %v\n", sub, err)
		return exitUsage
	}
	return drFail(c, "breach "+sub, err)
}

var errOverdue = errors.New("a required notice is overdue")

type breachFlags struct {
	unknown                                        bool
	by, format                                     *string
	discovered, tz, description, vector            *string
	ba                                             *bool
	since, until, trail                            *string
	actors, sessions, networks, routes, records    multiFlag
	compromised, keys                              multiFlag
	kek, dryRun, noShredded                        *bool
	nature, person, acquired, mitigation, con, why *string
	delayUntil, delayNote, counts, sent            *string
	directory, scopeFile, mailing, mailHouse       *string
	mailAddress, mailFormat                        *string
	dir                                            *breach.Directory // --directory, read
}

func (b *breachFlags) define(fs *flag.FlagSet, sub string) {
	b.by = fs.String("by", "", "user ID (default cli:$USER)")
	b.format = fs.String("format", "table", "output format")
	switch sub {
	case "open":
		b.discovered = fs.String("discovered", "", "first day the breach was known (YYYY-MM-DD)")
		b.tz = fs.String("tz", "", "IANA time zone of dates and deadlines")
		b.description = fs.String("description", "", "what happened (no PHI)")
		b.vector = fs.String("vector", "", "suspected vector")
		b.ba = fs.Bool("business-associate", false, "the breach is a business associate's")
	case "scope":
		b.since = fs.String("since", "", "window start (RFC 3339)")
		b.until = fs.String("until", "", "window end (RFC 3339, exclusive)")
		b.trail = fs.String("trail", "", "audit trail: a log directory or pg (default: the deployment's)")
		fs.Var(&b.actors, "actor", "user ID (repeatable)")
		fs.Var(&b.sessions, "session", "session reference (repeatable)")
		fs.Var(&b.networks, "network", "client address range, CIDR (repeatable)")
		fs.Var(&b.routes, "route", "route pattern (repeatable)")
		fs.Var(&b.records, "record", "TYPE:ID (repeatable)")
		fs.Var(&b.compromised, "compromised-subject", "subject whose keys were exposed (repeatable)")
		fs.Var(&b.keys, "key", "trusted checkpoint public key file (repeatable; default: the data directory's signing key)")
		b.kek = fs.Bool("kek-compromised", false, "the KEK was exposed: no safe harbor")
		b.dryRun = fs.Bool("dry-run", false, "do not record the scope on the incident")
		b.noShredded = fs.Bool("no-shredded-check", false, "scope without marking shredded subjects (when the disposal ledger cannot be opened)")
		*b.format = "csv"
	case "assess":
		b.nature = fs.String("nature", "", "nature and extent of the PHI, identifiers, re-identification")
		b.person = fs.String("person", "", "the unauthorized person")
		b.acquired = fs.String("acquired", "", "whether the PHI was actually acquired or viewed")
		b.mitigation = fs.String("mitigation", "", "extent to which the risk was mitigated")
		b.con = fs.String("conclusion", "", "the conclusion")
		b.why = fs.String("reason", "", "why")
	case "update":
		b.delayUntil = fs.String("delay-until", "", "law-enforcement delay end (164.412)")
		b.delayNote = fs.String("delay-note", "", "the official's statement (no PHI)")
		b.vector = fs.String("vector", "", "suspected vector")
		b.description = fs.String("description", "", "what happened (no PHI)")
	case "notify":
		b.counts = fs.String("counts", "", "JSON counts file")
		b.sent = fs.String("sent", "", "the day the notices went out")
		b.directory = fs.String("directory", "", "the affected patients' State and contacts, JSON Lines")
		b.scopeFile = fs.String("scope", "", "the incident's scope (breach scope --format json)")
		b.mailing = fs.String("mailing-list", "", "write the mailing list to this new file")
		b.mailHouse = fs.String("mail-house", "", "who receives the mailing list (recorded as the disclosure's recipient)")
		b.mailAddress = fs.String("mail-house-address", "", "the mail house's address")
		b.mailFormat = fs.String("mailing-format", "csv", "csv or json")
	case "list", "show", "close", "report":
	default:
		b.unknown = true
	}
}

func (b *breachFlags) run(ctx context.Context, c *cli, t *hipaakit.Tool, m *breach.Manager, sub, id string) error {
	officer := audit.Actor{UserID: drActor(c, *b.by), Role: breach.RolePrivacyOfficer}
	switch sub {
	case "open":
		entity := breach.CoveredEntity
		if *b.ba {
			entity = breach.BusinessAssociate
		}
		inc, err := m.Open(ctx, audit.Actor{UserID: officer.UserID, Role: "cli"}, breach.OpenRequest{DiscoveredOn: *b.discovered,
			TimeZone: *b.tz, Description: *b.description, Vector: *b.vector, Entity: entity})
		if err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, inc.ID)
		return nil
	case "list", "report":
		incs, err := m.List(ctx)
		if err != nil {
			return err
		}
		return printIncidents(c, m, incs, *b.format, sub == "report")
	case "show":
		return showIncident(ctx, c, m, id, *b.format)
	case "scope":
		return b.scope(ctx, c, t, m, officer, id)
	case "assess":
		_, err := m.Assess(ctx, officer, id, breach.Assessment{Nature: *b.nature, Person: *b.person, Acquired: *b.acquired,
			Mitigation: *b.mitigation, Conclusion: breach.Conclusion(*b.con), Reason: *b.why})
		return err
	case "update":
		set := map[breach.Field]string{}
		for f, v := range map[breach.Field]*string{breach.FieldDelayUntil: b.delayUntil, breach.FieldDelayNote: b.delayNote,
			breach.FieldVector: b.vector, breach.FieldDescription: b.description} {
			if *v != "" {
				set[f] = *v
			}
		}
		_, err := m.Update(ctx, officer, id, set)
		return err
	case "notify":
		return b.notify(ctx, c, m, officer, id)
	case "close":
		_, err := m.Close(ctx, officer, id)
		return err
	}
	return nil
}

func (b *breachFlags) scope(ctx context.Context, c *cli, tool *hipaakit.Tool, m *breach.Manager, officer audit.Actor, id string) error {
	if _, err := m.Get(ctx, id); err != nil {
		return err
	}
	in := breach.Indicators{Actors: b.actors, Sessions: b.sessions, Routes: b.routes}
	var err error
	if in.Since, err = time.Parse(time.RFC3339Nano, *b.since); err != nil {
		return &breach.FieldError{Field: "--since", Reason: "must be an RFC 3339 time", Err: breach.ErrInvalid}
	}
	if in.Until, err = time.Parse(time.RFC3339Nano, *b.until); err != nil {
		return &breach.FieldError{Field: "--until", Reason: "must be an RFC 3339 time", Err: breach.ErrInvalid}
	}
	for _, n := range b.networks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return &breach.FieldError{Field: "--network", Reason: "must be a CIDR range", Err: breach.ErrInvalid}
		}
		in.Networks = append(in.Networks, p.Masked())
	}
	for _, r := range b.records {
		t, rid, ok := strings.Cut(r, ":")
		if !ok || t == "" || rid == "" {
			return &breach.FieldError{Field: "--record", Reason: "must be TYPE:ID", Err: breach.ErrInvalid}
		}
		in.Records = append(in.Records, breach.RecordRef{Type: t, ID: rid})
	}
	target := *b.trail
	if target == "" {
		target = "pg"
		if tool.DB() == nil {
			target = tool.DataPath(hipaakit.DirAudit)
		}
	}
	src, err := openTarget(ctx, c, target)
	if err != nil {
		return err
	}
	defer src.close()
	opts, _, err := verifyOptions(b.keys, "")
	if err != nil {
		return err
	}
	if len(opts.Keys) == 0 {
		k, err := tool.SigningKey()
		if err != nil {
			return err
		}
		opts.Keys = []ed25519.PublicKey{k.Public().(ed25519.PublicKey)}
	}
	var shredded func(context.Context, string) (bool, error)
	if *b.noShredded {
		fmt.Fprintln(c.stderr, "hipaakit breach scope: shredded subjects: unchecked (--no-shredded-check)")
	} else if shredded, err = shreddedCheck(ctx, tool); err != nil {
		return err
	}
	sc, err := breach.ComputeScope(ctx, breach.ScopeRequest{Entries: src.entries, Verify: opts, Indicators: in,
		KEKCompromised: *b.kek, CompromisedSubjects: b.compromised, Shredded: shredded})
	if err != nil {
		return err
	}
	switch *b.format {
	case "json":
		err = breach.WriteScopeJSON(c.stdout, sc)
	case "csv", "table":
		err = breach.WriteScopeCSV(c.stdout, sc)
	default:
		return &breach.FieldError{Field: "--format", Reason: "must be csv or json", Err: breach.ErrInvalid}
	}
	if err != nil || *b.dryRun {
		return err
	}
	_, err = m.RecordScope(ctx, officer, id, sc)
	if err == nil {
		fmt.Fprintf(c.stderr, "hipaakit breach scope: %d affected, %d excluded (safe harbor); recorded on %s\n", len(sc.Affected), len(sc.Excluded), id)
	}
	return err
}

func (b *breachFlags) notify(ctx context.Context, c *cli, m *breach.Manager, officer audit.Actor, id string) error {
	inc, err := m.Get(ctx, id)
	if err != nil {
		return err
	}
	counts := breach.Counts{Total: inc.Affected(), UnknownState: inc.Affected(), ByState: map[string]int{}}
	sc, err := b.notifyScope(&inc)
	if err != nil {
		return err
	}
	if sc != nil {
		if *b.counts != "" {
			return &breach.FieldError{Field: "--counts", Reason: "give --counts or --directory, not both", Err: breach.ErrInvalid}
		}
		if counts, err = breach.CountResidents(ctx, b.dir, sc); err != nil {
			return err
		}
	} else if *b.counts != "" {
		data, err := os.ReadFile(*b.counts)
		if err != nil {
			return fmt.Errorf("read the counts file: %w", errors.Unwrap(err))
		}
		var in breach.Counts
		if err := json.Unmarshal(data, &in); err != nil {
			return &breach.FieldError{Field: "--counts", Reason: "not a JSON counts object", Err: breach.ErrInvalid}
		}
		counts = breach.Counts{ByState: map[string]int{}, InsufficientContact: in.InsufficientContact, UnknownState: in.UnknownState}
		counts.Total = in.UnknownState
		for st, n := range in.ByState {
			if n < 0 || in.InsufficientContact < 0 || in.UnknownState < 0 {
				return &breach.FieldError{Field: "--counts", Reason: "counts must not be negative", Err: breach.ErrInvalid}
			}
			counts.ByState[strings.ToUpper(st)] += n
			counts.Total += n
		}
	}
	ns, err := breach.Plan(&inc, counts)
	if err != nil {
		return err
	}
	now := m.Now()
	switch *b.format {
	case "csv":
		err = breach.WriteNoticesCSV(c.stdout, id, ns, now)
	case "json":
		err = breach.WriteNoticesJSON(c.stdout, id, ns)
	default:
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tRULE\tSTATE\tCOUNT\tDUE\tOVERDUE\tNOTE")
		for _, n := range ns {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%t\t%s\n", n.Kind, n.Rule, audit.EscapeText(n.State), n.Count, n.Due, n.Overdue(now), n.Note)
		}
		err = tw.Flush()
	}
	if err != nil {
		return err
	}
	if *b.mailing != "" {
		if err := b.mailingList(ctx, c, m, officer, id, sc); err != nil {
			return err
		}
	}
	if *b.sent != "" {
		_, err := m.MarkNotified(ctx, officer, id, *b.sent)
		return err
	}
	if inc.Status() != breach.StatusNotified {
		for _, n := range ns {
			if n.Overdue(now) {
				return fmt.Errorf("incident %s: %s notice was due %s: %w", id, n.Kind, n.Due, errOverdue)
			}
		}
	}
	return nil
}
