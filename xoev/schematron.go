package xoev

import (
	"fmt"
	"strings"
)

// CheckTransportRules re-implements the XBau Schematron rules that matter for
// transport, which XSD validation cannot express:
//
//   - sch-xbau-001/002: in nachrichtenkopf.g2g, leser/kennung and
//     autor/kennung must match ^[a-z]{3}:\d+$ when verzeichnisdienst is DVDV
//     (applied to every message with a G2G header);
//   - sch-xbau-gen-001: no element of an XBau or Kernmodul message may be
//     empty or white space only (an element with attributes only is empty
//     too). xdomea allows empty elements and is not checked for them.
//
// The document is parsed with the inbound limits (no DTD, bounded depth and
// size). Errors name the element path and line.
func CheckTransportRules(doc []byte) error {
	root, err := parseTree(doc, InboundLimits{})
	if err != nil {
		return fmt.Errorf("xoev: schematron: %w", err)
	}
	if kopf := root.Child("nachrichtenkopf.g2g"); kopf != nil {
		for _, role := range []string{"leser", "autor"} {
			p := kopf.Child(role)
			if p == nil {
				continue
			}
			if p.PathText("verzeichnisdienst", "code") == "DVDV" {
				k := p.Child("kennung")
				if k == nil || !dvdvKey.MatchString(k.Text()) {
					line, text := p.Line, ""
					if k != nil {
						line, text = k.Line, k.Text()
					}
					return fmt.Errorf("xoev: line %d /%s/nachrichtenkopf.g2g/%s/kennung: %q is not a DVDV Behördenkennung (^[a-z]{3}:\\d+$, XBau Schematron sch-xbau-001/002)", line, root.Local, role, text)
				}
			}
		}
	}
	if strings.HasPrefix(root.Space, "http://www.xleitstelle.de/xbau/") {
		if err := noEmptyNodes(root, ""); err != nil {
			return err
		}
	}
	return nil
}

func noEmptyNodes(n *node, path string) error {
	path += "/" + n.Local
	if len(n.Children) == 0 && n.Text() == "" {
		return fmt.Errorf("xoev: line %d %s: element is empty (XBau Schematron sch-xbau-gen-001)", n.Line, path)
	}
	for _, c := range n.Children {
		if err := noEmptyNodes(c, path); err != nil {
			return err
		}
	}
	return nil
}
