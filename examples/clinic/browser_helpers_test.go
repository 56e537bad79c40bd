package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/hipaakit/hipaakit/clock"
)

// chromiumPath finds the browser the UI tests drive: HIPAAKIT_CHROMIUM, or
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

// axeVersion is the axe-core release the browser tests run.
const axeVersion = "4.14.1"

// axeSource is axe-core's axe.min.js from its npm package, in
// HIPAAKIT_AXE_DIR (default: hipaakit-axe-core in the temporary directory,
// outside the source tree). When it is not there yet the first browser test
// installs it with npm. Without npm (an external program) the test fails
// under CI and skips elsewhere; a failed install always fails.
func axeSource(t *testing.T) string {
	axeOnce.Do(func() {
		dir := os.Getenv("HIPAAKIT_AXE_DIR")
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "hipaakit-axe-core")
		}
		file := filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
		if _, err := os.Stat(file); err != nil {
			if _, err := exec.LookPath("npm"); err != nil {
				axeMissing = "npm is not on PATH to install axe-core (external program; .ci/run installs it)"
				return
			}
			out, err := exec.Command("npm", "install", "--prefix", dir, "--no-save", "--no-audit", "--no-fund",
				"axe-core@"+axeVersion).CombinedOutput()
			if err != nil {
				axeErr = fmt.Errorf("npm install axe-core@%s: %v: %s", axeVersion, err, out)
				return
			}
		}
		b, err := os.ReadFile(file)
		axeJS, axeErr = string(b), err
	})
	if axeMissing != "" {
		if os.Getenv("CI") != "" {
			t.Fatal(axeMissing + ", and CI is set")
		}
		t.Skip(axeMissing + ": browser test not run")
	}
	if axeErr != nil {
		t.Fatal("axe-core: ", axeErr)
	}
	return axeJS
}

var (
	axeOnce    sync.Once
	axeJS      string
	axeErr     error
	axeMissing string // why axe-core cannot be installed here ("": it can)
)

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

// browser is one headless Chromium tab on a test clinic.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string // the server's URL
	axe  string
	name string // prefix of the screenshots
	// offset is how far the page's clock runs ahead of the real one.
	offset time.Duration
	tc     *testClinic
}

// newBrowser opens a tab on base in the package's one Chromium (started
// by the first browser test, stopped by TestMain), in a browser context of
// its own (cookies, storage and cache are the test's alone; the tab and its
// context are closed with the test), with the fake page clock installed and
// axe-core loaded.
func newBrowser(t *testing.T, tc *testClinic, base string) *browser {
	t.Helper()
	root := sharedChromium(t)
	axe := axeSource(t)
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, 150*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	// The first call creates the tab and its browser context.
	if err := chromedp.Do(ctx, installClock, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("open a tab in chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, base: base, axe: axe, name: strings.TrimPrefix(t.Name(), "TestBrowser"), tc: tc}
}

// chromium is the package's one headless Chromium. Starting a browser
// costs seconds under load; a browser context per test isolates the tests
// as well as a process per test did.
var chromium struct {
	once    sync.Once
	ctx     context.Context // the browser's first tab; new tabs derive from it
	stop    func()
	profile string // the user data directory, removed by stop
	err     error
}

// sharedChromium returns the context of the package's Chromium, starting
// it on first use.
func sharedChromium(t *testing.T) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	chromium.once.Do(func() {
		profile, err := os.MkdirTemp("", "clinic-chromium-")
		if err != nil {
			chromium.err = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
			chromedp.IgnoreCertErrors, chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 900),
			chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true))
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(actx)
		chromium.ctx, chromium.profile = ctx, profile
		chromium.stop = func() { cancel(); cancelAlloc(); os.RemoveAll(profile) }
		// Start the browser on a context without a deadline: chromedp ties
		// the browser to the context of the first call.
		chromium.err = chromedp.Do(ctx)
	})
	if chromium.err != nil {
		t.Fatalf("start chromium: %v", chromium.err)
	}
	return chromium.ctx
}

// stopChromium stops the package's Chromium if a test started it.
func stopChromium() {
	if chromium.stop != nil {
		chromium.stop()
	}
}

// installClock registers fakeBrowserClock for every document the tab loads.
func installClock(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
	_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: fakeBrowserClock})
	return chromedp.Void{}, err
}

