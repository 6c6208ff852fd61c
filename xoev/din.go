package xoev

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"
)

// dinFile holds the DIN 91379 string datatypes of the XBau 2.6 bundle.
const dinFile = xbau26Dir + "/din-norm-91379-datatypes.xsd"

// dinChecker checks strings against the DIN 91379 datatypeC and datatypeD
// patterns, compiled from the deployed XSD, so that a disallowed character is
// reported with the JSON pointer of its field instead of an XSD line.
type dinChecker struct {
	full, prefix map[string]*regexp.Regexp // "datatypeC", "datatypeD"
	// ascii[datatype][b] reports whether the single ASCII byte b is a
	// complete match of the datatype. The DIN patterns are a Kleene star over
	// alternatives, so a string made only of such bytes matches as a whole:
	// check decides it without running the (backtracking) regexp, which is
	// most of the mapping time for ordinary form data.
	ascii map[string]*[128]bool
}

func loadDIN(standardsDir string) (*dinChecker, error) {
	path := filepath.Join(standardsDir, filepath.FromSlash(dinFile))
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("xoev: DIN 91379 datatypes: %w", err)
	}
	var s struct {
		Types []struct {
			Name    string `xml:"name,attr"`
			Pattern struct {
				Value string `xml:"value,attr"`
			} `xml:"restriction>pattern"`
		} `xml:"simpleType"`
	}
	if err := xml.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("xoev: %s: %w", path, err)
	}
	d := &dinChecker{full: map[string]*regexp.Regexp{}, prefix: map[string]*regexp.Regexp{}, ascii: map[string]*[128]bool{}}
	for _, t := range s.Types {
		if t.Name != "datatypeC" && t.Name != "datatypeD" {
			continue
		}
		// XSD patterns are implicitly anchored; the DIN patterns only use
		// classes, groups and alternation, which RE2 reads the same way.
		full, err := regexp.Compile(`^(?:` + t.Pattern.Value + `)$`)
		if err != nil {
			return nil, fmt.Errorf("xoev: %s %s pattern: %w", path, t.Name, err)
		}
		prefix := regexp.MustCompile(`^(?:` + t.Pattern.Value + `)`)
		prefix.Longest()
		d.full[t.Name], d.prefix[t.Name] = full, prefix
		// The fast path is sound only for a pattern of the form (…)*.
		if p := t.Pattern.Value; strings.HasPrefix(p, "(") && strings.HasSuffix(p, ")*") && full.MatchString("") {
			var tab [128]bool
			for b := range 128 {
				tab[b] = full.MatchString(string(rune(b)))
			}
			d.ascii[t.Name] = &tab
		}
	}
	if d.full["datatypeC"] == nil || d.full["datatypeD"] == nil {
		return nil, fmt.Errorf("xoev: %s lacks datatypeC or datatypeD", path)
	}
	return d, nil
}

// check reports the first character of s outside the datatype.
func (d *dinChecker) check(field, datatype, s string) error {
	if tab := d.ascii[datatype]; tab != nil && allIn(tab, s) {
		return nil
	}
	if d.full[datatype].MatchString(s) {
		return nil
	}
	n := len(d.prefix[datatype].FindString(s))
	r, _ := utf8.DecodeRuneInString(s[n:])
	return mapErr(field, "contains the character %q (U+%04X) at byte %d, which DIN 91379 %s does not allow", r, r, n, datatype)
}

// dashes are typographic dashes DIN 91379 lacks; they become "-".
var dashes = strings.NewReplacer("\u2010", "-", "\u2011", "-", "\u2012", "-", "\u2013", "-", "\u2014", "-", "\u2015", "-", "\u2212", "-")

// allIn reports whether every byte of s is ASCII and allowed by tab.
func allIn(tab *[128]bool, s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b >= utf8.RuneSelf || !tab[b] {
			return false
		}
	}
	return true
}
