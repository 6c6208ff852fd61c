package osci

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// Kind is an OSCI 1.2 message type, named as its order element.
type Kind string

// Message kinds the hub builds and parses.
const (
	GetMessageID               Kind = "getMessageId"
	ResponseToGetMessageID     Kind = "responseToGetMessageId"
	StoreDelivery              Kind = "storeDelivery"
	ResponseToStoreDelivery    Kind = "responseToStoreDelivery"
	FetchProcessCard           Kind = "fetchProcessCard"
	ResponseToFetchProcessCard Kind = "responseToFetchProcessCard"
	FetchDelivery              Kind = "fetchDelivery"
	ResponseToFetchDelivery    Kind = "responseToFetchDelivery"
	MediateDelivery            Kind = "mediateDelivery"
	ResponseToMediateDelivery  Kind = "responseToMediateDelivery"
	InitDialog                 Kind = "initDialog"
	ResponseToInitDialog       Kind = "responseToInitDialog"
	ExitDialog                 Kind = "exitDialog"
	ResponseToExitDialog       Kind = "responseToExitDialog"
)

// kindInfo: whether the order element is a header block, and whether the kind is
// a response.
var kinds = map[Kind]struct{ header, response bool }{
	GetMessageID: {false, false}, ResponseToGetMessageID: {false, true},
	StoreDelivery: {true, false}, ResponseToStoreDelivery: {true, true},
	FetchProcessCard: {false, false}, ResponseToFetchProcessCard: {false, true},
	FetchDelivery: {true, false}, ResponseToFetchDelivery: {true, true},
	MediateDelivery: {true, false}, ResponseToMediateDelivery: {true, true},
	InitDialog: {false, false}, ResponseToInitDialog: {false, true},
	ExitDialog: {false, false}, ResponseToExitDialog: {false, true},
}

// Response reports whether k is a response (sent by the supplier).
func (k Kind) Response() bool { return kinds[k].response }

// ResponseKind is the response to the order k.
func (k Kind) ResponseKind() Kind {
	return Kind("responseTo" + strings.ToUpper(string(k[:1])) + string(k[1:]))
}

// SchemaFile is the soap*.xsd the envelope of kind k validates against.
func (k Kind) SchemaFile() string {
	return "soap" + strings.ToUpper(string(k[:1])) + string(k[1:]) + ".xsd"
}

// ControlBlock is the dialog control header. Numbers < 0 are absent.
type ControlBlock struct {
	ConversationID int64
	SequenceNumber int64
	Response       string
	Challenge      string
}

// FeedbackEntry is one Feedback row; rows repeat per language.
type FeedbackEntry struct {
	Lang string
	Code string
	Text string
}

// Timestamp is an OSCI timestamp (plain only; cryptographic timestamps are kept
// as their base64 value).
type Timestamp struct {
	Plain         time.Time
	Cryptographic string
	Algorithm     string
}

// Inspection is one certificate check the intermediary reports.
type Inspection struct {
	Timestamp     Timestamp
	SubjectName   string
	IssuerName    string
	SerialNumber  string
	CertType      string // advanced|qualified|accredited|unknown
	MathResult    string // ok|corrupted|indeterminate
	OfflineResult string // valid|invalid|indeterminate
}

// ProcessCardBundle is a Laufzettel.
type ProcessCardBundle struct {
	Name               string // element name: ProcessCardBundle, RequestProcessCardBundle, ReplyProcessCardBundle
	MessageID          string
	RecentModification time.Time
	Creation           *Timestamp
	Forwarding         *Timestamp
	Reception          *Timestamp
	Subject            string
	Inspections        []Inspection
}

// Selection chooses deliveries or process cards.
type Selection struct {
	MessageIDs          []string
	ReceptionOfDelivery time.Time // used when MessageIDs is empty and this is set
	// Role restricts a fetchProcessCard by ReceptionOfDelivery to deliveries
	// where the client is "Addressee" or "Originator" ("" = both).
	Role  string
	Limit int // fetchProcessCard Quantity/@Limit; 0 = none
}

