package xoev

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
)

// FieldErrors collects every field-precise mapping error of one submission,
// in document order. errors.As finds each *MappingError through Unwrap.
type FieldErrors []*MappingError

func (e FieldErrors) Error() string {
	var b strings.Builder
	for i, m := range e {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(e)-10)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(m.Error())
	}
	return b.String()
}

// Unwrap returns the individual errors.
func (e FieldErrors) Unwrap() []error {
	out := make([]error, len(e))
	for i, m := range e {
		out[i] = m
	}
	return out
}

// Fields returns the errors as a slice (nil-safe helper for callers holding
// an error).
func AsFieldErrors(err error) []*MappingError {
	var fe FieldErrors
	if errors.As(err, &fe) {
		return fe
	}
	var me *MappingError
	if errors.As(err, &me) {
		return []*MappingError{me}
	}
	return nil
}

// Engine maps submissions with declarative profiles (one per service) and
// validates every result against the profile's XSD. It is safe for
// concurrent use; profiles are read-only after Register.
type Engine struct {
	cfg       Config
	lists     *CodeLists
	validator *Validator
	din       *dinChecker

	owned bool // Close closes the validator

	mu       sync.RWMutex
	profiles map[string]*Profile
}

// NewEngine builds an engine on loaded code lists and a validator (owned by
// the caller). cfg supplies product, test flag, clock and location.
func NewEngine(cfg Config, lists *CodeLists, v *Validator) (*Engine, error) {
	if v == nil {
		return nil, errors.New("xoev: a validator is required: every mapping is validated")
	}
	cfg.Product = cfg.Product.withDefaults()
	if cfg.Location == nil {
		loc, err := time.LoadLocation("Europe/Berlin")
		if err != nil {
			loc = time.UTC
		}
		cfg.Location = loc
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	din, err := loadDIN(v.dir)
	if err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg, lists: lists, validator: v, din: din, profiles: map[string]*Profile{}}, nil
}

// Validator returns the engine's validator.
func (e *Engine) Validator() *Validator { return e.validator }

