package auth

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidReason(t *testing.T) {
	for reason, want := range map[string]bool{
		"":                               false,
		"x":                              false,
		"need it":                        false,
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": false, // one word
		"a b c d e f g h i j k l m n o p q r s t u v": false, // no word of two
		"patient unconscious, chart locked":           true,
		"Patient bewusstlos, Akte gesperrt":           true,
		"mass casualty\x00 incident, bay 3":           false,
		strings.Repeat("word ", 101):                  false, // longer than 500 bytes
	} {
		if got := validReason(reason, DefaultEmergencyReasonMinChars, DefaultEmergencyReasonMinWords); got != want {
			t.Errorf("validReason(%q) = %t, want %t", reason, got, want)
		}
	}
}

func FuzzValidReason(f *testing.F) {
	for _, s := range []string{"", "x", "patient unconscious, chart locked", "a\x00b", "\xff\xfe words words words"} {
		f.Add(s, 20, 3)
	}
	f.Fuzz(func(t *testing.T, s string, minChars, minWords int) {
		ok := validReason(s, minChars, minWords)
		if ok && (!utf8.ValidString(s) || len(s) > maxEmergencyReason || len(s) == 0) {
			t.Fatalf("accepted %q", s)
		}
		if ok && minChars > 0 && !validReason(s, 0, 0) {
			t.Fatal("a stricter rule accepted what a looser one refused")
		}
	})
}