// Message is one OSCI order or response in plain (unencrypted) form.
type Message struct {
	Kind             Kind
	ControlBlock     ControlBlock
	DesiredLanguages string // requests; default "de"

	MessageID       string // storeDelivery/mediateDelivery, responseToGetMessageId
	Subject         string
	ContentReceiver string     // mediateDelivery
	Selection       *Selection // fetchProcessCard, fetchDelivery

	// NonIntermediaryCertificates.
	CipherCertOriginator    *x509.Certificate
	SignatureCertOriginator *x509.Certificate
	CipherCertAddressee     *x509.Certificate
	SignatureCertAddressee  *x509.Certificate
	// IntermediaryCertificates (responses).
	SignatureCertIntermediary *x509.Certificate

	// CustomHeaders are extra header blocks of other namespaces, such as the XTA
	// oscimeta:MessageMetaData.
	CustomHeaders []*etree.Element
	// ContentPackage is the osci:ContentPackage (body of storeDelivery and
	// mediateDelivery, optional in their responses and responseToFetchDelivery).
	ContentPackage *etree.Element

	Feedback     []FeedbackEntry
	ProcessCards []ProcessCardBundle
	// Signed reports (after Parse/Decode) whether a Client/SupplierSignature
	// was present and verified.
	Signed bool
}

// Errors of the codec.
var (
	ErrNotOSCI     = errors.New("osci: not an OSCI 1.2 message")
	ErrUnknownKind = errors.New("osci: unknown OSCI message type")
)

// Build renders m as a SOAP envelope with the header order of its soap*.xsd.
func Build(m *Message) (*etree.Document, error) {
	info, ok := kinds[m.Kind]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKind, m.Kind)
	}
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	env := doc.CreateElement("soap:Envelope")
	env.CreateAttr("xmlns:soap", NSSOAP)
	env.CreateAttr("xmlns:osci", NSOSCI)
	env.CreateAttr("xmlns:ds", "http://www.w3.org/2000/09/xmldsig#")
	env.CreateAttr("xmlns:xenc", "http://www.w3.org/2001/04/xmlenc#")
	env.CreateAttr("xmlns:xsi", NSXSI)
	env.CreateAttr("xsi:schemaLocation", NSSOAP+" "+m.Kind.SchemaFile())
	h := env.CreateElement("soap:Header")
	body := env.CreateElement("soap:Body")
	body.CreateAttr("Id", "body")

	buildControlBlock(h, m.ControlBlock)
	if !info.response {
		dl := headerBlock(h, "DesiredLanguages", ActorNext)
		dl.CreateAttr("LanguagesList", orDefault(m.DesiredLanguages, "de"))
	}
	if m.Kind == StoreDelivery || m.Kind == MediateDelivery {
		for _, svc := range []string{"creation", "reception"} {
			q := headerBlock(h, "QualityOfTimestamp", ActorNext)
			q.CreateAttr("Id", "QualityOfTimestamp_"+svc)
			q.CreateAttr("Service", svc)
			q.CreateAttr("Quality", "plain")
		}
	}
	var order *etree.Element
	if info.header {
		order = headerBlock(h, string(m.Kind), ActorNext)
	} else {
		order = body.CreateElement("osci:" + string(m.Kind))
	}
	if err := buildOrder(order, m); err != nil {
		return nil, err
	}
	if info.response {
		if m.SignatureCertIntermediary != nil {
			ic := headerBlock(h, "IntermediaryCertificates", ActorNone)
			certElem(ic, "SignatureCertificateIntermediary", m.SignatureCertIntermediary)
		}
		if (m.Kind == ResponseToFetchDelivery || m.Kind == ResponseToMediateDelivery) && hasNIC(m) {
			buildNIC(h, m)
		}
	} else if hasNIC(m) || m.Kind == StoreDelivery || m.Kind == InitDialog {
		buildNIC(h, m)
	}
	for _, c := range m.CustomHeaders {
		h.AddChild(c.Copy())
	}
	if m.ContentPackage != nil {
		switch m.Kind {
		case StoreDelivery, MediateDelivery, ResponseToFetchDelivery, ResponseToMediateDelivery:
			cp := m.ContentPackage.Copy()
			cp.Space, cp.Tag = "osci", "ContentPackage"
			body.AddChild(cp)
		default:
			return nil, fmt.Errorf("osci: %s carries no ContentPackage", m.Kind)
		}
	} else if m.Kind == StoreDelivery || m.Kind == MediateDelivery {
		return nil, fmt.Errorf("osci: %s needs a ContentPackage", m.Kind)
	}
	return doc, nil
}

func buildControlBlock(h *etree.Element, cb ControlBlock) {
	e := headerBlock(h, "ControlBlock", ActorNext)
	if cb.ConversationID >= 0 {
		e.CreateAttr("ConversationId", strconv.FormatInt(cb.ConversationID, 10))
	}
	if cb.SequenceNumber >= 0 {
		e.CreateAttr("SequenceNumber", strconv.FormatInt(cb.SequenceNumber, 10))
	}
	if cb.Response != "" {
		e.CreateElement("osci:Response").SetText(cb.Response)
	}
	if cb.Challenge != "" {
		e.CreateElement("osci:Challenge").SetText(cb.Challenge)
	}
}

