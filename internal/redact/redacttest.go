package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
)

// Verbs are the fmt verbs (with flags) a redaction test must try: every
// verb fmt knows, so a type that redacts under %v but not under %s, %q,
// %x or %e fails.
var Verbs = []string{
	"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%d", "%b", "%o", "%O",
	"%e", "%E", "%f", "%g", "%G", "%t", "%c", "%U", "%#U", "%10.3v", "%-8s",
}

// Leaks prints v under every verb in Verbs, through slog's text and JSON
// handlers and through encoding/json, and returns a description of every
// output that is not the redaction Text(name) or that contains one of the
// canaries. An empty result means v redacts everywhere. It is used by the
// leak tests of every package whose types hold secrets.
func Leaks(v any, name string, canaries ...string) []string {
	want := Text(name)
	var bad []string
	check := func(how, out string) {
		for _, c := range canaries {
			if c != "" && strings.Contains(out, c) {
				bad = append(bad, fmt.Sprintf("%s: output holds a canary", how))
				return
			}
		}
		if !strings.Contains(out, want) {
			bad = append(bad, fmt.Sprintf("%s: %.80q is not the redaction %q", how, out, want))
		}
	}
	for _, verb := range Verbs {
		out := fmt.Sprintf(verb, v)
		check(verb, out)
		if strings.TrimSpace(out) != want {
			bad = append(bad, fmt.Sprintf("%s: %.80q is not exactly %q", verb, out, want))
		}
	}
	nested := struct{ Held any }{v}
	check("nested %+v", fmt.Sprintf("%+v", nested))
	check("nested %s", fmt.Sprintf("%s", nested))
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "v", v)
	check("slog text", buf.String())
	buf.Reset()
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "v", v)
	check("slog json", buf.String())
	j, err := json.Marshal(v)
	if err != nil {
		bad = append(bad, "json: "+err.Error())
	}
	check("json", string(j))
	return bad
}

// Canaries returns the forms in which key bytes appear when a careless
// type prints them: raw, hexadecimal (%x) and as Go's decimal byte list
// (%v of a []byte, or of an array such as an AES key schedule's words).
func Canaries(key []byte) []string {
	dec := fmt.Sprint(key)
	if len(dec) > 2 {
		dec = dec[1 : len(dec)-1]
	}
	return []string{string(key), fmt.Sprintf("%x", key), dec}
}
