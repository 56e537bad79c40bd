package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestQuickstart(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"phi.Sealed(v1,", "shows: [redacted]", "audit: reveal success", "(audited): 1970-01-01", "found patient-", "1 key destroyed", "phi: subject shredded"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "Ann Example") {
		t.Error("the name leaked into the output")
	}
}
