package xoev

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CodeRef names a code list by URI and version.
type CodeRef struct {
	URI     string
	Version string
}

// ListVersions are the code-list versions written into messages for lists the
// XSD does not fix (Code-Typ 3/4). The defaults (DefaultListVersions) follow the
// bundled genericode files where we have them; the others are documented
// assumptions that an operator can override per deployment.
type ListVersions struct {
	Verzeichnisdienst string  // urn:xoev-de:kosit:codeliste:verzeichnisdienst (Typ 3)
	Erreichbarkeit    string  // urn:de:xoev:codeliste:erreichbarkeit (Typ 3), bundled 4.1
	Bundesland        string  // Destatis Bundesland (Typ 3)
	Staat             string  // Destatis Staatsgebiete (Typ 3)
	Anlagen           CodeRef // Code.AnlageArt (Typ 4), bundled anlagen 3.0
	MimeTypes         CodeRef // Code.XBau-MimeType (Typ 4)
	ArtDesAntrags     CodeRef // Code.ArtDesAntrags (Typ 4)
}

// DefaultListVersions are used for every empty field of Config.Lists.
//
// Assumptions (no genericode file in the bundle; override when the receiving
// Fachverfahren expects others): Verzeichnisdienst "3", Bundesland
// "2010-04-01", Staatsgebiete "2024-02-29", xbau-mimetypes "1.0" (codes are
// MIME types such as application/pdf) and XBau artdesantrags "1.0", the list
// the Code.ArtDesAntrags documentation offers as its model.
var DefaultListVersions = ListVersions{
	Verzeichnisdienst: "3",
	Erreichbarkeit:    "4.1",
	Bundesland:        "2010-04-01",
	Staat:             "2024-02-29",
	Anlagen:           CodeRef{ListAnlagen, "3.0"},
	MimeTypes:         CodeRef{ListMimeTypes, "1.0"},
	ArtDesAntrags:     CodeRef{ListArtDesAntrags, "1.0"},
}

func (l ListVersions) withDefaults() ListVersions {
	d := DefaultListVersions
	pick := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	pickRef := func(v, def CodeRef) CodeRef {
		return CodeRef{URI: pick(v.URI, def.URI), Version: pick(v.Version, def.Version)}
	}
	return ListVersions{
		Verzeichnisdienst: pick(l.Verzeichnisdienst, d.Verzeichnisdienst),
		Erreichbarkeit:    pick(l.Erreichbarkeit, d.Erreichbarkeit),
		Bundesland:        pick(l.Bundesland, d.Bundesland),
		Staat:             pick(l.Staat, d.Staat),
		Anlagen:           pickRef(l.Anlagen, d.Anlagen),
		MimeTypes:         pickRef(l.MimeTypes, d.MimeTypes),
		ArtDesAntrags:     pickRef(l.ArtDesAntrags, d.ArtDesAntrags),
	}
}

// DefaultAnlageArt is "9999 Weitere, nicht näher spezifizierte Anlage" of
// urn:xoev-de:xbau:codeliste:anlagen 3.0.
const DefaultAnlageArt = "9999"

// Config configures a Mapper.
type Config struct {
	// StandardsDir holds xoev/xbau/2.6/xsd_dev and xoev/codelists (Open only).
	StandardsDir string
	Product      Product
	// Test sets the root attribute test="true": the reader must not process
	// the message in production.
	Test  bool
	Lists ListVersions
	// ServiceArtDesAntrags maps Submission.Service to an artDesAntrags code,
	// used when the form has no "artDesAntrags".
	ServiceArtDesAntrags map[string]string
	// DefaultAnlageArt is the anlageart of attachments without one; default "9999".
	DefaultAnlageArt string
	// Location is the time zone of erstellungszeitpunkt and anlage/datum;
	// default Europe/Berlin (UTC if the zone database is missing).
	Location *time.Location
	// Clock supplies the creation time when MapInput.Created is zero.
	Clock  func() time.Time
	Logger *slog.Logger
}

