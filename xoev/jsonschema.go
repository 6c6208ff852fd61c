package xoev

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// JSONSchemaDialect is the JSON Schema version of the generated schemas.
const JSONSchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// maxEnumCodes bounds the codes a schema lists as enum for one field; longer
// code lists are only named (x-dxhub-codeList).
const maxEnumCodes = 500

// JSONSchema returns the JSON Schema (2020-12) of the submission a portal posts
// for service (POST /v1/submissions): the envelope the intake API accepts
// (tenant, service, reference, applicant, form, attachments) with "form" and
// "applicant" described by the fields the profile reads. It is generated from
// the profile, so it cannot drift from the mapping:
//
//   - every JSON pointer a rule reads below /form or /applicant becomes a
//     property; "each" pointers become arrays (a single object counts as one
//     item, as in the engine, so objects are accepted too); {template}
//     segments become additionalProperties (e.g. /form/anlagen/{id});
//   - a value rule marked required, without default or condition, makes its
//     property required in the enclosing object (alternatives of one rule in
//     the same object become anyOf required); "each" with min ≥ 1 makes the
//     array required with minItems;
//   - formats, patterns (anchored), enum, maxLen, defaults and the doc text
//     carry over; a code rule lists the codes of its code list as enum when the
//     list is loaded (with at most maxEnumCodes codes) and names the list in
//     x-dxhub-codeList; a map rule accepts its portal values.
//
// Values the engine reads as text accept strings and numbers. The schema
// describes the shape; some checks only the engine can make (DIN 91379
// characters, code lists the deployment lacks, the XSD), so the intake's 422
// errors stay authoritative. lists may be nil (no enums).
func (p *Profile) JSONSchema(service string, lists *CodeLists) ([]byte, error) {
	g := &schemaGen{lists: lists, root: envelope(service)}
	top := &genScope{}
	for _, a := range p.Root.Attributes {
		g.value(a, top, opaque)
	}
	g.rules(p.Body, top, nil)
	desc := strings.TrimSpace(p.Description)
	if desc != "" {
		desc += " "
	}
	desc += fmt.Sprintf("Mapped to %s %s %s (nachrichtentyp %s).", p.Standard, p.Version, p.MessageType, p.TypeCode)
	if g.minAttachments > 0 {
		att := g.root.props["attachments"]
		att.addDoc(fmt.Sprintf("This service needs at least %d attachment(s), inline here or as multipart parts.", g.minAttachments))
		att.fixed = append(att.fixed, kv{"x-dxhub-minAttachments", g.minAttachments})
	}
	s := g.root.schema()
	out := orderedMap{
		{"$schema", JSONSchemaDialect},
		{"title", "dxhub submission for service " + service},
		{"description", desc},
		{"x-dxhub-service", service},
		{"x-dxhub-message", orderedMap{{"standard", p.Standard}, {"version", p.Version}, {"messageType", p.MessageType}, {"typeCode", p.TypeCode}}},
	}
	out = append(out, s...)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("xoev: JSON Schema of %s: %w", service, err)
	}
	return buf.Bytes(), nil
}

// JSONSchema returns the JSON Schema of a registered service's submission
// (see Profile.JSONSchema), with enums from the engine's code lists.
func (e *Engine) JSONSchema(service string) ([]byte, error) {
	p, ok := e.Profile(service)
	if !ok {
		return nil, fmt.Errorf("xoev: %w %q", ErrNoProfile, service)
	}
	return p.JSONSchema(service, e.lists)
}

// orderedMap is a JSON object with its keys in insertion order.
type orderedMap []kv

type kv struct {
	k string
	v any
}

