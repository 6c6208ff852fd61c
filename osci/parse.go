package osci

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// ParseEnvelope reads a plain SOAP envelope into a Message. It does not check
// signatures; Decode does.
func ParseEnvelope(data []byte) (*Message, *etree.Document, error) {
	doc, err := readDoc(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrNotOSCI, err)
	}
	m, err := parseDoc(doc)
	return m, doc, err
}

func parseDoc(doc *etree.Document) (*Message, error) {
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != NSSOAP {
		return nil, fmt.Errorf("%w: root is not a SOAP 1.1 Envelope", ErrNotOSCI)
	}
	h := child(env, NSSOAP, "Header")
	body := child(env, NSSOAP, "Body")
	if body == nil {
		return nil, fmt.Errorf("%w: no soap:Body", ErrNotOSCI)
	}
	m := &Message{ControlBlock: ControlBlock{ConversationID: -1, SequenceNumber: -1}}
	var order *etree.Element
	if h != nil {
		for _, e := range h.ChildElements() {
			if e.NamespaceURI() != NSOSCI {
				m.CustomHeaders = append(m.CustomHeaders, e)
				continue
			}
			switch e.Tag {
			case "ControlBlock":
				cb, err := parseControlBlock(e)
				if err != nil {
					return nil, err
				}
				m.ControlBlock = cb
			case "DesiredLanguages":
				m.DesiredLanguages = e.SelectAttrValue("LanguagesList", "")
			case "NonIntermediaryCertificates", "IntermediaryCertificates":
				if err := parseCerts(e, m); err != nil {
					return nil, err
				}
			case "ClientSignature", "SupplierSignature", "QualityOfTimestamp":
			default:
				if _, ok := kinds[Kind(e.Tag)]; ok && kinds[Kind(e.Tag)].header {
					if order != nil {
						return nil, fmt.Errorf("%w: two order elements %s and %s", ErrNotOSCI, order.Tag, e.Tag)
					}
					order = e
				}
			}
		}
	}
	for _, e := range body.ChildElements() {
		if e.NamespaceURI() != NSOSCI {
			return nil, fmt.Errorf("%w: unexpected body element {%s}%s", ErrNotOSCI, e.NamespaceURI(), e.Tag)
		}
		if e.Tag == "ContentPackage" {
			m.ContentPackage = e
			continue
		}
		if info, ok := kinds[Kind(e.Tag)]; ok && !info.header {
			if order != nil {
				return nil, fmt.Errorf("%w: two order elements %s and %s", ErrNotOSCI, order.Tag, e.Tag)
			}
			order = e
		}
	}
	if order == nil {
		return nil, fmt.Errorf("%w: no known order element", ErrUnknownKind)
	}
	m.Kind = Kind(order.Tag)
	if err := parseOrder(order, m); err != nil {
		return nil, err
	}
	return m, nil
}

func parseControlBlock(e *etree.Element) (ControlBlock, error) {
	cb := ControlBlock{ConversationID: -1, SequenceNumber: -1}
	for _, a := range []struct {
		name string
		dst  *int64
	}{{"ConversationId", &cb.ConversationID}, {"SequenceNumber", &cb.SequenceNumber}} {
		if v := e.SelectAttrValue(a.name, ""); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return cb, fmt.Errorf("%w: ControlBlock %s %q", ErrNotOSCI, a.name, v)
			}
			*a.dst = n
		}
	}
	if r := child(e, NSOSCI, "Response"); r != nil {
		cb.Response = strings.TrimSpace(r.Text())
	}
	if c := child(e, NSOSCI, "Challenge"); c != nil {
		cb.Challenge = strings.TrimSpace(c.Text())
	}
	return cb, nil
}

func parseCerts(e *etree.Element, m *Message) error {
	for _, c := range e.ChildElements() {
		xc := c.FindElement("./X509Data/X509Certificate")
		if xc == nil {
			return fmt.Errorf("%w: %s without X509Certificate", ErrNotOSCI, c.Tag)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.Map(dropSpace, xc.Text()))
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrNotOSCI, c.Tag, err)
		}
		cert, err := x509.ParseCertificate(raw)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrNotOSCI, c.Tag, err)
		}
		switch c.Tag {
		case "CipherCertificateOriginator":
			m.CipherCertOriginator = cert
		case "SignatureCertificateOriginator":
			m.SignatureCertOriginator = cert
		case "CipherCertificateAddressee":
			m.CipherCertAddressee = cert
		case "SignatureCertificateAddressee":
			m.SignatureCertAddressee = cert
		case "SignatureCertificateIntermediary":
			m.SignatureCertIntermediary = cert
		}
	}
	return nil
}

