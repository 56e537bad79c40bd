package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/hipaakit/hipaakit/clock"
)

// chromiumPath finds the browser the UI test drives: HIPAAKIT_CHROMIUM, or
// Debian's chromium (which .ci/run installs).
func chromiumPath(t *testing.T) string {
	if p := os.Getenv("HIPAAKIT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH, and CI is set: .ci/run installs Debian's chromium; set HIPAAKIT_CHROMIUM to another browser")
	}
	t.Skip("no chromium on PATH (external program; .ci/run installs it for CI; HIPAAKIT_CHROMIUM names another): browser test not run")
	return ""
}

// fakeBrowserClock is evaluated in every new document before the page's
// own scripts: Date.now (what web/static/app.js reads) runs ahead of the
// real time by the offset the test sets in sessionStorage, so the test moves
// the page's clock with the server's fake one instead of waiting. The
// offset lives in sessionStorage so that it survives navigations.
const fakeBrowserClock = `(function () {
  var realNow = Date.now.bind(Date);
  Date.now = function () {
    var off = 0;
    try { off = Number(window.sessionStorage.getItem("hipaakit-test-clock-offset")) || 0; } catch (e) {}
    return realNow() + off;
  };
})();`

// TestBrowserLoginViewAndAutoLogoff drives the web UI in headless Chromium:
// sign in with password and TOTP, find a patient by MRN, view the record,
// then sit idle until the page warns and logs itself off; the server
// agrees. Idle time passes on the fake clock, shared by the server and the
// page (fakeBrowserClock): nothing waits out the timeout.
func TestBrowserLoginViewAndAutoLogoff(t *testing.T) {
	browser := chromiumPath(t)
	dir := t.TempDir()
	// Real time as the start, so the cookies' expiry dates lie ahead.
	clk := clock.NewFake(time.Now().UTC())
	cfg := testConfig(dir)
	a, err := openApp(context.Background(), cfg, clk, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	seeded, err := a.seed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var doc demoUser
	for _, u := range seeded {
		if u.Role == rolePhysician {
			doc = u
		}
	}
	h, err := a.handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.IgnoreCertErrors, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 150*time.Second)
	defer cancelTimeout()

	tc := &testClinic{t: t, clock: clk}
	code := tc.code(doc) // a fresh TOTP step: the seed used the current one
	// idle moves the server's clock by d and the page's clock with it.
	pageEpoch := clk.Now()
	idle := func(d time.Duration) {
		t.Helper()
		off := clk.Advance(d).Sub(pageEpoch).Milliseconds()
		js := fmt.Sprintf(`window.sessionStorage.setItem("hipaakit-test-clock-offset", "%d"), true`, off)
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil {
			t.Fatalf("move the page's clock: %v", err)
		}
	}
	steps := []struct {
		what string
		do   []chromedp.Action[chromedp.Void]
	}{
		{"open the login page", []chromedp.Action[chromedp.Void]{installClock, chromedp.Navigate(srv.URL + "/login"), chromedp.WaitVisible("#login-form")}},
		{"sign in", []chromedp.Action[chromedp.Void]{chromedp.SendKeys("#username", doc.Name), chromedp.SendKeys("#password", doc.Password),
			chromedp.SendKeys("#code", code), chromedp.Click("#signin"), chromedp.WaitVisible("#search")}},
		{"find the patient by MRN", []chromedp.Action[chromedp.Void]{chromedp.SendKeys("#mrn", "MRN-1001"), chromedp.Click("#find"), chromedp.WaitVisible("#result")}},
		{"open the record", []chromedp.Action[chromedp.Void]{chromedp.Click("#result"), chromedp.WaitVisible("#patient")}},
	}
	// Start the browser on the test's context: chromedp ties it to the
	// context of the first call, and each step below has a shorter one.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	for _, st := range steps {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := chromedp.Do(sctx, st.do...)
		cancel()
		if err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			if shot, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
				writeArtifact(t, "clinic-failure.png", shot)
			}
			t.Fatalf("browser: %s: %v (page at %s)", st.what, err, loc)
		}
	}
	name, err := chromedp.Run(ctx, chromedp.Text(`dd[data-field="name"]`))
	if err != nil || name != "Jane Doe" {
		t.Fatalf("patient page shows name %q (%v)", name, err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	writeArtifact(t, "clinic-patient.png", shot)

	// Idle: no warning yet; half a minute before the timeout the page warns,
	// then, past the timeout, moves itself to the login page; the server has
	// ended the session too. The page ticks once a second: each wait is
	// bounded well below any real idle time.
	if idleWarningShown(ctx, t) {
		t.Fatal("the idle warning shows before any idle time passed")
	}
	waitFor := func(what, sel string) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := chromedp.Do(wctx, chromedp.WaitVisible(sel)); err != nil {
			t.Fatalf("%s: %s not shown within 10 s: %v", what, sel, err)
		}
	}
	idle(cfg.IdleTimeout - 30*time.Second)
	waitFor("idle warning 30 s before the timeout", "#idle-warning")
	idle(31 * time.Second)
	waitFor("automatic logoff past the timeout", "#login-form")
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.Contains(location, "/login?expired=1") {
		t.Fatalf("after idling the page is at %s (%v), want the login page it moves itself to", location, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/patients"), chromedp.WaitVisible("#login-form")); err != nil {
		t.Fatal(err)
	}
	location, err = chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.Contains(location, "/login") {
		t.Fatalf("the server still accepts the idle session: at %s, %v", location, err)
	}
}

// installClock registers fakeBrowserClock for every document the tab loads.
func installClock(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
	_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: fakeBrowserClock})
	return chromedp.Void{}, err
}

// idleWarningShown tells whether the page shows its idle warning.
func idleWarningShown(ctx context.Context, t *testing.T) bool {
	t.Helper()
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.getElementById("idle-warning").hidden`))
	if err != nil {
		t.Fatalf("read the idle warning: %v", err)
	}
	return shown
}

// writeArtifact saves a screenshot outside the source tree: under
// HIPAAKIT_SCREENSHOT_DIR when set (CI keeps them as artefacts), else in the
// test's temporary directory, removed with it.
func writeArtifact(t *testing.T, name string, b []byte) {
	dir := os.Getenv("HIPAAKIT_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot saved to %s", p)
}