func (m orderedMap) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshalNoEscape(e.k)
		if err != nil {
			return nil, err
		}
		v, err := marshalNoEscape(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// sNode is one position in the submission JSON.
type sNode struct {
	props         map[string]*sNode
	order         []string
	extra         *sNode // {template} segment: additionalProperties
	item          *sNode // array items
	each          bool   // an engine "each": an array of item, or one object item
	minItems      int
	maxItems      int
	required      []string
	anyOfRequired [][]string
	leaf          orderedMap // scalar schema (from the first rule reading it)
	docs          []string
	fixed         orderedMap // hand-written schema (envelope fields)
	object        bool       // known to be an object
}

func (n *sNode) child(name string) *sNode {
	if n.props == nil {
		n.props = map[string]*sNode{}
	}
	c, ok := n.props[name]
	if !ok {
		c = &sNode{}
		n.props[name] = c
		n.order = append(n.order, name)
	}
	n.object = true
	return c
}

func (n *sNode) require(name string) {
	if !slices.Contains(n.required, name) {
		n.required = append(n.required, name)
	}
}

// addAnyOf adds a set of alternatives of which at least one is required.
func (n *sNode) addAnyOf(names []string) {
	for _, s := range n.anyOfRequired {
		if slices.Equal(s, names) {
			return
		}
	}
	n.anyOfRequired = append(n.anyOfRequired, names)
}

func (n *sNode) addDoc(d string) {
	if d = strings.TrimSpace(d); d != "" && !slices.Contains(n.docs, d) {
		n.docs = append(n.docs, d)
	}
}

// schema renders the node.
func (n *sNode) schema() orderedMap {
	if n.fixed != nil && n.props == nil {
		return n.withDocs(n.fixed)
	}
	if n.each && n.item != nil {
		item := n.item.schema()
		arr := orderedMap{{"type", "array"}, {"items", item}}
		if n.minItems > 0 {
			arr = append(arr, kv{"minItems", n.minItems})
		}
		if n.maxItems > 0 {
			arr = append(arr, kv{"maxItems", n.maxItems})
		}
		if !n.item.object {
			return n.withDocs(arr)
		}
		return n.withDocs(orderedMap{{"anyOf", []any{arr, item}}})
	}
	if n.item != nil {
		return n.withDocs(orderedMap{{"type", "array"}, {"items", n.item.schema()}})
	}
	if !n.object && n.extra == nil {
		if n.leaf != nil {
			return n.withDocs(n.leaf)
		}
		return n.withDocs(orderedMap{})
	}
	s := orderedMap{{"type", "object"}}
	for _, f := range n.fixed {
		if f.k != "type" && f.k != "properties" && f.k != "required" {
			s = append(s, f)
		}
	}
	if len(n.order) > 0 {
		props := orderedMap{}
		for _, name := range n.order {
			props = append(props, kv{name, n.props[name].schema()})
		}
		s = append(s, kv{"properties", props})
	}
	if len(n.required) > 0 {
		s = append(s, kv{"required", n.required})
	}
	// Each set is "at least one of these"; several sets must all hold.
	var sets []any
	for _, set := range n.anyOfRequired {
		var alts []any
		for _, name := range set {
			alts = append(alts, orderedMap{{"required", []string{name}}})
		}
		sets = append(sets, orderedMap{{"anyOf", alts}})
	}
	switch len(sets) {
	case 0:
	case 1:
		s = append(s, sets[0].(orderedMap)...)
	default:
		s = append(s, kv{"allOf", sets})
	}
	if n.extra != nil {
		s = append(s, kv{"additionalProperties", n.extra.schema()})
	}
	return n.withDocs(s)
}

func (n *sNode) withDocs(s orderedMap) orderedMap {
	if len(n.docs) == 0 {
		return s
	}
	out := orderedMap{{"description", strings.Join(n.docs, " ")}}
	for _, f := range s {
		if f.k != "description" {
			out = append(out, f)
		}
	}
	return out
}

// envelope is the submission as connectors/portal decodes it.
func envelope(service string) *sNode {
	str := func(doc string, extra ...kv) *sNode {
		n := &sNode{fixed: append(orderedMap{{"type", "string"}}, extra...)}
		n.addDoc(doc)
		return n
	}
	root := &sNode{object: true}
	root.props = map[string]*sNode{}
	add := func(n *sNode, name string, c *sNode) *sNode {
		if n.props == nil {
			n.props = map[string]*sNode{}
		}
		n.props[name] = c
		n.order = append(n.order, name)
		n.object = true
		return c
	}
	add(root, "tenant", str("The municipality: its Amtlicher Gemeindeschlüssel (8 digits).", kv{"pattern", `^\d{8}$`}))
	add(root, "service", &sNode{fixed: orderedMap{{"const", service}}, docs: []string{"The service ID."}})
	add(root, "reference", str("The portal's own reference (a UUID becomes the XÖV referenzAntragsservice).", kv{"maxLength", 200}))
	app := add(root, "applicant", &sNode{object: true, docs: []string{"The citizen or company behind the application."}})
	add(app, "mailbox", str("Servicekonto Postfach handle for status messages.", kv{"maxLength", 500}))
	add(app, "name", str("Full name.", kv{"maxLength", 500}))
	add(app, "email", str("E-mail address.", kv{"maxLength", 500}))
	addr := add(app, "address", &sNode{object: true})
	for _, f := range []string{"street", "houseNumber", "postalCode", "city"} {
		add(addr, f, str("", kv{"maxLength", 500}))
	}
	add(addr, "country", str("ISO 3166-1 alpha-2; empty means DE."))
	app.require("name")
	add(root, "form", &sNode{object: true, docs: []string{"The form data of this service."}})
	add(root, "attachments", &sNode{fixed: orderedMap{
		{"type", "array"},
		{"items", orderedMap{
			{"type", "object"},
			{"properties", orderedMap{
				{"filename", orderedMap{{"type", "string"}, {"minLength", 1}, {"maxLength", 255}}},
				{"contentType", orderedMap{{"type", "string"}}},
				{"content", orderedMap{{"type", "string"}, {"contentEncoding", "base64"}}},
			}},
			{"required", []string{"filename", "content"}},
			{"additionalProperties", false},
		}},
	}, docs: []string{"Attachments inline (base64) in a JSON-only post; multipart posts send them as parts instead. The form may refer to them by ID or file name (e.g. /form/anlagen/<name>)."}})
	for _, f := range []string{"tenant", "service", "reference", "applicant", "form"} {
		root.require(f)
	}
	return root
}

// schemaGen walks a profile's rules.
type schemaGen struct {
	lists *CodeLists
	root  *sNode
	// minAttachments is the number of attachments the profile needs (an
	// unconditional each over /attachments with min ≥ 1).
	minAttachments int
}

// genScope is the current "each" item: its path ("" segments = not form
// data) and the enclosing scope.
type genScope struct {
	path  []string
	valid bool
	outer *genScope
}

// itemSeg marks an array item in a path.
const itemSeg = "[]"

// path resolves a rule pointer to segments of the submission JSON; ok is false
// for data the portal does not post as form or applicant fields.
func (g *schemaGen) path(ptr string, s *genScope) ([]string, bool) {
	var base []string
	rest := ptr
	switch {
	case ptr == ".":
		return s.path, s.valid
	case strings.HasPrefix(ptr, "./"):
		if !s.valid {
			return nil, false
		}
		base, rest = s.path, ptr[1:]
	case strings.HasPrefix(ptr, "../"):
		for strings.HasPrefix(rest, "../") {
			if s.outer != nil {
				s = s.outer
			}
			rest = rest[3:]
		}
		if !s.valid {
			return nil, false
		}
		base, rest = s.path, "/"+rest
	}
	out := slices.Clone(base)
	for _, seg := range splitPointer(rest) {
		switch {
		case strings.Contains(seg, "{"):
			seg = "*"
		case isIndex(seg):
			seg = itemSeg
		default:
			seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		}
		out = append(out, seg)
	}
	if len(out) < 2 || (out[0] != "form" && out[0] != "applicant") {
		return nil, false
	}
	return out, true
}

// splitPointer splits "/a/{./b}/c" into a, {./b}, c (templates may contain /).
func splitPointer(p string) []string {
	var out []string
	depth, start := 0, -1
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '{':
			depth++
		case '}':
			depth--
		case '/':
			if depth == 0 {
				if start >= 0 {
					out = append(out, p[start:i])
				}
				start = i + 1
			}
		}
	}
	if start >= 0 && start <= len(p) {
		out = append(out, p[start:])
	}
	return out
}