// Register binds service to profile after checking that the code lists it
// checks are loaded and that its schema compiles.
func (e *Engine) Register(service string, p *Profile) error {
	for _, r := range p.CodeLists() {
		if _, ok := e.lists.Lookup(r.URI, r.Version); !ok {
			return fmt.Errorf("xoev: profile %s for service %s: %w: %s version %s", p.name, service, ErrCodeListMissing, r.URI, r.Version)
		}
	}
	if err := e.validator.Check(p.Schema); err != nil {
		return fmt.Errorf("xoev: profile %s for service %s: %w", p.name, service, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.profiles[service] = p
	return nil
}

// Profile returns the profile of a service.
func (e *Engine) Profile(service string) (*Profile, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	p, ok := e.profiles[service]
	return p, ok
}

// Services lists the services with a profile, sorted.
func (e *Engine) Services() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]string, 0, len(e.profiles))
	for s := range e.profiles {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// ErrNoProfile is returned for a service without a profile.
var ErrNoProfile = errors.New("no mapping profile for service")

// Map builds the message of in.Submission.Service and validates it (XSD and
// the transport Schematron rules, the latter on the tree before serialising). Field errors come back as FieldErrors.
func (e *Engine) Map(ctx context.Context, in MapInput) (Document, error) {
	p, ok := e.Profile(in.Submission.Service)
	if !ok {
		return Document{}, fmt.Errorf("xoev: %w %q", ErrNoProfile, in.Submission.Service)
	}
	return e.MapWith(ctx, p, in)
}

// MapWith maps with an explicit profile (dry runs, tests).
func (e *Engine) MapWith(ctx context.Context, p *Profile, in MapInput) (Document, error) {
	doc, err := e.build(p, in)
	if err != nil {
		return Document{}, err
	}
	if err := e.validator.ValidateAgainst(ctx, p.Schema, p.MessageType, doc.XML); err != nil {
		e.cfg.Logger.ErrorContext(ctx, "xoev: mapped message is not schema-valid", "profile", p.name, "submission", in.Submission.ID, "err", err)
		return Document{}, err
	}
	// The transport Schematron rules (CheckTransportRules) were checked on
	// the tree in build: re-parsing the serialised message for them cost as
	// much as the XSD validation.
	return doc, nil
}

// Check maps and validates without returning the document: the synchronous
// pre-check of the intake API. The reader and author default to placeholder
// DVDV keys, since routing has not happened yet.
func (e *Engine) Check(ctx context.Context, in MapInput) error {
	if in.Reader.Key == "" {
		in.Reader = Party{Key: "ags:00000000", Name: "Prüfung"}
	}
	if in.Author.Key == "" {
		in.Author = Party{Key: "kop:0000000000", Name: "Prüfung"}
	}
	_, err := e.Map(ctx, in)
	return err
}

// run is the state of one mapping.
type run struct {
	e       *Engine
	p       *Profile
	in      MapInput
	data    map[string]any // the submission as JSON
	created time.Time
	uuid    string
	refUUID string
	errs    FieldErrors
	// seen suppresses duplicate errors for the same pointer.
	seen map[string]bool
}

// scope is the current repetition item.
type scope struct {
	ptr   string // pointer of the item
	val   any
	index int // 1-based; 0 at top level
	outer *scope
}

func (r *run) fail(field, format string, args ...any) {
	r.failErr(mapErr(field, format, args...))
}

func (r *run) failErr(err error) {
	var me *MappingError
	if !errors.As(err, &me) {
		me = &MappingError{Field: "/", Reason: err.Error(), Err: err}
	}
	if r.seen[me.Field+"\x00"+me.Reason] {
		return
	}
	r.seen[me.Field+"\x00"+me.Reason] = true
	r.errs = append(r.errs, me)
}

func (e *Engine) build(p *Profile, in MapInput) (Document, error) {
	sub := in.Submission
	if strings.TrimSpace(sub.ID) == "" {
		return Document{}, mapErr("/id", "submission ID is empty")
	}
	data, atts, err := submissionJSON(sub, p.AttachmentName)
	if err != nil {
		return Document{}, err
	}
	created := in.Created
	if created.IsZero() {
		created = e.cfg.Clock()
	}
	r := &run{
		e: e, p: p, in: in, data: data, created: created.In(e.cfg.Location),
		uuid: MessageUUID(sub.ID, p.MessageType), seen: map[string]bool{},
	}
	ref := strings.TrimSpace(sub.Reference)
	if !isUUID(ref) {
		ref = derivedUUID(sub.ID + ":referenzAntragsservice")
	}
	r.refUUID = strings.ToLower(ref)

	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement(p.Root.Prefix + ":" + p.MessageType)
	for _, ns := range p.Root.Namespaces {
		root.CreateAttr("xmlns:"+ns.Prefix, ns.URI)
	}
	top := &scope{ptr: "", val: data}
	for _, a := range p.Root.Attributes {
		r.attr(root, a, top)
	}
	if p.Header != nil {
		if err := r.header(root, p.Header); err != nil {
			return Document{}, err
		}
	}
	r.applyAll(root, p.Body, top)
	if len(r.errs) > 0 {
		return Document{}, r.errs
	}
	if err := checkNoEmpty(root, ""); err != nil {
		return Document{}, &SchemaError{Root: p.MessageType, Schema: "Schematron", Issues: []Issue{{Message: err.Error()}}}
	}
	if err := checkDVDVParties(root); err != nil {
		return Document{}, &SchemaError{Root: p.MessageType, Schema: "Schematron", Issues: []Issue{{Message: err.Error()}}}
	}
	doc.Indent(2)
	out, err := doc.WriteToBytes()
	if err != nil {
		return Document{}, fmt.Errorf("xoev: serialise: %w", err)
	}
	return Document{
		UUID: r.uuid, Standard: p.Standard, Version: p.Version, TypeCode: p.TypeCode,
		RootElement: p.MessageType, Namespace: root.NamespaceURI(), ReferenceUUID: r.refUUID,
		Attachments: atts, XML: out,
	}, nil
}

// submissionJSON is the submission as the portal posted it, with derived
// attachment fields (dokumentid, dateiname, mimeType, sha256 lower-cased).
func submissionJSON(sub Submission, nameField string) (map[string]any, []AttachmentRef, error) {
	var form any
	if len(bytes.TrimSpace(sub.Form)) > 0 {
		if len(sub.Form) > MaxFormSize {
			return nil, nil, mapErr("/form", "form data has %d bytes, more than the limit of %d", len(sub.Form), MaxFormSize)
		}
		dec := json.NewDecoder(bytes.NewReader(sub.Form))
		dec.UseNumber()
		if err := dec.Decode(&form); err != nil {
			return nil, nil, mapErr("/form", "form data is not valid JSON: %v", err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, nil, mapErr("/form", "form data has trailing content after the JSON value")
		}
		if _, ok := form.(map[string]any); !ok {
			return nil, nil, mapErr("/form", "form data must be a JSON object, got %s", jsonKind(form))
		}
	}
	a := sub.Applicant
	data := map[string]any{
		"id": sub.ID, "reference": sub.Reference, "service": sub.Service,
		"applicant": map[string]any{
			"name": a.Name, "email": a.Email,
			"address": map[string]any{"street": a.Street, "houseNumber": a.HouseNumber, "postalCode": a.PostalCode, "city": a.City, "country": a.Country},
		},
	}
	if form != nil {
		data["form"] = form
	}
	var atts []any
	var refs []AttachmentRef
	names, ids := map[string]bool{}, map[string]bool{}
	for i, at := range sub.Attachments {
		mt := mediaType(at.ContentType)
		if mt == "" {
			mt = "application/octet-stream"
		}
		fn, docID := attachmentIdentity(sub.ID, i, at.ID, at.Filename, mt, names, ids)
		uuidName := derivedUUID(sub.ID+":attachment:"+strconv.Itoa(i)) + "_" + fn
		m := map[string]any{
			"id": at.ID, "filename": at.Filename, "contentType": at.ContentType, "mimeType": mt,
			"sha256": strings.ToLower(at.SHA256), "dokumentid": docID, "dateiname": fn,
			"uuidDateiname": uuidName,
		}
		if nameField == "uuidDateiname" {
			fn = uuidName
		}
		if at.Size != 0 {
			m["size"] = json.Number(strconv.FormatInt(at.Size, 10))
		}
		if at.AnlageArt != "" {
			m["anlageArt"] = at.AnlageArt
		}
		atts = append(atts, m)
		refs = append(refs, AttachmentRef{ID: at.ID, DokumentID: docID, Filename: fn})
	}
	if atts != nil {
		data["attachments"] = atts
	}
	return data, refs, nil
}

// resolve evaluates a pointer (with {templates}) in scope s. It returns the
// value, the absolute pointer and whether it is present (not null, not "").
func (r *run) resolve(ptr string, s *scope) (any, string, bool) {
	if strings.Contains(ptr, "{") {
		var b strings.Builder
		rest := ptr
		for {
			i := strings.IndexByte(rest, '{')
			if i < 0 {
				b.WriteString(rest)
				break
			}
			j := strings.IndexByte(rest[i:], '}')
			if j < 0 {
				return nil, ptr, false
			}
			b.WriteString(rest[:i])
			v, _, ok := r.resolve(rest[i+1:i+j], s)
			if !ok {
				return nil, ptr, false
			}
			sv, _ := scalarString(v)
			b.WriteString(escapePointer(sv))
			rest = rest[i+j+1:]
		}
		ptr = b.String()
	}
	var base any
	abs := ""
	switch {
	case ptr == ".":
		return s.val, s.ptr, present(s.val)
	case strings.HasPrefix(ptr, "./"):
		base, abs = s.val, s.ptr
		ptr = ptr[1:]
	case strings.HasPrefix(ptr, "../"):
		for strings.HasPrefix(ptr, "../") {
			if s.outer != nil {
				s = s.outer
			}
			ptr = ptr[3:]
		}
		base, abs = s.val, s.ptr
		ptr = "/" + ptr
	default:
		base = r.data
	}
	cur := base
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		abs += "/" + escapePointer(tok)
		switch c := cur.(type) {
		case map[string]any:
			cur = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				cur = nil
			} else {
				cur = c[i]
			}
		default:
			cur = nil
		}
	}
	return cur, abs, present(cur)
}

