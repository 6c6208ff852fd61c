package xta

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// XML namespaces used by XTA 2 Version 3.
const (
	NSSOAP12   = "http://www.w3.org/2003/05/soap-envelope"
	NSSOAP11   = "http://schemas.xmlsoap.org/soap/envelope/"
	NSWSA      = "http://www.w3.org/2005/08/addressing"
	NSXTA      = "http://xoev.de/transport/xta/211"
	NSOSCI     = "http://www.osci.eu/ws/2008/05/transport"
	NSOSCIMeta = "http://www.osci.eu/ws/2014/10/transport"
	NSXML      = "http://www.w3.org/XML/1998/namespace"
)

// WS-Addressing / SOAP action URIs of the XTA 2 v3 operations (XTA.wsdl). The
// WSDL uses the same URI for input, output and fault of an operation.
const (
	ActionCheckAccountActive = "http://www.xta.de/XTA/CheckAccountActive"
	ActionLookupService      = "http://www.xta.de/XTA/IsServiceAvailable"
	ActionCreateMessageID    = "http://www.xta.de/XTA/CreateMessageID"
	ActionGetTransportReport = "http://www.xta.de/XTA/GetTransportReport"
	ActionCancelMessage      = "http://www.xta.de/XTA/CancelMessage"
	ActionSendMessage        = "http://www.xta.de/XTA/SendMessage"
	ActionSendMessageSync    = "http://www.xta.de/XTA/SendMessageSync"
	ActionGetStatusList      = "http://www.osci.eu/ws/2008/05/transport/urn/messageTypes/MsgBoxStatusListRequest"
	ActionGetNextStatusList  = "http://www.osci.eu/ws/2008/05/transport/urn/messageTypes/MsgBoxGetNextListRequest"
	ActionGetMessage         = "http://www.osci.eu/ws/2008/05/transport/urn/messageTypes/MsgBoxFetchRequest"
	ActionGetNextMessage     = "http://www.osci.eu/ws/2008/05/transport/urn/messageTypes/MsgBoxGetNextMsgRequest"
	ActionClose              = "http://www.osci.eu/ws/2008/05/transport/urn/messageTypes/MsgBoxCloseRequest"
	// ActionFault is the WS-Addressing action of faults that belong to no operation.
	ActionFault = "http://www.w3.org/2005/08/addressing/fault"
	// AnonymousAddress is the WS-Addressing anonymous endpoint (reply on the same HTTP response).
	AnonymousAddress = "http://www.w3.org/2005/08/addressing/anonymous"
)

// ContentTypeSOAP12 is the media type of every SOAP 1.2 message this package writes.
const ContentTypeSOAP12 = "application/soap+xml; charset=utf-8"

// Limits bound what the envelope parser accepts. Zero fields take the defaults.
type Limits struct {
	MaxBytes    int64 // whole envelope; default 1 MiB for DOM parsing
	MaxDepth    int   // element nesting; default 64
	MaxElements int   // element count; default 100,000
	MaxAttrs    int   // attributes per element; default 64
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 1 << 20
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 64
	}
	if l.MaxElements <= 0 {
		l.MaxElements = 100_000
	}
	if l.MaxAttrs <= 0 {
		l.MaxAttrs = 64
	}
	return l
}

// ErrMalformed marks input that is not a well-formed, acceptable SOAP 1.2
// envelope (not XML, DOCTYPE, too deep, too large, wrong structure).
var ErrMalformed = errors.New("xta: malformed SOAP message")

// ErrVersionMismatch is returned for a SOAP 1.1 (or other) envelope.
var ErrVersionMismatch = errors.New("xta: not a SOAP 1.2 envelope")

// ErrTooLarge is returned when the input exceeds Limits.MaxBytes.
var ErrTooLarge = errors.New("xta: message exceeds size limit")

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

// Element is a minimal namespace-resolved XML tree node. Names carry the
// namespace URI (never a prefix), so matching is by URI.
type Element struct {
	Name     xml.Name
	Attr     []xml.Attr
	Children []*Element
	Text     string // concatenated character data directly inside this element
}

// Is reports whether e has namespace ns and local name local.
func (e *Element) Is(ns, local string) bool {
	return e != nil && e.Name.Space == ns && e.Name.Local == local
}

// Child returns the first child with the given name, or nil.
func (e *Element) Child(ns, local string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if c.Is(ns, local) {
			return c
		}
	}
	return nil
}

// ChildrenNamed returns all children with the given name.
func (e *Element) ChildrenNamed(ns, local string) []*Element {
	if e == nil {
		return nil
	}
	var out []*Element
	for _, c := range e.Children {
		if c.Is(ns, local) {
			out = append(out, c)
		}
	}
	return out
}

