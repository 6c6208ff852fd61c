package xmlsec

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/beevik/etree"
)

// Limits bound the hardened XML reader for everything that arrives from
// outside (OSCI orders and responses, decrypted contents). Zero fields take
// the defaults of DefaultLimits.
type Limits struct {
	MaxDepth     int   // element nesting
	MaxElements  int   // elements per document
	MaxAttrBytes int64 // one attribute value (base64 certificates fit)
	MaxTextBytes int64 // one text node (base64 CipherValue of an encrypted content)
}

// DefaultLimits returns the built-in limits.
func DefaultLimits() Limits {
	return Limits{MaxDepth: 100, MaxElements: 200_000, MaxAttrBytes: 1 << 20, MaxTextBytes: 64 << 20}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = d.MaxElements
	}
	if l.MaxAttrBytes <= 0 {
		l.MaxAttrBytes = d.MaxAttrBytes
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = d.MaxTextBytes
	}
	return l
}

var processLimits atomic.Pointer[Limits]

// SetLimits sets the limits CheckXML and ReadDoc apply from now on
// (limits.xml of the configuration); call it once at start-up.
func SetLimits(l Limits) {
	l = l.withDefaults()
	processLimits.Store(&l)
}

// CurrentLimits returns the limits in force.
func CurrentLimits() Limits {
	if l := processLimits.Load(); l != nil {
		return *l
	}
	return DefaultLimits()
}

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
// processing instructions and bounds depth, element count, attribute and text
// size (CurrentLimits).
func CheckXML(data []byte) error { return CheckXMLLimits(data, CurrentLimits()) }

// CheckXMLLimits is CheckXML with explicit limits.
func CheckXMLLimits(data []byte, lim Limits) error {
	lim = lim.withDefaults()
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
			if depth > lim.MaxDepth {
				return fmt.Errorf("%w: nesting deeper than %d", ErrHostileXML, lim.MaxDepth)
			}
			if elements > lim.MaxElements {
				return fmt.Errorf("%w: more than %d elements", ErrHostileXML, lim.MaxElements)
			}
			for _, a := range t.Attr {
				if int64(len(a.Value)) > lim.MaxAttrBytes {
					return fmt.Errorf("%w: attribute %s longer than %d bytes", ErrHostileXML, a.Name.Local, lim.MaxAttrBytes)
				}
			}
		case xml.CharData:
			if int64(len(t)) > lim.MaxTextBytes {
				return fmt.Errorf("%w: text longer than %d bytes", ErrHostileXML, lim.MaxTextBytes)
			}
		case xml.EndElement:
			depth--
		}
	}
}