func present(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case string:
		return strings.TrimSpace(t) != ""
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
}

// scalarString renders a JSON scalar; ok is false for objects and arrays.
func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case bool:
		return strconv.FormatBool(t), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	}
	return "", false
}

func (r *run) cond(c *Cond, s *scope) bool {
	if c == nil {
		return true
	}
	v, _, ok := r.resolve(c.Path, s)
	if c.Absent {
		return !ok
	}
	if !ok {
		return false
	}
	sv, _ := scalarString(v)
	sv = strings.TrimSpace(sv)
	switch {
	case c.Equals != nil:
		return sv == *c.Equals
	case c.NotEquals != nil:
		return sv != *c.NotEquals
	case len(c.In) > 0:
		return slices.Contains(c.In, sv)
	}
	return true
}

// applyAll applies rules in order; a rule with fallback runs only when the
// rule before it produced nothing (an XSD choice with alternatives).
func (r *run) applyAll(parent *etree.Element, rules []*Rule, s *scope) {
	prev := false
	for _, rule := range rules {
		n := len(parent.ChildElements())
		if rule.Fallback && prev {
			continue
		}
		r.apply(parent, rule, s)
		prev = len(parent.ChildElements()) > n
	}
}

// apply produces rule in parent for scope s (repeating it for each).
func (r *run) apply(parent *etree.Element, rule *Rule, s *scope) {
	if len(rule.Each) == 0 {
		if r.cond(rule.If, s) {
			r.element(parent, rule, s)
		}
		return
	}
	var (
		v   any
		abs string
		ok  bool
	)
	for i, p := range rule.Each {
		pv, pabs, pok := r.resolve(p, s)
		if i == 0 || pok {
			v, abs, ok = pv, pabs, pok
		}
		if pok {
			break
		}
	}
	var items []any
	var ptrs []string
	switch t := v.(type) {
	case []any:
		items = t
		for i := range t {
			ptrs = append(ptrs, abs+"/"+strconv.Itoa(i))
		}
	case map[string]any:
		items, ptrs = []any{t}, []string{abs}
	case nil:
	default:
		r.fail(abs, "expected an array (or an object), got %s", jsonKind(v))
		return
	}
	if !ok {
		items, ptrs = nil, nil
	}
	if rule.Min > 0 && len(items) < rule.Min {
		r.fail(abs, "expected an array with at least %d item(s), got %d", rule.Min, len(items))
		return
	}
	if rule.Max > 0 && len(items) > rule.Max {
		r.fail(abs, "expected at most %d item(s), got %d", rule.Max, len(items))
		return
	}
	for i, it := range items {
		is := &scope{ptr: ptrs[i], val: it, index: i + 1, outer: s}
		if r.cond(rule.If, is) {
			r.element(parent, rule, is)
		}
	}
}

