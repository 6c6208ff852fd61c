package xoev

import (
	"testing"

	"github.com/beevik/etree"
)

// TestCheckDVDVParties: the tree check MapWith relies on agrees with
// CheckTransportRules on the serialised message.
func TestCheckDVDVParties(t *testing.T) {
	for _, tc := range []struct {
		name, kennung, dir string
		ok                 bool
	}{
		{"DVDV key", "ags:05315000", "DVDV", true},
		{"not a Behördenkennung", "Stadt Köln", "DVDV", false},
		{"empty", "", "DVDV", false},
		{"another directory", "Stadt Köln", "X", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			xml := `<x:m xmlns:x="http://www.xleitstelle.de/xbau/kernmodul/1/3"><nachrichtenkopf.g2g><leser>` +
				`<verzeichnisdienst><code>` + tc.dir + `</code></verzeichnisdienst><kennung>` + tc.kennung + `</kennung>` +
				`<name>n</name></leser></nachrichtenkopf.g2g></x:m>`
			doc := etree.NewDocument()
			if err := doc.ReadFromString(xml); err != nil {
				t.Fatal(err)
			}
			err := checkDVDVParties(doc.Root())
			if (err == nil) != tc.ok {
				t.Errorf("tree check: %v, want ok=%v", err, tc.ok)
			}
			if tc.kennung != "" { // CheckTransportRules also flags the empty element
				if ref := CheckTransportRules([]byte(xml)); (ref == nil) != (err == nil) {
					t.Errorf("tree check %v, CheckTransportRules %v", err, ref)
				}
			}
		})
	}
}
