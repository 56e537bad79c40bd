package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runCLI runs a command line in-process and returns its exit code and output.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
	code := run(context.Background(), c, args)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	if code, _, stderr := runCLI(t, nil); code != exitUsage || !strings.Contains(stderr, "usage:") {
		t.Fatalf("no args: code %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, nil, "frobnicate"); code != exitUsage || !strings.Contains(stderr, "unknown command") {
		t.Fatalf("unknown: code %d, stderr %q", code, stderr)
	}
	if code, stdout, _ := runCLI(t, nil, "help"); code != exitOK || !strings.Contains(stdout, "commands:") {
		t.Fatalf("help: code %d, stdout %q", code, stdout)
	}
}
