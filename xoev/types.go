package xoev

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Submission is the part of a portal submission the mapper needs. It mirrors
// routing.Submission without importing it (xoev imports no other dxhub
// package); the wiring copies the fields over.
type Submission struct {
	ID        string // hub-assigned submission ID
	Reference string // the portal's own reference (→ referenzAntragsservice if it is a UUID)
	Service   string // service name/kind (→ artDesAntrags through Config.ServiceArtDesAntrags)
	Applicant Applicant
	// Form is the portal's form data; see the package documentation for the
	// fields the 1200 mapping reads.
	Form        json.RawMessage
	Attachments []Attachment
}

// Applicant is the citizen behind a submission as the portal sent it.
type Applicant struct {
	Name        string // full name; split by SplitName unless the form names the parts
	Street      string
	HouseNumber string
	PostalCode  string
	City        string
	Country     string // ISO 3166-1 alpha-2; empty means DE
	Email       string
}

// Attachment is the metadata of one attachment. Its bytes never enter the XÖV
// XML: the 1200 lists it under anlagen/anlage/anhangOderVerlinkung/anhang and
// the file travels as a transport attachment (see Document.Attachments).
type Attachment struct {
	ID          string
	Filename    string
	ContentType string
	Size        int64
	SHA256      string // lower- or upper-case hex
	// AnlageArt optionally carries a code of urn:xoev-de:xbau:codeliste:anlagen;
	// a form entry "anlagen" overrides it, Config.DefaultAnlageArt is the fallback.
	AnlageArt string
}

// Party is an authority or portal operator in the message header.
type Party struct {
	Key  string // DVDV Behördenkennung "praefix:kennung", e.g. "ags:05315000"
	Name string // defaults to Key when empty
}

// MapInput is everything Map needs for one submission.
type MapInput struct {
	Submission Submission
	Reader     Party     // the receiving authority (leser)
	Author     Party     // the hub / portal operator (autor)
	Created    time.Time // erstellungszeitpunkt; zero means Config.Clock()
}

// Document is one XÖV message produced by this package. Its fields match
// routing.Message.
type Document struct {
	UUID        string // nachrichtenUUID
	Standard    string // "XBau-Kernmodul"
	Version     string // "1.3.0"
	TypeCode    string // e.g. "1200"
	RootElement string // e.g. "universellerAntrag.antrag.1200"
	Namespace   string // namespace of the root element
	// ReferenceUUID is the referenzAntragsservice (1200) or bezug/referenz
	// (replies) the message carries; replies from the authority quote it.
	ReferenceUUID string
	// Attachments tells the transport how to ship each attachment so that the
	// XML references resolve: the transport attachment's id must be DokumentID
	// and its file name Filename (sanitised to the XBau Dateiname pattern).
	Attachments []AttachmentRef
	XML         []byte // UTF-8 with XML declaration
}

// AttachmentRef links a submission attachment to its anlage in the XML.
type AttachmentRef struct {
	ID         string // Attachment.ID
	DokumentID string // anhang/dokumentid
	Filename   string // anhang/dateiname (may differ from the portal's name, see SanitizeFilename)
	AnlageArt  string // the code used
}

// MappingError is a permanent failure to map a submission: the input violates
// the form contract or a code list. Field is an RFC 6901 JSON pointer into the
// submission as the portal posted it, e.g. "/form/grundstuecke/0/flurstuecke/0/zaehler",
// "/applicant/address/city" or "/attachments/2/filename".
type MappingError struct {
	Field  string
	Reason string
	Err    error // optional cause, e.g. a *CodeError
}

func (e *MappingError) Error() string {
	return fmt.Sprintf("xoev: mapping %s: %s", e.Field, e.Reason)
}

func (e *MappingError) Unwrap() error { return e.Err }

func mapErr(field, format string, args ...any) *MappingError {
	return &MappingError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// CodeError reports a code that is not in the code list it claims to be from.
type CodeError struct {
	Field       string // JSON pointer or XML path of the code
	Code        string
	ListURI     string
	ListVersion string
}

func (e *CodeError) Error() string {
	return fmt.Sprintf("xoev: %s: code %q is not in code list %s version %s", e.Field, e.Code, e.ListURI, e.ListVersion)
}

// SchemaError is an XSD validation failure of a produced or received document.
type SchemaError struct {
	Root   string  // root element name
	Schema string  // XSD file (relative to the standards directory)
	Issues []Issue // at least one
}

// Issue is one validation finding with its line in the document (0 if unknown).
type Issue struct {
	Line    int
	Path    string // element path such as /baugenehmigung.antrag.0200/bauvorhaben ("" if unknown)
	Message string
}

func (e *SchemaError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "xoev: %s is not valid against %s:", e.Root, e.Schema)
	for i, is := range e.Issues {
		if i == 10 {
			fmt.Fprintf(&b, " (and %d more)", len(e.Issues)-10)
			break
		}
		if is.Path != "" {
			fmt.Fprintf(&b, " line %d %s: %s;", is.Line, is.Path, is.Message)
		} else {
			fmt.Fprintf(&b, " line %d: %s;", is.Line, is.Message)
		}
	}
	return strings.TrimSuffix(b.String(), ";")
}

// IsPermanent reports whether err is a failure no retry can fix: a mapping
// error, an unknown code or a schema violation. Configuration problems (missing
// schemas or code lists, a malformed reader key) are not permanent: fixing the
// configuration and re-mapping helps. The wiring wraps permanent errors with
// routing.PermanentError.
func IsPermanent(err error) bool {
	var me *MappingError
	var ce *CodeError
	var se *SchemaError
	return errors.As(err, &me) || errors.As(err, &ce) || errors.As(err, &se)
}
