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
	KindRejected     Kind = "rejected"     // 1100 Rückweisung, 1170 code 57
	KindAcknowledged Kind = "acknowledged" // 1120 Eingangsbestätigung, 1170 codes 14, 22
	KindInProgress   Kind = "in_progress"  // 1170 intermediate states
	KindDecided      Kind = "decided"      // 1170 final states
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
	Deadline          string // 1170 frist (xs:date), if any

	Reasons []Reason // 1100

	// Detail is a German text for the history and the citizen: the status
	// name, the Fehlerkennzahl meanings or the information text.
	Detail string
	// RejectedMessage is the base64-decoded rueckweisungDaten/nachricht (1100).
	RejectedMessage []byte
}

// InboundError is a well-formed Kernmodul message of a known type that lacks
// data its type requires.
type InboundError struct {
	Root   string
	Reason string
}

func (e *InboundError) Error() string {
	return fmt.Sprintf("xoev: inbound %s: %s", e.Root, e.Reason)
}

// ParseInbound parses a back-channel message: XBau Kernmodul 1.3.0 1100, 1120
// and 1170 are classified; any other well-formed XML yields Kind "unknown" with
// whatever header it has (XÖV G2G or XInneres style). Not well-formed XML, a
// DOCTYPE, nesting deeper than MaxDepth or more than MaxInboundSize bytes are
// errors (errors.Is(err, ErrHostileXML) for the safety refusals). ParseInbound
// does not validate against the XSD; use Validator.Validate for that.
func ParseInbound(data []byte) (Inbound, error) {
	root, err := parseTree(data)
	if err != nil {
		return Inbound{}, fmt.Errorf("xoev: inbound: %w", err)
	}
	in := Inbound{Kind: KindUnknown, Header: parseHeader(root)}
	if root.Space != NSKernmodul130 {
		return in, nil
	}
	if b := root.Child("bezug"); b != nil {
		in.Reference = b.PathText("referenz")
		in.CaseNumber = b.PathText("vorgang")
		in.RefMessageUUID = b.PathText("bezugNachricht", "nachrichtenUUID")
		in.RefTypeCode = b.PathText("bezugNachricht", "nachrichtentyp", "code")
	}
	bad := func(format string, args ...any) (Inbound, error) {
		return Inbound{}, &InboundError{Root: root.Local, Reason: fmt.Sprintf(format, args...)}
	}
	switch root.Local {
	case Root1100, Root1120, Root1170:
		if in.Header.UUID == "" || in.Header.TypeCode == "" || in.Header.Created.IsZero() {
			return bad("nachrichtenkopf.g2g/identifikation.nachricht lacks nachrichtenUUID, nachrichtentyp or a valid erstellungszeitpunkt")
		}
	}
	switch root.Local {
	case Root1200:
		in.Reference = root.PathText("referenzAntragsservice", "referenzAntragsservice")
	case Root1100:
		rd := root.Child("rueckweisungDaten")
		if rd == nil {
			return bad("rueckweisungDaten is missing")
		}
		in.Kind = KindRejected
		in.RefMessageUUID = rd.PathText("idNachricht", "nachrichtenUUID")
		in.RefTypeCode = rd.PathText("idNachricht", "nachrichtentyp", "code")
		if in.RefMessageUUID == "" {
			return bad("rueckweisungDaten/idNachricht/nachrichtenUUID is missing")
		}
		var texts []string
		for _, g := range rd.ChildrenNamed("rueckweisungsgrund") {
			r := Reason{
				Code:        g.PathText("grund", "code"),
				ListVersion: g.Path("grund").Attr("listVersionID"),
				Text:        g.PathText("fehlertext"),
			}
			if r.Code == "" {
				return bad("rueckweisungsgrund without grund/code")
			}
			r.Meaning = Fehlerkennzahlen[r.Code]
			in.Reasons = append(in.Reasons, r)
			t := r.Code
			if r.Meaning != "" {
				t += " " + r.Meaning
			}
			if r.Text != "" {
				t += " (" + r.Text + ")"
			}
			texts = append(texts, t)
		}
		if len(in.Reasons) == 0 {
			return bad("rueckweisungDaten has no rueckweisungsgrund")
		}
		in.Detail = "Rückweisung: " + strings.Join(texts, "; ")
		if n := rd.PathText("nachricht"); n != "" {
			raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n), ""))
			if err != nil {
				return bad("rueckweisungDaten/nachricht is not base64: %v", err)
			}
			in.RejectedMessage = raw
		}
	case Root1120:
		if root.Child("bezug") == nil {
			return bad("bezug is missing")
		}
		in.Kind = KindAcknowledged
		in.Detail = "Eingangsbestätigung"
		if t := paragraphs(root.Child("information")); t != "" {
			in.Detail += ": " + t
		}
	case Root1170:
		if root.Child("bezug") == nil {
			return bad("bezug is missing")
		}
		st := root.Child("statusAntragsportal")
		if st == nil || st.PathText("code") == "" {
			return bad("statusAntragsportal/code is missing")
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
			if raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(b), "")); err == nil && len(raw) > 0 {
				in.Detail += ": " + strings.TrimSpace(string(raw))
			}
		}
	}
	return in, nil
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