func headerBlock(h *etree.Element, name, actor string) *etree.Element {
	e := h.CreateElement("osci:" + name)
	e.CreateAttr("Id", name)
	e.CreateAttr("soap:mustUnderstand", "1")
	e.CreateAttr("soap:actor", actor)
	return e
}

func hasNIC(m *Message) bool {
	return m.CipherCertOriginator != nil || m.SignatureCertOriginator != nil || m.CipherCertAddressee != nil || m.SignatureCertAddressee != nil
}

// buildNIC writes NonIntermediaryCertificates with the children the message kind
// allows, in schema order.
func buildNIC(h *etree.Element, m *Message) {
	e := headerBlock(h, "NonIntermediaryCertificates", ActorNone)
	allowCipherOrig := m.Kind == GetMessageID || m.Kind == StoreDelivery || m.Kind == InitDialog || m.Kind == MediateDelivery ||
		m.Kind == ResponseToFetchDelivery || m.Kind == ResponseToMediateDelivery
	allowAddressee := m.Kind == StoreDelivery || m.Kind == MediateDelivery || m.Kind == ResponseToFetchDelivery || m.Kind == ResponseToMediateDelivery
	if allowCipherOrig && m.CipherCertOriginator != nil {
		certElem(e, "CipherCertificateOriginator", m.CipherCertOriginator)
	}
	if allowAddressee && m.CipherCertAddressee != nil {
		certElem(e, "CipherCertificateAddressee", m.CipherCertAddressee)
	}
	if m.SignatureCertOriginator != nil {
		certElem(e, "SignatureCertificateOriginator", m.SignatureCertOriginator)
	}
	if (m.Kind == MediateDelivery || m.Kind == ResponseToFetchDelivery || m.Kind == ResponseToMediateDelivery) && m.SignatureCertAddressee != nil {
		certElem(e, "SignatureCertificateAddressee", m.SignatureCertAddressee)
	}
}

func certElem(parent *etree.Element, name string, c *x509.Certificate) {
	e := parent.CreateElement("osci:" + name)
	e.CreateAttr("Id", name)
	e.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(c.Raw))
}

func buildOrder(o *etree.Element, m *Message) error {
	switch m.Kind {
	case GetMessageID, InitDialog, ExitDialog:
	case ResponseToGetMessageID:
		buildFeedback(o, m.Feedback)
		if m.MessageID != "" {
			o.CreateElement("osci:MessageId").SetText(m.MessageID)
		}
	case ResponseToInitDialog, ResponseToExitDialog:
		buildFeedback(o, m.Feedback)
	case StoreDelivery:
		if m.MessageID == "" {
			return fmt.Errorf("osci: storeDelivery needs a MessageId (call getMessageId first)")
		}
		o.CreateElement("osci:MessageId").SetText(m.MessageID)
		if m.Subject != "" {
			o.CreateElement("osci:Subject").SetText(m.Subject)
		}
	case MediateDelivery:
		o.CreateElement("osci:ContentReceiver").CreateAttr("URI", m.ContentReceiver)
		if m.MessageID != "" {
			o.CreateElement("osci:MessageId").SetText(m.MessageID)
			if m.Subject != "" {
				o.CreateElement("osci:Subject").SetText(m.Subject)
			}
		}
	case FetchProcessCard:
		if s := m.Selection; s != nil {
			if sr := selectionRule(s); sr != nil {
				o.AddChild(sr)
			}
			if s.Limit > 0 {
				o.CreateElement("osci:Quantity").CreateAttr("Limit", strconv.Itoa(s.Limit))
			}
		}
	case FetchDelivery:
		if m.Selection != nil {
			if sr := selectionRule(m.Selection); sr != nil {
				if len(m.Selection.MessageIDs) > 1 {
					return fmt.Errorf("osci: fetchDelivery selects at most one MessageId")
				}
				o.AddChild(sr)
			}
		}
	case ResponseToStoreDelivery:
		buildFeedback(o, m.Feedback)
		for _, pc := range m.ProcessCards[:min(1, len(m.ProcessCards))] {
			buildProcessCard(o, "ProcessCardBundle", pc)
		}
	case ResponseToFetchProcessCard, ResponseToFetchDelivery:
		buildFeedback(o, m.Feedback)
		echo := o.CreateElement("osci:" + strings.ToLower(string(m.Kind[10:11])) + string(m.Kind[11:]))
		if m.Selection != nil {
			if sr := selectionRule(&Selection{MessageIDs: m.Selection.MessageIDs[:min(1, len(m.Selection.MessageIDs))], ReceptionOfDelivery: m.Selection.ReceptionOfDelivery}); sr != nil {
				echo.AddChild(sr)
			}
		}
		if m.Kind == ResponseToFetchProcessCard && len(echo.ChildElements()) == 0 {
			return fmt.Errorf("osci: responseToFetchProcessCard must echo the SelectionRule")
		}
		pcs := m.ProcessCards
		if m.Kind == ResponseToFetchDelivery {
			pcs = pcs[:min(1, len(pcs))]
		}
		for _, pc := range pcs {
			buildProcessCard(o, "ProcessCardBundle", pc)
		}
	case ResponseToMediateDelivery:
		buildFeedback(o, m.Feedback)
		for i, pc := range m.ProcessCards[:min(2, len(m.ProcessCards))] {
			buildProcessCard(o, []string{"RequestProcessCardBundle", "ReplyProcessCardBundle"}[i], pc)
		}
	}
	return nil
}