// requiredLists must be loaded for the mapper and the reply builders to check
// the codes they write.
func requiredLists(l ListVersions) []CodeRef {
	return []CodeRef{
		l.Anlagen,
		{ListErreichbarkeit, l.Erreichbarkeit},
		{ListKernmodulNachrichten, ListKernmodulNachrichtenVersion},
		{ListStatusBauportal, ListStatusBauportalVersion},
		{ListFehlerkennzahlen, ListFehlerkennzahlenVersion},
	}
}

// Mapper maps submissions to XBau Kernmodul 1.3.0 universellerAntrag.antrag.1200
// and validates every result. It is safe for concurrent use.
type Mapper struct {
	cfg       Config
	lists     *CodeLists
	validator *Validator
	din       *dinChecker
	owned     bool // Close closes the validator
}

// text cleans s (see cleanText) and checks it against DIN 91379 datatypeC.
func (m *Mapper) text(field, s string) (string, error) { return m.textAs(field, "datatypeC", s) }

func (m *Mapper) textAs(field, datatype, s string) (string, error) {
	s, err := cleanText(field, s)
	if err != nil {
		return "", err
	}
	return s, m.din.check(field, datatype, s)
}

// Open loads the code lists and prepares the validator from cfg.StandardsDir.
func Open(cfg Config) (*Mapper, error) {
	if cfg.StandardsDir == "" {
		return nil, fmt.Errorf("xoev: Config.StandardsDir is empty")
	}
	lists, err := LoadCodeLists(filepath.Join(cfg.StandardsDir, filepath.FromSlash(codeListDir)))
	if err != nil {
		return nil, err
	}
	v, err := NewValidator(cfg.StandardsDir)
	if err != nil {
		return nil, err
	}
	m, err := NewMapper(cfg, lists, v)
	if err != nil {
		_ = v.Close()
		return nil, err
	}
	m.owned = true
	return m, nil
}

// NewMapper builds a mapper from loaded code lists and a validator (which the
// caller keeps ownership of). It fails when a required code list is missing.
func NewMapper(cfg Config, lists *CodeLists, v *Validator) (*Mapper, error) {
	if v == nil {
		return nil, fmt.Errorf("xoev: a validator is required: every mapping is validated")
	}
	cfg.Lists = cfg.Lists.withDefaults()
	cfg.Product = cfg.Product.withDefaults()
	if cfg.DefaultAnlageArt == "" {
		cfg.DefaultAnlageArt = DefaultAnlageArt
	}
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
	for _, r := range requiredLists(cfg.Lists) {
		if _, ok := lists.Lookup(r.URI, r.Version); !ok {
			return nil, fmt.Errorf("xoev: %w: %s version %s (loaded: %s)", ErrCodeListMissing, r.URI, r.Version, strings.Join(lists.URIs(), ", "))
		}
	}
	if err := lists.Check("Config.DefaultAnlageArt", cfg.Lists.Anlagen.URI, cfg.Lists.Anlagen.Version, cfg.DefaultAnlageArt); err != nil {
		return nil, err
	}
	for svc, c := range cfg.ServiceArtDesAntrags {
		if err := lists.CheckIfLoaded("Config.ServiceArtDesAntrags["+svc+"]", cfg.Lists.ArtDesAntrags.URI, cfg.Lists.ArtDesAntrags.Version, c); err != nil {
			return nil, err
		}
	}
	din, err := loadDIN(v.dir)
	if err != nil {
		return nil, err
	}
	return &Mapper{cfg: cfg, lists: lists, validator: v, din: din}, nil
}

// Validator returns the mapper's validator (for inbound checks and replies).
func (m *Mapper) Validator() *Validator { return m.validator }

// CodeLists returns the loaded code lists.
func (m *Mapper) CodeLists() *CodeLists { return m.lists }

// Close releases the validator if Open created it.
func (m *Mapper) Close() error {
	if m.owned {
		return m.validator.Close()
	}
	return nil
}

