package xoev

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind classifies an inbound message for the submission lifecycle. The values
// are the routing.Status strings they map to, plus KindUnknown.
type Kind string

// Inbound kinds.
const (
	KindRejected     Kind = "rejected"     // 1100 Rückweisung, XInneres 0010, 1170 code 57
	KindAcknowledged Kind = "acknowledged" // 1120, 1121, 1180, XInneres 0020, 1170 codes 14, 22
	KindInProgress   Kind = "in_progress"  // 0201 formelle Prüfung, 1170 intermediate states
	KindDecided      Kind = "decided"      // 0205 Bescheid, 1170 final states
	KindUnknown      Kind = "unknown"      // well-formed XML we do not classify
)

// Header is the common XÖV header of a message.
type Header struct {
	Namespace   string // namespace of the root element
	RootElement string // local name of the root element
	Standard    string // root attribute standard
	Version     string // root attribute version
	Test        bool   // root attribute test="true"

	UUID            string // identifikation.nachricht/nachrichtenUUID
	TypeCode        string // nachrichtentyp/code
	TypeListURI     string // nachrichtentyp/@listURI
	TypeListVersion string // nachrichtentyp/@listVersionID
	Created         time.Time
	CreatedText     string // erstellungszeitpunkt as written

	ReaderKey, ReaderName string // leser/kennung, leser/name
	AuthorKey, AuthorName string // autor/kennung, autor/name
}

// CreatedRaw returns erstellungszeitpunkt as written, or Created formatted.
func (h Header) CreatedRaw() string {
	if h.CreatedText != "" {
		return h.CreatedText
	}
	return formatDateTime(h.Created)
}

// Reason is one Rückweisungsgrund of a 1100.
type Reason struct {
	Code        string // Fehlerkennzahl, e.g. "X001"
	ListVersion string // listVersionID of the Fehlerkennzahl
	Meaning     string // Bedeutung from xbau-fehlerkennzahlen 2.2 ("" if unknown)
	Text        string // fehlertext of the message
}

// Inbound is a parsed back-channel message.
type Inbound struct {
	Header Header
	Kind   Kind

	// RefMessageUUID is the nachrichtenUUID of the message this one answers
	// (bezug/bezugNachricht or rueckweisungDaten/idNachricht), RefTypeCode its type.
	RefMessageUUID string
	RefTypeCode    string
	// Reference is bezug/referenz (the referenzAntragsservice of the
	// application); for a 1200 it is its own referenzAntragsservice.
	Reference string
	// CaseNumber is bezug/vorgang, the authority's Aktenzeichen.
	CaseNumber string

	StatusCode        string // 1170 statusAntragsportal/code
	StatusListURI     string
	StatusListVersion string
	Deadline          string // 1170 or 0201 frist (xs:date), if any

	Reasons []Reason // 1100, XInneres 0010

	// Complete is antragVollstaendig of a 0201 (XBau 2.3: no findings).
	Complete *bool
	// Findings are the Befunde of a 0201.
	Findings []Finding
	// Granted is bescheid/tenor/istGenehmigung of a 0205.
	Granted *bool
	// Documents are the anlagen of a 0205 (the Bescheid and its enclosures),
	// for the citizen's mailbox.
	Documents []InboundDocument

	// Detail is a German text for the history and the citizen: the status
	// name, the Fehlerkennzahl meanings or the information text.
	Detail string
	// RejectedMessage is the base64-decoded rueckweisungDaten/nachricht (1100).
	RejectedMessage []byte
}

// Finding is one befund of a formal check (0201 formellePruefung).
type Finding struct {
	Code        string // artDesBefundes/code
	ListURI     string // artDesBefundes/@listURI
	Description string // beschreibung (textabsatz joined)
}

// InboundDocument is one anlage a back-channel message lists, e.g. the
// Bescheid of a 0205. The file travels as a transport attachment whose id is
// DokumentID (XBau Fehlerkennzahl A010) or is linked by URI.
type InboundDocument struct {
	Bezeichnung string
	AnlageArt   string // anlageart/code (urn:xoev-de:xbau:codeliste:anlagen)
	MimeType    string // mimeType/code
	DokumentID  string // anhangOderVerlinkung/anhang/dokumentid
	Dateiname   string // anhangOderVerlinkung/anhang/dateiname
	URI         string // anhangOderVerlinkung/verlinkung/uriVerlinkung
}

