package xta

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"strings"
)

// MTOM/XOP (SOAP Message Transmission Optimization Mechanism, XML-binary
// Optimized Packaging): the envelope travels as the root part of a
// multipart/related message (type="application/xop+xml") and every binary
// content is replaced by <xop:Include href="cid:…"/> pointing at a later part
// that carries the raw bytes. Both directions stream: the root part is parsed
// first, then each part is handed to the ContentSink as it arrives; on
// output each part is copied from its Content reader.

// NSXOP is the XOP Include namespace.
const NSXOP = "http://www.w3.org/2004/08/xop/include"

// MediaTypeXOP is the root part's media type in an MTOM message.
const MediaTypeXOP = "application/xop+xml"

// ErrMTOM marks MTOM packaging errors (bad multipart framing, a missing or
// unexpected part, a wrong root part type).
var ErrMTOM = errors.New("xta: invalid MTOM/XOP message")

func mtomErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMTOM, fmt.Sprintf(format, a...))
}

// xopRef is a content whose bytes follow in a MIME part.
type xopRef struct {
	index int
	h     ContentHeader
	cid   string
	sink  ContentSink
	done  bool
}

// mtomIn is the multipart state of a parser reading an MTOM message.
type mtomIn struct {
	mr   *multipart.Reader
	refs []*xopRef
}

// CheckContentType accepts the Content-Types of SOAP 1.2 messages: plain
// (application/soap+xml) or MTOM (multipart/related with
// type="application/xop+xml"). It reports whether the message is MTOM.
func CheckContentType(ct string) (mtom bool, err error) {
	// Only the media type matters for plain SOAP; many clients send an
	// unquoted action parameter that a strict MIME parser rejects.
	mt := strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
	switch mt {
	case "application/soap+xml", "text/xml", "application/xml":
		return false, nil
	case "multipart/related":
		_, params, err := mime.ParseMediaType(ct)
		if err != nil {
			return true, mtomErr("Content-Type %q: %v", ct, err)
		}
		if t := strings.ToLower(params["type"]); t != MediaTypeXOP {
			return true, mtomErr("multipart/related with type %q, expected %q", params["type"], MediaTypeXOP)
		}
		if params["boundary"] == "" {
			return true, mtomErr("multipart/related without boundary")
		}
		return true, nil
	}
	return false, fmt.Errorf("%w: unsupported Content-Type %q, expected application/soap+xml or multipart/related", ErrMalformed, ct)
}

// newMessageParser returns a parser for a SOAP message of Content-Type ct:
// for MTOM it positions on the root part, whose XOP references are resolved
// by (*parser).finishXOP after the envelope was read. lim.MaxBytes bounds the
// whole body including all parts.
func newMessageParser(ct string, body io.Reader, lim Limits) (*parser, error) {
	mtom, err := CheckContentType(ct)
	if err != nil {
		return nil, err
	}
	if !mtom {
		return newParser(body, lim), nil
	}
	lim = lim.withDefaults()
	_, params, _ := mime.ParseMediaType(ct)
	total := &limitedBody{r: body, left: lim.MaxBytes}
	mr := multipart.NewReader(total, params["boundary"])
	root, err := mr.NextRawPart()
	if err != nil {
		return nil, mtomErr("no root part: %v", err)
	}
	if start := strings.Trim(params["start"], "<>"); start != "" && strings.Trim(root.Header.Get("Content-ID"), "<> ") != start {
		return nil, mtomErr("the first part is %q, not the start part %q", root.Header.Get("Content-ID"), start)
	}
	if rmt, _, _ := mime.ParseMediaType(root.Header.Get("Content-Type")); rmt != MediaTypeXOP {
		return nil, mtomErr("root part has Content-Type %q, expected %s", root.Header.Get("Content-Type"), MediaTypeXOP)
	}
	p := newParser(root, lim)
	p.mtom = &mtomIn{mr: mr}
	p.total = total
	return p, nil
}

// limitedBody fails with ErrTooLarge once more than left bytes were read.
type limitedBody struct {
	r    io.Reader
	left int64
}

func (l *limitedBody) Read(b []byte) (int, error) {
	if l.left < 0 {
		return 0, ErrTooLarge
	}
	if int64(len(b)) > l.left+1 {
		b = b[:l.left+1]
	}
	n, err := l.r.Read(b)
	l.left -= int64(n)
	if l.left < 0 {
		return n, ErrTooLarge
	}
	return n, err
}

