package main

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// page fetches a browser page as c (form posts carry the CSRF token) and
// returns the status, content type and body.
func (c *client) page(method, path string, form url.Values) (int, string, string) {
	c.tc.t.Helper()
	var body *strings.Reader
	if form != nil {
		if c.csrf != "" {
			form.Set("csrf_token", c.csrf)
		}
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, c.tc.srv.URL+path, body)
	if err != nil {
		c.tc.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", c.tc.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.tc.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b.String()
}

// wholePage fails unless body is a complete HTML page that says want.
func wholePage(t *testing.T, what, ctype, body, want string) {
	t.Helper()
	if !strings.HasPrefix(ctype, "text/html") || !strings.HasPrefix(body, "<!doctype html>") || !strings.HasSuffix(strings.TrimSpace(body), "</html>") {
		t.Fatalf("%s: not a whole HTML page (%s): %.200q", what, ctype, body)
	}
	if strings.Contains(body, `{"error"`) {
		t.Fatalf("%s: raw JSON in the page", what)
	}
	if !strings.Contains(body, want) {
		t.Fatalf("%s: the page does not say %q: %.2000s", what, want, body)
	}
}

// TestErrorPagesAreHTML: every failure a browser meets is a whole page
// with a human message: unknown record 404, another role's page 403,
// a shredded patient 410, a form with a wrong CSRF token 403, an expired
// session a redirect to the login page; the API keeps its JSON.
func TestErrorPagesAreHTML(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-E1", "Ann Example")

	st, ct, body := doc.page("GET", "/patients/p000000000000000000000000", nil)
	if st != http.StatusNotFound {
		t.Fatalf("unknown patient: %d", st)
	}
	wholePage(t, "unknown patient", ct, body, "There is no such page or record.")

	st, ct, body = doc.page("GET", "/audit", nil)
	if st != http.StatusForbidden {
		t.Fatalf("physician on the audit page: %d", st)
	}
	wholePage(t, "forbidden page", ct, body, "Your role does not allow this page.")

	lab := tc.login(roleLab)
	st, ct, body = lab.page("GET", "/patients/"+id, nil)
	if st != http.StatusForbidden {
		t.Fatalf("lab assistant on the record: %d", st)
	}
	wholePage(t, "lab assistant's record link", ct, body, "Your role does not allow this page.")

	tc.login(roleAdmin).mustStatus(http.StatusOK, "POST", "/api/patients/"+id+"/shred", map[string]string{"reason": "retention period ended"}, nil)
	st, ct, body = doc.page("GET", "/patients/"+id, nil)
	if st != http.StatusGone {
		t.Fatalf("shredded patient: %d", st)
	}
	wholePage(t, "shredded patient", ct, body, "disposed of (crypto-shredded)")

	aud := tc.login(roleAuditor)
	good := aud.csrf
	aud.csrf = "wrong-token"
	st, ct, body = aud.page("POST", "/audit", url.Values{"mrn": {"MRN-1001"}})
	if st != http.StatusForbidden {
		t.Fatalf("wrong CSRF token: %d", st)
	}
	wholePage(t, "wrong CSRF token", ct, body, "This form has expired")
	aud.csrf = good

	anon := tc.anon()
	st, _, _ = anon.page("GET", "/patients", nil)
	if st != http.StatusSeeOther {
		t.Fatalf("no session: %d, want a redirect to the login page", st)
	}
	if st, _, body := doc.page("GET", "/api/patients/p000000000000000000000000", nil); st != http.StatusNotFound || !strings.Contains(body, `"not_found"`) {
		t.Fatalf("the API must keep JSON: %d %q", st, body)
	}
}

// TestPublicFilesWriteNoAudit: the icon, static files and the login page
// (also by HEAD) write no audit event; a directory is 404, never a listing.
func TestPublicFilesWriteNoAudit(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	before := len(tc.events(t))
	anon := tc.anon()
	for _, c := range []struct {
		method, path string
		want         int
	}{{"GET", "/favicon.ico", 200}, {"GET", "/static/app.css", 200}, {"GET", "/static/app.js", 200}, {"GET", "/static/", 404},
		{"GET", "/static/nothing.txt", 404}, {"HEAD", "/login", 200}, {"GET", "/login", 200}, {"GET", "/signed-out", 200}} {
		st, ct, body := anon.page(c.method, c.path, nil)
		if st != c.want {
			t.Fatalf("%s %s: %d, want %d", c.method, c.path, st, c.want)
		}
		if c.path == "/static/" && (strings.Contains(body, `href="app.css"`) || !strings.HasPrefix(ct, "text/html")) {
			t.Fatalf("GET /static/ lists the directory: %.300q", body)
		}
	}
	if evs := tc.events(t)[before:]; len(evs) != 0 {
		t.Fatalf("public files wrote %d audit events, the first %s %s", len(evs), evs[0].Action, evs[0].Reason)
	}
}

// TestTwoStepLogin: the password page asks for the code on a second page;
// a wrong code shows that page again; the right one starts the session.
// Logging out confirms it on /signed-out.
func TestTwoStepLogin(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	u := tc.users[roleNurse]
	c := tc.anon()
	st, ct, body := c.page("POST", "/login", url.Values{"username": {u.Name}, "password": {u.Password}})
	wholePage(t, "password step", ct, body, `id="code-form"`)
	if st != http.StatusOK || strings.Contains(body, u.Password) {
		t.Fatalf("password step: %d", st)
	}
	i := strings.Index(body, `name="challenge" value="`) + len(`name="challenge" value="`)
	challenge := body[i : i+strings.IndexByte(body[i:], '"')]
	st, ct, body = c.page("POST", "/login/code", url.Values{"challenge": {challenge}, "code": {"000000"}})
	if st != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d", st)
	}
	wholePage(t, "wrong code", ct, body, "Sign-in failed.")
	st, _, _ = c.page("POST", "/login/code", url.Values{"challenge": {challenge}, "code": {tc.code(u)}})
	if st != http.StatusSeeOther {
		t.Fatalf("right code: %d", st)
	}
	st, ct, body = c.page("GET", "/home", nil)
	wholePage(t, "home", ct, body, `href="/patients"`)
	i = strings.Index(body, `name="csrf_token" value="`) + len(`name="csrf_token" value="`)
	c.csrf = body[i : i+strings.IndexByte(body[i:], '"')]
	st, _, _ = c.page("POST", "/logout", url.Values{})
	if st != http.StatusSeeOther {
		t.Fatalf("logout: %d", st)
	}
	if st, _, _ := c.page("GET", "/home", nil); st != http.StatusSeeOther {
		t.Fatalf("after logout /home answers %d, want the login redirect", st)
	}
	// HEAD /login is never a login attempt.
	for _, e := range tc.events(t) {
		if e.Action == audit.ActionLoginFailed && e.Origin.Route == "POST /login" {
			t.Fatalf("a login_failed event for the password step: %+v", e)
		}
	}
}

