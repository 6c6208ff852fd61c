package xta

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// textStream reads the character data of the element the parser has just
// opened, up to its end tag, with XML whitespace removed and character
// references resolved. Large text is read straight from the parser's buffer
// ("takeover") instead of through xml.Decoder, which would materialise the
// whole text as one token; the takeover is used only while the decoder
// provably has no read-ahead (its offset plus the bytes taken over equals
// the bytes consumed), otherwise the reader falls back to decoder tokens.
type textStream struct {
	p       *parser
	pending []byte
	done    bool
	err     error
}

func newTextStream(p *parser) *textStream { return &textStream{p: p} }

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func (t *textStream) Read(b []byte) (int, error) {
	for {
		if len(t.pending) > 0 {
			n := copy(b, t.pending)
			t.pending = t.pending[n:]
			return n, nil
		}
		if t.err != nil {
			return 0, t.err
		}
		if t.done {
			return 0, io.EOF
		}
		if len(b) == 0 {
			return 0, nil
		}
		p := t.p
		if p.dec.InputOffset()+p.skipped == p.consumed() {
			n, atTag, err := t.raw(b)
			if err != nil {
				t.err = err
				continue
			}
			if n > 0 {
				return n, nil
			}
			if !atTag {
				continue // an entity was decoded into pending, or only whitespace was read
			}
		}
		tok, err := p.token()
		if err != nil {
			t.err = unexpectedEOF(err)
			continue
		}
		switch tk := tok.(type) {
		case xml.CharData:
			t.pending = stripSpace(tk)
		case xml.EndElement:
			t.done = true
		case xml.StartElement:
			t.err = malformed("unexpected element %s inside base64 content (xop:Include must be the only content)", tk.Name.Local)
		}
	}
}

func stripSpace(b []byte) []byte {
	out := b[:0]
	for _, c := range b {
		if !isXMLSpace(c) {
			out = append(out, c)
		}
	}
	return out
}

// raw copies non-space text bytes from the parser's buffer into b until a
// '<' (atTag) or the buffer's end. A character reference is decoded into
// t.pending.
func (t *textStream) raw(b []byte) (n int, atTag bool, err error) {
	br := t.p.br
	if _, err := br.Peek(1); err != nil {
		switch {
		case t.p.overLimit():
			return 0, false, fmt.Errorf("%w (%d bytes)", ErrTooLarge, t.p.lim.MaxBytes)
		case err == io.EOF:
			return 0, false, malformed("unexpected end of input in content")
		default:
			return 0, false, fmt.Errorf("xta: read content: %w", err)
		}
	}
	buf, _ := br.Peek(br.Buffered())
	i := 0
	for i < len(buf) && n < len(b) {
		c := buf[i]
		if c == '<' {
			atTag = true
			break
		}
		if c == '&' {
			break
		}
		i++
		if !isXMLSpace(c) {
			b[n] = c
			n++
		}
	}
	_, _ = br.Discard(i)
	t.p.skipped += int64(i)
	if n > 0 || atTag {
		return n, atTag, nil
	}
	if i < len(buf) && buf[i] == '&' {
		return 0, false, t.entity()
	}
	return 0, false, nil
}

// entity reads one reference "&...;" from the buffer.
func (t *textStream) entity() error {
	br := t.p.br
	var ref []byte
	for len(ref) < 12 {
		c, err := br.ReadByte()
		if err != nil {
			return malformed("unterminated character reference")
		}
		t.p.skipped++
		ref = append(ref, c)
		if c == ';' {
			break
		}
	}
	s := string(ref)
	if !strings.HasPrefix(s, "&") || !strings.HasSuffix(s, ";") {
		return malformed("invalid character reference %q", s)
	}
	name := s[1 : len(s)-1]
	var r rune
	switch {
	case strings.HasPrefix(name, "#x"):
		v, err := strconv.ParseUint(name[2:], 16, 32)
		if err != nil {
			return malformed("invalid character reference %q", s)
		}
		r = rune(v)
	case strings.HasPrefix(name, "#"):
		v, err := strconv.ParseUint(name[1:], 10, 32)
		if err != nil {
			return malformed("invalid character reference %q", s)
		}
		r = rune(v)
	default:
		ents := map[string]rune{"amp": '&', "lt": '<', "gt": '>', "quot": '"', "apos": '\''}
		v, ok := ents[name]
		if !ok {
			return malformed("undefined entity %q", s)
		}
		r = v
	}
	if r < 0x80 && isXMLSpace(byte(r)) {
		return nil
	}
	t.pending = []byte(string(r))
	return nil
}

// drain reads the stream to its end tag.
func (t *textStream) drain() error {
	_, err := io.Copy(io.Discard, t)
	return err
}

// ContentHeader holds the attributes of an xta:ContentType element.
type ContentHeader struct {
	ContentType string
	ID          string
	Filename    string
	Description string
	Encoding    string
	Size        int64 // 0 when the attribute is absent
}

