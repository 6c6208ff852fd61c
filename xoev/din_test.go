package xoev

import (
	"errors"
	"strings"
	"testing"
)

// TestDINFastPathAgreesWithPattern: the ASCII fast path of dinChecker.check
// decides exactly as the DIN 91379 patterns compiled from the XSD.
func TestDINFastPathAgreesWithPattern(t *testing.T) {
	d, err := loadDIN(shared.dir)
	if err != nil {
		t.Fatal(err)
	}
	var inputs []string
	for b := range 128 {
		inputs = append(inputs, string(rune(b)), "ab"+string(rune(b))+"cd")
	}
	inputs = append(inputs, "", "Müller-Lüdenscheidt", "Straße 1\tb", "a\u0301", "x\u2013y", "Ǆ", "€ 10", "abc\x7f", strings.Repeat("Köln ", 100))
	for _, dt := range []string{"datatypeC", "datatypeD"} {
		if d.ascii[dt] == nil {
			t.Fatalf("%s: no fast path (pattern is not (…)*)", dt)
		}
		for _, s := range inputs {
			want := d.full[dt].MatchString(s)
			err := d.check("/f", dt, s)
			var me *MappingError
			if got := err == nil; got != want {
				t.Errorf("%s %q: check ok=%v, pattern match=%v", dt, s, got, want)
			} else if err != nil && !errors.As(err, &me) {
				t.Errorf("%s %q: %v is not a *MappingError", dt, s, err)
			}
		}
	}
}

func BenchmarkDINCheckASCII(b *testing.B) {
	d, err := loadDIN(shared.dir)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := d.check("/f", "datatypeC", "Lageplan 1:500, Musterstraße"); err != nil {
			b.Fatal(err)
		}
		if err := d.check("/f", "datatypeC", "Hauptstrasse 12a"); err != nil {
			b.Fatal(err)
		}
	}
}