// InboundError is a well-formed XÖV message of a known type that lacks data
// its type requires.
type InboundError struct {
	Root   string
	Reason string
}

func (e *InboundError) Error() string {
	return fmt.Sprintf("xoev: inbound %s: %s", e.Root, e.Reason)
}

// Root elements of the back-channel messages ParseInbound classifies besides
// Root1100/1120/1170 (the Kernmodul names are the same in 1.1 and 1.3.0).
const (
	Root1121         = "prozessnachrichten.aktenzeichen.1121"
	Root1180         = "prozessnachrichten.generischeQuittierungEingang.1180"
	Root0201         = "baugenehmigung.formellePruefung.0201"
	Root0205         = "baugenehmigung.bescheid.0205"
	RootXInneres0010 = "rueckweisung.asynchron.0010"
	RootXInneres0020 = "quittungVonSachverhalten.quittung.0020"
)

// XInneres generic messages (urn:de:xinneres:codeliste:nachrichtentyp).
const (
	ListXInneresNachrichtentyp = "urn:de:xinneres:codeliste:nachrichtentyp"
	ListXInneresFehlercodes    = "urn:de:xinneres:codeliste:fehlercodes"
	// ListXInneresFehlercodesVersion is the version XInneresFehlercodes holds.
	ListXInneresFehlercodesVersion = "2"
)

// ParseInbound parses a back-channel message of either header generation and
// classifies the ones that change a submission's status:
//
//   - XBau Kernmodul 1.3.0 (XBau 2.6, nachrichtenkopf.g2g) and 1.1 (XBau 2.3,
//     XInneres nachrichtenkopf): 1100 Rückweisung → rejected (Fehlerkennzahlen
//     with their meanings), 1120 Eingangsbestätigung → acknowledged, 1121
//     Aktenzeichen → acknowledged (CaseNumber), 1170 statusFuerAntragsportal →
//     the kind in StatusBauportal (1.3.0 only), 1180
//     generischeQuittierungEingang → acknowledged (1.3.0 only);
//   - XBau 2.6 and 2.3 baugenehmigung 0201 formellePruefung → in_progress
//     (complete, or the Befunde and the Frist), 0205 bescheid → decided
//     (granted or refused, with the Bescheid documents in Documents);
//   - XInneres rueckweisung.asynchron.0010 → rejected (XInneres Fehlercodes)
//     and quittungVonSachverhalten.quittung.0020 → acknowledged, recognised by
//     root element or nachrichtentyp. Their schemas are not in the deployed
//     bundles, so they are read by structure: the referenced message is the
//     first identification (nachrichtenUUID) outside the header, the reasons
//     are codes of urn:de:xinneres:codeliste:fehlercodes. Without a reference
//     they stay "unknown".
//
// Any other well-formed XML yields Kind "unknown" with whatever header it has.
// Not well-formed XML, a DOCTYPE, nesting deeper than MaxDepth, more than
// MaxElements elements or more than MaxInboundSize bytes are errors
// (errors.Is(err, ErrHostileXML) for the safety refusals); a known message
// lacking data its type requires is an *InboundError. ParseInbound does not
// validate against the XSD; use Validator.Validate for that.
func ParseInbound(data []byte) (Inbound, error) {
	return ParseInboundWithin(data, InboundLimits{})
}

// ParseInboundWithin is ParseInbound with the configured limits of
// limits.inbound instead of the defaults.
func ParseInboundWithin(data []byte, lim InboundLimits) (Inbound, error) {
	root, err := parseTree(data, lim)
	if err != nil {
		return Inbound{}, fmt.Errorf("xoev: inbound: %w", err)
	}
	in := Inbound{Kind: KindUnknown, Header: parseHeader(root)}
	p := inboundParser{root: root, in: &in}
	switch root.Space {
	case NSKernmodul130, NSKernmodul11:
		err = p.kernmodul()
	case NSXBau26, NSXBau23:
		err = p.xbau()
	default:
		err = p.xinneres()
	}
	if err != nil {
		return Inbound{}, err
	}
	return in, nil
}