// contentStart inspects what follows the start tag of a content element:
// an xop:Include (MTOM; the element is consumed up to its end tag and the
// reference returned), or character data for a textStream (pending holds
// data the decoder already tokenised; done means the element was empty).
func (p *parser) contentStart() (href string, pending []byte, done bool, err error) {
	for {
		if p.dec.InputOffset()+p.skipped == p.consumed() {
			b, perr := p.br.Peek(1)
			if perr != nil {
				return "", nil, false, nil // let the textStream report it
			}
			if isXMLSpace(b[0]) {
				_, _ = p.br.Discard(1)
				p.skipped++
				continue
			}
			if b[0] != '<' {
				return "", nil, false, nil
			}
			if two, _ := p.br.Peek(2); len(two) == 2 && (two[1] == '/') {
				return "", nil, false, nil
			}
		}
		tok, err := p.token()
		if err != nil {
			return "", nil, false, unexpectedEOF(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if d := stripSpace(t); len(d) > 0 {
				return "", d, false, nil
			}
		case xml.EndElement:
			return "", nil, true, nil
		case xml.StartElement:
			if t.Name.Space != NSXOP || t.Name.Local != "Include" {
				return "", nil, false, malformed("unexpected element {%s}%s inside base64 content", t.Name.Space, t.Name.Local)
			}
			for _, a := range t.Attr {
				if a.Name.Space == "" && a.Name.Local == "href" {
					href = a.Value
				}
			}
			if href == "" {
				return "", nil, false, malformed("xop:Include without href")
			}
			if p.mtom == nil {
				return "", nil, false, fmt.Errorf("%w: xop:Include in a message that is not multipart/related", ErrMTOM)
			}
			// </xop:Include> and the content's end tag must follow.
			for i := 0; i < 2; i++ {
				tok, err := p.nextStructural("after xop:Include")
				if err != nil {
					return "", nil, false, unexpectedEOF(err)
				}
				if _, ok := tok.(xml.EndElement); !ok {
					return "", nil, false, malformed("xop:Include must be the only content of its element")
				}
			}
			return href, nil, true, nil
		}
	}
}

// deferXOP records a content to be read from a later MIME part.
func (p *parser) deferXOP(index int, h ContentHeader, href string, sink ContentSink) error {
	if !strings.HasPrefix(strings.ToLower(href), "cid:") {
		return mtomErr("xop:Include href %q is not a cid: URL", href)
	}
	cid, err := url.PathUnescape(href[4:])
	if err != nil {
		return mtomErr("xop:Include href %q: %v", href, err)
	}
	for _, r := range p.mtom.refs {
		if r.cid == cid {
			return mtomErr("part %q referenced twice", cid)
		}
	}
	p.mtom.refs = append(p.mtom.refs, &xopRef{index: index, h: h, cid: cid, sink: sink})
	return nil
}

// finishXOP reads the parts after the root part and hands each referenced
// part to its sink, in the order the parts arrive. Every reference must be
// satisfied; unreferenced parts are an error.
func (p *parser) finishXOP() error {
	if p.mtom == nil {
		return nil
	}
	if _, err := io.Copy(io.Discard, p.br); err != nil { // rest of the root part (trailing whitespace)
		return p.partErr(err)
	}
	for {
		part, err := p.mtom.mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return p.partErr(err)
		}
		cid := strings.TrimSpace(part.Header.Get("Content-ID"))
		cid = strings.TrimSuffix(strings.TrimPrefix(cid, "<"), ">")
		var ref *xopRef
		for _, r := range p.mtom.refs {
			if r.cid == cid {
				ref = r
			}
		}
		if ref == nil {
			return mtomErr("part %q is not referenced by the envelope", cid)
		}
		if ref.done {
			return mtomErr("part %q sent twice", cid)
		}
		ref.done = true
		body, err := partBody(part)
		if err != nil {
			return err
		}
		if err := ref.sink(ref.index, ref.h, body); err != nil {
			return p.partErr(err)
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return p.partErr(err)
		}
	}
	for _, r := range p.mtom.refs {
		if !r.done {
			return mtomErr("part %q referenced by the envelope is missing", r.cid)
		}
	}
	return nil
}

