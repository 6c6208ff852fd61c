package xoev

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Profile is a declarative mapping from a submission (its JSON as the portal
// posted it: /id, /reference, /service, /applicant/…, /form/…, /attachments/N/…)
// to one XÖV message. Operators add a service by writing a profile file (YAML)
// and referencing it from dxhub.yaml; no Go code is needed. See
// config/profiles/README.md for the full reference; LoadProfile checks a
// profile statically (unknown keys, formats, variables, pointers, code lists
// named by code rules must be known to CheckLists).
type Profile struct {
	// Service is the service ID the profile maps (informational; the
	// configuration binds services to profiles).
	Service string `yaml:"service"`
	// Description documents the profile (copied into the JSON Schema).
	Description string `yaml:"description"`
	// ProfileVersion identifies this revision of the profile (free text,
	// e.g. "2" or "2026-11"). Older revisions stay selectable for replays
	// (services[].profileVersions, dxhub replay --profile-version); "" is an
	// unversioned profile. (Version below is the XÖV standard's version.)
	ProfileVersion string `yaml:"profileVersion"`
	// Standard and Version are the values for Document.Standard/Version, e.g.
	// "XBau-Hochbau" and "2.6".
	Standard string `yaml:"standard"`
	Version  string `yaml:"version"`
	// MessageType is the root element's local name, e.g. baugenehmigung.antrag.0200.
	MessageType string `yaml:"messageType"`
	// TypeCode is the message type code (nachrichtentyp/code), e.g. "0200".
	TypeCode string `yaml:"typeCode"`
	// Schema is the XSD (relative to the standards directory) every produced
	// message is validated against.
	Schema string `yaml:"schema"`
	// Text is the default string check for values: datatypeC (DIN 91379
	// datatypeC, the default), datatypeD, or plain (only cleanText).
	Text string `yaml:"text"`
	// AttachmentName is the attachment field whose value names the file in
	// transport (Document.Attachments): dateiname (default; the XBau-safe
	// name) or uuidDateiname ("<uuid>_<dateiname>", the xdomea pattern).
	AttachmentName string `yaml:"attachmentName"`
	// Root declares the root element.
	Root RootSpec `yaml:"root"`
	// Header, if set, makes the engine write the message header of a known
	// generation as the root's first child.
	Header *HeaderSpec `yaml:"header"`
	// Body lists the root's children after the header, in XSD order.
	Body []*Rule `yaml:"body"`

	// Extensions holds keys starting with "x-": free for YAML anchors of
	// rule templates (&akteur … *akteur) and notes.
	Extensions map[string]any `yaml:",inline"`

	// name labels errors (the file name).
	name string
}

// RootSpec is the root element and its attributes.
type RootSpec struct {
	// Prefix is the namespace prefix of the root element (must be declared
	// in Namespaces).
	Prefix string `yaml:"prefix"`
	// Namespaces are declared on the root element, in this order.
	Namespaces []NSDecl `yaml:"namespaces"`
	// Attributes are written in this order; each is a value rule (el unused).
	Attributes []*Rule `yaml:"attributes"`
}

// NSDecl binds a prefix to a namespace URI.
type NSDecl struct {
	Prefix string `yaml:"prefix"`
	URI    string `yaml:"uri"`
}

// Header generations the engine writes itself.
const (
	// HeaderG2G is nachrichtenkopf.g2g (XÖV Basisnachricht G2G 1.1) with
	// leser/autor as verzeichnisdienst DVDV + kennung + name.
	HeaderG2G = "g2g"
	// HeaderXInneres is the XInneres Basisnachricht nachrichtenkopf with
	// leser/autor as behoerdenkennung (praefix + kennung), erreichbarkeit,
	// anschrift and behoerdenname (XBau ≤ 2.3).
	HeaderXInneres = "xinneres"
)

// HeaderSpec configures the generated message header.
type HeaderSpec struct {
	Generation string `yaml:"generation"` // g2g or xinneres
	// Prefix qualifies the header element and its descendants ("" =
	// unqualified, as in XBau 2.6 and the Kernmodul).
	Prefix string `yaml:"prefix"`
	// TypeList is the code list of nachrichtentyp. Version "" omits
	// listVersionID (Code-Typ 1/2 lists fixed by the XSD may omit it).
	TypeList CodeRef `yaml:"typeList"`
	// Verzeichnisdienst is the listVersionID of the verzeichnisdienst code (g2g).
	Verzeichnisdienst string `yaml:"verzeichnisdienst"`
	// PraefixVersion is the listVersionID of the DVDV praefix code (xinneres).
	PraefixVersion string `yaml:"praefixVersion"`
	// Kennung maps a DVDV prefix (e.g. "ags") to the code list of the
	// kennung (xinneres; Code-Typ 4 needs listURI and listVersionID).
	Kennung map[string]CodeRef `yaml:"kennung"`
	// AuthorContact is the erreichbarkeit and anschrift of the autor, which
	// XInneres Behoerde.Erreichbar requires. Values are constants.
	AuthorContact *Contact `yaml:"authorContact"`
	// ReaderContact optionally adds anschrift to the leser (xinneres).
	ReaderContact *Contact `yaml:"readerContact"`
}

// Contact is an authority's reachability and postal address (xinneres header).
type Contact struct {
	Erreichbarkeit []Reach         `yaml:"erreichbarkeit"`
	Anschrift      PostalAnschrift `yaml:"anschrift"`
}

// Reach is one erreichbarkeit entry (kanal code of urn:de:xoev:codeliste:erreichbarkeit).
type Reach struct {
	Kanal   string `yaml:"kanal"`
	Kennung string `yaml:"kennung"`
}

// PostalAnschrift is an XInneres PostalischeInlandsanschrift (gebaeude variant).
type PostalAnschrift struct {
	Strasse      string `yaml:"strasse"`
	Hausnummer   string `yaml:"hausnummer"`
	Postleitzahl string `yaml:"postleitzahl"`
	Ort          string `yaml:"ort"`
}

// Rule produces one element (el) or attribute (attr), optionally repeated
// (each) and conditional (if). A rule has either a value (from, const, var)
// or children, not both (except attributes on a parent through attrs).
type Rule struct {
	// El is the element name, "prefix:local" for a qualified element.
	El string `yaml:"el"`
	// Attr names an attribute of the parent instead (only in attrs and
	// root.attributes).
	Attr string `yaml:"attr"`
	// Each repeats the rule for every item of the array at this pointer (an
	// object counts as one item). Inside, "./x" pointers are relative to the
	// item.
	Each Pointers `yaml:"each"`
	// Min and Max bound the number of items of Each (0 = no bound).
	Min int `yaml:"min"`
	Max int `yaml:"max"`
	// If makes the rule conditional.
	If *Cond `yaml:"if"`
	// From are JSON pointers tried in order; the first present value wins.
	// A pointer may contain {pointer} templates, e.g.
	// /form/anlagen/{./id}/anlageart.
	From Pointers `yaml:"from"`
	// Const is a constant value; Default applies when no From is present.
	Const   *string `yaml:"const"`
	Default *string `yaml:"default"`
	// Var is a built-in value (see Vars).
	Var string `yaml:"var"`
	// Format transforms and checks the value (see Formats).
	Format string `yaml:"format"`
	// Map translates portal values to codes before the code check.
	Map map[string]string `yaml:"map"`
	// MapOther replaces values that Map does not list (e.g. "Sonstiges").
	MapOther *string `yaml:"mapOther"`
	// Code writes the value as an XÖV code: listURI/listVersionID
	// attributes and an unqualified <code> child, checked against the list.
	Code *CodeSpec `yaml:"code"`
	// Text overrides the profile's string check (datatypeC, datatypeD, plain).
	Text string `yaml:"text"`
	// Pattern (RE2, anchored) and MaxLen check the final value.
	Pattern string `yaml:"pattern"`
	MaxLen  int    `yaml:"maxLen"`
	// Enum restricts the (mapped) value to a fixed set.
	Enum []string `yaml:"enum"`
	// Fallback makes the rule run only when the rule before it produced no
	// element (alternatives of an XSD choice).
	Fallback bool `yaml:"fallback"`
	// Required makes a missing value an error at the first From pointer.
	Required bool `yaml:"required"`
	// Attrs are attributes of this element.
	Attrs []*Rule `yaml:"attrs"`
	// Children are child elements in XSD order. An element whose children
	// all produce nothing is omitted.
	Children []*Rule `yaml:"children"`
	// Doc describes the field for the JSON Schema.
	Doc string `yaml:"doc"`

	pattern *regexp.Regexp
}

// CodeSpec names the code list of a code-typed element.
type CodeSpec struct {
	List    string `yaml:"list"`
	Version string `yaml:"version"`
	// Attrs chooses the attributes written: both (default), version, none.
	Attrs string `yaml:"attrs"`
	// Check: required (the list must be loaded and contain the code; the
	// default), ifLoaded (checked when the deployment has the list), none
	// (the XSD enumerates the codes).
	Check string `yaml:"check"`
}

// Cond is a rule condition. In YAML a plain string is a pointer that must be
// present; otherwise {path, equals, notEquals, in, absent}.
type Cond struct {
	Path      string   `yaml:"path"`
	Equals    *string  `yaml:"equals"`
	NotEquals *string  `yaml:"notEquals"`
	In        []string `yaml:"in"`
	Absent    bool     `yaml:"absent"`
}

// UnmarshalYAML accepts a bare pointer.
func (c *Cond) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		c.Path = n.Value
		return nil
	}
	type plain Cond
	return n.Decode((*plain)(c))
}

