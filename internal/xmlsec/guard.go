package xmlsec

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"github.com/beevik/etree"
)

// Limits of the hardened XML reader for everything that arrives from outside
// (OSCI orders and responses, decrypted contents).
const (
	maxXMLDepth    = 100
	maxXMLElements = 200_000
	maxXMLAttr     = 1 << 20 // one attribute value (base64 certificates fit)
)

// ErrHostileXML marks XML refused before parsing: a DOCTYPE or entity
// declaration (XXE, "billion laughs"), processing instructions, nesting or
// element counts beyond the limits.
var ErrHostileXML = errors.New("xml refused")

// ReadDoc parses data with etree after CheckXML, so no hostile document
// reaches the tree builder or the signature code.
func ReadDoc(data []byte) (*etree.Document, error) {
	if err := CheckXML(data); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, err
	}
	return doc, nil
}

// CheckXML is a streaming check that refuses DTDs, entity declarations and
// processing instructions and bounds depth, element count and attribute size.
func CheckXML(data []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	depth, elements := 0, 0
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrHostileXML, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return fmt.Errorf("%w: DOCTYPE and entity declarations are not allowed", ErrHostileXML)
		case xml.ProcInst:
			if t.Target != "xml" {
				return fmt.Errorf("%w: processing instruction <?%s?> is not allowed", ErrHostileXML, t.Target)
			}
		case xml.StartElement:
			depth++
			elements++
			if depth > maxXMLDepth {
				return fmt.Errorf("%w: nesting deeper than %d", ErrHostileXML, maxXMLDepth)
			}
			if elements > maxXMLElements {
				return fmt.Errorf("%w: more than %d elements", ErrHostileXML, maxXMLElements)
			}
			for _, a := range t.Attr {
				if len(a.Value) > maxXMLAttr {
					return fmt.Errorf("%w: attribute %s longer than %d bytes", ErrHostileXML, a.Name.Local, maxXMLAttr)
				}
			}
		case xml.EndElement:
			depth--
		}
	}
}
