package xta

import (
	"bufio"
	"encoding/xml"
	"io"
	"strings"
)

// Writer emits prefixed XML for SOAP envelopes. Prefixes used: s (SOAP 1.2),
// wsa, xta, osci, oscimeta; all are declared on the Envelope by StartEnvelope.
// The first write error sticks and is returned by Flush.
type Writer struct {
	w   *bufio.Writer
	err error
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
// Content-Type, or "".
func soapActionFromContentType(ct string) string {
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
