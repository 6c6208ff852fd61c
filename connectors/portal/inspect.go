package portal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/dxhub/dxhub/routing"
)

// Problem codes of the attachment inspection.
const (
	// CodeContentTypeMismatch: the bytes of an attachment are not what its
	// declared content type says (a PDF that is a ZIP or an executable).
	CodeContentTypeMismatch = "content-type-mismatch"
	// CodeExecutableContent: an executable payload, whatever its declared type.
	CodeExecutableContent = "executable-content"
	// CodeInfected: the virus scanner found a signature.
	CodeInfected = "infected"
	// CodeScannerUnavailable: the virus scanner could not be asked and the
	// hub is configured to fail closed.
	CodeScannerUnavailable = "scanner-unavailable"
)

func init() {
	codeInfo[CodeContentTypeMismatch] = struct {
		title  string
		status int
	}{"Attachment content does not match its content type", http.StatusUnprocessableEntity}
	codeInfo[CodeExecutableContent] = struct {
		title  string
		status int
	}{"Executable attachments are not accepted", http.StatusUnprocessableEntity}
	codeInfo[CodeInfected] = struct {
		title  string
		status int
	}{"Attachment contains malware", http.StatusUnprocessableEntity}
	codeInfo[CodeScannerUnavailable] = struct {
		title  string
		status int
	}{"Virus scanner unavailable", http.StatusServiceUnavailable}
}

// sniffLen is how many leading bytes of an attachment are inspected
// (http.DetectContentType looks at 512).
const sniffLen = 512

// Scanner checks a stored attachment for malware before the submission is
// committed. It returns nil for a clean attachment, an *InfectedError for
// malware, an error wrapping ErrScanTooLarge for an attachment the scanner
// cannot take, and any other error when the scanner could not be asked
// (answered 503 with Retry-After). A fail-open policy is the Scanner's
// business: it returns nil then.
type Scanner interface {
	ScanAttachment(ctx context.Context, a routing.Attachment) error
}

// InfectedError is a Scanner's verdict on malware.
type InfectedError struct {
	Signature string
}

func (e *InfectedError) Error() string { return "malware found: " + e.Signature }

// ErrScanTooLarge marks an attachment larger than the scanner accepts.
var ErrScanTooLarge = errors.New("attachment exceeds the virus scanner's size limit")

// payloadKind is what the leading bytes of an attachment show.
type payloadKind struct {
	name       string // human name for details: "a PDF document"
	mime       string // its media type
	executable bool
	text       bool
}

var (
	kindPDF   = payloadKind{name: "a PDF document", mime: "application/pdf"}
	kindPNG   = payloadKind{name: "a PNG image", mime: "image/png"}
	kindJPEG  = payloadKind{name: "a JPEG image", mime: "image/jpeg"}
	kindGIF   = payloadKind{name: "a GIF image", mime: "image/gif"}
	kindTIFF  = payloadKind{name: "a TIFF image", mime: "image/tiff"}
	kindZIP   = payloadKind{name: "a ZIP archive", mime: "application/zip"}
	kindOLE   = payloadKind{name: "an OLE2 compound file (legacy Office)", mime: "application/x-ole-storage"}
	kindXML   = payloadKind{name: "an XML document", mime: "application/xml", text: true}
	kindEXE   = payloadKind{name: "a Windows executable (MZ)", mime: "application/vnd.microsoft.portable-executable", executable: true}
	kindELF   = payloadKind{name: "an ELF executable", mime: "application/x-executable", executable: true}
	kindMachO = payloadKind{name: "a Mach-O executable", mime: "application/x-mach-binary", executable: true}
	kindShell = payloadKind{name: "a script with a #! interpreter line", mime: "text/x-shellscript", executable: true}
)