func isIndex(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil && s != "" && s[0] != '-' && s[0] != '+'
}

// node returns the node at path, creating it.
func (g *schemaGen) node(path []string) *sNode {
	n := g.root
	for _, seg := range path {
		switch seg {
		case itemSeg:
			if n.item == nil {
				n.item = &sNode{}
			}
			n = n.item
		case "*":
			if n.extra == nil {
				n.extra = &sNode{}
			}
			n.object = true
			n = n.extra
		default:
			n = n.child(seg)
		}
	}
	return n
}

// parentAndName splits a path into the parent object's path and the property
// name; ok is false when the last segment is not a property.
func parentAndName(path []string) ([]string, string, bool) {
	last := path[len(path)-1]
	if last == itemSeg || last == "*" {
		return nil, "", false
	}
	return path[:len(path)-1], last, true
}

// genCond is why a rule does not always run: nil = it always runs (in its
// scope); otherwise present (the object at path exists), absent (the value at
// path is absent) or opaque (anything else: required cannot be expressed).
type genCond struct {
	kind string // "present", "absent", "opaque"
	path []string
}

var opaque = &genCond{kind: "opaque"}

// rules walks rules in scope s under condition c.
func (g *schemaGen) rules(rs []*Rule, s *genScope, c *genCond) {
	for _, r := range rs {
		rc := c
		if r.Fallback {
			rc = opaque
		}
		if r.If != nil && len(r.Each) == 0 {
			rc = opaque
			if c == nil && r.If.Equals == nil && r.If.NotEquals == nil && len(r.If.In) == 0 {
				if p, ok := g.path(r.If.Path, s); ok {
					rc = &genCond{kind: "present", path: p}
					if r.If.Absent {
						rc.kind = "absent"
					}
				}
			}
		}
		if len(r.Each) == 0 {
			if len(r.Children) > 0 {
				for _, a := range r.Attrs {
					g.value(a, s, rc)
				}
				g.rules(r.Children, s, rc)
			} else {
				g.value(r, s, rc)
			}
			continue
		}
		g.each(r, s, rc)
	}
}