// TestHomeOffersOnlyTheRolesTasks: each role's home and navigation link
// only to pages the role may open; the administrator's has no patient
// search; each linked page opens.
func TestHomeOffersOnlyTheRolesTasks(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	for _, role := range demoRoles {
		c := tc.login(role)
		_, ct, body := c.page("GET", "/home", nil)
		wholePage(t, role+" home", ct, body, "Home")
		for _, l := range navLinks {
			linked := strings.Contains(body, `href="`+l.Href+`"`)
			allowed := slices_contains(role, l.perm)
			if linked != allowed {
				t.Errorf("%s: link %s shown %v, permitted %v", role, l.Href, linked, allowed)
			}
			if linked {
				if st, _, _ := c.page("GET", l.Href, nil); st != http.StatusOK {
					t.Errorf("%s: linked page %s answers %d", role, l.Href, st)
				}
			}
		}
		if role == roleAdmin && (strings.Contains(body, `id="mrn"`) || strings.Contains(body, `href="/patients"`)) {
			t.Fatal("the administrator's home offers a patient search")
		}
	}
}

// slices_contains reports whether role grants perm.
func slices_contains(role string, perm any) bool {
	rbac, _ := clinicRBAC()
	r, _ := rbac.Role(role)
	for _, p := range r.Permissions {
		if any(p) == perm {
			return true
		}
	}
	return false
}

// TestEnrollWrongCodeIsAWholePage: POST /enroll with a wrong code answers
// a complete page with the form again.
func TestEnrollWrongCodeIsAWholePage(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	admin := tc.login(roleAdmin)
	var out struct{ ID string }
	admin.mustStatus(http.StatusCreated, "POST", "/api/admin/users", map[string]any{"name": "newclerk", "password": "a long initial passphrase 42"}, &out)
	c := tc.anon()
	st, _, _ := c.page("POST", "/login", url.Values{"username": {"newclerk"}, "password": {"a long initial passphrase 42"}})
	if st != http.StatusSeeOther {
		t.Fatalf("first login: %d", st)
	}
	_, ct, body := c.page("GET", "/enroll", nil)
	wholePage(t, "enrolment", ct, body, `id="qr"`)
	i := strings.Index(body, `name="csrf_token" value="`) + len(`name="csrf_token" value="`)
	c.csrf = body[i : i+strings.IndexByte(body[i:], '"')]
	st, ct, body = c.page("POST", "/enroll", url.Values{"code": {"000000"}})
	if st != http.StatusBadRequest {
		t.Fatalf("wrong enrolment code: %d", st)
	}
	wholePage(t, "wrong enrolment code", ct, body, `id="enroll-code"`)
}

