package xta

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Default code lists for the Qualifier of MessageMetaData.
const (
	BusinessScenarioListURI     = "urn:de:xta:codeliste:business.scenario"
	BusinessScenarioListVersion = "1"
	// MessageTypeListURI is the convention "code = root element name,
	// payloadSchema = target namespace" (it-at-m, TRANSPORT.md §4).
	MessageTypeListURI     = "urn:de:payloadSchema:elementName"
	MessageTypeListVersion = "1.0"
	// IdentifierTypeXOEV is the default PartyIdentifier/@type.
	IdentifierTypeXOEV = "xoev"
)

// Code is an XÖV code value with its code list (oscimeta:KeyCodeType).
type Code struct {
	Code          string
	Name          string
	ListURI       string
	ListVersionID string
}

// MessageMeta is the subset of oscimeta:MessageMetaData the hub uses.
type MessageMeta struct {
	// MessageID is the XTA message ID, urn:de:xta:messageid:<sender>:<uuid>.
	MessageID string
	// AuthorKey and ReaderKey are organisation keys such as "ags:05315000"
	// (PartyIdentifier text; @type "xoev" unless AuthorType/ReaderType say otherwise).
	AuthorKey  string
	AuthorType string
	ReaderKey  string
	ReaderType string
	// Service is the DVDV service URI.
	Service string
	// BusinessScenario is the Defined code; Code.Code empty with
	// UndefinedScenario set means Undefined.
	BusinessScenario  Code
	UndefinedScenario string
	// MessageType is the XÖV message type; PayloadSchema its target namespace.
	MessageType   Code
	PayloadSchema string
	Subject       string
	InReplyTo     []string
	// Size is the size of the content in bytes (MsgSize), 0 if unknown.
	Size int64
	// DeliveryAttributes timestamps; zero times are omitted. Origin is the
	// author's creation time, InitialSend the first send to the server,
	// NotBefore the earliest delivery, Delivery the time the message entered
	// the reader's mailbox, InitialFetch the reader's first fetch (close) and
	// Reception the reader's acceptance.
	Origin       time.Time
	InitialSend  time.Time
	NotBefore    time.Time
	Delivery     time.Time
	InitialFetch time.Time
	Reception    time.Time
	TestMsg      bool
}