// Map turns a submission into a schema-valid universellerAntrag.antrag.1200.
// Errors for which IsPermanent holds (mapping, code list, schema) reject the
// submission; other errors are configuration problems.
func (m *Mapper) Map(ctx context.Context, in MapInput) (Document, error) {
	doc, err := m.build(in)
	if err != nil {
		return Document{}, err
	}
	if err := m.validator.ValidateAgainst(ctx, SchemaFor(NSKernmodul130, Root1200), Root1200, doc.XML); err != nil {
		m.cfg.Logger.ErrorContext(ctx, "xoev: mapped 1200 is not schema-valid", "submission", in.Submission.ID, "err", err)
		return Document{}, err
	}
	return doc, nil
}

func (m *Mapper) build(in MapInput) (Document, error) {
	sub := in.Submission
	if strings.TrimSpace(sub.ID) == "" {
		return Document{}, mapErr("/id", "submission ID is empty")
	}
	reader, err := checkParty("reader", in.Reader)
	if err != nil {
		return Document{}, err
	}
	author, err := checkParty("author", in.Author)
	if err != nil {
		return Document{}, err
	}
	for _, p := range []*Party{&reader, &author} {
		if p.Name, err = m.text("name", p.Name); err != nil {
			// A configuration problem, not the submission's: not permanent.
			return Document{}, fmt.Errorf("xoev: header party %s: %s", p.Key, err.Error())
		}
	}
	form, err := DecodeForm(sub.Form)
	if err != nil {
		return Document{}, err
	}
	created := in.Created
	if created.IsZero() {
		created = m.cfg.Clock()
	}
	created = created.In(m.cfg.Location)

	l := m.cfg.Lists
	msg := newMessage(Root1200, m.cfg.Product, m.cfg.Test, false)
	uuid := MessageUUID(sub.ID, MessageKind1200)
	msg.header(headerData{UUID: uuid, TypeCode: Code1200, Created: created, Reader: reader, Author: author, VerzeichnisdienstVersion: l.Verzeichnisdienst})

	// referenzAntragsservice: the portal's reference if it is a UUID, else a
	// UUID derived from the submission ID (stable across re-mappings).
	ref := strings.TrimSpace(sub.Reference)
	if !isUUID(ref) {
		ref = derivedUUID(sub.ID + ":referenzAntragsservice")
	}
	text(msg.root.CreateElement("referenzAntragsservice"), "referenzAntragsservice", strings.ToLower(ref))

	art := form.ArtDesAntrags
	artField := "/form/artDesAntrags"
	if art == "" {
		art = m.cfg.ServiceArtDesAntrags[sub.Service]
		artField = "/service"
	}
	if art == "" {
		return Document{}, mapErr("/form/artDesAntrags", "is required: the form has none and service %q has no configured artDesAntrags", sub.Service)
	}
	if err := m.checkCode(artField, l.ArtDesAntrags, art, false); err != nil {
		return Document{}, err
	}
	code(msg.root, "artDesAntrags", l.ArtDesAntrags.URI, l.ArtDesAntrags.Version, art)

	if b := form.Bezug; b != nil {
		be := msg.root.CreateElement("bezug")
		if b.Referenz != "" {
			text(be, "referenz", strings.ToLower(b.Referenz))
		}
		if b.Vorgang != "" {
			v, err := m.text("/form/bezug/vorgang", b.Vorgang)
			if err != nil {
				return Document{}, err
			}
			text(be, "vorgang", v)
		}
	}

	if err := m.antragsteller(msg, sub, form); err != nil {
		return Document{}, err
	}
	if err := m.grundstuecke(msg, form); err != nil {
		return Document{}, err
	}
	refs, err := m.anlagen(msg, sub, form, created)
	if err != nil {
		return Document{}, err
	}
	data, err := msg.bytes()
	if err != nil {
		return Document{}, err
	}
	return Document{
		UUID: uuid, Standard: StandardKernmodul, Version: VersionKernmodul, TypeCode: Code1200,
		RootElement: Root1200, Namespace: NSKernmodul130, ReferenceUUID: strings.ToLower(ref),
		Attachments: refs, XML: data,
	}, nil
}