// element builds one element; it is removed again if it ends up empty.
func (r *run) element(parent *etree.Element, rule *Rule, s *scope) {
	if len(rule.Children) > 0 {
		el := parent.CreateElement(rule.El)
		for _, a := range rule.Attrs {
			r.attr(el, a, s)
		}
		r.applyAll(el, rule.Children, s)
		if len(el.ChildElements()) == 0 {
			parent.RemoveChild(el)
		}
		return
	}
	val, ptr, ok := r.value(rule, s)
	if !ok {
		return
	}
	el := parent.CreateElement(rule.El)
	for _, a := range rule.Attrs {
		r.attr(el, a, s)
	}
	if c := rule.Code; c != nil {
		if c.Attrs == "" || c.Attrs == "both" {
			el.CreateAttr("listURI", c.List)
		}
		if (c.Attrs == "" || c.Attrs == "both" || c.Attrs == "version") && c.Version != "" {
			el.CreateAttr("listVersionID", c.Version)
		}
		code := el.CreateElement("code")
		code.SetText(val)
		_ = ptr
		return
	}
	el.SetText(val)
}

func (r *run) attr(el *etree.Element, rule *Rule, s *scope) {
	if !r.cond(rule.If, s) {
		return
	}
	if v, _, ok := r.value(rule, s); ok {
		el.CreateAttr(rule.Attr, v)
	}
}