func selectionRule(s *Selection) *etree.Element {
	sr := etree.NewElement("osci:SelectionRule")
	switch {
	case len(s.MessageIDs) > 0:
		for _, id := range s.MessageIDs {
			sr.CreateElement("osci:MessageId").SetText(id)
		}
	case !s.ReceptionOfDelivery.IsZero():
		rd := sr.CreateElement("osci:ReceptionOfDelivery")
		rd.SetText(s.ReceptionOfDelivery.UTC().Format(time.RFC3339))
		if s.Role != "" {
			rd.CreateAttr("Role", s.Role)
		}
	default:
		return nil
	}
	return sr
}

func buildFeedback(o *etree.Element, fb []FeedbackEntry) {
	f := o.CreateElement("osci:Feedback")
	for _, e := range fb {
		en := f.CreateElement("osci:Entry")
		if e.Lang != "" {
			en.CreateAttr("xml:lang", e.Lang)
		}
		en.CreateElement("osci:Code").SetText(e.Code)
		en.CreateElement("osci:Text").SetText(e.Text)
	}
}

func buildProcessCard(o *etree.Element, name string, pc ProcessCardBundle) {
	b := o.CreateElement("osci:" + name)
	b.CreateElement("osci:MessageId").SetText(pc.MessageID)
	card := b.CreateElement("osci:ProcessCard")
	card.CreateAttr("RecentModification", pc.RecentModification.UTC().Format(time.RFC3339))
	for _, ts := range []struct {
		n string
		t *Timestamp
	}{{"Creation", pc.Creation}, {"Forwarding", pc.Forwarding}, {"Reception", pc.Reception}} {
		if ts.t != nil {
			buildTimestamp(card.CreateElement("osci:"+ts.n), *ts.t)
		}
	}
	if pc.Subject != "" {
		card.CreateElement("osci:Subject").SetText(pc.Subject)
	}
	ir := b.CreateElement("osci:InspectionReport")
	for _, in := range pc.Inspections {
		e := ir.CreateElement("osci:Inspection")
		buildTimestamp(e.CreateElement("osci:Timestamp"), in.Timestamp)
		e.CreateElement("osci:X509SubjectName").SetText(in.SubjectName)
		e.CreateElement("osci:X509IssuerName").SetText(in.IssuerName)
		e.CreateElement("osci:X509SerialNumber").SetText(in.SerialNumber)
		e.CreateElement("osci:CertType").CreateAttr("Type", orDefault(in.CertType, "unknown"))
		e.CreateElement("osci:MathResult").CreateAttr("Result", orDefault(in.MathResult, "ok"))
		e.CreateElement("osci:OfflineResult").CreateAttr("Result", orDefault(in.OfflineResult, "valid"))
	}
}

func buildTimestamp(e *etree.Element, t Timestamp) {
	if t.Cryptographic != "" {
		c := e.CreateElement("osci:Cryptographic")
		c.SetText(t.Cryptographic)
		if t.Algorithm != "" {
			c.CreateAttr("Algorithm", t.Algorithm)
		}
		return
	}
	e.CreateElement("osci:Plain").SetText(t.Plain.UTC().Format(time.RFC3339Nano))
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