// checkCode checks a Code-Typ 3/4 value; required lists must be loaded.
func (m *Mapper) checkCode(field string, list CodeRef, c string, required bool) error {
	var err error
	if required {
		err = m.lists.Check(field, list.URI, list.Version, c)
	} else {
		err = m.lists.CheckIfLoaded(field, list.URI, list.Version, c)
	}
	if ce, ok := err.(*CodeError); ok {
		return &MappingError{Field: field, Reason: fmt.Sprintf("code %q is not in code list %s version %s", c, list.URI, list.Version), Err: ce}
	}
	return err
}

func (m *Mapper) antragsteller(msg *message, sub Submission, form Form) error {
	a := sub.Applicant
	vor, fam := form.Applicant.FirstName, form.Applicant.LastName
	famField, vorField := "/form/applicant/lastName", "/form/applicant/firstName"
	if fam == "" {
		if strings.TrimSpace(a.Name) == "" {
			return mapErr("/applicant/name", "the applicant's name is required (or form.applicant.firstName/lastName)")
		}
		vor, fam = SplitName(a.Name)
		famField, vorField = "/applicant/name", "/applicant/name"
	}
	p := msg.root.CreateElement("antragsteller").CreateElement("natuerlichePerson")
	text(p, "id", derivedUUID(sub.ID+":antragsteller:0"))
	n := p.CreateElement("name")
	for _, t := range []struct{ field, name, v string }{
		{"/form/applicant/title", "titel", form.Applicant.Title},
		{"/form/applicant/salutation", "anrede", form.Applicant.Salutation},
	} {
		if t.v == "" {
			continue
		}
		v, err := m.text(t.field, t.v)
		if err != nil {
			return err
		}
		text(n, t.name, v)
	}
	famV, err := m.text(famField, fam)
	if err != nil {
		return err
	}
	text(n.CreateElement("familienname"), "name", famV)
	if vor == "" {
		text(n.CreateElement("vorname"), "nichtVorhanden", "true")
	} else {
		vorV, err := m.text(vorField, vor)
		if err != nil {
			return err
		}
		text(n.CreateElement("vorname"), "name", vorV)
	}

	if strings.TrimSpace(a.PostalCode) == "" {
		return mapErr("/applicant/address/postalCode", "is required")
	}
	if strings.TrimSpace(a.City) == "" {
		return mapErr("/applicant/address/city", "is required")
	}
	an := p.CreateElement("anschrift")
	for _, t := range []struct{ field, name, v string }{
		{"/applicant/address/street", "strasse", a.Street},
		{"/applicant/address/houseNumber", "hausnummer", a.HouseNumber},
		{"/applicant/address/postalCode", "postleitzahl", a.PostalCode},
		{"/applicant/address/city", "ort", a.City},
	} {
		if strings.TrimSpace(t.v) == "" {
			continue
		}
		v, err := m.text(t.field, t.v)
		if err != nil {
			return err
		}
		text(an, t.name, v)
	}
	country := strings.ToUpper(strings.TrimSpace(a.Country))
	if country != "" && country != "DE" {
		st := form.Applicant.Staat
		if st == "" {
			return mapErr("/applicant/address/country", "country %q needs its Destatis Staatsgebiet code (\"Schlüssel Gebiet\", 3 digits) in /form/applicant/staat", country)
		}
		if n, err := strconv.Atoi(st); err != nil || len(st) != 3 || n < 0 {
			return mapErr("/form/applicant/staat", "%q is not a 3-digit Destatis Staatsgebiet code", st)
		}
		code(an.CreateElement("staat"), "staat", "", m.cfg.Lists.Staat, st)
	}

	for _, k := range []struct{ field, kanal, v string }{
		{"/applicant/email", "01", a.Email},
		{"/form/applicant/phone", "02", form.Applicant.Phone},
	} {
		if strings.TrimSpace(k.v) == "" {
			continue
		}
		v, err := m.text(k.field, k.v)
		if err != nil {
			return err
		}
		if k.kanal == "01" && (!strings.Contains(v, "@") || strings.ContainsAny(v, " \t\n")) {
			return mapErr(k.field, "%q is not an e-mail address", v)
		}
		if err := m.checkCode(k.field, CodeRef{ListErreichbarkeit, m.cfg.Lists.Erreichbarkeit}, k.kanal, true); err != nil {
			return err
		}
		ko := p.CreateElement("kommunikation")
		code(ko, "kanal", "", m.cfg.Lists.Erreichbarkeit, k.kanal)
		text(ko, "kennung", v)
	}
	return nil
}