// value evaluates the rule's value: source, default, map, format, checks.
// ok is false when there is nothing to write (errors are recorded).
func (r *run) value(rule *Rule, s *scope) (string, string, bool) {
	var (
		raw   any
		ptr   string
		found bool
	)
	switch {
	case rule.Const != nil:
		raw, found, ptr = *rule.Const, true, "(const)"
	case rule.Var != "":
		raw, found = r.variable(rule.Var, rule, s)
		ptr = "(var " + rule.Var + ")"
	default:
		for _, p := range rule.From {
			v, abs, ok := r.resolve(p, s)
			if ptr == "" {
				ptr = abs
			}
			if ok {
				raw, ptr, found = v, abs, true
				break
			}
		}
	}
	if !found && rule.Default != nil {
		raw, found = *rule.Default, true
	}
	if !found {
		if rule.Required {
			r.fail(ptr, "is required%s", expect(rule))
		}
		return "", ptr, false
	}
	sv, ok := scalarString(raw)
	if !ok {
		r.fail(ptr, "expected a string, number or boolean%s, got %s", expect(rule), jsonKind(raw))
		return "", ptr, false
	}
	if rule.Map != nil {
		if m, ok := rule.Map[strings.TrimSpace(sv)]; ok {
			sv = m
		} else if rule.MapOther != nil {
			sv = *rule.MapOther
		}
	}
	v, err := r.format(rule, ptr, sv)
	if err != nil {
		r.failErr(err)
		return "", ptr, false
	}
	if v == "" {
		if rule.Required {
			r.fail(ptr, "is required%s", expect(rule))
		}
		return "", ptr, false
	}
	if len(rule.Enum) > 0 && !slices.Contains(rule.Enum, v) {
		r.fail(ptr, "%q is not allowed: expected one of %s", v, strings.Join(rule.Enum, ", "))
		return "", ptr, false
	}
	if rule.pattern != nil && !rule.pattern.MatchString(v) {
		r.fail(ptr, "%q does not match the expected pattern %s", v, rule.Pattern)
		return "", ptr, false
	}
	if rule.MaxLen > 0 && len([]rune(v)) > rule.MaxLen {
		r.fail(ptr, "is longer than %d characters", rule.MaxLen)
		return "", ptr, false
	}
	if c := rule.Code; c != nil && rule.Var == "" {
		var err error
		switch c.Check {
		case "", "required":
			err = r.e.lists.Check(ptr, c.List, c.Version, v)
		case "ifLoaded":
			err = r.e.lists.CheckIfLoaded(ptr, c.List, c.Version, v)
		}
		var ce *CodeError
		if errors.As(err, &ce) {
			r.failErr(&MappingError{Field: ptr, Reason: fmt.Sprintf("code %q is not in code list %s version %s", v, c.List, c.Version), Err: ce})
			return "", ptr, false
		} else if err != nil {
			r.failErr(&MappingError{Field: ptr, Reason: err.Error(), Err: err})
			return "", ptr, false
		}
	}
	return v, ptr, true
}

// expect describes what a rule expects, for error messages.
func expect(rule *Rule) string {
	switch {
	case rule.Code != nil:
		return fmt.Sprintf(" (a code of %s version %s)", rule.Code.List, rule.Code.Version)
	case len(rule.Enum) > 0:
		return " (one of " + strings.Join(rule.Enum, ", ") + ")"
	case rule.Format != "":
		return " (format " + rule.Format + ")"
	}
	return ""
}

