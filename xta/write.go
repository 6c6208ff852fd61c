package xta

import (
	"bufio"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/url"
	"strconv"
	"strings"
)

// Writer emits prefixed XML for SOAP envelopes. Prefixes used: s (SOAP 1.2),
// wsa, xta, osci, oscimeta; all are declared on the Envelope by StartEnvelope.
// The first write error sticks and is returned by Flush.
type Writer struct {
	w    *bufio.Writer
	err  error
	mtom *mtomOut // non-nil while writing the root part of an MTOM message
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriterSize(w, 32<<10)} }

// Raw writes s unescaped.
func (x *Writer) Raw(s string) {
	if x.err == nil {
		_, x.err = x.w.WriteString(s)
	}
}

// Start writes a start tag; attrs are name/value pairs (values are escaped).
func (x *Writer) Start(name string, attrs ...string) {
	x.Raw("<" + name)
	for i := 0; i+1 < len(attrs); i += 2 {
		x.Raw(" " + attrs[i] + `="`)
		x.Text(attrs[i+1])
		x.Raw(`"`)
	}
	x.Raw(">")
}

// End writes an end tag.
func (x *Writer) End(name string) { x.Raw("</" + name + ">") }

// Text writes escaped character data.
func (x *Writer) Text(s string) {
	if x.err == nil {
		x.err = xml.EscapeText(x.w, []byte(s))
	}
}

// Elem writes <name attrs>text</name>.
func (x *Writer) Elem(name, text string, attrs ...string) {
	x.Start(name, attrs...)
	x.Text(text)
	x.End(name)
}

// OptElem writes Elem only when text is not empty.
func (x *Writer) OptElem(name, text string, attrs ...string) {
	if text != "" {
		x.Elem(name, text, attrs...)
	}
}

// Flush flushes buffered output and returns the first error.
func (x *Writer) Flush() error {
	if x.err == nil {
		x.err = x.w.Flush()
	}
	return x.err
}

// Err returns the first write error.
func (x *Writer) Err() error { return x.err }

// Write writes p unescaped (for streaming encoders such as base64); it
// implements io.Writer.
func (x *Writer) Write(p []byte) (int, error) {
	if x.err != nil {
		return 0, x.err
	}
	n, err := x.w.Write(p)
	x.err = err
	return n, err
}

// Fail records err as the Writer's error (if none is recorded yet), so a
// producer can abort a streamed document.
func (x *Writer) Fail(err error) {
	if x.err == nil && err != nil {
		x.err = err
	}
}

// StartEnvelope writes the XML declaration, the Envelope with all namespace
// declarations, the Header with the WS-Addressing blocks of a, then calls
// headers for further header blocks, and opens the Body.
func (x *Writer) StartEnvelope(a Addressing, headers func(x *Writer)) {
	x.Raw(`<?xml version="1.0" encoding="UTF-8"?>`)
	x.Start("s:Envelope",
		"xmlns:s", NSSOAP12,
		"xmlns:wsa", NSWSA,
		"xmlns:xta", NSXTA,
		"xmlns:osci", NSOSCI,
		"xmlns:oscimeta", NSOSCIMeta)
	x.Start("s:Header")
	x.OptElem("wsa:Action", a.Action)
	x.OptElem("wsa:MessageID", a.MessageID)
	x.OptElem("wsa:To", a.To)
	x.OptElem("wsa:RelatesTo", a.RelatesTo)
	if headers != nil {
		headers(x)
	}
	x.End("s:Header")
	x.Start("s:Body")
}

// EndEnvelope closes Body and Envelope.
func (x *Writer) EndEnvelope() {
	x.End("s:Body")
	x.End("s:Envelope")
}

// soapActionFromContentType extracts the action parameter of a SOAP 1.2
// Content-Type (for MTOM: of its start-info), or "".
func soapActionFromContentType(ct string) string {
	if mt, params, err := mime.ParseMediaType(ct); err == nil {
		if a := params["action"]; a != "" {
			return strings.TrimSpace(a)
		}
		if mt == "multipart/related" && params["start-info"] != "" {
			return soapActionFromContentType(params["start-info"])
		}
		return ""
	}
	// Lenient fallback for unquoted parameter values (action=http://…).
	for _, part := range strings.Split(ct, ";")[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "action") {
			return unquote(v)
		}
	}
	return ""
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return strings.TrimSpace(s)
}

// WriteContent writes one xta:ContentType element (name is "xta:Message" or
// "xta:Attachment") with the bytes from r. In a plain message the bytes are
// base64-encoded on the fly; in the root part of an MTOM message (see
// MTOMMessage) an xop:Include is written and r is copied into its own part
// by MTOMMessage.Finish, so r must stay open until then. Either way the
// content is streamed, never held in memory. c.Size, when set, must match.
func (x *Writer) WriteContent(name string, c Content, r io.Reader) error {
	attrs := []string{"contentType", c.ContentType}
	if c.Description != "" {
		attrs = append(attrs, "contentDescription", c.Description)
	}
	if c.Encoding != "" {
		attrs = append(attrs, "encoding", c.Encoding)
	}
	if c.Filename != "" {
		attrs = append(attrs, "filename", c.Filename)
	}
	if c.ID != "" {
		attrs = append(attrs, "id", c.ID)
	}
	if c.Size > 0 {
		attrs = append(attrs, "size", strconv.FormatInt(c.Size, 10))
	}
	x.Start(name, attrs...)
	if x.mtom != nil {
		x.mtom.n++
		cid := newCID(fmt.Sprintf("part%d", x.mtom.n))
		x.Raw(`<xop:Include xmlns:xop="` + NSXOP + `" href="cid:` + url.PathEscape(cid) + `"/>`)
		x.mtom.parts = append(x.mtom.parts, mtomPart{cid: cid, c: c, r: r, name: name})
		x.End(name)
		return x.Err()
	}
	enc := base64.NewEncoder(base64.StdEncoding, x)
	n, err := io.Copy(enc, r)
	if err != nil {
		return fmt.Errorf("read content: %w", err)
	}
	if err := enc.Close(); err != nil {
		return err
	}
	if c.Size > 0 && n != c.Size {
		return fmt.Errorf("content has %d bytes, declared %d", n, c.Size)
	}
	x.End(name)
	return x.Err()
}