func (m *Mapper) grundstuecke(msg *message, form Form) error {
	for gi, g := range form.Grundstuecke {
		gp := fmt.Sprintf("/form/grundstuecke/%d", gi)
		ge := msg.root.CreateElement("grundstueck")
		if a := g.Anschrift; a != nil {
			ae := ge.CreateElement("anschriftGrundstueck")
			for _, t := range []struct{ key, name, v string }{
				{"strasse", "strasse", a.Strasse}, {"hausnummer", "hausnummer", a.Hausnummer},
				{"postleitzahl", "postleitzahl", a.Postleitzahl}, {"ort", "ort", a.Ort},
				{"ortsteil", "ortsteil", a.Ortsteil}, {"zusatz", "zusatz", a.Zusatz},
			} {
				if t.v == "" {
					continue
				}
				v, err := m.text(gp+"/anschrift/"+t.key, t.v)
				if err != nil {
					return err
				}
				text(ae, t.name, v)
			}
		}
		for fi, f := range g.Flurstuecke {
			fp := fmt.Sprintf("%s/flurstuecke/%d", gp, fi)
			fe := ge.CreateElement("flurstueck")
			code(fe, "bundesland", "", m.cfg.Lists.Bundesland, f.Bundesland)
			k := fe.CreateElement("kodierungFlurstueck")
			gm := k.CreateElement("gemarkung")
			if f.GemarkungNummer != "" {
				text(gm, "nummer", f.GemarkungNummer)
			} else {
				v, err := m.text(fp+"/gemarkungName", f.GemarkungBezeichnung)
				if err != nil {
					return err
				}
				text(gm, "bezeichnung", v)
			}
			for _, t := range []struct{ name, v string }{{"flur", f.Flur}, {"zaehler", f.Zaehler}, {"nenner", f.Nenner}, {"folge", f.Folge}} {
				if t.v == "" {
					continue
				}
				if _, err := m.text(fp+"/"+t.name, t.v); err != nil {
					return err
				}
				text(k, t.name, t.v)
			}
		}
	}
	return nil
}