func (r *run) variable(name string, rule *Rule, s *scope) (string, bool) {
	in := r.in
	split := func(key string) (string, string) {
		p, id, _ := strings.Cut(key, ":")
		return p, id
	}
	switch name {
	case "messageUUID":
		return r.uuid, true
	case "created":
		return formatDateTime(r.created), true
	case "createdDate":
		return r.created.Format("2006-01-02"), true
	case "referenceUUID":
		return r.refUUID, true
	case "submissionID":
		return in.Submission.ID, true
	case "uuid":
		return derivedUUID(in.Submission.ID + ":" + s.ptr + ":" + rule.El + rule.Attr), true
	case "index":
		return strconv.Itoa(s.index), s.index > 0
	case "readerKey":
		return in.Reader.Key, in.Reader.Key != ""
	case "readerName":
		return partyName(in.Reader), true
	case "authorKey":
		return in.Author.Key, in.Author.Key != ""
	case "authorName":
		return partyName(in.Author), true
	case "readerPrefix":
		p, _ := split(in.Reader.Key)
		return p, p != ""
	case "readerID":
		_, id := split(in.Reader.Key)
		return id, id != ""
	case "authorPrefix":
		p, _ := split(in.Author.Key)
		return p, p != ""
	case "authorID":
		_, id := split(in.Author.Key)
		return id, id != ""
	case "productName":
		return r.e.cfg.Product.Name, true
	case "productVendor":
		return r.e.cfg.Product.Vendor, true
	case "productVersion":
		return r.e.cfg.Product.Version, r.e.cfg.Product.Version != ""
	case "test":
		return "true", r.e.cfg.Test
	case "typeCode":
		return r.p.TypeCode, true
	}
	return "", false
}

func partyName(p Party) string {
	if n := strings.TrimSpace(p.Name); n != "" {
		return n
	}
	return p.Key
}

var (
	agsRE  = regexp.MustCompile(`^\d{8}$`)
	arsRE  = regexp.MustCompile(`^\d{12}$`)
	plzRE  = regexp.MustCompile(`^\d{5}$`)
	dateDE = regexp.MustCompile(`^(\d{1,2})\.(\d{1,2})\.(\d{4})$`)
)

// format applies rule.Format and the text check.
func (r *run) format(rule *Rule, ptr, v string) (string, error) {
	if rule.Var != "" || rule.Const != nil {
		return v, nil // trusted values
	}
	v = strings.TrimSpace(v)
	switch rule.Format {
	case "date":
		if t, err := time.Parse("2006-01-02", v); err == nil {
			return t.Format("2006-01-02"), nil
		}
		if m := dateDE.FindStringSubmatch(v); m != nil {
			d, _ := strconv.Atoi(m[1])
			mo, _ := strconv.Atoi(m[2])
			y, _ := strconv.Atoi(m[3])
			t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
			if t.Day() == d && int(t.Month()) == mo {
				return t.Format("2006-01-02"), nil
			}
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t.In(r.e.cfg.Location).Format("2006-01-02"), nil
		}
		return "", mapErr(ptr, "%q is not a date (expected YYYY-MM-DD or TT.MM.JJJJ)", v)
	case "datetime":
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return "", mapErr(ptr, "%q is not a date-time with offset (expected RFC 3339)", v)
		}
		return formatDateTime(t), nil
	case "ags":
		v = strings.ReplaceAll(v, " ", "")
		if !agsRE.MatchString(v) {
			return "", mapErr(ptr, "%q is not an Amtlicher Gemeindeschlüssel (expected 8 digits)", v)
		}
		return v, nil
	case "ars":
		v = strings.ReplaceAll(v, " ", "")
		if !arsRE.MatchString(v) {
			return "", mapErr(ptr, "%q is not an Amtlicher Regionalschlüssel (expected 12 digits)", v)
		}
		return v, nil
	case "plz":
		if !plzRE.MatchString(v) {
			return "", mapErr(ptr, "%q is not a German Postleitzahl (expected 5 digits)", v)
		}
		return v, nil
	case "bundesland":
		if n, err := strconv.Atoi(v); err == nil && n >= 1 && n <= 16 && len(v) <= 2 {
			return fmt.Sprintf("%02d", n), nil
		}
		return "", mapErr(ptr, "%q is not a Destatis Bundesland code (expected 01..16)", v)
	case "upper":
		v = strings.ToUpper(v)
	case "lower":
		v = strings.ToLower(v)
	case "familyName":
		_, v = SplitName(v)
	case "givenName":
		v, _ = SplitName(v)
		if v == "" {
			return "", nil
		}
	case "integer":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", mapErr(ptr, "%q is not an integer", v)
		}
		return strconv.FormatInt(n, 10), nil
	case "boolean":
		switch strings.ToLower(v) {
		case "true", "ja", "yes", "1":
			return "true", nil
		case "false", "nein", "no", "0":
			return "false", nil
		}
		return "", mapErr(ptr, "%q is not a boolean (expected true or false)", v)
	case "uuid":
		if !isUUID(v) {
			return "", mapErr(ptr, "%q is not a UUID", v)
		}
		return strings.ToLower(v), nil
	case "mediaType":
		v = mediaType(v)
		if !strings.Contains(v, "/") || strings.ContainsAny(v, " \t") {
			return "", mapErr(ptr, "%q is not a MIME type", v)
		}
		return v, nil
	case "base64":
		c, err := cleanText(ptr, v)
		if err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString([]byte(c)), nil
	}
	if rule.Code != nil {
		if strings.ContainsAny(v, " \t\n") {
			return "", mapErr(ptr, "%q is not a code (no white space allowed)%s", v, expect(rule))
		}
		return v, nil
	}
	check := rule.Text
	if check == "" {
		check = r.p.Text
	}
	c, err := cleanText(ptr, v)
	if err != nil {
		return "", err
	}
	if check != "plain" && c != "" {
		if err := r.e.din.check(ptr, check, c); err != nil {
			return "", err
		}
	}
	return c, nil
}