func contentHeaderFrom(attrs []xml.Attr) (ContentHeader, error) {
	var h ContentHeader
	for _, a := range attrs {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "contentType":
			h.ContentType = a.Value
		case "filename":
			h.Filename = a.Value
		case "id":
			h.ID = a.Value
		case "contentDescription":
			h.Description = a.Value
		case "encoding":
			h.Encoding = a.Value
		case "size":
			v, err := strconv.ParseInt(strings.TrimSpace(a.Value), 10, 64)
			if err != nil || v < 0 {
				return h, fmt.Errorf("size attribute %q is not a non-negative integer", a.Value)
			}
			h.Size = v
		}
	}
	if h.ContentType == "" {
		return h, errors.New("contentType attribute missing")
	}
	return h, nil
}

// ContentSink receives one decoded content (the Message first, then each
// Attachment) while the envelope is read. r yields the decoded bytes.
type ContentSink func(index int, h ContentHeader, r io.Reader) error

// paramError marks violations of the XTA request structure (→ 9022).
type paramError struct{ msg string }

func (e *paramError) Error() string { return e.msg }

func paramErr(format string, a ...any) error { return &paramError{fmt.Sprintf(format, a...)} }

// streamContainer reads xta:GenericContentContainer (start already read) and
// hands every content element to sink with a streaming base64 decoder.
func (p *parser) streamContainer(start xml.StartElement, sink ContentSink) error {
	if start.Name.Space != NSXTA || start.Name.Local != "GenericContentContainer" {
		return paramErr("expected xta:GenericContentContainer in Body, found {%s}%s", start.Name.Space, start.Name.Local)
	}
	tok, err := p.nextStructural("in GenericContentContainer")
	if err != nil {
		return unexpectedEOF(err)
	}
	cc, ok := tok.(xml.StartElement)
	if !ok {
		return paramErr("empty xta:GenericContentContainer")
	}
	if cc.Name.Local == "EncryptedData" {
		return paramErr("encrypted GenericContentContainer (xenc:EncryptedData) is not supported")
	}
	if cc.Name.Space != NSXTA || cc.Name.Local != "ContentContainer" {
		return paramErr("expected xta:ContentContainer, found {%s}%s", cc.Name.Space, cc.Name.Local)
	}
	index := 0
	for {
		tok, err := p.nextStructural("in ContentContainer")
		if err != nil {
			return unexpectedEOF(err)
		}
		if _, end := tok.(xml.EndElement); end {
			break
		}
		el, _ := tok.(xml.StartElement)
		want := "Attachment"
		if index == 0 {
			want = "Message"
		}
		if el.Name.Space != NSXTA || el.Name.Local != want {
			return paramErr("expected xta:%s, found {%s}%s", want, el.Name.Space, el.Name.Local)
		}
		h, err := contentHeaderFrom(el.Attr)
		if err != nil {
			return paramErr("xta:%s: %v", want, err)
		}
		href, pending, done, err := p.contentStart()
		if err != nil {
			return err
		}
		if href != "" {
			if err := p.deferXOP(index, h, href, sink); err != nil {
				return err
			}
			index++
			continue
		}
		ts := newTextStream(p)
		ts.pending, ts.done = pending, done
		if err := sink(index, h, base64.NewDecoder(base64.StdEncoding, ts)); err != nil {
			return err
		}
		if err := ts.drain(); err != nil {
			return err
		}
		index++
	}
	if index == 0 {
		return paramErr("xta:ContentContainer without xta:Message")
	}
	tok, err = p.nextStructural("in GenericContentContainer")
	if err != nil {
		return unexpectedEOF(err)
	}
	if _, end := tok.(xml.EndElement); !end {
		return paramErr("unexpected content after xta:ContentContainer")
	}
	return nil
}

// ParseContainerEnvelope reads a plain SOAP 1.2 envelope whose Body may hold
// an xta:GenericContentContainer (a getMessage response or a sendMessage
// request): header blocks and any other body element are returned as trees,
// while each content of the container is streamed to sink as it is decoded,
// so attachments are never held in memory. Errors wrap ErrMalformed or
// ErrTooLarge, or are sink's own errors.
func ParseContainerEnvelope(r io.Reader, lim Limits, sink ContentSink) (*Envelope, error) {
	return ParseMessage(ContentTypeSOAP12, r, lim, sink)
}

// ParseMessage is ParseContainerEnvelope for a message of the HTTP
// Content-Type ct, plain SOAP or MTOM (multipart/related): contents sent as
// XOP parts are handed to sink when their part arrives, after the envelope
// was read; inline contents while it is read. Errors additionally wrap
// ErrMTOM for packaging errors.
func ParseMessage(ct string, r io.Reader, lim Limits, sink ContentSink) (*Envelope, error) {
	p, err := newMessageParser(ct, r, lim)
	if err != nil {
		return nil, err
	}
	env, err := p.envelope(func(p *parser, start xml.StartElement) error {
		if start.Name.Space == NSXTA && start.Name.Local == "GenericContentContainer" {
			if err := p.streamContainer(start, sink); err != nil {
				var pe *paramError
				if errors.As(err, &pe) {
					return malformed("%s", pe.msg)
				}
				return err
			}
			return nil
		}
		el, err := p.tree(start, 2)
		if err != nil {
			return err
		}
		p.env.Body = append(p.env.Body, el)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := p.finishXOP(); err != nil {
		return nil, err
	}
	return env, nil
}