func parseOrder(o *etree.Element, m *Message) error {
	if f := child(o, NSOSCI, "Feedback"); f != nil {
		for _, en := range f.ChildElements() {
			fe := FeedbackEntry{Lang: en.SelectAttrValue("xml:lang", "")}
			if c := child(en, NSOSCI, "Code"); c != nil {
				fe.Code = strings.TrimSpace(c.Text())
			}
			if t := child(en, NSOSCI, "Text"); t != nil {
				fe.Text = t.Text()
			}
			m.Feedback = append(m.Feedback, fe)
		}
	}
	if id := child(o, NSOSCI, "MessageId"); id != nil {
		m.MessageID = strings.TrimSpace(id.Text())
	}
	if s := child(o, NSOSCI, "Subject"); s != nil {
		m.Subject = s.Text()
	}
	if cr := child(o, NSOSCI, "ContentReceiver"); cr != nil {
		m.ContentReceiver = cr.SelectAttrValue("URI", "")
	}
	sel := o
	if echo := child(o, NSOSCI, strings.TrimPrefix(string(m.Kind), "responseTo")); echo != nil {
		sel = echo
	}
	if echo := child(o, NSOSCI, "fetchProcessCard"); echo != nil {
		sel = echo
	}
	if echo := child(o, NSOSCI, "fetchDelivery"); echo != nil {
		sel = echo
	}
	if sr := child(sel, NSOSCI, "SelectionRule"); sr != nil {
		s := &Selection{}
		for _, c := range sr.ChildElements() {
			switch c.Tag {
			case "MessageId":
				s.MessageIDs = append(s.MessageIDs, strings.TrimSpace(c.Text()))
			case "ReceptionOfDelivery", "RecentModification":
				t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(c.Text()))
				if err != nil {
					return fmt.Errorf("%w: SelectionRule %s: %v", ErrNotOSCI, c.Tag, err)
				}
				s.ReceptionOfDelivery = t
				s.Role = c.SelectAttrValue("Role", "")
			}
		}
		m.Selection = s
	}
	if q := child(o, NSOSCI, "Quantity"); q != nil {
		if m.Selection == nil {
			m.Selection = &Selection{}
		}
		n, err := strconv.Atoi(q.SelectAttrValue("Limit", ""))
		if err != nil || n <= 0 {
			return fmt.Errorf("%w: Quantity Limit %q", ErrNotOSCI, q.SelectAttrValue("Limit", ""))
		}
		m.Selection.Limit = n
	}
	for _, c := range o.ChildElements() {
		if c.NamespaceURI() == NSOSCI && strings.HasSuffix(c.Tag, "ProcessCardBundle") {
			pc, err := parseProcessCard(c)
			if err != nil {
				return err
			}
			m.ProcessCards = append(m.ProcessCards, pc)
		}
	}
	return nil
}

func parseProcessCard(b *etree.Element) (ProcessCardBundle, error) {
	pc := ProcessCardBundle{Name: b.Tag}
	if id := child(b, NSOSCI, "MessageId"); id != nil {
		pc.MessageID = strings.TrimSpace(id.Text())
	}
	card := child(b, NSOSCI, "ProcessCard")
	if card == nil {
		return pc, fmt.Errorf("%w: %s without ProcessCard", ErrNotOSCI, b.Tag)
	}
	rm, err := time.Parse(time.RFC3339Nano, card.SelectAttrValue("RecentModification", ""))
	if err != nil {
		return pc, fmt.Errorf("%w: ProcessCard RecentModification: %v", ErrNotOSCI, err)
	}
	pc.RecentModification = rm
	for _, f := range []struct {
		n   string
		dst **Timestamp
	}{{"Creation", &pc.Creation}, {"Forwarding", &pc.Forwarding}, {"Reception", &pc.Reception}} {
		if e := child(card, NSOSCI, f.n); e != nil {
			ts, err := parseTimestamp(e)
			if err != nil {
				return pc, fmt.Errorf("%w: ProcessCard %s: %v", ErrNotOSCI, f.n, err)
			}
			*f.dst = &ts
		}
	}
	if s := child(card, NSOSCI, "Subject"); s != nil {
		pc.Subject = s.Text()
	}
	if ir := child(b, NSOSCI, "InspectionReport"); ir != nil {
		for _, in := range ir.ChildElements() {
			var i Inspection
			if ts := child(in, NSOSCI, "Timestamp"); ts != nil {
				i.Timestamp, _ = parseTimestamp(ts)
			}
			i.SubjectName = text(in, "X509SubjectName")
			i.IssuerName = text(in, "X509IssuerName")
			i.SerialNumber = text(in, "X509SerialNumber")
			i.CertType = attr(in, "CertType", "Type")
			i.MathResult = attr(in, "MathResult", "Result")
			i.OfflineResult = attr(in, "OfflineResult", "Result")
			pc.Inspections = append(pc.Inspections, i)
		}
	}
	return pc, nil
}

func parseTimestamp(e *etree.Element) (Timestamp, error) {
	if p := child(e, NSOSCI, "Plain"); p != nil {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(p.Text()))
		return Timestamp{Plain: t}, err
	}
	if c := child(e, NSOSCI, "Cryptographic"); c != nil {
		return Timestamp{Cryptographic: strings.TrimSpace(c.Text()), Algorithm: c.SelectAttrValue("Algorithm", "")}, nil
	}
	return Timestamp{}, fmt.Errorf("neither Plain nor Cryptographic")
}

func child(e *etree.Element, ns, tag string) *etree.Element {
	for _, c := range e.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

func text(e *etree.Element, tag string) string {
	if c := child(e, NSOSCI, tag); c != nil {
		return strings.TrimSpace(c.Text())
	}
	return ""
}

func attr(e *etree.Element, tag, a string) string {
	if c := child(e, NSOSCI, tag); c != nil {
		return c.SelectAttrValue(a, "")
	}
	return ""
}