// do runs one step, failing the test with a screenshot when it does not
// finish within 20 s.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	err := chromedp.Do(sctx, actions...)
	cancel()
	if err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		if shot, serr := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)); serr == nil {
			writeArtifact(b.t, b.name+"-failure.png", shot)
		}
		body, _ := chromedp.Run(b.ctx, chromedp.Text("main"))
		b.t.Fatalf("browser: %s: %v (page at %s, showing %.300q)", what, err, loc, body)
	}
}

// open navigates to path and waits for sel.
func (b *browser) open(path, sel string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(sel))
}

// text returns the text of sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(sel))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// eval evaluates js (awaiting a promise) and returns its value.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %.80q: %v", js, err)
	}
	return v
}

// fill replaces the value of the input sel with value.
func (b *browser) fill(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if err := chromedp.Do(ctx, chromedp.WaitVisible(sel)); err != nil {
			return chromedp.Void{}, err
		}
		if _, err := chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q).value = "", true`, sel))(ctx, tg); err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, chromedp.Do(ctx, chromedp.SendKeys(sel, value))
	})
}

// waitText waits until sel's text contains want, across a reload the
// page may do meanwhile (polling the condition; no fixed wait).
func (b *browser) waitText(what, sel, want string) {
	b.t.Helper()
	b.waitJS(what, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.includes(%q); })()`, sel, want))
}

// waitJS waits until the expression js is true, across reloads.
func (b *browser) waitJS(what, js string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.do(what, chromedp.Func(func(context.Context, *chromedp.Target) error {
				return fmt.Errorf("still false: %s (last error %v)", js, err)
			}))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// login signs in as the demo user of role through the two login pages.
func (b *browser) login(role string) {
	b.t.Helper()
	u := b.tc.users[role]
	b.open("/login", "#login-form")
	b.do("password step", b.fill("#username", u.Name), b.fill("#password", u.Password), chromedp.Click("#signin"), chromedp.WaitVisible("#code-form"))
	b.do("code step", b.fill("#code", b.tc.code(u)), chromedp.Click("#verify"), chromedp.WaitVisible("#logout"))
}

// logout signs out with the header's button and waits for the confirmation.
func (b *browser) logout() {
	b.t.Helper()
	b.do("log out", chromedp.Click("#logout"), chromedp.WaitVisible("#signed-out"))
}

// idle moves the server's clock by d and the page's clock with it (the
// page measures idle time from its own load, so only idle time moves it).
func (b *browser) idle(d time.Duration) {
	b.t.Helper()
	b.tc.clock.Advance(d)
	b.offset += d
	off := b.offset.Milliseconds()
	eval[bool](b, fmt.Sprintf(`window.sessionStorage.setItem("hipaakit-test-clock-offset", "%d"), true`, off))
}

// check runs axe-core on the current page (WCAG 2.1 A and AA rules) and
// fails on any serious or critical violation; then saves a screenshot
// named shot at desktop width and at 390 px (a phone), checking the phone
// layout with axe too.
func (b *browser) check(shot string) {
	b.t.Helper()
	b.axeCheck(shot + " (desktop)")
	b.screenshot(shot + "-desktop.png")
	b.do("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	wide := eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`)
	if wide {
		b.t.Errorf("%s: the page is wider than a 390 px phone screen (horizontal scrolling)", shot)
	}
	b.axeCheck(shot + " (phone)")
	b.screenshot(shot + "-phone.png")
	b.do("desktop width", chromedp.EmulateViewport(1280, 900))
}

func (b *browser) axeCheck(what string) {
	b.t.Helper()
	if !eval[bool](b, `typeof window.axe !== "undefined"`) {
		eval[bool](b, b.axe+";true")
	}
	out := eval[string](b, `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}).then(r =>
  JSON.stringify(r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}))))`)
	var vs []struct {
		ID, Impact string
		Nodes      []string
	}
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		b.t.Fatalf("axe result %q: %v", out, err)
	}
	for _, v := range vs {
		b.t.Errorf("axe: %s: %s violation %s at %v", what, v.Impact, v.ID, v.Nodes)
	}
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	writeArtifact(b.t, b.name+"-"+name, shot)
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
	p := filepath.Join(dir, strings.ToLower(name))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot saved to %s", p)
}

// browserClinic starts a seeded clinic over TLS on a fake clock that
// begins at the real time (the page's own clock runs from it).
func browserClinic(t *testing.T) (*testClinic, *browser) {
	t.Helper()
	tc := startClinicWith(t, testConfig(t.TempDir()), clock.NewFake(time.Now().UTC().Truncate(time.Second)), nil)
	return tc, newBrowser(t, tc, tc.srv.URL)
}
