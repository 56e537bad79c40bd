package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/compliance/report"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/serviceconfig"
)

const reportUsage = `usage: hipaakit report --config FILE [--format markdown|json|html] [--out FILE] [--evidence DIR [--signing-key FILE]]
       hipaakit report --verify FILE (--keys TRUSTED | --config FILE)

Read the service configuration FILE (serviceconfig.Config, usually
hipaakit.json in the service's data directory) and the stores it names,
read-only, and print one row per HIPAA Security Rule technical safeguard
with its status and evidence. Safeguards software cannot judge are listed
as such.

  --config FILE   the service configuration (required)
  --format F      markdown (default), json, or html (a printable page)
  --out FILE      write the report to FILE (replaced atomically) instead of stdout
  --evidence DIR  also write report.html and report.json into DIR, each with a
                  detached signature (.sig) by the deployment's signing key
  --signing-key F the signing key (default: the data directory's signing-key.pem)
  --verify FILE   check that FILE.sig is a signature of FILE by a trusted key
                  (--keys: a trusted-keys file; or the --config's audit keys);
                  exit 0 it verifies, 1 it does not

The local master key is read from HIPAAKIT_MASTER_KEY when set, else from
the file HIPAAKIT_MASTER_KEY_FILE names, else from the configuration's
kek_file (default <data_dir>/kek.key); it opens the backup repository. For
PostgreSQL stores the password comes from PGPASSWORD or ~/.pgpass
(database_url holds none); AWS KMS and S3 credentials from the AWS SDK's
default chain. Facts that cannot be read are named on stderr as
notes.

Exit status: 0 every technical control is met; 1 some control is not met or
has no evidence; 2 usage error or invalid configuration; 3 operational error
(unreadable file, unreachable database).
`

// cmdReport runs "hipaakit report ...".
func cmdReport(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configPath := fs.String("config", "", "service configuration file")
	format := fs.String("format", "markdown", "markdown, json or html")
	out := fs.String("out", "", "output file (default stdout)")
	evidenceDir := fs.String("evidence", "", "evidence directory")
	signingKey := fs.String("signing-key", "", "signing key file")
	verify := fs.String("verify", "", "evidence file to verify")
	trustedKeys := fs.String("keys", "", "trusted-keys file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.stdout, reportUsage)
			return exitOK
		}
		return reportUsageErr(c, err.Error())
	}
	switch {
	case fs.NArg() > 0:
		return reportUsageErr(c, "unexpected argument")
	case *verify != "":
		return verifyEvidence(c, *verify, *trustedKeys, *configPath)
	case *configPath == "":
		return reportUsageErr(c, "--config is required")
	}
	write, ok := map[string]func(report.Report, io.Writer) error{
		"markdown": report.Report.WriteMarkdown, "md": report.Report.WriteMarkdown,
		"json": report.Report.WriteJSON, "html": report.Report.WriteHTML,
	}[*format]
	if !ok {
		return reportUsageErr(c, "--format must be markdown, json or html")
	}

	cfg, err := serviceconfig.Load(*configPath)
	if errors.Is(err, serviceconfig.ErrInvalid) || errors.Is(err, serviceconfig.ErrUnsupportedVersion) {
		fmt.Fprintf(c.stderr, "hipaakit report: %v\n", err)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit report: %v\n", err)
		return exitFailure
	}
	if cfg.MasterKey, cfg.KEKFile, err = masterKeyOverride(c, cfg); err != nil {
		return drFail(c, "report", err)
	}
	ev, err := report.Collect(ctx, cfg, time.Now())
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit report: %v\n", err)
		return exitFailure
	}
	for _, n := range ev.Notes {
		fmt.Fprintf(c.stderr, "hipaakit report: note: %s\n", audit.EscapeText(n))
	}
	rep := report.Build(ev)
	var buf bytes.Buffer
	if err := write(rep, &buf); err != nil {
		fmt.Fprintf(c.stderr, "hipaakit report: render: %v\n", err)
		return exitFailure
	}
	if *out != "" {
		err = durable.WriteFileAtomic(*out, buf.Bytes(), 0o644)
	} else {
		_, err = c.stdout.Write(buf.Bytes())
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit report: write report: %v\n", err)
		return exitFailure
	}
	if *evidenceDir != "" {
		key, err := signingKeyFor(*signingKey, &cfg)
		if err == nil {
			err = writeReportEvidence(*evidenceDir, key, rep)
		}
		if err != nil {
			fmt.Fprintf(c.stderr, "hipaakit report: evidence: %v\n", err)
			return exitFailure
		}
	}
	s := rep.Summary()
	fmt.Fprintf(c.stderr, "hipaakit report: %d met, %d not met, %d without evidence\n", s[report.Met], s[report.NotMet], s[report.NoEvidence])
	if rep.AllMet() {
		return exitOK
	}
	return exitCheck
}

func reportUsageErr(c *cli, msg string) int {
	fmt.Fprintf(c.stderr, "hipaakit report: %s\n\n%s", msg, reportUsage)
	return exitUsage
}

// masterKeyOverride applies the master-key environment to a local KEK's
// configuration: the encoded key, or a key file that replaces kek_file. A
// KEK in AWS KMS keeps the configuration as it is.
func masterKeyOverride(c *cli, cfg serviceconfig.Config) (encoded, file string, err error) {
	encoded, file, err = c.masterKeyEnv()
	if err != nil || cfg.KEK != "local" {
		return "", cfg.KEKFile, err
	}
	if file == "" {
		file = cfg.KEKFile
	}
	return encoded, file, nil
}
