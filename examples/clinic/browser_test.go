package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hipaakit/hipaakit/audit"
)

// TestBrowserShell drives the UI shell in headless Chromium: the two
// sign-in steps, the role's home, a record, the idle warning with its
// countdown and "Stay signed in" (the real keep-alive route: no denial is
// written), automatic logoff past the timeout (the server agrees), the
// signed-out confirmation and error pages. Idle time passes on the fake
// clock shared by the server and the page: nothing waits out the timeout.
// Every page is checked with axe-core at desktop and phone width.
func TestBrowserShell(t *testing.T) {
	t.Parallel()
	tc, b := browserClinic(t)
	b.open("/login", "#login-form")
	b.check("login")
	u := tc.users[rolePhysician]
	b.do("password step", b.fill("#username", u.Name), b.fill("#password", u.Password), chromedp.Click("#signin"), chromedp.WaitVisible("#code-form"))
	b.check("login-code")
	b.do("code step", b.fill("#code", tc.code(u)), chromedp.Click("#verify"), chromedp.WaitVisible("#tasks"))
	b.check("home-physician")
	if home := b.text("#tasks"); !strings.Contains(home, "New patient") || strings.Contains(home, "Users") {
		t.Fatalf("the physician's home lists %q", home)
	}

	// Keyboard: the skip link is the first stop and moves to the content.
	b.do("keyboard", chromedp.KeyEvent("\t"))
	if f := eval[string](b, `document.activeElement.className`); f != "skip" {
		t.Fatalf("the first Tab stop is %q, want the skip link", f)
	}

	b.open("/patients", "#search")
	b.do("find by MRN", b.fill("#mrn", "MRN-1001"), chromedp.Click("#find"), chromedp.WaitVisible("#patient"))
	if name := b.text(`dd[data-field="name"]`); name != "Jane Doe" {
		t.Fatalf("patient page shows name %q", name)
	}
	b.check("patient")

	// Idle: no warning yet; within the last minute the page warns with a
	// countdown; "Stay signed in" posts the keep-alive and hides it.
	denials := func() int {
		n := 0
		for _, e := range tc.events(t) {
			if e.Action == audit.ActionPermissionDenied {
				n++
			}
		}
		return n
	}
	before := denials()
	if eval[bool](b, `!document.getElementById("idle-warning").hidden`) {
		t.Fatal("the idle warning shows before any idle time passed")
	}
	idle := tc.app.cfg.IdleTimeout
	b.idle(idle - 30*time.Second)
	b.do("idle warning 30 s before the timeout", chromedp.WaitVisible("#idle-warning"))
	b.waitText("countdown", "#idle-countdown", "")
	if left := b.text("#idle-countdown"); left > "30" || left < "2" {
		t.Fatalf("the countdown shows %q seconds, want at most 30", left)
	}
	b.check("idle-warning")
	b.do("stay signed in", chromedp.Click("#stay"), chromedp.WaitNotVisible("#idle-warning"))
	if got := denials(); got != before {
		t.Fatalf("keep-alive wrote %d permission denials", got-before)
	}
	// The session was extended on the server: what was 30 s from the
	// end now has the full idle time again.
	b.idle(idle - 10*time.Second)
	b.open("/patients", "#search")
	b.idle(idle + time.Second)
	b.do("automatic logoff past the timeout", chromedp.WaitVisible("#login-form"))
	if loc := eval[string](b, `location.pathname + location.search`); loc != "/login?expired=1" {
		t.Fatalf("after idling the page is at %s", loc)
	}
	b.open("/patients", "#login-form") // the server ended the session too

	// Error pages and the signed-out confirmation.
	b.login(rolePhysician)
	b.open("/patients/p000000000000000000000000", "#error-title")
	b.check("error-not-found")
	b.open("/audit", "#error-title")
	if msg := b.text("#page-alert"); !strings.Contains(msg, "Your role does not allow this page") {
		t.Fatalf("the forbidden page says %q", msg)
	}
	b.logout()
	b.check("signed-out")
}

// TestBrowserAdminHomeHasNoPatientSearch: the administrator's home and
// navigation offer the administrative pages only.
func TestBrowserAdminHomeHasNoPatientSearch(t *testing.T) {
	t.Parallel()
	_, b := browserClinic(t)
	b.login(roleAdmin)
	b.open("/home", "#tasks")
	nav := b.text("header nav") + b.text("#tasks")
	if strings.Contains(nav, "Patients") || !strings.Contains(nav, "Users") || !strings.Contains(nav, "Backups") {
		t.Fatalf("the administrator is offered %q", nav)
	}
	b.check("home-admin")
}
