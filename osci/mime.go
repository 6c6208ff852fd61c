package osci

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strconv"
	"strings"
)

// Part is one MIME part of an OSCI message.
type Part struct {
	ContentID   string // without angle brackets
	ContentType string
	Data        []byte
}

// ErrMIME marks a body that is not a well-formed OSCI MIME document.
var ErrMIME = errors.New("osci: malformed MIME body")

// MaxPartSize bounds one part when parsing (OSCI containers are limited to 40 MB
// by XTA; the limit leaves room for base64 and encryption overhead).
const MaxPartSize = 64 << 20

// WriteMIME frames parts as an OSCI MIME document, including its own MIME
// headers. The first part is the SOAP envelope.
func WriteMIME(parts []Part) []byte {
	var rb [12]byte
	_, _ = rand.Read(rb[:])
	boundary := "MIMEBoundary_" + hex.EncodeToString(rb[:])
	var b bytes.Buffer
	b.WriteString("MIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: Multipart/Related; boundary=\"%s\"; type=\"text/xml\"\r\n\r\n", boundary)
	for _, p := range parts {
		fmt.Fprintf(&b, "--%s\r\n", boundary)
		fmt.Fprintf(&b, "Content-Type: %s\r\n", p.ContentType)
		if strings.HasPrefix(p.ContentType, "text/xml") {
			b.WriteString("Content-Transfer-Encoding: 8bit\r\n")
			fmt.Fprintf(&b, "Content-ID: <%s>\r\n", p.ContentID)
			fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(p.Data))
			b.Write(p.Data)
		} else {
			enc := base64.StdEncoding.EncodeToString(p.Data)
			b.WriteString("Content-Transfer-Encoding: base64\r\n")
			fmt.Fprintf(&b, "Content-ID: <%s>\r\n", p.ContentID)
			fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(enc))
			for len(enc) > 76 {
				b.WriteString(enc[:76])
				b.WriteString("\r\n")
				enc = enc[76:]
			}
			b.WriteString(enc)
		}
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}

// ParseMIME reads an OSCI MIME document (with its own MIME headers). The first
// part must be the SOAP envelope (text/xml).
func ParseMIME(body []byte) ([]Part, error) {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(body)))
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("%w: MIME headers: %v", ErrMIME, err)
	}
	mt, params, err := parseMediaType(hdr.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("%w: Content-Type %q: %v", ErrMIME, hdr.Get("Content-Type"), err)
	}
	if mt != "multipart/related" || params["boundary"] == "" {
		return nil, fmt.Errorf("%w: Content-Type %q is not multipart/related with a boundary", ErrMIME, mt)
	}
	mr := multipart.NewReader(tp.R, params["boundary"])
	var parts []Part
	seen := map[string]bool{}
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: part %d: %v", ErrMIME, len(parts)+1, err)
		}
		data, err := io.ReadAll(io.LimitReader(p, MaxPartSize+1))
		if err != nil {
			return nil, fmt.Errorf("%w: part %d: %v", ErrMIME, len(parts)+1, err)
		}
		if len(data) > MaxPartSize {
			return nil, fmt.Errorf("%w: part %d exceeds %d bytes", ErrMIME, len(parts)+1, MaxPartSize)
		}
		switch strings.ToLower(p.Header.Get("Content-Transfer-Encoding")) {
		case "base64":
			dec, err := base64.StdEncoding.DecodeString(strings.Map(dropSpace, string(data)))
			if err != nil {
				return nil, fmt.Errorf("%w: part %d: base64: %v", ErrMIME, len(parts)+1, err)
			}
			data = dec
		case "", "8bit", "7bit", "binary":
		default:
			return nil, fmt.Errorf("%w: part %d: transfer encoding %q", ErrMIME, len(parts)+1, p.Header.Get("Content-Transfer-Encoding"))
		}
		if cl := p.Header.Get("Content-Length"); cl != "" && strings.ToLower(p.Header.Get("Content-Transfer-Encoding")) != "base64" {
			if n, err := strconv.Atoi(cl); err != nil || n != len(data) {
				return nil, fmt.Errorf("%w: part %d: Content-Length %q but %d bytes", ErrMIME, len(parts)+1, cl, len(data))
			}
		}
		id := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(p.Header.Get("Content-ID")), "<"), ">")
		if id == "" {
			return nil, fmt.Errorf("%w: part %d without Content-ID", ErrMIME, len(parts)+1)
		}
		if seen[id] {
			return nil, fmt.Errorf("%w: duplicate Content-ID %q", ErrMIME, id)
		}
		seen[id] = true
		parts = append(parts, Part{ContentID: id, ContentType: p.Header.Get("Content-Type"), Data: data})
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%w: no parts", ErrMIME)
	}
	if !strings.HasPrefix(strings.ToLower(parts[0].ContentType), "text/xml") {
		return nil, fmt.Errorf("%w: first part is %q, not the text/xml envelope", ErrMIME, parts[0].ContentType)
	}
	return parts, nil
}

// PartByID finds a part by Content-ID; uri may be "cid:…".
func PartByID(parts []Part, uri string) (Part, bool) {
	id := strings.TrimPrefix(uri, "cid:")
	for _, p := range parts {
		if p.ContentID == id {
			return p, true
		}
	}
	return Part{}, false
}

func dropSpace(r rune) rune {
	if r == ' ' || r == '\r' || r == '\n' || r == '\t' {
		return -1
	}
	return r
}

// parseMediaType accepts the unquoted "type=text/xml" parameter other OSCI
// implementations write, which mime.ParseMediaType rejects.
func parseMediaType(v string) (string, map[string]string, error) {
	mt, params, err := mime.ParseMediaType(v)
	if err == nil {
		return mt, params, nil
	}
	fields := strings.Split(v, ";")
	mt = strings.ToLower(strings.TrimSpace(fields[0]))
	params = map[string]string{}
	for _, f := range fields[1:] {
		k, val, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return "", nil, err
		}
		params[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(val), `"`)
	}
	return mt, params, nil
}