// AttrValue returns the value of the attribute (ns may be "" for unqualified
// attributes) and whether it is present.
func (e *Element) AttrValue(ns, local string) (string, bool) {
	if e == nil {
		return "", false
	}
	for _, a := range e.Attr {
		if a.Name.Space == ns && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// TrimText returns the element's text with surrounding whitespace removed.
func (e *Element) TrimText() string {
	if e == nil {
		return ""
	}
	return strings.TrimSpace(e.Text)
}

// Envelope is a parsed SOAP 1.2 envelope.
type Envelope struct {
	Header []*Element // header blocks, in document order
	Body   []*Element // body children; empty when the body was streamed
}

// HeaderBlock returns the first header block with the given name, or nil.
func (env *Envelope) HeaderBlock(ns, local string) *Element {
	for _, h := range env.Header {
		if h.Is(ns, local) {
			return h
		}
	}
	return nil
}

// Addressing holds the WS-Addressing headers of a message.
type Addressing struct {
	Action    string
	MessageID string
	To        string
	RelatesTo string
}

// Addressing extracts the WS-Addressing headers.
func (env *Envelope) Addressing() Addressing {
	return Addressing{
		Action:    env.HeaderBlock(NSWSA, "Action").TrimText(),
		MessageID: env.HeaderBlock(NSWSA, "MessageID").TrimText(),
		To:        env.HeaderBlock(NSWSA, "To").TrimText(),
		RelatesTo: env.HeaderBlock(NSWSA, "RelatesTo").TrimText(),
	}
}

// ParseEnvelope reads a complete SOAP 1.2 envelope into memory with the
// hardened parser: DOCTYPE, entity declarations and processing instructions
// are rejected, nesting depth, element count, attributes and total size are
// bounded. Errors wrap ErrMalformed, ErrVersionMismatch or ErrTooLarge.
func ParseEnvelope(r io.Reader, lim Limits) (*Envelope, error) {
	p := newParser(r, lim)
	return p.envelope(func(p *parser, start xml.StartElement) error {
		el, err := p.tree(start, 2)
		if err != nil {
			return err
		}
		p.env.Body = append(p.env.Body, el)
		return nil
	})
}

// countingReader counts the bytes read from the underlying reader.
type countingReader struct {
	r   io.Reader
	n   int64
	err error // the first read error other than io.EOF
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// parser is the hardened streaming SOAP parser. The xml.Decoder reads from br
// (an io.ByteReader, so the decoder does no buffering of its own); streaming
// body handlers may take over br between tokens to read large character data
// without materialising it (see textStream).
type parser struct {
	lim      Limits
	cr       *countingReader
	br       *bufio.Reader
	dec      *xml.Decoder
	elements int
	started  bool  // a token has been read (the XML declaration must come first)
	skipped  int64 // bytes consumed by textStream takeovers, not seen by dec
	env      *Envelope
	mtom     *mtomIn      // MTOM state; nil for a plain SOAP message
	total    *limitedBody // the whole MTOM body, for its size limit
}

func newParser(r io.Reader, lim Limits) *parser {
	lim = lim.withDefaults()
	cr := &countingReader{r: io.LimitReader(r, lim.MaxBytes+1)}
	br := bufio.NewReaderSize(cr, 64<<10)
	dec := xml.NewDecoder(br)
	dec.Strict = true
	dec.CharsetReader = func(charset string, _ io.Reader) (io.Reader, error) {
		return nil, malformed("XML encoding %q is not supported, SOAP 1.2 messages must be UTF-8", charset)
	}
	return &parser{lim: lim, cr: cr, br: br, dec: dec, env: &Envelope{}}
}

// consumed is the number of input bytes the parser (decoder or takeover) used.
func (p *parser) consumed() int64 { return p.cr.n - int64(p.br.Buffered()) }

func (p *parser) overLimit() bool { return p.cr.n > p.lim.MaxBytes }

// token returns the next token, enforcing the security rules. Character data
// is copied; comments are dropped.
func (p *parser) token() (xml.Token, error) {
	for {
		tok, err := p.dec.Token()
		if err != nil {
			if p.overLimit() {
				return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, p.lim.MaxBytes)
			}
			if err == io.EOF {
				return nil, err
			}
			var se *xml.SyntaxError
			switch {
			case errors.As(err, &se), errors.Is(err, ErrMalformed):
				return nil, malformed("%v", err)
			case errors.Is(err, ErrTooLarge):
				return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, p.lim.MaxBytes)
			case p.mtom != nil && (errors.Is(err, io.ErrUnexpectedEOF) || strings.HasPrefix(err.Error(), "multipart:")):
				return nil, mtomErr("root part: %v", err)
			case errors.Is(err, io.ErrUnexpectedEOF):
				return nil, malformed("unexpected end of input")
			case p.cr.err == nil:
				// The input was read fine: the decoder rejects its content.
				return nil, malformed("%v", err)
			}
			return nil, fmt.Errorf("xta: read message: %w", err)
		}
		first := !p.started
		p.started = true
		switch t := tok.(type) {
		case xml.Directive:
			return nil, malformed("DOCTYPE and other declarations are not allowed")
		case xml.ProcInst:
			if t.Target == "xml" && first {
				continue // the XML declaration at the very start
			}
			return nil, malformed("processing instruction <?%s?> not allowed", t.Target)
		case xml.Comment:
			continue
		case xml.StartElement:
			p.elements++
			if p.elements > p.lim.MaxElements {
				return nil, malformed("more than %d elements", p.lim.MaxElements)
			}
			if len(t.Attr) > p.lim.MaxAttrs {
				return nil, malformed("element %s has more than %d attributes", t.Name.Local, p.lim.MaxAttrs)
			}
			return t.Copy(), nil
		case xml.CharData:
			return t.Copy(), nil
		default:
			return tok, nil
		}
	}
}

// tree reads the element that start opened into an Element (depth is the
// depth of start, the Envelope being 0).
func (p *parser) tree(start xml.StartElement, depth int) (*Element, error) {
	if depth > p.lim.MaxDepth {
		return nil, malformed("nesting deeper than %d", p.lim.MaxDepth)
	}
	el := &Element{Name: start.Name, Attr: nsAttrsDropped(start.Attr)}
	var text strings.Builder
	for {
		tok, err := p.token()
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			c, err := p.tree(t, depth+1)
			if err != nil {
				return nil, err
			}
			el.Children = append(el.Children, c)
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			el.Text = text.String()
			return el, nil
		}
	}
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return malformed("unexpected end of input")
	}
	return err
}

