package osci

import (
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// Fault is a SOAP fault (soapMessageFault.xsd): the answer of an intermediary
// to a message it could not even open (not OSCI, undecryptable, unknown
// client), where no typed response with a Feedback can be built. Code is the
// OSCI feedback code (9xxx) carried in faultstring and detail.
type Fault struct {
	Code   string
	Text   string
	Server bool // soap:Server instead of soap:Client
}

func (f *Fault) Error() string { return fmt.Sprintf("osci: SOAP fault %s: %s", f.Code, f.Text) }

// Class classifies the fault's code like a Feedback row.
func (f *Fault) Class() FeedbackClass {
	if strings.HasPrefix(f.Code, "9") {
		return classify9xxx(f.Code)
	}
	if f.Server {
		return FeedbackRetry
	}
	return FeedbackPermanent
}

// BuildFault renders f as a plain SOAP envelope valid against soapMessageFault.xsd.
func BuildFault(f *Fault) ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	env := doc.CreateElement("soap:Envelope")
	env.CreateAttr("xmlns:soap", NSSOAP)
	env.CreateAttr("xmlns:xsi", NSXSI)
	env.CreateAttr("xsi:schemaLocation", NSSOAP+" soapMessageFault.xsd")
	fe := env.CreateElement("soap:Body").CreateElement("soap:Fault")
	code := "soap:Client"
	if f.Server {
		code = "soap:Server"
	}
	fe.CreateElement("faultcode").SetText(code)
	fe.CreateElement("faultstring").SetText(f.Code + " " + f.Text)
	d := fe.CreateElement("detail").CreateElement("osci:Code")
	d.CreateAttr("xmlns:osci", NSOSCI)
	d.SetText(f.Code)
	return doc.WriteToBytes()
}

// parseFault returns the fault of a SOAP envelope, nil if it is none.
func parseFault(envelope []byte) *Fault {
	doc, err := readDoc(envelope)
	if err != nil {
		return nil
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != NSSOAP {
		return nil
	}
	body := child(env, NSSOAP, "Body")
	if body == nil {
		return nil
	}
	fe := child(body, NSSOAP, "Fault")
	if fe == nil {
		return nil
	}
	f := &Fault{}
	if c := fe.SelectElement("faultcode"); c != nil {
		f.Server = strings.HasSuffix(strings.TrimSpace(c.Text()), "Server")
	}
	if s := fe.SelectElement("faultstring"); s != nil {
		f.Text = strings.TrimSpace(s.Text())
	}
	if d := fe.SelectElement("detail"); d != nil {
		if c := child(d, NSOSCI, "Code"); c != nil {
			f.Code = strings.TrimSpace(c.Text())
		}
	}
	if f.Code == "" {
		code, _, _ := strings.Cut(f.Text, " ")
		f.Code = code
	}
	f.Text = strings.TrimSpace(strings.TrimPrefix(f.Text, f.Code))
	return f
}

// ParseFault reads a SOAP fault from an OSCI MIME body or a bare envelope.
func ParseFault(body []byte) (*Fault, bool) {
	if parts, err := ParseMIME(body); err == nil {
		body = parts[0].Data
	}
	f := parseFault(body)
	return f, f != nil
}