// header writes the message header of the profile's generation.
func (r *run) header(root *etree.Element, h *HeaderSpec) error {
	q := func(n string) string {
		if h.Prefix == "" {
			return n
		}
		return h.Prefix + ":" + n
	}
	txt := func(parent *etree.Element, name, v string) *etree.Element {
		el := parent.CreateElement(q(name))
		el.SetText(v)
		return el
	}
	cd := func(parent *etree.Element, name, uri, version, v string) {
		el := parent.CreateElement(q(name))
		if uri != "" {
			el.CreateAttr("listURI", uri)
		}
		if version != "" {
			el.CreateAttr("listVersionID", version)
		}
		el.CreateElement("code").SetText(v)
	}
	parties := []struct {
		name string
		p    Party
	}{{"leser", r.in.Reader}, {"autor", r.in.Author}}
	for _, pt := range parties {
		if !dvdvKey.MatchString(pt.p.Key) {
			return fmt.Errorf("xoev: %s key %q is not a DVDV Behördenkennung (^[a-z]{3}:\\d+$, XBau Schematron sch-xbau-001/002)", pt.name, pt.p.Key)
		}
		if _, err := cleanText("name", partyName(pt.p)); err != nil {
			return fmt.Errorf("xoev: header party %s: %s", pt.p.Key, err.Error())
		}
	}
	switch h.Generation {
	case HeaderG2G:
		kopf := root.CreateElement(q("nachrichtenkopf.g2g"))
		id := kopf.CreateElement(q("identifikation.nachricht"))
		txt(id, "nachrichtenUUID", r.uuid)
		cd(id, "nachrichtentyp", h.TypeList.URI, h.TypeList.Version, r.p.TypeCode)
		txt(id, "erstellungszeitpunkt", formatDateTime(r.created))
		for _, pt := range parties {
			b := kopf.CreateElement(q(pt.name))
			cd(b, "verzeichnisdienst", "", h.Verzeichnisdienst, "DVDV")
			txt(b, "kennung", pt.p.Key)
			txt(b, "name", partyName(pt.p))
		}
	case HeaderXInneres:
		kopf := root.CreateElement(q("nachrichtenkopf"))
		id := kopf.CreateElement(q("identifikation.nachricht"))
		txt(id, "nachrichtenUUID", r.uuid)
		cd(id, "nachrichtentyp", h.TypeList.URI, h.TypeList.Version, r.p.TypeCode)
		txt(id, "erstellungszeitpunkt", formatDateTime(r.created))
		for _, pt := range parties {
			prefix, kennung, _ := strings.Cut(pt.p.Key, ":")
			list, ok := h.Kennung[prefix]
			if !ok {
				return fmt.Errorf("xoev: profile %s: header.kennung has no code list for DVDV prefix %q (%s)", r.p.name, prefix, pt.name)
			}
			b := kopf.CreateElement(q(pt.name))
			bk := b.CreateElement(q("behoerdenkennung"))
			cd(bk, "praefix", ListDVDVPraefix, h.PraefixVersion, prefix)
			cd(bk, "kennung", list.URI, list.Version, kennung)
			contact := h.ReaderContact
			if pt.name == "autor" {
				contact = h.AuthorContact
			}
			if contact != nil {
				for _, e := range contact.Erreichbarkeit {
					er := b.CreateElement(q("erreichbarkeit"))
					// kanal: listVersionID is fixed to "1" in XInneres
					// kommunikation 4; the attributes are optional.
					cd(er, "kanal", "", "", e.Kanal)
					txt(er, "kennung", e.Kennung)
				}
				a := contact.Anschrift
				geb := b.CreateElement(q("anschrift")).CreateElement(q("gebaeude"))
				for _, f := range []struct{ n, v string }{{"hausnummer", a.Hausnummer}, {"postleitzahl", a.Postleitzahl}, {"strasse", a.Strasse}, {"wohnort", a.Ort}} {
					if f.v != "" {
						txt(geb, f.n, f.v)
					}
				}
			}
			txt(b, "behoerdenname", partyName(pt.p))
		}
	}
	return nil
}

