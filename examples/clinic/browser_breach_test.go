package main

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/clock"
)

// TestBrowserBreachPage signs in as the privacy officer in headless
// Chromium and reads the incident page: the open incident with its
// individual-notice deadline.
func TestBrowserBreachPage(t *testing.T) {
	browser := chromiumPath(t)
	clk := clock.NewFake(time.Now().UTC())
	a, err := openApp(context.Background(), testConfig(t.TempDir()), clk, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	seeded, err := a.seed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var po demoUser
	for _, u := range seeded {
		if u.Role == rolePrivacyOfficer {
			po = u
		}
	}
	inc, err := a.breach.Open(context.Background(), audit.Actor{UserID: "u-reporter"}, breach.OpenRequest{DiscoveredOn: "2026-03-03",
		TimeZone: "America/New_York", Description: "Laptop with an unencrypted export left in a taxi"})
	if err != nil {
		t.Fatal(err)
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
	ctx, cancelTimeout := context.WithTimeout(ctx, 120*time.Second)
	defer cancelTimeout()
	tc := &testClinic{t: t, clock: clk}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	sctx, cancelStep := context.WithTimeout(ctx, 30*time.Second)
	defer cancelStep()
	err = chromedp.Do(sctx, chromedp.Navigate(srv.URL+"/login"), chromedp.WaitVisible("#login-form"),
		chromedp.SendKeys("#username", po.Name), chromedp.SendKeys("#password", po.Password),
		chromedp.SendKeys("#code", tc.code(po)), chromedp.Click("#signin"), chromedp.WaitVisible("#logout"),
		chromedp.Navigate(srv.URL+"/breach"), chromedp.WaitVisible("#incidents"))
	if err != nil {
		t.Fatalf("browser: sign in and open the incident page: %v", err)
	}
	table, err := chromedp.Run(ctx, chromedp.Text("#incidents"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table, inc.ID) || !strings.Contains(table, "individuals (164.404)") || !strings.Contains(table, "2026-05-02") {
		t.Fatalf("incident page shows %q", table)
	}
}