// sniff classifies the leading bytes of an attachment: magic numbers first,
// then net/http's DetectContentType.
func sniff(head []byte) payloadKind {
	magic := []struct {
		prefix string
		k      payloadKind
	}{
		{"%PDF-", kindPDF},
		{"\x89PNG\r\n\x1a\n", kindPNG},
		{"\xff\xd8\xff", kindJPEG},
		{"GIF87a", kindGIF}, {"GIF89a", kindGIF},
		{"II*\x00", kindTIFF}, {"MM\x00*", kindTIFF},
		{"PK\x03\x04", kindZIP}, {"PK\x05\x06", kindZIP}, {"PK\x07\x08", kindZIP},
		{"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", kindOLE},
		{"MZ", kindEXE},
		{"\x7fELF", kindELF},
		{"\xfe\xed\xfa\xce", kindMachO}, {"\xfe\xed\xfa\xcf", kindMachO},
		{"\xce\xfa\xed\xfe", kindMachO}, {"\xcf\xfa\xed\xfe", kindMachO},
		{"#!", kindShell},
	}
	for _, m := range magic {
		if bytes.HasPrefix(head, []byte(m.prefix)) {
			return m.k
		}
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if bytes.HasPrefix(t, []byte("<?xml")) {
		return kindXML
	}
	detected := http.DetectContentType(head)
	mt, _, _ := strings.Cut(detected, ";")
	switch {
	case mt == "text/xml":
		return kindXML
	case strings.HasPrefix(mt, "text/"):
		return payloadKind{name: "text (" + mt + ")", mime: mt, text: true}
	case mt == "application/json":
		return payloadKind{name: "JSON text", mime: mt, text: true}
	}
	return payloadKind{name: "binary data of type " + mt, mime: mt}
}

// expectation returns the check for a declared media type: ok reports
// whether a payload of kind k may carry it. known is false for types the hub
// has no rule for (only executables are refused then).
func expectation(declared string) (accept func(k payloadKind) bool, known bool) {
	is := func(want ...payloadKind) func(payloadKind) bool {
		return func(k payloadKind) bool {
			for _, w := range want {
				if k.mime == w.mime {
					return true
				}
			}
			return false
		}
	}
	textual := func(k payloadKind) bool { return k.text && !k.executable }
	switch {
	case declared == "application/pdf":
		return is(kindPDF), true
	case declared == "image/png":
		return is(kindPNG), true
	case declared == "image/jpeg", declared == "image/jpg", declared == "image/pjpeg":
		return is(kindJPEG), true
	case declared == "image/gif":
		return is(kindGIF), true
	case declared == "image/tiff":
		return is(kindTIFF), true
	case declared == "application/xml", declared == "text/xml", strings.HasSuffix(declared, "+xml"):
		return is(kindXML), true
	case declared == "application/zip", strings.HasSuffix(declared, "+zip"),
		strings.HasPrefix(declared, "application/vnd.openxmlformats-officedocument."),
		strings.HasPrefix(declared, "application/vnd.oasis.opendocument."):
		return is(kindZIP), true
	case declared == "application/msword", declared == "application/vnd.ms-excel",
		declared == "application/vnd.ms-powerpoint", declared == "application/vnd.ms-outlook":
		return is(kindOLE), true
	case declared == "text/plain", declared == "text/csv", declared == "application/json":
		return textual, true
	}
	return nil, false
}

// checkContent compares the leading bytes of an attachment with its declared
// media type (parameters stripped). An empty attachment is not checked.
func checkContent(filename, ctype string, head []byte) *Problem {
	if len(head) == 0 {
		return nil
	}
	declared, _, _ := strings.Cut(ctype, ";")
	declared = strings.ToLower(strings.TrimSpace(declared))
	k := sniff(head)
	accept, known := expectation(declared)
	switch {
	case known && !accept(k):
		return newProblem(CodeContentTypeMismatch, "attachment %q is declared as %s but its content is %s",
			filename, declared, k.name)
	case k.executable:
		return newProblem(CodeExecutableContent, "attachment %q (declared as %s) is %s; executable files are not accepted",
			filename, declared, k.name)
	}
	return nil
}

// sniffReader reads the head of r for checkContent and returns a reader of
// the whole stream.
func sniffReader(r io.Reader) ([]byte, io.Reader, error) {
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(r, head)
	head = head[:n]
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return head, nil, err
	}
	return head, io.MultiReader(bytes.NewReader(head), r), nil
}

// scan runs the Scanner on every attachment of a submission.
func (q *intakeRequest) scan(ctx context.Context, atts []routing.Attachment) *Problem {
	sc := q.h.opts.Scanner
	if sc == nil {
		return nil
	}
	for _, a := range atts {
		err := sc.ScanAttachment(ctx, a)
		var inf *InfectedError
		switch {
		case err == nil:
		case errors.As(err, &inf):
			q.h.log.WarnContext(ctx, "portal: malware in attachment", "portal", q.portal.ID, "filename", a.Filename,
				"sha256", a.SHA256, "signature", inf.Signature, "alert", "malware")
			return newProblem(CodeInfected, "attachment %q contains malware: %s", a.Filename, inf.Signature)
		case errors.Is(err, ErrScanTooLarge):
			return newProblem(CodeTooLarge, "attachment %q (%d bytes) cannot be scanned: %v", a.Filename, a.Size, err)
		default:
			q.h.log.ErrorContext(ctx, "portal: virus scan failed; refusing the submission", "filename", a.Filename, "error", err)
			secs := int(q.h.opts.ScanRetryAfter.Seconds())
			if secs < 1 {
				secs = 30
			}
			p := newProblem(CodeScannerUnavailable, "attachment %q could not be scanned for malware; try again in %d s", a.Filename, secs)
			p.retryAfter = secs
			return p
		}
	}
	return nil
}

// attachmentLimit is the most bytes the next attachment may have: the
// per-attachment limit, or what is left of the total.
func (q *intakeRequest) attachmentLimit() (limit int64, total bool) {
	per := q.h.opts.MaxAttachmentBytes
	maxTotal := q.h.opts.MaxTotalAttachmentBytes
	if maxTotal <= 0 {
		return per, false
	}
	left := max(0, maxTotal-q.totalBytes)
	if left < per {
		return left, true
	}
	return per, false
}

func (q *intakeRequest) limitProblem(filename string, total bool) *Problem {
	if total {
		return newProblem(CodeTooLarge, "attachment %q brings the attachments beyond the total limit of %d bytes",
			filename, q.h.opts.MaxTotalAttachmentBytes)
	}
	return newProblem(CodeTooLarge, "attachment %q exceeds the limit of %d bytes", filename, q.h.opts.MaxAttachmentBytes)
}

// errAttachmentLimit is returned by put when the blob store stopped at the
// limit; limitProblem gives the problem.
type errAttachmentLimit struct{ total bool }

func (e *errAttachmentLimit) Error() string {
	return fmt.Sprintf("attachment limit reached (total: %v)", e.total)
}
