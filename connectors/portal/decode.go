package portal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dxhub/dxhub/routing"
)

// Defaults for zero-valued limits.
const (
	DefaultMaxBodyBytes       int64 = 100 << 20
	DefaultMaxJSONBytes       int64 = 10 << 20
	DefaultMaxAttachmentBytes int64 = 50 << 20
	DefaultMaxAttachments           = 50
	DefaultMaxJSONDepth             = 64
)

// Field limits of the intake JSON.
const (
	maxReferenceLen = 200 // characters
	maxTextLen      = 500 // characters, for names, addresses, mailbox, e-mail
	maxServiceLen   = 200
	maxFilenameLen  = 255 // bytes of UTF-8
	defaultCType    = "application/octet-stream"
)

// DecodeLimits bounds what DecodeSubmission accepts. Zero values take the
// Default* constants.
type DecodeLimits struct {
	MaxJSONBytes       int64 // size of the JSON document
	MaxJSONDepth       int   // nesting depth; the root object is depth 1
	MaxAttachments     int   // inline (base64) attachments
	MaxAttachmentBytes int64 // decoded size of one inline attachment
}

func (l DecodeLimits) withDefaults() DecodeLimits {
	if l.MaxJSONBytes <= 0 {
		l.MaxJSONBytes = DefaultMaxJSONBytes
	}
	if l.MaxJSONDepth <= 0 {
		l.MaxJSONDepth = DefaultMaxJSONDepth
	}
	if l.MaxAttachments <= 0 {
		l.MaxAttachments = DefaultMaxAttachments
	}
	if l.MaxAttachmentBytes <= 0 {
		l.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	return l
}

// Intake is a decoded submission whose fields passed every check that needs no
// configuration. Whether the tenant and service are known and whether the
// portal may submit for the tenant is for the caller to decide.
type Intake struct {
	Tenant      string // AGS, 8 digits
	Service     string
	Reference   string
	Applicant   routing.Applicant
	Form        json.RawMessage // a JSON object, byte for byte as sent
	Attachments []InlineAttachment
}

// InlineAttachment is an attachment carried base64-encoded in the JSON. Its
// content has been checked to be valid base64; Open decodes it as it is read,
// so the decoded bytes are never held whole in memory.
type InlineAttachment struct {
	Filename    string // sanitised, see SanitizeFilename
	ContentType string // normalised media type, default application/octet-stream
	Size        int64  // decoded size in bytes
	content     []byte // base64 text without quotes and JSON escapes
}

// Open returns a reader of the decoded attachment bytes.
func (a InlineAttachment) Open() io.Reader {
	return base64.NewDecoder(base64.StdEncoding, bytes.NewReader(a.content))
}

// DecodeSubmission reads one intake JSON document from r and checks it:
// syntax (with line, column and byte offset of an error), nesting depth,
// unknown and duplicate members, JSON types, required fields, field formats,
// attachment filenames, base64 content and the size limits.
//
// The document is read into memory, bounded by lim.MaxJSONBytes. Every outcome
// of decoding is a *Problem (use errors.As); an error that is not a *Problem
// comes from reading r (for example *http.MaxBytesError or a broken connection).
//
// The JSON members are: tenant, service, reference, applicant {mailbox, name,
// address {street, houseNumber, postalCode, city, country}, email}, form (an
// object) and attachments [{filename, contentType, content (standard base64)}].
// A null member counts as absent.
func DecodeSubmission(r io.Reader, lim DecodeLimits) (*Intake, error) {
	return decodeSized(r, lim, -1)
}

// decodeSized is DecodeSubmission with the expected size (-1 if unknown) to
// read into one buffer.
func decodeSized(r io.Reader, lim DecodeLimits, sizeHint int64) (*Intake, error) {
	lim = lim.withDefaults()
	raw, err := readBounded(r, lim.MaxJSONBytes, sizeHint)
	if err != nil {
		return nil, fmt.Errorf("portal: read submission JSON: %w", err)
	}
	if int64(len(raw)) > lim.MaxJSONBytes {
		return nil, newProblem(CodeTooLarge, "the submission JSON exceeds the limit of %d bytes", lim.MaxJSONBytes)
	}
	return decodeDocument(raw, lim)
}

// readBounded reads r to its end, but at most limit+1 bytes.
func readBounded(r io.Reader, limit, sizeHint int64) ([]byte, error) {
	capacity := int64(4096)
	if sizeHint >= 0 {
		capacity = sizeHint + 1 // +1 to see EOF without growing
	}
	buf := make([]byte, 0, min(capacity, limit+1))
	lr := io.LimitReader(r, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// decodeState walks one document. Before the walk the document is checked for
// its nesting depth and validity as a whole (json.Valid), so the walk is a
// simple cursor over known-valid JSON that needs no syntax handling.
type decodeState struct {
	raw  []byte
	pos  int
	lim  DecodeLimits
	errs []FieldError
}

func decodeDocument(raw []byte, lim DecodeLimits) (*Intake, error) {
	d := &decodeState{raw: raw, lim: lim}
	if len(bytes.TrimSpace(raw)) == 0 {
		p := newProblem(CodeMalformedJSON, "the request body is empty; expected a JSON object")
		d.locate(p, 0)
		return nil, p
	}
	if off := depthExceeded(raw, lim.MaxJSONDepth); off >= 0 {
		line, col := position(raw, int64(off))
		p := newProblem(CodeTooDeep, "JSON nesting exceeds the maximum depth of %d at line %d, column %d (byte offset %d)",
			lim.MaxJSONDepth, line, col, off)
		d.locate(p, int64(off))
		return nil, p
	}
	if !json.Valid(raw) {
		return nil, d.syntax()
	}
	if b := d.peek(); b != '{' {
		return nil, fieldProblem(CodeInvalidField, "", "the submission must be a JSON object, got %s", kind(b))
	}
	d.pos++
	in := &Intake{}
	var hasApplicant, hasForm bool
	err := d.object("", func(key, ptr string) error {
		switch key {
		case "tenant":
			return d.str(ptr, &in.Tenant)
		case "service":
			return d.str(ptr, &in.Service)
		case "reference":
			return d.str(ptr, &in.Reference)
		case "applicant":
			return d.applicant(ptr, &in.Applicant, &hasApplicant)
		case "form":
			return d.form(ptr, in, &hasForm)
		case "attachments":
			return d.attachments(ptr, in)
		}
		return unknownField(ptr, key, "the submission", "tenant, service, reference, applicant, form, attachments")
	})
	if err != nil {
		return nil, err
	}

	d.required("/tenant", in.Tenant)
	d.required("/service", in.Service)
	d.required("/reference", in.Reference)
	if !hasApplicant {
		d.missing("/applicant", "is required")
	} else {
		d.required("/applicant/name", in.Applicant.Name)
	}
	if !hasForm {
		d.missing("/form", "is required (a JSON object with the form data)")
	}
	d.validate(in)
	if len(d.errs) > 0 {
		return nil, d.fieldErrors()
	}
	return in, nil
}

// syntax describes why the document is not valid JSON, with the position of
// the offending byte.
func (d *decodeState) syntax() *Problem {
	var v json.RawMessage
	err := json.Unmarshal(d.raw, &v)
	if err == nil { // cannot happen after json.Valid failed; stay safe
		err = errors.New("invalid JSON")
	}
	var se *json.SyntaxError
	var off int64
	switch {
	case errors.As(err, &se) && se.Error() == "unexpected end of JSON input":
		off = se.Offset
	case errors.As(err, &se):
		off = se.Offset - 1 // Offset counts the offending byte as read
	}
	off = max(0, min(off, int64(len(d.raw))))
	line, col := position(d.raw, off)
	p := newProblem(CodeMalformedJSON, "malformed JSON at line %d, column %d (byte offset %d): %s",
		line, col, off, strings.TrimPrefix(err.Error(), "json: "))
	d.locate(p, off)
	return p
}

// outOfStep reports a walk that lost its place; it cannot happen on a document
// json.Valid accepted, but it keeps the walk from looping or panicking.
func (d *decodeState) outOfStep() *Problem {
	p := newProblem(CodeMalformedJSON, "unexpected %s at byte offset %d", kind(d.peek()), d.pos)
	d.locate(p, int64(min(d.pos, len(d.raw))))
	return p
}

func (d *decodeState) locate(p *Problem, off int64) {
	p.Line, p.Column = position(d.raw, off)
	p.Offset = &off
}

// position returns the 1-based line and byte column of offset off.
func position(raw []byte, off int64) (line, col int) {
	before := raw[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// depthExceeded returns the offset of the first '{' or '[' nested deeper than
// limit, or -1. It respects strings and works on invalid JSON too, so a
// pathologically deep document is reported as too deep, not as malformed.
func depthExceeded(raw []byte, limit int) int {
	depth, inString := 0, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > limit {
				return i
			}
		case '}', ']':
			depth--
		}
	}
	return -1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// peek skips white space and returns the next byte, 0 at the end.
func (d *decodeState) peek() byte {
	for d.pos < len(d.raw) && isSpace(d.raw[d.pos]) {
		d.pos++
	}
	if d.pos >= len(d.raw) {
		return 0
	}
	return d.raw[d.pos]
}

// stringLit consumes the string literal at the cursor and returns it with its quotes.
func (d *decodeState) stringLit() []byte {
	s := d.pos
	for i := s + 1; i < len(d.raw); i++ {
		switch d.raw[i] {
		case '\\':
			i++
		case '"':
			d.pos = i + 1
			return d.raw[s:d.pos]
		}
	}
	d.pos = len(d.raw)
	return d.raw[s:]
}

// readString consumes a string literal and returns its value.
func (d *decodeState) readString() string {
	lit := d.stringLit()
	if len(lit) >= 2 {
		inner := lit[1 : len(lit)-1]
		if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			return string(inner)
		}
	}
	var s string
	_ = json.Unmarshal(lit, &s) // escapes, or invalid UTF-8 replaced by U+FFFD
	return s
}

// skipValue consumes the value at the cursor.
func (d *decodeState) skipValue() {
	switch d.peek() {
	case '"':
		d.stringLit()
	case '{', '[':
		depth := 0
		for d.pos < len(d.raw) {
			switch d.raw[d.pos] {
			case '"':
				d.stringLit()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					d.pos++
					return
				}
			}
			d.pos++
		}
	default: // number, true, false, null
		for d.pos < len(d.raw) {
			switch c := d.raw[d.pos]; {
			case c == ',' || c == '}' || c == ']' || isSpace(c):
				return
			}
			d.pos++
		}
	}
}

// object reads the members of an object whose '{' was consumed.
func (d *decodeState) object(ptr string, member func(key, ptr string) error) error {
	if d.peek() == '}' {
		d.pos++
		return nil
	}
	seen := make(map[string]struct{}, 8)
	for {
		if d.peek() != '"' {
			return d.outOfStep()
		}
		key := d.readString()
		if d.peek() != ':' {
			return d.outOfStep()
		}
		d.pos++
		p := ptr + "/" + escapePointer(key)
		if _, dup := seen[key]; dup {
			d.addErr(p, CodeInvalidField, "duplicate member %q", key)
			d.skipValue()
		} else {
			seen[key] = struct{}{}
			if err := member(key, p); err != nil {
				return err
			}
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return d.outOfStep()
		}
	}
}

func unknownField(ptr, key, where, allowed string) *Problem {
	return fieldProblem(CodeUnknownField, ptr, "unknown field %q in %s (allowed: %s)", key, where, allowed)
}

// str reads a string member; null leaves dst empty.
func (d *decodeState) str(ptr string, dst *string) error {
	switch d.peek() {
	case '"':
		*dst = d.readString()
	case 'n':
		d.skipValue()
	default:
		d.wrongType(ptr, "a string")
	}
	return nil
}

// wrongType records a type error and skips the value.
func (d *decodeState) wrongType(ptr, want string) {
	d.addErr(ptr, CodeInvalidField, "must be %s, got %s", want, kind(d.peek()))
	d.skipValue()
}

// open consumes the opening delimiter of a container (reporting true), or
// skips a null (false, present=false), or records a type error and skips the
// value (false, present=true).
func (d *decodeState) open(ptr string, delim byte, want string) (ok, present bool) {
	switch d.peek() {
	case delim:
		d.pos++
		return true, true
	case 'n':
		d.skipValue()
		return false, false
	}
	d.wrongType(ptr, want)
	return false, true
}

func (d *decodeState) applicant(ptr string, a *routing.Applicant, present *bool) error {
	ok, pr := d.open(ptr, '{', "an object")
	*present = pr
	if !ok {
		return nil
	}
	return d.object(ptr, func(key, p string) error {
		switch key {
		case "mailbox":
			return d.str(p, &a.Mailbox)
		case "name":
			return d.str(p, &a.Name)
		case "email":
			return d.str(p, &a.Email)
		case "address":
			return d.address(p, &a.Address)
		}
		return unknownField(p, key, "applicant", "mailbox, name, address, email")
	})
}

func (d *decodeState) address(ptr string, a *routing.Address) error {
	if ok, _ := d.open(ptr, '{', "an object"); !ok {
		return nil
	}
	return d.object(ptr, func(key, p string) error {
		switch key {
		case "street":
			return d.str(p, &a.Street)
		case "houseNumber":
			return d.str(p, &a.HouseNumber)
		case "postalCode":
			return d.str(p, &a.PostalCode)
		case "city":
			return d.str(p, &a.City)
		case "country":
			return d.str(p, &a.Country)
		}
		return unknownField(p, key, "applicant address", "street, houseNumber, postalCode, city, country")
	})
}

// form captures the form object byte for byte.
func (d *decodeState) form(ptr string, in *Intake, present *bool) error {
	switch d.peek() {
	case '{':
		start := d.pos
		d.skipValue()
		in.Form = append(json.RawMessage(nil), d.raw[start:d.pos]...)
		*present = true
	case 'n':
		d.skipValue()
	default:
		*present = true
		d.wrongType(ptr, "a JSON object with the form data")
	}
	return nil
}

func (d *decodeState) attachments(ptr string, in *Intake) error {
	if ok, _ := d.open(ptr, '[', "an array"); !ok {
		return nil
	}
	if d.peek() == ']' {
		d.pos++
		return nil
	}
	for i := 0; ; i++ {
		p := fmt.Sprintf("%s/%d", ptr, i)
		if i >= d.lim.MaxAttachments {
			return fieldProblem(CodeTooLarge, p, "more than %d attachments", d.lim.MaxAttachments)
		}
		if ok, _ := d.open(p, '{', "an attachment object"); ok {
			if err := d.attachment(p, in); err != nil {
				return err
			}
		}
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return d.outOfStep()
		}
	}
}

// attachment reads one inline attachment object whose '{' was consumed.
func (d *decodeState) attachment(ptr string, in *Intake) error {
	var (
		name, ctype string
		hasName     bool
		content     []byte
		hasContent  bool
		size        int64
	)
	err := d.object(ptr, func(key, p string) error {
		switch key {
		case "filename":
			hasName = true
			return d.str(p, &name)
		case "contentType":
			return d.str(p, &ctype)
		case "content":
			content, size, hasContent = d.base64Content(p)
			return nil
		}
		return unknownField(p, key, "an attachment", "filename, contentType, content")
	})
	if err != nil {
		return err
	}
	var clean string
	if !hasName {
		d.missing(ptr+"/filename", "is required")
	} else {
		var ferr error
		if clean, ferr = SanitizeFilename(name); ferr != nil {
			return fieldProblem(CodeInvalidFilename, ptr+"/filename", "%s: %v", ptr+"/filename", ferr)
		}
	}
	if !hasContent {
		d.missing(ptr+"/content", "is required (base64)")
	}
	if size > d.lim.MaxAttachmentBytes {
		return fieldProblem(CodeTooLarge, ptr+"/content", "attachment %q is %d bytes, more than the limit of %d bytes",
			clean, size, d.lim.MaxAttachmentBytes)
	}
	ct, cerr := NormalizeContentType(ctype)
	if cerr != nil {
		d.addErr(ptr+"/contentType", CodeInvalidField, "%v", cerr)
	}
	in.Attachments = append(in.Attachments, InlineAttachment{Filename: clean, ContentType: ct, Size: size, content: content})
	return nil
}

// base64Content reads the content member. The string stays in the raw document
// (no copy unless it contains JSON escapes) and is checked as base64 by
// streaming it through a decoder.
func (d *decodeState) base64Content(ptr string) (content []byte, size int64, present bool) {
	switch d.peek() {
	case '"':
	case 'n':
		d.skipValue()
		return nil, 0, false
	default:
		d.wrongType(ptr, "a base64 string")
		return nil, 0, true
	}
	lit := d.stringLit()
	if len(lit) < 2 {
		return nil, 0, true
	}
	content = lit[1 : len(lit)-1]
	if bytes.IndexByte(content, '\\') >= 0 { // JSON escapes such as \/ or \n: unescape
		var s string
		_ = json.Unmarshal(lit, &s)
		content = []byte(s)
	}
	size, err := io.Copy(io.Discard, base64.NewDecoder(base64.StdEncoding, bytes.NewReader(content)))
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			d.addErr(ptr, CodeInvalidField, "not valid standard base64 (RFC 4648 §4, with padding): illegal data at input byte %d", int64(ce))
		} else {
			d.addErr(ptr, CodeInvalidField, "not valid base64: %v", err)
		}
		return nil, 0, true
	}
	return content, size, true
}

