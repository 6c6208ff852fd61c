package xoev

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	xsdvalidate "github.com/terminalstatic/go-xsd-validate"
)

// schemaRule maps a root element (namespace + local-name prefix) to the XSD
// that defines it, relative to the standards directory. libxml2 honours only
// the first xs:import per namespace, so each message family is compiled from
// its own top-level XSD rather than one driver schema.
type schemaRule struct {
	Namespace  string
	RootPrefix string
	File       string
}

var schemaRules = []schemaRule{
	{NSKernmodul130, "universellerAntrag.", xbau26Dir + "/xbau-kernmodul-universellerAntrag.xsd"},
	{NSKernmodul130, "prozessnachrichten.", xbau26Dir + "/xbau-kernmodul-prozessnachrichten.xsd"},
}

// SchemaFor returns the XSD (relative to the standards directory) that
// validates a document with the given root element, or "" if none is known.
func SchemaFor(namespace, rootLocal string) string {
	for _, r := range schemaRules {
		if r.Namespace == namespace && strings.HasPrefix(rootLocal, r.RootPrefix) {
			return r.File
		}
	}
	return ""
}

// Namespaces of the other deployed schema sets.
const (
	NSXBau26      = "http://www.xleitstelle.de/xbau/2/6"
	NSXBau23      = "http://www.xleitstelle.de/xbau/2/3"
	NSKernmodul11 = "http://www.xleitstelle.de/xbau/kernmodul/1/1"
	NSXdomea300   = "urn:xoev-de:xdomea:schema:3.0.0"
)

// Schema files by convention.
const (
	xbau23Driver = "xoev/drivers/xbau-2.3-all.xsd"
	xdomea300XSD = "xoev/xdomea/schemes/xdomea_3.0.0/xdomea.xsd"
)

var processName = regexp.MustCompile(`^[A-Za-z]+$`)

// schemaByConvention finds the XSD of roots outside schemaRules: XBau 2.6
// <prozess>.… → xbau-nachrichten-<prozess>.xsd (if deployed), XBau 2.3 and
// Kernmodul 1.1 → the driver schema (libxml2 first-import quirk), xdomea
// 3.0.0 → xdomea.xsd.
func (v *Validator) schemaByConvention(space, local string) string {
	switch space {
	case NSXBau26:
		proc, _, _ := strings.Cut(local, ".")
		if !processName.MatchString(proc) {
			return ""
		}
		f := xbau26Dir + "/xbau-nachrichten-" + proc + ".xsd"
		if proc == "prozessnachrichten" || proc == "bauordnungsrechtlicheProzessnachrichten" {
			f = xbau26Dir + "/xbau-bauordnungsrechtlicheProzessnachrichten.xsd"
		}
		if _, err := os.Stat(filepath.Join(v.dir, filepath.FromSlash(f))); err != nil {
			return ""
		}
		return f
	case NSXBau23, NSKernmodul11:
		return xbau23Driver
	case NSXdomea300:
		return xdomea300XSD
	}
	return ""
}

// ErrNoSchema: no schema is configured for a document's root element.
var ErrNoSchema = errors.New("no schema for root element")

// ErrValidatorClosed is returned after Close.
var ErrValidatorClosed = errors.New("xoev: validator closed")

var (
	initOnce sync.Once
	initErr  error
)

// initLibxml2 calls xsdvalidate.Init exactly once per process. "Already
// initialized" (another package got there first) is not an error.
func initLibxml2() error {
	initOnce.Do(func() {
		if err := xsdvalidate.Init(); err != nil {
			var le xsdvalidate.Libxml2Error
			if errors.As(err, &le) && strings.Contains(le.Error(), "already initialized") {
				return
			}
			initErr = fmt.Errorf("xoev: libxml2 init: %w", err)
		}
		installNoNet()
	})
	return initErr
}

// Validator validates XÖV documents against the real XSDs in-process through
// libxml2 (cgo). Each schema set is compiled once, on first use, and shared:
// libxml2 schemas are read-only during validation and every validation gets its
// own validation context, so concurrent Validate calls are safe (tested with
// many goroutines). Close frees the compiled schemas; it waits for running
// validations. xsdvalidate.Cleanup is deliberately never called: it is
// process-wide and other users of libxml2 may still run.
type Validator struct {
	dir string

	mu      sync.RWMutex // held shared by validations, exclusively by Close
	closed  bool
	entries map[string]*schemaEntry
	entryMu sync.Mutex // guards entries
}

type schemaEntry struct {
	once    sync.Once
	handler *xsdvalidate.XsdHandler
	err     error
}

// NewValidator returns a validator for the schema sets below standardsDir
// (the operator-deployed bundles, e.g. ../shared/standards). It checks that
// the schema files exist; they are compiled lazily.
func NewValidator(standardsDir string) (*Validator, error) {
	if err := initLibxml2(); err != nil {
		return nil, err
	}
	for _, r := range schemaRules {
		p := filepath.Join(standardsDir, filepath.FromSlash(r.File))
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("xoev: schema for %s{%s}: %w", r.RootPrefix, r.Namespace, err)
		}
	}
	return &Validator{dir: standardsDir, entries: map[string]*schemaEntry{}}, nil
}

// Precompile compiles every known schema set now (e.g. at start-up, so the
// first message does not pay the ~20 ms compile and a broken deployment fails
// fast).
func (v *Validator) Precompile() error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.closed {
		return ErrValidatorClosed
	}
	for _, r := range schemaRules {
		if _, err := v.schema(r.File); err != nil {
			return err
		}
	}
	return nil
}

