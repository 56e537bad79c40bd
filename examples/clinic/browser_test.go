package main

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestBrowserLoginViewAndAutoLogoff drives the web UI in headless Chromium:
// sign in with password and TOTP, find a patient by MRN, view the record,
// then sit idle until the page logs itself off; the server agrees.
func TestBrowserLoginViewAndAutoLogoff(t *testing.T) {
	browser := chromiumPath(t)
	dir := t.TempDir()
	clk := clock.NewFake(time.Now().UTC())
	cfg := testConfig(dir)
	cfg.IdleTimeout = time.Minute // the shortest idle limit auth accepts; the test waits it out
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
	steps := []struct {
		what string
		do   []chromedp.Action[chromedp.Void]
	}{
		{"open the login page", []chromedp.Action[chromedp.Void]{chromedp.Navigate(srv.URL + "/login"), chromedp.WaitVisible("#login-form")}},
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

	// Idle: the page warns, then moves itself to the login page; the server
	// (on its own clock) has ended the session too.
	if err := chromedp.Do(ctx, chromedp.WaitVisible("#idle-warning")); err != nil {
		t.Fatalf("no idle warning: %v", err)
	}
	clk.Advance(cfg.IdleTimeout + time.Second)
	if err := chromedp.Do(ctx, chromedp.WaitVisible("#login-form")); err != nil {
		t.Fatalf("waiting for auto-logoff: %v", err)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.Contains(location, "/login") {
		t.Fatalf("after idling the page is at %s (%v)", location, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/patients"), chromedp.WaitVisible("#login-form")); err != nil {
		t.Fatal(err)
	}
	location, err = chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.Contains(location, "/login") {
		t.Fatalf("the server still accepts the idle session: at %s, %v", location, err)
	}
}

// writeArtifact saves a test artifact under HIPAAKIT_ARTIFACTS (default
// testdata/artifacts, which git ignores).
func writeArtifact(t *testing.T, name string, b []byte) {
	dir := os.Getenv("HIPAAKIT_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
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