// addErr records a field error that does not stop the walk.
func (d *decodeState) addErr(ptr, code, format string, args ...any) {
	d.errs = append(d.errs, FieldError{Field: ptr, Code: code, Detail: fmt.Sprintf(format, args...)})
}

func (d *decodeState) missing(ptr, why string) { d.addErr(ptr, CodeMissingField, "%s", why) }

// required records a missing-field error if s is empty.
func (d *decodeState) required(ptr, s string) {
	if strings.TrimSpace(s) == "" {
		if d.hasErr(ptr) {
			return // already reported (e.g. wrong type)
		}
		d.missing(ptr, "is required and must not be empty")
	}
}

func (d *decodeState) hasErr(ptr string) bool {
	for _, e := range d.errs {
		if e.Field == ptr {
			return true
		}
	}
	return false
}

// validate checks the formats of the present fields.
func (d *decodeState) validate(in *Intake) {
	check := func(ptr, v string, maxLen int) {
		if v == "" || d.hasErr(ptr) {
			return
		}
		if n := utf8.RuneCountInString(v); n > maxLen {
			d.addErr(ptr, CodeInvalidField, "is %d characters long, more than the maximum of %d", n, maxLen)
			return
		}
		if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
			d.addErr(ptr, CodeInvalidField, "contains a control character at byte %d", i)
		}
	}
	if in.Tenant != "" && !d.hasErr("/tenant") && !isAGS(in.Tenant) {
		d.addErr("/tenant", CodeInvalidField, "must be an AGS (Amtlicher Gemeindeschlüssel) of exactly 8 digits, got %q", clip(in.Tenant, 40))
	}
	check("/service", in.Service, maxServiceLen)
	check("/reference", in.Reference, maxReferenceLen)
	a := &in.Applicant
	check("/applicant/name", a.Name, maxTextLen)
	check("/applicant/mailbox", a.Mailbox, maxTextLen)
	if a.Mailbox != "" && strings.ContainsFunc(a.Mailbox, unicode.IsSpace) && !d.hasErr("/applicant/mailbox") {
		d.addErr("/applicant/mailbox", CodeInvalidField, "a Postfach handle must not contain white space")
	}
	check("/applicant/email", a.Email, maxTextLen)
	if a.Email != "" && !d.hasErr("/applicant/email") {
		if addr, err := mail.ParseAddress(a.Email); err != nil || addr.Address != a.Email {
			d.addErr("/applicant/email", CodeInvalidField, "must be a plain e-mail address like name@example.org, got %q", clip(a.Email, 80))
		}
	}
	check("/applicant/address/street", a.Address.Street, maxTextLen)
	check("/applicant/address/houseNumber", a.Address.HouseNumber, maxTextLen)
	check("/applicant/address/postalCode", a.Address.PostalCode, maxTextLen)
	check("/applicant/address/city", a.Address.City, maxTextLen)
	if c := a.Address.Country; c != "" && !d.hasErr("/applicant/address/country") && !isCountry(c) {
		d.addErr("/applicant/address/country", CodeInvalidField, "must be an ISO 3166-1 alpha-2 code such as \"DE\", got %q", clip(c, 40))
	}
}

