package report

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// Summary counts the rows by status.
func (r Report) Summary() map[Status]int {
	m := map[Status]int{}
	for _, row := range r.Rows {
		m[row.Status]++
	}
	return m
}

// AllMet reports whether every technical control is met.
func (r Report) AllMet() bool {
	for _, row := range r.Rows {
		if row.Status != Met {
			return false
		}
	}
	return len(r.Rows) > 0
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// mdCell escapes text for a Markdown table cell: control, bidirectional
// and invisible format characters (and the backslash) as audit.EscapeText
// does, so a newline becomes the visible \n, then the cell separator.
func mdCell(s string) string {
	return strings.ReplaceAll(audit.EscapeText(s), "|", "\\|")
}

// textClean escapes what audit.EscapeText escapes in every string the
// HTML report shows; html/template then escapes the markup.
func textClean(s string) string { return audit.EscapeText(s) }

// WriteMarkdown writes the report as a Markdown document.
func (r Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# HIPAA Security Rule technical safeguards: %s\n\n", mdCell(r.Service))
	fmt.Fprintf(&b, "Generated %s. ", r.GeneratedAt.UTC().Format(time.RFC3339))
	s := r.Summary()
	fmt.Fprintf(&b, "%d met, %d not met, %d without evidence.\n\n", s[Met], s[NotMet], s[NoEvidence])
	b.WriteString("| Control | Safeguard | Status | Evidence | Gaps |\n|---|---|---|---|---|\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdCell(row.Control), mdCell(row.Title), row.Status,
			mdCell(strings.Join(row.Evidence, "; ")), mdCell(strings.Join(row.Gaps, "; ")))
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n## Notes on the evidence\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", mdCell(n))
		}
	}
	b.WriteString("\n## Not judged by software\n\nThese safeguards are organisational; this report makes no claim about them.\n\n")
	for _, row := range r.Organisational {
		fmt.Fprintf(&b, "- %s %s\n", mdCell(row.Control), mdCell(row.Title))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

var htmlReport = template.Must(template.New("report").Funcs(template.FuncMap{
	"join":  func(a []string, sep string) string { return textClean(strings.Join(a, sep)) },
	"clean": textClean,
	"stamp": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"class": func(s Status) string { return strings.ReplaceAll(string(s), " ", "-") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>HIPAA technical safeguards: {{clean .Service}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #999;padding:.4em;vertical-align:top;text-align:left}
.met{background:#e6f4ea}.not-met{background:#fce8e6}.no-evidence{background:#fef7e0}
@media print{body{margin:0}a{color:inherit}}
</style></head><body>
<h1>HIPAA Security Rule technical safeguards: {{clean .Service}}</h1>
<p>Generated {{stamp .GeneratedAt}}.</p>
<table><thead><tr><th>Control</th><th>Safeguard</th><th>Status</th><th>Evidence</th><th>Gaps</th></tr></thead><tbody>
{{range .Rows}}<tr class="{{class .Status}}"><td>{{clean .Control}}</td><td>{{clean .Title}}</td><td>{{.Status}}</td><td>{{join .Evidence "; "}}</td><td>{{join .Gaps "; "}}</td></tr>
{{end}}</tbody></table>
{{if .Notes}}<h2>Notes on the evidence</h2>
<ul>{{range .Notes}}<li>{{clean .}}</li>{{end}}</ul>
{{end}}<h2>Not judged by software</h2>
<p>These safeguards are organisational; this report makes no claim about them.</p>
<ul>{{range .Organisational}}<li>{{clean .Control}} {{clean .Title}}</li>{{end}}</ul>
</body></html>
`))

// WriteHTML writes the report as a printable HTML page.
func (r Report) WriteHTML(w io.Writer) error { return htmlReport.Execute(w, r) }