func (g *schemaGen) each(r *Rule, s *genScope, cond *genCond) {
	var paths [][]string
	for _, p := range r.Each {
		if path, ok := g.path(p, s); ok {
			paths = append(paths, path)
		}
	}
	// A condition on an each rule is evaluated per item.
	var itemCond *genCond
	if r.If != nil {
		itemCond = opaque
	}
	if len(paths) == 0 {
		if cond == nil && r.Min > g.minAttachments && slices.Contains(r.Each, "/attachments") && len(r.Each) == 1 {
			g.minAttachments = r.Min
		}
		// Items that are not form data (e.g. /attachments): their rules may
		// still read form fields through absolute or template pointers.
		is := &genScope{outer: s}
		g.children(r, is, opaque)
		return
	}
	for _, path := range paths {
		n := g.node(path)
		itemPath := path
		if path[len(path)-1] != itemSeg {
			n.each = true
			if r.Min > n.minItems {
				n.minItems = r.Min
			}
			if r.Max > 0 && (n.maxItems == 0 || r.Max < n.maxItems) {
				n.maxItems = r.Max
			}
			n.addDoc(r.Doc)
			itemPath = append(slices.Clone(path), itemSeg)
		}
		is := &genScope{path: itemPath, valid: true, outer: s}
		g.children(r, is, itemCond)
	}
	if cond != nil || r.Min == 0 {
		return
	}
	g.requireAlternatives(paths)
}

// children walks the rules of one "each" item.
func (g *schemaGen) children(r *Rule, is *genScope, cond *genCond) {
	if len(r.Children) > 0 {
		for _, a := range r.Attrs {
			g.value(a, is, cond)
		}
		g.rules(r.Children, is, cond)
		return
	}
	g.value(r, is, cond)
}

// requireAlternatives marks one path required, or several alternatives of
// the same object as anyOf required.
func (g *schemaGen) requireAlternatives(paths [][]string) {
	var parent []string
	var names []string
	for i, p := range paths {
		pp, name, ok := parentAndName(p)
		if !ok || (i > 0 && !slices.Equal(pp, parent)) {
			return
		}
		parent = pp
		names = append(names, name)
	}
	if len(names) == 0 {
		return
	}
	pn := g.node(parent)
	if len(names) == 1 {
		pn.require(names[0])
		return
	}
	pn.addAnyOf(names)
}

// value records the scalar a value rule reads.
func (g *schemaGen) value(r *Rule, s *genScope, cond *genCond) {
	if r.Const != nil || r.Var != "" {
		return
	}
	var paths [][]string
	for _, p := range r.From {
		if path, ok := g.path(p, s); ok {
			paths = append(paths, path)
		}
	}
	if len(paths) == 0 {
		return
	}
	leaf := g.leaf(r)
	for _, p := range paths {
		n := g.node(p)
		if n.fixed != nil {
			continue // an envelope field the intake API defines
		}
		if n.leaf == nil && !n.object && n.item == nil {
			n.leaf = leaf
		}
		n.addDoc(r.Doc)
	}
	if !r.Required || r.Default != nil || len(paths) != len(r.From) {
		return
	}
	if cond == nil {
		g.requireAlternatives(paths)
		return
	}
	pp, name, ok := parentAndName(paths[0])
	if len(paths) != 1 || !ok || cond.kind == "opaque" {
		return
	}
	switch cond.kind {
	case "present":
		// Required whenever the enclosing object the condition names exists.
		if slices.Equal(pp, cond.path) {
			g.node(pp).require(name)
		}
	case "absent":
		// Required unless the sibling the condition names is present.
		if cp, cname, ok := parentAndName(cond.path); ok && slices.Equal(pp, cp) {
			g.node(pp).addAnyOf([]string{cname, name})
		}
	}
}