// schema returns the compiled schema for file; v.mu must be held (shared).
func (v *Validator) schema(file string) (*xsdvalidate.XsdHandler, error) {
	v.entryMu.Lock()
	e, ok := v.entries[file]
	if !ok {
		e = &schemaEntry{}
		v.entries[file] = e
	}
	v.entryMu.Unlock()
	e.once.Do(func() {
		path := filepath.Join(v.dir, filepath.FromSlash(file))
		e.handler, e.err = xsdvalidate.NewXsdHandlerUrl(path, xsdvalidate.ParsErrDefault)
		if e.err != nil {
			e.err = fmt.Errorf("xoev: compiling %s: %w", path, e.err)
		}
	})
	return e.handler, e.err
}

// Validate validates doc against the XSD its root element belongs to. A
// schema violation or a not well-formed document returns a *SchemaError with
// line numbers and messages; an unknown root returns an error wrapping
// ErrNoSchema.
func (v *Validator) Validate(ctx context.Context, doc []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	space, local, err := rootName(doc)
	if err != nil {
		return &SchemaError{Root: "?", Schema: "-", Issues: []Issue{{Message: err.Error()}}}
	}
	file := SchemaFor(space, local)
	if file == "" {
		file = v.schemaByConvention(space, local)
	}
	if file == "" {
		return fmt.Errorf("xoev: %w: {%s}%s", ErrNoSchema, space, local)
	}
	return v.ValidateAgainst(ctx, file, local, doc)
}

// ValidateAgainst validates doc against the XSD file (relative to the
// standards directory); root only labels errors.
func (v *Validator) ValidateAgainst(ctx context.Context, file, root string, doc []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkSchemaPath(file); err != nil {
		return err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.closed {
		return ErrValidatorClosed
	}
	h, err := v.schema(file)
	if err != nil {
		return err
	}
	err = h.ValidateMem(doc, xsdvalidate.ParsErrDefault)
	if err == nil {
		return nil
	}
	se := &SchemaError{Root: root, Schema: file}
	var ve xsdvalidate.ValidationError
	var pe xsdvalidate.XmlParserError
	switch {
	case errors.As(err, &ve):
		for _, e := range ve.Errors {
			se.Issues = append(se.Issues, Issue{Line: e.Line, Path: elementPathAt(doc, e.Line), Message: strings.TrimSpace(e.Message)})
		}
	case errors.As(err, &pe):
		se.Issues = []Issue{{Message: "not well-formed: " + pe.Error()}}
	default:
		return fmt.Errorf("xoev: validating %s: %w", root, err)
	}
	if len(se.Issues) == 0 {
		se.Issues = []Issue{{Message: err.Error()}}
	}
	return se
}

// Check compiles the XSD file, relative to the standards directory, so that a
// broken schema set fails at start-up, and frees the result again unless the
// set is already in use: a compiled XBau or xdomea schema set holds 4–8 MiB
// of libxml2 memory, and a hub whose portals use only some of its services
// should not keep the others resident (the embedded default's four profiles
// held 17 MiB of an idle hub's 32 MiB of anonymous memory). The set is
// compiled again, once, on its first validation. The path must stay below the
// directory.
func (v *Validator) Check(file string) error {
	return v.open(file, func() error {
		v.entryMu.Lock()
		_, cached := v.entries[file]
		v.entryMu.Unlock()
		if cached {
			_, err := v.schema(file)
			return err
		}
		path := filepath.Join(v.dir, filepath.FromSlash(file))
		h, err := xsdvalidate.NewXsdHandlerUrl(path, xsdvalidate.ParsErrDefault)
		if err != nil {
			return fmt.Errorf("xoev: compiling %s: %w", path, err)
		}
		h.Free()
		releaseFreedCMemory()
		return nil
	})
}

// open runs fn for the schema file (a path below the standards directory)
// while the validator is held open.
func (v *Validator) open(file string, fn func() error) error {
	if err := checkSchemaPath(file); err != nil {
		return err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.closed {
		return ErrValidatorClosed
	}
	return fn()
}

// Compile compiles (and caches) the XSD file, relative to the standards
// directory, so that its first validation does not pay the compile. The path
// must stay below the directory.
func (v *Validator) Compile(file string) error {
	return v.open(file, func() error {
		_, err := v.schema(file)
		return err
	})
}

func checkSchemaPath(file string) error {
	if !schemaPath.MatchString(file) || strings.Contains("/"+file+"/", "/../") {
		return fmt.Errorf("xoev: schema %q must be a relative path below the standards directory ending in .xsd", file)
	}
	return nil
}

// elementPathAt returns the path (/root/child/…, local names) of the element
// that starts on line, or of the innermost element open there; "" if unknown.
func elementPathAt(doc []byte, line int) string {
	if line <= 0 {
		return ""
	}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var stack []string
	last := ""
	for {
		tok, err := dec.Token()
		if err != nil {
			return last
		}
		l, _ := dec.InputPos()
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			if l == line {
				return "/" + strings.Join(stack, "/")
			}
			if l > line {
				return last
			}
		case xml.EndElement:
			if l >= line {
				return "/" + strings.Join(stack, "/")
			}
			stack = stack[:len(stack)-1]
		}
		if l < line && len(stack) > 0 {
			last = "/" + strings.Join(stack, "/")
		}
	}
}

// Close frees the compiled schemas. Running validations finish first; later
// calls return ErrValidatorClosed. Close is idempotent.
func (v *Validator) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	v.closed = true
	v.entryMu.Lock()
	defer v.entryMu.Unlock()
	for _, e := range v.entries {
		if e.handler != nil {
			e.handler.Free()
		}
	}
	v.entries = nil
	return nil
}