// nsAttrsDropped removes namespace declarations from an attribute list.
func nsAttrsDropped(attrs []xml.Attr) []xml.Attr {
	out := attrs[:0:0]
	for _, a := range attrs {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		out = append(out, a)
	}
	return out
}

// nextStructural reads tokens until one that is not whitespace; other
// character data is an error (where names the position for the message).
func (p *parser) nextStructural(where string) (xml.Token, error) {
	for {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		if cd, ok := tok.(xml.CharData); ok {
			if len(strings.TrimSpace(string(cd))) != 0 {
				return nil, malformed("unexpected text %s", where)
			}
			continue
		}
		return tok, nil
	}
}

// envelope parses Envelope, Header (into p.env.Header) and Body, handing each
// body child to body. It checks that nothing but whitespace follows.
func (p *parser) envelope(body func(p *parser, start xml.StartElement) error) (*Envelope, error) {
	tok, err := p.nextStructural("before the Envelope")
	if err != nil {
		if err == io.EOF {
			return nil, malformed("empty message")
		}
		return nil, err
	}
	root, ok := tok.(xml.StartElement)
	if !ok {
		return nil, malformed("expected the Envelope element")
	}
	if root.Name.Local != "Envelope" || root.Name.Space != NSSOAP12 {
		if root.Name.Local == "Envelope" {
			return nil, fmt.Errorf("%w: envelope namespace %q", ErrVersionMismatch, root.Name.Space)
		}
		return nil, malformed("root element is {%s}%s, not a SOAP 1.2 Envelope", root.Name.Space, root.Name.Local)
	}
	tok, err = p.nextStructural("in Envelope")
	if err != nil {
		return nil, unexpectedEOF(err)
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		return nil, malformed("Envelope without Body")
	}
	if start.Name.Space == NSSOAP12 && start.Name.Local == "Header" {
		h, err := p.tree(start, 1)
		if err != nil {
			return nil, err
		}
		p.env.Header = h.Children
		tok, err = p.nextStructural("in Envelope")
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		if start, ok = tok.(xml.StartElement); !ok {
			return nil, malformed("Envelope without Body")
		}
	}
	if start.Name.Space != NSSOAP12 || start.Name.Local != "Body" {
		return nil, malformed("expected soap:Body, found {%s}%s", start.Name.Space, start.Name.Local)
	}
	for {
		tok, err := p.nextStructural("in Body")
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		if _, end := tok.(xml.EndElement); end {
			break
		}
		child, ok := tok.(xml.StartElement)
		if !ok {
			return nil, malformed("unexpected token in Body")
		}
		if err := body(p, child); err != nil {
			return nil, err
		}
	}
	tok, err = p.nextStructural("after Body")
	if err != nil {
		return nil, unexpectedEOF(err)
	}
	if _, end := tok.(xml.EndElement); !end {
		return nil, malformed("content after soap:Body")
	}
	if _, err := p.nextStructural("after Envelope"); err != io.EOF {
		if err == nil {
			return nil, malformed("content after the Envelope")
		}
		return nil, err
	}
	return p.env, nil
}