func (m MessageMeta) validate() error {
	var missing []string
	if m.MessageID == "" {
		missing = append(missing, "MsgIdentification/MessageID")
	}
	if m.AuthorKey == "" {
		missing = append(missing, "Originators/Author/Identifier")
	}
	if m.ReaderKey == "" {
		missing = append(missing, "Destinations/Reader/Identifier")
	}
	if m.BusinessScenario.Code == "" && m.UndefinedScenario == "" {
		missing = append(missing, "Qualifier/BusinessScenario")
	}
	if m.MessageType.Code == "" {
		missing = append(missing, "Qualifier/MessageType/code")
	}
	if m.PayloadSchema == "" {
		missing = append(missing, "Qualifier/MessageType/@payloadSchema")
	}
	if len(missing) > 0 {
		return fmt.Errorf("MessageMetaData lacks %s", strings.Join(missing, ", "))
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func xsdTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// WriteParty writes a PartyType element (e.g. "oscimeta:Author").
func (x *Writer) WriteParty(name, key, typ string) {
	x.Start(name)
	x.Elem("oscimeta:Identifier", key, "type", orDefault(typ, IdentifierTypeXOEV))
	x.End(name)
}

func (x *Writer) writeCode(name string, c Code, defURI, defVersion string, extra ...string) {
	attrs := append([]string{"listURI", orDefault(c.ListURI, defURI), "listVersionID", orDefault(c.ListVersionID, defVersion)}, extra...)
	x.Start(name, attrs...)
	x.Elem("code", c.Code)
	x.OptElem("name", c.Name)
	x.End(name)
}

// WriteMessageMetaData writes m as oscimeta:MessageMetaData in schema order.
func (x *Writer) WriteMessageMetaData(m MessageMeta) {
	if m.TestMsg {
		x.Start("oscimeta:MessageMetaData", "TestMsg", "true")
	} else {
		x.Start("oscimeta:MessageMetaData")
	}
	x.Start("oscimeta:DeliveryAttributes")
	for _, t := range []struct {
		name string
		t    time.Time
	}{{"oscimeta:Origin", m.Origin}, {"oscimeta:InitialSend", m.InitialSend}, {"oscimeta:NotBefore", m.NotBefore},
		{"oscimeta:Delivery", m.Delivery}, {"oscimeta:InitialFetch", m.InitialFetch}, {"oscimeta:Reception", m.Reception}} {
		if !t.t.IsZero() {
			x.Elem(t.name, xsdTime(t.t))
		}
	}
	x.End("oscimeta:DeliveryAttributes")
	x.Start("oscimeta:Originators")
	x.WriteParty("oscimeta:Author", m.AuthorKey, m.AuthorType)
	x.End("oscimeta:Originators")
	x.Start("oscimeta:Destinations")
	x.WriteParty("oscimeta:Reader", m.ReaderKey, m.ReaderType)
	x.End("oscimeta:Destinations")
	x.Start("oscimeta:MsgIdentification")
	x.Elem("wsa:MessageID", m.MessageID)
	for _, r := range m.InReplyTo {
		x.Elem("oscimeta:In-Reply-To", r)
	}
	x.End("oscimeta:MsgIdentification")
	x.Start("oscimeta:Qualifier")
	x.OptElem("oscimeta:Subject", m.Subject)
	x.Elem("oscimeta:Service", m.Service)
	x.Start("oscimeta:BusinessScenario")
	if m.BusinessScenario.Code != "" {
		x.writeCode("oscimeta:Defined", m.BusinessScenario, BusinessScenarioListURI, BusinessScenarioListVersion)
	} else {
		x.Elem("oscimeta:Undefined", m.UndefinedScenario)
	}
	x.End("oscimeta:BusinessScenario")
	x.writeCode("oscimeta:MessageType", m.MessageType, MessageTypeListURI, MessageTypeListVersion, "payloadSchema", m.PayloadSchema)
	x.End("oscimeta:Qualifier")
	if m.Size > 0 {
		x.Elem("oscimeta:MsgSize", strconv.FormatInt(m.Size, 10))
	}
	x.End("oscimeta:MessageMetaData")
}

func parseCode(el *Element) Code {
	uri, _ := el.AttrValue("", "listURI")
	ver, _ := el.AttrValue("", "listVersionID")
	return Code{
		Code:          el.Child("", "code").TrimText(),
		Name:          el.Child("", "name").TrimText(),
		ListURI:       uri,
		ListVersionID: ver,
	}
}

func parseParty(el *Element) (key, typ string) {
	id := el.Child(NSOSCIMeta, "Identifier")
	typ, _ = id.AttrValue("", "type")
	return id.TrimText(), typ
}

func parseTime(el *Element, what string) (time.Time, error) {
	s := el.TrimText()
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an xs:dateTime: %w", what, s, err)
	}
	return t, nil
}

// ParseMessageMetaData decodes an oscimeta:MessageMetaData element and checks
// that the fields the hub relies on are present.
func ParseMessageMetaData(el *Element) (MessageMeta, error) {
	if !el.Is(NSOSCIMeta, "MessageMetaData") {
		return MessageMeta{}, fmt.Errorf("expected oscimeta:MessageMetaData")
	}
	var m MessageMeta
	var err error
	da := el.Child(NSOSCIMeta, "DeliveryAttributes")
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"Origin", &m.Origin}, {"InitialSend", &m.InitialSend}, {"NotBefore", &m.NotBefore},
		{"Delivery", &m.Delivery}, {"InitialFetch", &m.InitialFetch}, {"Reception", &m.Reception}} {
		if *f.t, err = parseTime(da.Child(NSOSCIMeta, f.name), f.name); err != nil {
			return m, err
		}
	}
	m.AuthorKey, m.AuthorType = parseParty(el.Child(NSOSCIMeta, "Originators").Child(NSOSCIMeta, "Author"))
	m.ReaderKey, m.ReaderType = parseParty(el.Child(NSOSCIMeta, "Destinations").Child(NSOSCIMeta, "Reader"))
	mi := el.Child(NSOSCIMeta, "MsgIdentification")
	m.MessageID = mi.Child(NSWSA, "MessageID").TrimText()
	for _, r := range mi.ChildrenNamed(NSOSCIMeta, "In-Reply-To") {
		m.InReplyTo = append(m.InReplyTo, r.TrimText())
	}
	q := el.Child(NSOSCIMeta, "Qualifier")
	if subj := q.Child(NSOSCIMeta, "Subject"); subj != nil {
		m.Subject = subj.Text
	}
	m.Service = q.Child(NSOSCIMeta, "Service").TrimText()
	bs := q.Child(NSOSCIMeta, "BusinessScenario")
	if d := bs.Child(NSOSCIMeta, "Defined"); d != nil {
		m.BusinessScenario = parseCode(d)
	} else {
		m.UndefinedScenario = bs.Child(NSOSCIMeta, "Undefined").TrimText()
	}
	mt := q.Child(NSOSCIMeta, "MessageType")
	m.MessageType = parseCode(mt)
	m.PayloadSchema, _ = mt.AttrValue("", "payloadSchema")
	if s := el.Child(NSOSCIMeta, "MsgSize").TrimText(); s != "" {
		if m.Size, err = strconv.ParseInt(s, 10, 64); err != nil || m.Size < 0 {
			return m, fmt.Errorf("MsgSize %q is not a non-negative integer", s)
		}
	}
	if v, ok := el.AttrValue("", "TestMsg"); ok {
		m.TestMsg = v == "true" || v == "1"
	}
	return m, m.validate()
}

// Content is one part of a content container: the XÖV message or an
// attachment. The bytes are read through Open, never held by the struct.
type Content struct {
	ContentType string // MIME type, required (e.g. application/xml, application/pdf)
	// ID is the @id attribute (xs:ID); XÖV messages reference attachments by it
	// (e.g. XBau anhang/dokumentid).
	ID          string
	Filename    string
	Description string // contentDescription
	Encoding    string // character set of the content, e.g. UTF-8
	// Size is the exact size in bytes; the server checks that Open yields it.
	Size int64
	Open func() (io.ReadCloser, error)
}

// OutboundMessage is a message waiting in a reader's mailbox (getMessage).
type OutboundMessage struct {
	Meta        MessageMeta
	Message     Content
	Attachments []Content
}

// InboundMessage is a message a Fachverfahren sent to the hub (sendMessage).
// Its Content.Open functions read spooled copies that are valid only until
// Backend.Receive returns.
type InboundMessage struct {
	Meta        MessageMeta
	Message     Content
	Attachments []Content
}