func (p *parser) partErr(err error) error {
	if errors.Is(err, ErrTooLarge) || (p.total != nil && p.total.left < 0) {
		return fmt.Errorf("%w (%d bytes)", ErrTooLarge, p.lim.MaxBytes)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return mtomErr("truncated multipart body")
	}
	if strings.HasPrefix(err.Error(), "multipart:") {
		return mtomErr("%v", err)
	}
	return err
}

// partBody applies the part's Content-Transfer-Encoding (binary, 8bit, 7bit
// or base64).
func partBody(part *multipart.Part) (io.Reader, error) {
	switch cte := strings.ToLower(strings.TrimSpace(part.Header.Get("Content-Transfer-Encoding"))); cte {
	case "", "binary", "8bit", "7bit":
		return part, nil
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, part), nil
	default:
		return nil, mtomErr("unsupported Content-Transfer-Encoding %q", cte)
	}
}

// mtomOut collects the parts of an MTOM message while its root part is written.
type mtomOut struct {
	mw    *multipart.Writer
	parts []mtomPart
	n     int
}

type mtomPart struct {
	cid  string
	c    Content
	r    io.Reader
	name string
}

// newCID returns a unique Content-ID (without angle brackets).
func newCID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:]) + "@dxhub"
}

// MTOMMessage writes one MTOM message: the root part through a Writer, then
// each referenced content as its own binary part.
type MTOMMessage struct {
	mw      *multipart.Writer
	rootCID string
	action  string
	out     *mtomOut
}

// NewMTOMMessage starts an MTOM message on w for the SOAP action.
func NewMTOMMessage(w io.Writer, action string) *MTOMMessage {
	mw := multipart.NewWriter(w)
	return &MTOMMessage{mw: mw, rootCID: newCID("root"), action: action}
}

// newMTOMMessageWith starts an MTOM message with a given boundary and root
// Content-ID, so that every retry of a request matches one Content-Type.
func newMTOMMessageWith(w io.Writer, action, boundary, rootCID string) (*MTOMMessage, error) {
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(boundary); err != nil {
		return nil, err
	}
	return &MTOMMessage{mw: mw, rootCID: rootCID, action: action}, nil
}

// ContentType is the HTTP Content-Type of the message.
func (m *MTOMMessage) ContentType() string {
	startInfo := `application/soap+xml`
	if m.action != "" {
		startInfo += `; action="` + m.action + `"`
	}
	return fmt.Sprintf(`multipart/related; type=%q; boundary=%q; start="<%s>"; start-info=%q`,
		MediaTypeXOP, m.mw.Boundary(), m.rootCID, startInfo)
}

// Root opens the root part and returns a Writer for the envelope: contents
// written with it become XOP references.
func (m *MTOMMessage) Root() (*Writer, error) {
	h := textproto.MIMEHeader{}
	t := `application/soap+xml`
	if m.action != "" {
		t += `; action="` + m.action + `"`
	}
	h.Set("Content-Type", fmt.Sprintf(`%s; charset=UTF-8; type=%q`, MediaTypeXOP, t))
	h.Set("Content-Transfer-Encoding", "8bit")
	h.Set("Content-ID", "<"+m.rootCID+">")
	pw, err := m.mw.CreatePart(h)
	if err != nil {
		return nil, err
	}
	x := NewWriter(pw)
	m.out = &mtomOut{mw: m.mw}
	x.mtom = m.out
	return x, nil
}

// Finish flushes the root Writer, writes every referenced part from its
// reader and closes the multipart body.
func (m *MTOMMessage) Finish(x *Writer) error {
	if err := x.Flush(); err != nil {
		return err
	}
	for _, p := range m.out.parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Transfer-Encoding", "binary")
		h.Set("Content-ID", "<"+p.cid+">")
		pw, err := m.mw.CreatePart(h)
		if err != nil {
			return err
		}
		n, err := io.Copy(pw, p.r)
		if err != nil {
			return fmt.Errorf("read content %s: %w", p.name, err)
		}
		if p.c.Size > 0 && n != p.c.Size {
			return fmt.Errorf("content %s has %d bytes, declared %d", p.name, n, p.c.Size)
		}
	}
	return m.mw.Close()
}