// inboundParser fills one Inbound from a parsed tree.
type inboundParser struct {
	root *node
	in   *Inbound
}

func (p *inboundParser) bad(format string, args ...any) error {
	return &InboundError{Root: p.root.Local, Reason: fmt.Sprintf(format, args...)}
}

// requireHeader checks the identification every classified message needs.
func (p *inboundParser) requireHeader() error {
	h := p.in.Header
	if h.UUID == "" || h.TypeCode == "" || h.Created.IsZero() {
		return p.bad("the message header's identifikation.nachricht lacks nachrichtenUUID, nachrichtentyp or a valid erstellungszeitpunkt")
	}
	return nil
}

// bezug reads the Kernmodul Bezug/BezugErweitert child; required reports its
// absence as an error.
func (p *inboundParser) bezug(required bool) error {
	b := p.root.Child("bezug")
	if b == nil {
		if required {
			return p.bad("bezug is missing")
		}
		return nil
	}
	p.in.Reference = b.PathText("referenz")
	p.in.CaseNumber = b.PathText("vorgang")
	p.in.RefMessageUUID = b.PathText("bezugNachricht", "nachrichtenUUID")
	p.in.RefTypeCode = b.PathText("bezugNachricht", "nachrichtentyp", "code")
	return nil
}

func (p *inboundParser) kernmodul() error {
	root, in := p.root, p.in
	switch root.Local {
	case Root1200:
		in.Reference = root.PathText("referenzAntragsservice", "referenzAntragsservice")
		return nil
	case Root1100, Root1120, Root1121:
	case Root1170, Root1180:
		if root.Space != NSKernmodul130 {
			return nil // not defined in Kernmodul 1.1: unknown
		}
	default:
		return p.bezug(false)
	}
	if err := p.requireHeader(); err != nil {
		return err
	}
	switch root.Local {
	case Root1100:
		return p.rejection1100()
	case Root1120:
		if err := p.bezug(true); err != nil {
			return err
		}
		in.Kind = KindAcknowledged
		in.Detail = withText("Eingangsbestätigung", paragraphs(root.Child("information")))
	case Root1121:
		if err := p.bezug(true); err != nil {
			return err
		}
		if in.CaseNumber == "" {
			return p.bad("bezug/vorgang (the Aktenzeichen) is missing")
		}
		in.Kind = KindAcknowledged
		in.Detail = "Aktenzeichen zugewiesen"
	case Root1170:
		return p.status1170()
	case Root1180:
		if err := p.bezug(true); err != nil {
			return err
		}
		t := root.PathText("nachrichtentyp", "code")
		if t == "" {
			return p.bad("nachrichtentyp/code (the acknowledged message type) is missing")
		}
		in.Kind = KindAcknowledged
		in.Detail = withText("Eingang der Nachricht "+t+" quittiert", paragraphs(root.Child("information")))
	}
	return nil
}

func (p *inboundParser) rejection1100() error {
	in := p.in
	rd := p.root.Child("rueckweisungDaten")
	if rd == nil {
		return p.bad("rueckweisungDaten is missing")
	}
	in.Kind = KindRejected
	in.RefMessageUUID = rd.PathText("idNachricht", "nachrichtenUUID")
	in.RefTypeCode = rd.PathText("idNachricht", "nachrichtentyp", "code")
	if in.RefMessageUUID == "" {
		return p.bad("rueckweisungDaten/idNachricht/nachrichtenUUID is missing")
	}
	for _, g := range rd.ChildrenNamed("rueckweisungsgrund") {
		r := Reason{
			Code:        g.PathText("grund", "code"),
			ListVersion: g.Path("grund").Attr("listVersionID"),
			Text:        g.PathText("fehlertext"),
		}
		if r.Code == "" {
			return p.bad("rueckweisungsgrund without grund/code")
		}
		r.Meaning = Fehlerkennzahlen[r.Code]
		in.Reasons = append(in.Reasons, r)
	}
	if len(in.Reasons) == 0 {
		return p.bad("rueckweisungDaten has no rueckweisungsgrund")
	}
	in.Detail = "Rückweisung: " + reasonsText(in.Reasons)
	if n := rd.PathText("nachricht"); n != "" {
		raw, err := decodeBase64(n)
		if err != nil {
			return p.bad("rueckweisungDaten/nachricht is not base64: %v", err)
		}
		in.RejectedMessage = raw
	}
	return nil
}

