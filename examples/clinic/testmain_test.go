package main

import (
	"os"
	"testing"
)

// TestMain runs the package's tests and then stops what they share: the one
// Chromium of the browser tests.
func TestMain(m *testing.M) {
	code := m.Run()
	stopChromium()
	os.Exit(code)
}