// leaf is the schema of one scalar value.
func (g *schemaGen) leaf(r *Rule) orderedMap {
	s := orderedMap{}
	textual := orderedMap{{"type", []string{"string", "number"}}}
	switch r.Format {
	case "date":
		s = orderedMap{{"type", "string"}, {"format", "date"}, {"description", "A date: YYYY-MM-DD (also accepted: TT.MM.JJJJ or an RFC 3339 date-time)."}}
	case "datetime":
		s = orderedMap{{"type", "string"}, {"format", "date-time"}}
	case "uuid":
		s = orderedMap{{"type", "string"}, {"format", "uuid"}}
	case "ags":
		s = orderedMap{{"type", "string"}, {"pattern", `^\s*\d(\s?\d){7}\s*$`}, {"description", "Amtlicher Gemeindeschlüssel (8 digits)."}}
	case "ars":
		s = orderedMap{{"type", "string"}, {"pattern", `^\s*\d(\s?\d){11}\s*$`}, {"description", "Amtlicher Regionalschlüssel (12 digits)."}}
	case "plz":
		s = orderedMap{{"type", "string"}, {"pattern", `^\s*\d{5}\s*$`}}
	case "bundesland":
		s = orderedMap{{"type", []string{"string", "integer"}}, {"pattern", `^\s*(0?[1-9]|1[0-6])\s*$`}, {"minimum", 1}, {"maximum", 16}, {"description", "Destatis Bundesland code 01..16."}}
	case "integer":
		s = orderedMap{{"type", []string{"integer", "string"}}, {"pattern", `^\s*[+-]?\d+\s*$`}}
	case "boolean":
		s = orderedMap{{"type", []string{"boolean", "string"}}, {"pattern", `^\s*(?i:true|false|ja|nein|yes|no|1|0)\s*$`}}
	case "mediaType":
		s = orderedMap{{"type", "string"}, {"pattern", `^[^\s/]+/[^\s]+$`}}
	default:
		s = slices.Clone(textual)
	}
	var codes []string
	if c := r.Code; c != nil && g.lists != nil {
		if l, ok := g.lists.Lookup(c.List, c.Version); ok && len(l.Codes()) <= maxEnumCodes {
			codes = l.Codes()
		}
	}
	switch {
	case r.Map != nil:
		keys := make([]string, 0, len(r.Map))
		for k := range r.Map {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if r.MapOther == nil && codes != nil {
			s = orderedMap{{"type", "string"}, {"enum", mergeSorted(keys, codes)}}
		} else if r.MapOther == nil && len(r.Enum) > 0 {
			s = orderedMap{{"type", "string"}, {"enum", mergeSorted(keys, r.Enum)}}
		} else {
			s = append(s, kv{"examples", keys})
		}
	case len(r.Enum) > 0:
		s = orderedMap{{"type", "string"}, {"enum", r.Enum}}
	case codes != nil && r.Format == "":
		s = orderedMap{{"type", "string"}, {"enum", codes}}
	}
	if r.Code != nil {
		if r.Format == "" && r.Map == nil && codes == nil {
			s = orderedMap{{"type", []string{"string", "number"}}, {"pattern", `^\S+$`}}
		}
		s = append(s, kv{"x-dxhub-codeList", orderedMap{{"uri", r.Code.List}, {"version", r.Code.Version}}})
	}
	if r.Pattern != "" {
		s = setKey(s, "pattern", "^(?:"+r.Pattern+")$")
	}
	if r.MaxLen > 0 {
		s = append(s, kv{"maxLength", r.MaxLen})
	}
	if r.Default != nil {
		s = append(s, kv{"default", *r.Default})
	}
	return s
}

func setKey(m orderedMap, k string, v any) orderedMap {
	for i := range m {
		if m[i].k == k {
			m[i].v = v
			return m
		}
	}
	return append(m, kv{k, v})
}

func mergeSorted(a, b []string) []string {
	out := slices.Clone(a)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