// anlagen lists the attachments by reference: anhangOderVerlinkung/anhang
// carries dokumentid, dateiname, filesize and the SHA-256 hashValue; the bytes
// travel as transport attachments.
func (m *Mapper) anlagen(msg *message, sub Submission, form Form, created time.Time) ([]AttachmentRef, error) {
	used := map[string]bool{}
	for k := range form.Anlagen {
		used[k] = false
	}
	if len(sub.Attachments) == 0 {
		if k, ok := firstUnused(used); ok {
			return nil, mapErr("/form/anlagen/"+escapePointer(k), "names no attachment of the submission (there are none)")
		}
		return nil, nil
	}
	l := m.cfg.Lists
	datum := created.Format("2006-01-02")
	list := msg.root.CreateElement("anlagen")
	refs := make([]AttachmentRef, 0, len(sub.Attachments))
	names := map[string]bool{}
	ids := map[string]bool{}
	for i, a := range sub.Attachments {
		ap := fmt.Sprintf("/attachments/%d", i)
		if strings.TrimSpace(a.Filename) == "" {
			return nil, mapErr(ap+"/filename", "is required")
		}
		if a.Size <= 0 {
			return nil, mapErr(ap+"/size", "must be positive, got %d", a.Size)
		}
		hash := strings.ToLower(a.SHA256)
		if len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
			return nil, mapErr(ap+"/sha256", "must be 64 hex digits (SHA-256)")
		}
		art, artField := a.AnlageArt, ap+"/anlageArt"
		bez := ""
		ov, byID := form.Anlagen[a.ID]
		key := a.ID
		if !byID || a.ID == "" {
			ov, byID = form.Anlagen[a.Filename]
			key = a.Filename
		}
		if byID {
			used[key] = true
			if ov.AnlageArt != "" {
				art, artField = ov.AnlageArt, "/form/anlagen/"+escapePointer(key)+"/anlageart"
			}
			bez = ov.Bezeichnung
		}
		if art == "" {
			art = m.cfg.DefaultAnlageArt
		}
		if err := m.checkCode(artField, l.Anlagen, art, true); err != nil {
			return nil, err
		}
		bezField := "/form/anlagen/" + escapePointer(key) + "/bezeichnung"
		if bez == "" {
			bez, bezField = a.Filename, ap+"/filename"
		}
		bez, err := m.textAs(bezField, "datatypeD", bez)
		if err != nil {
			return nil, err
		}
		mt := mediaType(a.ContentType)
		if mt == "" {
			mt = "application/octet-stream"
		}
		if !strings.Contains(mt, "/") || strings.ContainsAny(mt, " \t") {
			return nil, mapErr(ap+"/contentType", "%q is not a MIME type", a.ContentType)
		}
		if err := m.checkCode(ap+"/contentType", l.MimeTypes, mt, false); err != nil {
			return nil, err
		}
		fn, docID := attachmentIdentity(sub.ID, i, a.ID, a.Filename, mt, names, ids)

		ae := list.CreateElement("anlage")
		text(ae, "bezeichnung", bez)
		text(ae, "datum", datum)
		code(ae, "anlageart", l.Anlagen.URI, l.Anlagen.Version, art)
		code(ae, "mimeType", l.MimeTypes.URI, l.MimeTypes.Version, mt)
		an := ae.CreateElement("anhangOderVerlinkung").CreateElement("anhang")
		an.CreateAttr("filesize", strconv.FormatInt(a.Size, 10))
		an.CreateAttr("hashValue", hash)
		text(an, "dokumentid", docID)
		text(an, "dateiname", fn)
		refs = append(refs, AttachmentRef{ID: a.ID, DokumentID: docID, Filename: fn, AnlageArt: art})
	}
	if k, ok := firstUnused(used); ok {
		return nil, mapErr("/form/anlagen/"+escapePointer(k), "names no attachment of the submission (match by attachment ID or filename)")
	}
	return refs, nil
}

// firstUnused returns the smallest key whose value is false.
func firstUnused(used map[string]bool) (string, bool) {
	first, found := "", false
	for k, ok := range used {
		if !ok && (!found || k < first) {
			first, found = k, true
		}
	}
	return first, found
}

// safeDocID reports whether an attachment ID can serve as dokumentid (an
// xs:anyURI) unchanged.
func safeDocID(id string) bool {
	if id == "" || len(id) > 200 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~:", r)) {
			return false
		}
	}
	return true
}

// attachmentIdentity gives attachment i of a submission its file name in the
// message (sanitised, made unique with _2, _3 … among names) and its
// dokumentid (the portal's ID when it is safe and unused, else a UUID
// derived from the submission, so a re-mapping yields the same one).
func attachmentIdentity(submissionID string, i int, id, filename, mediaType string, names, ids map[string]bool) (fn, docID string) {
	fn = SanitizeFilename(filename, mediaType)
	if names[fn] {
		ext := fn[strings.LastIndexByte(fn, '.'):]
		base := strings.TrimSuffix(fn, ext)
		for n := 2; names[fn]; n++ {
			fn = base + "_" + strconv.Itoa(n) + ext
		}
	}
	names[fn] = true
	docID = id
	if !safeDocID(docID) || ids[docID] {
		docID = "urn:uuid:" + derivedUUID(submissionID+":attachment:"+strconv.Itoa(i))
	}
	ids[docID] = true
	return fn, docID
}
