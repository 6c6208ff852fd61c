package osci

import (
	"github.com/beevik/etree"

	"github.com/dxhub/dxhub/internal/xmlsec"
)

// ErrHostileXML marks XML refused before parsing (see xmlsec.CheckXML): a
// DOCTYPE or entity declaration (XXE, "billion laughs"), processing
// instructions, nesting, element counts or attributes beyond the limits.
var ErrHostileXML = xmlsec.ErrHostileXML

// readDoc is the hardened parse of everything that arrives from outside.
func readDoc(data []byte) (*etree.Document, error) { return xmlsec.ReadDoc(data) }