func (p *inboundParser) status1170() error {
	root, in := p.root, p.in
	if err := p.bezug(true); err != nil {
		return err
	}
	st := root.Child("statusAntragsportal")
	if st == nil || st.PathText("code") == "" {
		return p.bad("statusAntragsportal/code is missing")
	}
	in.StatusCode = st.PathText("code")
	in.StatusListURI = st.Attr("listURI")
	in.StatusListVersion = st.Attr("listVersionID")
	in.Deadline = root.PathText("frist")
	s, known := StatusBauportal[in.StatusCode]
	switch {
	case in.StatusListURI != ListStatusBauportal:
		in.Detail = fmt.Sprintf("Status %s aus unbekannter Codeliste %s %s", in.StatusCode, in.StatusListURI, in.StatusListVersion)
	case !known:
		in.Detail = fmt.Sprintf("Status %s ist nicht in %s %s", in.StatusCode, ListStatusBauportal, ListStatusBauportalVersion)
	default:
		in.Kind = s.Kind
		in.Detail = s.Name
	}
	if in.Deadline != "" {
		in.Detail += " (Frist " + in.Deadline + ")"
	}
	if b := root.PathText("begruendung", "text"); b != "" {
		if raw, err := decodeBase64(b); err == nil && len(raw) > 0 {
			in.Detail += ": " + strings.TrimSpace(string(raw))
		}
	}
	return nil
}