// Pointers is one pointer or a list of alternatives.
type Pointers []string

// UnmarshalYAML accepts a scalar or a sequence.
func (p *Pointers) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*p = Pointers{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*p = l
	return nil
}

// Vars are the built-in values a rule may use with var.
var Vars = []string{
	"messageUUID", "created", "createdDate", "referenceUUID", "submissionID",
	"uuid", "index", "readerKey", "readerName", "authorKey", "authorName",
	"readerPrefix", "readerID", "authorPrefix", "authorID",
	"productName", "productVendor", "productVersion", "test", "typeCode",
}

// Formats are the value formats a rule may use.
var Formats = []string{
	"date", "datetime", "ags", "ars", "upper", "lower", "familyName", "givenName",
	"integer", "boolean", "uuid", "bundesland", "plz", "mediaType", "base64",
}

var (
	prefixedName = regexp.MustCompile(`^(?:[A-Za-z_][\w.-]*:)?[A-Za-z_][\w.-]*$`)
	schemaPath   = regexp.MustCompile(`^[\w.@-]+(?:/[\w.@-]+)*\.xsd$`)
)

// MaxProfileSize bounds a profile file.
const MaxProfileSize = 1 << 20

// LoadProfile parses and checks a profile. name labels errors (the file).
func LoadProfile(name string, data []byte) (*Profile, error) {
	if len(data) > MaxProfileSize {
		return nil, fmt.Errorf("xoev: profile %s: %d bytes exceed %d", name, len(data), MaxProfileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	p := &Profile{name: name}
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("xoev: profile %s: %w", name, err)
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("xoev: profile %s: %w", name, err)
	}
	return p, nil
}

// Name returns the name the profile was loaded under.
func (p *Profile) Name() string { return p.name }

func (p *Profile) check() error {
	var errs []error
	bad := func(where, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
	}
	for k := range p.Extensions {
		if !strings.HasPrefix(k, "x-") {
			bad(k, "unknown key (extension keys must start with x-)")
		}
	}
	for _, f := range []struct{ k, v string }{{"standard", p.Standard}, {"version", p.Version}, {"messageType", p.MessageType}, {"typeCode", p.TypeCode}, {"schema", p.Schema}} {
		if strings.TrimSpace(f.v) == "" {
			bad(f.k, "is required")
		}
	}
	if p.Schema != "" && (!schemaPath.MatchString(p.Schema) || slices.Contains(strings.Split(p.Schema, "/"), "..")) {
		bad("schema", "%q must be a relative path below the standards directory ending in .xsd", p.Schema)
	}
	switch p.AttachmentName {
	case "":
		p.AttachmentName = "dateiname"
	case "dateiname", "uuidDateiname":
	default:
		bad("attachmentName", "unknown %q (dateiname, uuidDateiname)", p.AttachmentName)
	}
	switch p.Text {
	case "":
		p.Text = "datatypeC"
	case "datatypeC", "datatypeD", "plain":
	default:
		bad("text", "unknown string check %q (datatypeC, datatypeD, plain)", p.Text)
	}
	declared := map[string]bool{"": true}
	for i, ns := range p.Root.Namespaces {
		if !prefixedName.MatchString(ns.Prefix) || strings.Contains(ns.Prefix, ":") || ns.URI == "" {
			bad(fmt.Sprintf("root.namespaces[%d]", i), "needs a prefix (NCName) and a uri")
		}
		declared[ns.Prefix] = true
	}
	if !declared[p.Root.Prefix] || p.Root.Prefix == "" {
		bad("root.prefix", "%q is not declared in root.namespaces", p.Root.Prefix)
	}
	for i, a := range p.Root.Attributes {
		p.checkRule(fmt.Sprintf("root.attributes[%d]", i), a, true, declared, bad)
	}
	if h := p.Header; h != nil {
		switch h.Generation {
		case HeaderG2G:
			if h.Verzeichnisdienst == "" {
				bad("header.verzeichnisdienst", "is required for generation g2g")
			}
		case HeaderXInneres:
			if h.AuthorContact == nil || len(h.AuthorContact.Erreichbarkeit) == 0 || h.AuthorContact.Anschrift.Ort == "" {
				bad("header.authorContact", "XInneres Behoerde.Erreichbar needs erreichbarkeit and anschrift (ort at least)")
			}
			if len(h.Kennung) == 0 {
				bad("header.kennung", "needs the code list of the kennung per DVDV prefix (e.g. ags)")
			}
		default:
			bad("header.generation", "unknown %q (g2g, xinneres)", h.Generation)
		}
		if !declared[h.Prefix] {
			bad("header.prefix", "%q is not declared", h.Prefix)
		}
		if h.TypeList.URI == "" {
			bad("header.typeList.uri", "is required")
		}
	}
	if len(p.Body) == 0 {
		bad("body", "is empty")
	}
	for i, r := range p.Body {
		p.checkRule(fmt.Sprintf("body[%d]", i), r, false, declared, bad)
	}
	return errors.Join(errs...)
}

func (p *Profile) checkRule(where string, r *Rule, attr bool, declared map[string]bool, bad func(string, string, ...any)) {
	if r == nil {
		bad(where, "empty rule")
		return
	}
	name := r.El
	if attr {
		name = r.Attr
		if r.El != "" || r.Attr == "" {
			bad(where, "an attribute rule needs attr and no el")
		}
		if len(r.Children) > 0 || r.Code != nil || len(r.Attrs) > 0 || len(r.Each) > 0 {
			bad(where, "an attribute cannot have children, code, attrs or each")
		}
	} else if r.Attr != "" || r.El == "" {
		bad(where, "an element rule needs el and no attr")
	}
	if name != "" && !prefixedName.MatchString(name) {
		bad(where, "%q is not a valid XML name", name)
	} else if pfx, _, ok := strings.Cut(name, ":"); ok && !declared[pfx] {
		bad(where, "prefix %q is not declared in root.namespaces", pfx)
	}
	sources := 0
	if len(r.From) > 0 {
		sources++
	}
	if r.Const != nil {
		sources++
	}
	if r.Var != "" {
		sources++
		if !slices.Contains(Vars, r.Var) {
			bad(where, "unknown var %q (known: %s)", r.Var, strings.Join(Vars, ", "))
		}
	}
	if sources > 1 {
		bad(where, "use only one of from, const, var")
	}
	if sources > 0 && len(r.Children) > 0 {
		bad(where, "a rule has a value or children, not both")
	}
	if sources == 0 && len(r.Children) == 0 && r.Default == nil {
		bad(where, "has neither a value (from, const, var, default) nor children")
	}
	for _, ptr := range r.From {
		if err := checkPointerSyntax(ptr); err != nil {
			bad(where, "from %q: %v", ptr, err)
		}
	}
	for _, ptr := range r.Each {
		if err := checkPointerSyntax(ptr); err != nil {
			bad(where, "each %q: %v", ptr, err)
		}
	}
	if r.If != nil {
		if err := checkPointerSyntax(r.If.Path); err != nil {
			bad(where, "if %q: %v", r.If.Path, err)
		}
	}
	if r.Format != "" && !slices.Contains(Formats, r.Format) {
		bad(where, "unknown format %q (known: %s)", r.Format, strings.Join(Formats, ", "))
	}
	switch r.Text {
	case "", "datatypeC", "datatypeD", "plain":
	default:
		bad(where, "unknown text check %q", r.Text)
	}
	if r.Pattern != "" {
		re, err := regexp.Compile(`^(?:` + r.Pattern + `)$`)
		if err != nil {
			bad(where, "pattern: %v", err)
		}
		r.pattern = re
	}
	if c := r.Code; c != nil {
		if c.List == "" {
			bad(where, "code.list is required")
		}
		switch c.Attrs {
		case "", "both", "version", "none":
		default:
			bad(where, "code.attrs %q (both, version, none)", c.Attrs)
		}
		switch c.Check {
		case "", "required", "ifLoaded", "none":
		default:
			bad(where, "code.check %q (required, ifLoaded, none)", c.Check)
		}
		if c.Check != "none" && c.Version == "" {
			bad(where, "code.version is required to check codes")
		}
	}
	for i, a := range r.Attrs {
		p.checkRule(fmt.Sprintf("%s.attrs[%d]", where, i), a, true, declared, bad)
	}
	for i, c := range r.Children {
		p.checkRule(fmt.Sprintf("%s.children[%d] (%s)", where, i, c.elName()), c, false, declared, bad)
	}
}

func (r *Rule) elName() string {
	if r == nil {
		return ""
	}
	return r.El
}

// checkPointerSyntax accepts "/a/b", "./a", "." and {template} segments.
func checkPointerSyntax(p string) error {
	if p == "" {
		return errors.New("empty pointer")
	}
	if p != "." && !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "./") && !strings.HasPrefix(p, "../") {
		return errors.New(`must start with "/" (submission), "./" (current item) or "../" (enclosing item)`)
	}
	if strings.Count(p, "{") != strings.Count(p, "}") {
		return errors.New("unbalanced {template}")
	}
	return nil
}

// CodeLists returns the code lists a profile's code rules check (check
// required), for start-up verification.
func (p *Profile) CodeLists() []CodeRef {
	var out []CodeRef
	var walk func([]*Rule)
	walk = func(rs []*Rule) {
		for _, r := range rs {
			if r.Code != nil && (r.Code.Check == "" || r.Code.Check == "required") {
				ref := CodeRef{r.Code.List, r.Code.Version}
				if !slices.Contains(out, ref) {
					out = append(out, ref)
				}
			}
			walk(r.Children)
		}
	}
	walk(p.Body)
	return out
}