// TestAuditExportVerifies: the auditor's JSON Lines export of the whole
// trail verifies as a chain (ParseLine, audit.Verify); a filtered CSV
// export holds the header and the matching rows only; both are audited.
func TestAuditExportVerifies(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	newPatient(t, tc.login(rolePhysician), "MRN-X1", "Export Person")
	aud := tc.login(roleAuditor)
	st, ct, body := aud.page("GET", "/audit/export?format=jsonl", nil)
	if st != http.StatusOK || ct != "application/jsonl" {
		t.Fatalf("JSON Lines export: %d %s", st, ct)
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	entries := func(yield func(audit.Entry, error) bool) {
		for _, l := range lines {
			if !yield(audit.ParseLine([]byte(l))) {
				return
			}
		}
	}
	res, err := audit.Verify(context.Background(), entries, audit.VerifyOptions{})
	if err != nil || len(res.Streams) == 0 {
		t.Fatalf("the export does not verify: %v (%d lines)", err, len(lines))
	}
	st, ct, body = aud.page("GET", "/audit/export?format=csv&user=physician&action=create", nil)
	rows := strings.Split(strings.TrimSpace(body), "\n")
	if st != http.StatusOK || !strings.HasPrefix(ct, "text/csv") || !strings.HasPrefix(rows[0], "time,stream,seq") || len(rows) < 2 {
		t.Fatalf("CSV export: %d %s, %d rows", st, ct, len(rows))
	}
	for _, r := range rows[1:] {
		if !strings.Contains(r, ",create,") || !strings.Contains(r, tc.users[rolePhysician].ID) {
			t.Fatalf("CSV row outside the filter: %q", r)
		}
	}
	exports := 0
	for _, e := range tc.events(t) {
		if e.Action == audit.ActionExport && e.Target.RecordType == "audit_trail" && e.Outcome == audit.OutcomeSuccess {
			exports++
		}
	}
	if exports != 2 {
		t.Fatalf("%d audit-export events, want 2", exports)
	}
	if st, _, _ := tc.login(rolePhysician).page("GET", "/audit/export?format=csv", nil); st != http.StatusForbidden {
		t.Fatalf("a physician exports the trail: %d", st)
	}
}

// TestAuditPageNewestFirst: the audit page lists the newest events first,
// and its next page continues backwards in time; the export of the same
// search stays in chain order (TestAuditExportVerifies).
func TestAuditPageNewestFirst(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	newPatient(t, tc.login(rolePhysician), "MRN-OLD-1", "Early Person")
	tc.clock.Advance(time.Hour)
	newPatient(t, tc.login(rolePhysician), "MRN-NEW-1", "Later Person")
	tc.clock.Advance(time.Hour)
	aud := tc.login(roleAuditor)
	cell := regexp.MustCompile(`<tr(?: class="emergency")?>\s*<td>([0-9: -]+)</td>`)
	var times []string
	path := "/audit"
	for pages := 0; path != "" && pages < 50; pages++ {
		st, _, body := aud.page("GET", path, nil)
		if st != http.StatusOK {
			t.Fatalf("GET %s: %d", path, st)
		}
		for _, m := range cell.FindAllStringSubmatch(body, -1) {
			times = append(times, m[1])
		}
		path = ""
		if m := regexp.MustCompile(`href="(/audit\?[^"]*)" id="next-page"`).FindStringSubmatch(body); m != nil {
			path = html.UnescapeString(m[1])
		}
	}
	if len(times) < 2 {
		t.Fatalf("%d rows", len(times))
	}
	if want := tc.clock.Now().UTC().Format("2006-01-02 15:04:05"); times[0] != want {
		t.Errorf("first row at %s, want the newest event (%s)", times[0], want)
	}
	for i := 1; i < len(times); i++ {
		if times[i] > times[i-1] {
			t.Fatalf("row %d (%s) is newer than row %d (%s): not newest first", i, times[i], i-1, times[i-1])
		}
	}
	if times[0] == times[len(times)-1] {
		t.Fatalf("every row at %s: the test does not span the clock's moves", times[0])
	}
}