// OpenEngine loads the code lists (see standardCodeLists) and a validator,
// and returns an engine that owns the validator (Close frees it).
func OpenEngine(cfg Config, extraListDirs ...string) (*Engine, error) {
	lists, v, err := openShared(cfg, extraListDirs)
	if err != nil {
		return nil, err
	}
	e, err := NewEngine(cfg, lists, v)
	if err != nil {
		_ = v.Close()
		return nil, err
	}
	e.owned = true
	return e, nil
}

// OpenMapperAndEngine builds the built-in Mapper and the profile Engine on
// one set of code lists and one validator, so a hub that runs both loads the
// lists and compiles each schema set once. The Mapper owns the validator:
// close the Engine first, then the Mapper.
func OpenMapperAndEngine(cfg Config, extraListDirs ...string) (*Mapper, *Engine, error) {
	lists, v, err := openShared(cfg, extraListDirs)
	if err != nil {
		return nil, nil, err
	}
	m, err := NewMapper(cfg, lists, v)
	if err != nil {
		_ = v.Close()
		return nil, nil, err
	}
	m.owned = true
	e, err := NewEngine(cfg, lists, v)
	if err != nil {
		_ = m.Close()
		return nil, nil, err
	}
	return m, e, nil
}

// openShared loads the code lists (extraListDirs first, then xoev/codelists
// and the xdomea 3.0.0 lists below cfg.StandardsDir) and a validator.
func openShared(cfg Config, extraListDirs []string) (*CodeLists, *Validator, error) {
	if cfg.StandardsDir == "" {
		return nil, nil, errors.New("xoev: Config.StandardsDir is empty")
	}
	dirs := append([]string{}, extraListDirs...)
	dirs = append(dirs, filepath.Join(cfg.StandardsDir, filepath.FromSlash(codeListDir)),
		filepath.Join(cfg.StandardsDir, filepath.FromSlash(xdomeaCodeListDir)))
	lists, err := LoadCodeListDirs(dirs...)
	if err != nil {
		return nil, nil, err
	}
	v, err := NewValidator(cfg.StandardsDir)
	if err != nil {
		return nil, nil, err
	}
	return lists, v, nil
}

// Close frees the validator if OpenEngine created it.
func (e *Engine) Close() error {
	if e.owned {
		return e.validator.Close()
	}
	return nil
}

// CodeLists returns the engine's code lists.
func (e *Engine) CodeLists() *CodeLists { return e.lists }