// xbau classifies the baugenehmigung replies of XBau 2.6 and 2.3; other XBau
// messages stay unknown (with their bezug, if any).
func (p *inboundParser) xbau() error {
	root, in := p.root, p.in
	switch root.Local {
	case Root0201, Root0205:
	default:
		return p.bezug(false)
	}
	if err := p.requireHeader(); err != nil {
		return err
	}
	if err := p.bezug(true); err != nil {
		return err
	}
	switch root.Local {
	case Root0201:
		// XBau 2.6: antragVollstaendig + befundFrist{befundliste, frist};
		// XBau 2.3: befundliste and frist directly (no findings = complete).
		befunde, frist := root.Child("befundliste"), root.PathText("frist")
		if bf := root.Child("befundFrist"); bf != nil {
			befunde, frist = bf.Child("befundliste"), bf.PathText("frist")
		}
		for _, b := range befunde.ChildrenNamed("befund") {
			f := Finding{
				Code: b.PathText("artDesBefundes", "code"), ListURI: b.Path("artDesBefundes").Attr("listURI"),
				Description: paragraphs(b.Child("beschreibung")),
			}
			if f.Code == "" {
				return p.bad("befund without artDesBefundes/code")
			}
			in.Findings = append(in.Findings, f)
		}
		complete := len(in.Findings) == 0
		if v := root.Child("antragVollstaendig"); v != nil {
			b, ok := xsdBool(v.Text())
			if !ok {
				return p.bad("antragVollstaendig %q is not an xs:boolean", v.Text())
			}
			complete = b
		} else if root.Space == NSXBau26 {
			return p.bad("antragVollstaendig is missing")
		}
		in.Complete = &complete
		in.Deadline = frist
		in.Kind = KindInProgress
		if complete {
			in.Detail = "Formelle Prüfung: Antrag vollständig"
		} else {
			in.Detail = "Formelle Prüfung: Antrag unvollständig, Unterlagen nachgefordert"
		}
		if frist != "" {
			in.Detail += " (Frist " + frist + ")"
		}
		var texts []string
		for _, f := range in.Findings {
			if f.Description != "" {
				texts = append(texts, f.Description)
			}
		}
		if len(texts) > 0 {
			in.Detail += ": " + strings.Join(texts, "; ")
		}
	case Root0205:
		v := root.Path("bescheid", "tenor", "istGenehmigung")
		if v == nil {
			return p.bad("bescheid/tenor/istGenehmigung is missing")
		}
		granted, ok := xsdBool(v.Text())
		if !ok {
			return p.bad("bescheid/tenor/istGenehmigung %q is not an xs:boolean", v.Text())
		}
		in.Granted = &granted
		for _, a := range root.Path("anlagen").ChildrenNamed("anlage") {
			in.Documents = append(in.Documents, InboundDocument{
				Bezeichnung: a.PathText("bezeichnung"),
				AnlageArt:   a.PathText("anlageart", "code"),
				MimeType:    a.PathText("mimeType", "code"),
				DokumentID:  a.PathText("anhangOderVerlinkung", "anhang", "dokumentid"),
				Dateiname:   a.PathText("anhangOderVerlinkung", "anhang", "dateiname"),
				URI:         a.PathText("anhangOderVerlinkung", "verlinkung", "uriVerlinkung"),
			})
		}
		if len(in.Documents) == 0 {
			return p.bad("anlagen/anlage (the Bescheid documents) is missing")
		}
		in.Kind = KindDecided
		if granted {
			in.Detail = "Bescheid erteilt: Genehmigung"
		} else {
			in.Detail = "Bescheid erteilt: Ablehnung"
		}
		var names []string
		for _, d := range in.Documents {
			n := d.Bezeichnung
			switch {
			case n == "":
				n = d.Dateiname
			case d.Dateiname != "":
				n += " (" + d.Dateiname + ")"
			}
			if n != "" {
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			in.Detail += "; Dokumente: " + strings.Join(names, ", ")
		}
	}
	return nil
}

// xinneres classifies the generic XInneres messages 0010 and 0020 by root
// element or by an XInneres nachrichtentyp code.
func (p *inboundParser) xinneres() error {
	root, in := p.root, p.in
	h := in.Header
	kind := ""
	switch {
	case root.Local == RootXInneres0010 || (h.TypeListURI == ListXInneresNachrichtentyp && h.TypeCode == "0010"):
		kind = "0010"
	case root.Local == RootXInneres0020 || (h.TypeListURI == ListXInneresNachrichtentyp && h.TypeCode == "0020"):
		kind = "0020"
	default:
		return nil
	}
	if err := p.requireHeader(); err != nil {
		return err
	}
	ref := findIdentification(root)
	if ref == nil {
		in.Detail = "XInneres " + kind + " ohne erkennbaren Bezug auf eine Nachricht"
		return nil
	}
	in.RefMessageUUID = ref.PathText("nachrichtenUUID")
	in.RefTypeCode = ref.PathText("nachrichtentyp", "code")
	if kind == "0020" {
		in.Kind = KindAcknowledged
		in.Detail = withText("Quittung", firstText(root, "text", "hinweis", "bemerkung", "information"))
		return nil
	}
	collectXInneresReasons(root, &in.Reasons)
	in.Kind = KindRejected
	if len(in.Reasons) == 0 {
		in.Detail = withText("Rückweisung", firstText(root, "fehlertext", "fehlerbeschreibung", "beschreibung"))
	} else {
		in.Detail = "Rückweisung: " + reasonsText(in.Reasons)
	}
	for _, name := range []string{"nachricht", "zurueckgewieseneNachricht"} {
		if n := findElement(root, name); n != nil && len(n.Children) == 0 && n.Text() != "" {
			if raw, err := decodeBase64(n.Text()); err == nil {
				in.RejectedMessage = raw
				break
			}
		}
	}
	return nil
}

// findIdentification returns the first element outside the message header
// that identifies a message (has a nachrichtenUUID child), depth first.
func findIdentification(root *node) *node {
	var walk func(n *node) *node
	walk = func(n *node) *node {
		for _, c := range n.Children {
			if c.Local == "nachrichtenkopf" || c.Local == "nachrichtenkopf.g2g" {
				continue
			}
			if c.Child("nachrichtenUUID") != nil {
				return c
			}
			if f := walk(c); f != nil {
				return f
			}
		}
		return nil
	}
	return walk(root)
}

// collectXInneresReasons gathers codes of the XInneres Fehlercodes list (by
// listURI on the code element) with the fehlertext next to them.
func collectXInneresReasons(root *node, out *[]Reason) {
	var walk func(parent, n *node)
	walk = func(parent, n *node) {
		if n.Local == "nachrichtenkopf" {
			return
		}
		if n.Attr("listURI") == ListXInneresFehlercodes && n.PathText("code") != "" {
			r := Reason{Code: n.PathText("code"), ListVersion: n.Attr("listVersionID")}
			r.Meaning = XInneresFehlercodes[r.Code]
			if parent != nil {
				r.Text = firstText(parent, "fehlertext", "fehlerbeschreibung", "beschreibung")
			}
			*out = append(*out, r)
			return
		}
		for _, c := range n.Children {
			walk(n, c)
		}
	}
	walk(nil, root)
}

// findElement returns the first element with the local name outside the
// header, depth first.
func findElement(root *node, local string) *node {
	for _, c := range root.Children {
		if c.Local == "nachrichtenkopf" || c.Local == "nachrichtenkopf.g2g" {
			continue
		}
		if c.Local == local {
			return c
		}
		if f := findElement(c, local); f != nil {
			return f
		}
	}
	return nil
}

// firstText is the text of the first element (outside the header) with one
// of the local names: its own text, or its textabsatz paragraphs.
func firstText(root *node, locals ...string) string {
	for _, l := range locals {
		if n := findElement(root, l); n != nil {
			if t := n.Text(); t != "" && len(n.Children) == 0 {
				return t
			}
			if t := paragraphs(n); t != "" {
				return t
			}
		}
	}
	return ""
}

func reasonsText(rs []Reason) string {
	texts := make([]string, 0, len(rs))
	for _, r := range rs {
		t := r.Code
		if r.Meaning != "" {
			t += " " + r.Meaning
		}
		if r.Text != "" {
			t += " (" + r.Text + ")"
		}
		texts = append(texts, t)
	}
	return strings.Join(texts, "; ")
}

func withText(s, text string) string {
	if text == "" {
		return s
	}
	return s + ": " + text
}

func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
}