// fieldErrors turns the collected field errors into one problem: with a single
// error its own code, otherwise missing-field if any field is missing, else
// invalid-field; errors[] always lists them all.
func (d *decodeState) fieldErrors() *Problem {
	first := d.errs[0]
	if len(d.errs) == 1 {
		p := fieldProblem(first.Code, first.Field, "%s: %s", displayPtr(first.Field), first.Detail)
		p.Errors = d.errs
		return p
	}
	code := CodeInvalidField
	for _, e := range d.errs {
		if e.Code == CodeMissingField {
			code = CodeMissingField
			break
		}
	}
	parts := make([]string, 0, len(d.errs))
	for _, e := range d.errs {
		parts = append(parts, displayPtr(e.Field)+": "+e.Detail)
	}
	p := fieldProblem(code, first.Field, "%d fields are missing or invalid: %s", len(d.errs), strings.Join(parts, "; "))
	p.Errors = d.errs
	return p
}

// SanitizeFilename makes a portal-supplied filename safe to store and to hand on:
// only the base name is kept (after the last / or \), control and invisible
// formatting characters (bidi overrides, zero-width) are removed, characters that
// are invalid on common file systems (<>:"|?*) and invalid UTF-8 become "_",
// surrounding blanks and leading and trailing dots are trimmed, the result is cut
// to 255 bytes keeping a short extension, and a Windows device name (CON, NUL,
// COM1, …) gets a "_" prefix. It fails if nothing usable is left.
func SanitizeFilename(name string) (string, error) {
	base := name
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	var b strings.Builder
	for i, r := range base {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(base[i:], "\uFFFD"):
			b.WriteByte('_')
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	// Leading dots would hide the file (".htaccess") or make it a relative
	// path component; trailing dots and blanks are dropped by Windows.
	s := strings.Trim(strings.TrimSpace(b.String()), ". ")
	if s == "" {
		if strings.TrimSpace(name) == "" {
			return "", errors.New("the filename is empty")
		}
		return "", fmt.Errorf("the filename %q has no usable characters after removing the path, control characters and leading and trailing dots", clip(name, 100))
	}
	if len(s) > maxFilenameLen {
		ext := ""
		if i := strings.LastIndexByte(s, '.'); i > 0 && len(s)-i <= 16 {
			ext = s[i:]
		}
		stem := s[:maxFilenameLen-len(ext)]
		for len(stem) > 0 && !utf8.ValidString(stem) { // do not cut a rune in half
			stem = stem[:len(stem)-1]
		}
		s = stem + ext
	}
	if windowsReserved(s) {
		s = "_" + s
	}
	return s, nil
}

// windowsReserved reports whether name is a device name that Windows
// resolves whatever the extension: CON, PRN, AUX, NUL, COM0-9, LPT0-9
// (also with superscript digits), case-insensitive ("con.txt", "LPT1.pdf").
func windowsReserved(name string) bool {
	stem, _, _ := strings.Cut(name, ".")
	stem = strings.ToUpper(strings.TrimRight(stem, " "))
	switch stem {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(stem) >= 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) {
		switch stem[3:] {
		case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
			return true
		}
	}
	return false
}

// NormalizeContentType parses a media type and returns it in canonical form;
// an empty value becomes application/octet-stream.
func NormalizeContentType(v string) (string, error) {
	if strings.TrimSpace(v) == "" {
		return defaultCType, nil
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil || !strings.Contains(mt, "/") {
		return defaultCType, fmt.Errorf("content type %q is not a valid media type (type/subtype)", clip(v, 100))
	}
	return mime.FormatMediaType(mt, params), nil
}

func isAGS(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// kind names the JSON type of a value from its first byte.
func kind(b byte) string {
	switch b {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case 0:
		return "the end of the document"
	}
	return "a number"
}

// escapePointer escapes one JSON pointer reference token (RFC 6901).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// displayPtr shows the root pointer "" readably.
func displayPtr(p string) string {
	if p == "" {
		return "/ (the document)"
	}
	return p
}

// clip shortens s for error messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