// xsdBool parses an xs:boolean lexical value.
func xsdBool(s string) (value, ok bool) {
	switch strings.TrimSpace(s) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// paragraphs joins xbauk:Text textabsatz children.
func paragraphs(n *node) string {
	if n == nil {
		return ""
	}
	var out []string
	for _, p := range n.ChildrenNamed("textabsatz") {
		if t := p.Text(); t != "" {
			out = append(out, t)
		}
	}
	return strings.Join(out, " ")
}

// parseHeader reads the header of either generation: nachrichtenkopf.g2g
// (leser/kennung) or the XInneres nachrichtenkopf (leser/behoerdenkennung).
func parseHeader(root *node) Header {
	h := Header{
		Namespace: root.Space, RootElement: root.Local,
		Standard: root.Attr("standard"), Version: root.Attr("version"),
		Test: strings.EqualFold(strings.TrimSpace(root.Attr("test")), "true"),
	}
	kopf := root.Child("nachrichtenkopf.g2g")
	if kopf == nil {
		kopf = root.Child("nachrichtenkopf")
	}
	if kopf == nil {
		return h
	}
	id := kopf.Child("identifikation.nachricht")
	h.UUID = id.PathText("nachrichtenUUID")
	if t := id.Child("nachrichtentyp"); t != nil {
		h.TypeCode = t.PathText("code")
		h.TypeListURI = t.Attr("listURI")
		h.TypeListVersion = t.Attr("listVersionID")
	}
	h.CreatedText = id.PathText("erstellungszeitpunkt")
	h.Created, _ = parseDateTime(h.CreatedText)
	party := func(n *node) (string, string) {
		if n == nil {
			return "", ""
		}
		if k := n.PathText("kennung"); k != "" {
			return k, n.PathText("name")
		}
		bk := n.Child("behoerdenkennung")
		key := bk.PathText("kennung", "code")
		if p := bk.PathText("praefix", "code"); p != "" {
			key = p + ":" + key
		}
		return key, n.PathText("behoerdenname")
	}
	h.ReaderKey, h.ReaderName = party(kopf.Child("leser"))
	h.AuthorKey, h.AuthorName = party(kopf.Child("autor"))
	return h
}

// parseDateTime parses an xs:dateTime; without a time zone (which XÖV forbids
// but senders occasionally omit) it is read as UTC.
func parseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not an xs:dateTime")
}
