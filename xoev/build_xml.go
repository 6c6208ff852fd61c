package xoev

import (
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// Product identifies the software that writes a message (root attributes
// produkt, produkthersteller, produktversion).
type Product struct {
	Name    string // produkt, default "dxhub"
	Vendor  string // produkthersteller, default "dxhub project"
	Version string // produktversion, optional
}

func (p Product) withDefaults() Product {
	if p.Name == "" {
		p.Name = "dxhub"
	}
	if p.Vendor == "" {
		p.Vendor = "dxhub project"
	}
	return p
}

// prefixKernmodul is the prefix bound to NSKernmodul130 on every root element.
const (
	prefixKernmodul = "xbauk"
	prefixG2G       = "g2g"
)

// message is a Kernmodul 1.3.0 message under construction.
type message struct {
	doc  *etree.Document
	root *etree.Element
}

// newMessage starts a Kernmodul message with its root attributes in XSD order.
// Only the root is qualified (elementFormDefault="unqualified" in every
// Kernmodul schema); children are created without prefix and thus in no
// namespace, because no default namespace is declared.
func newMessage(rootName string, p Product, test bool, withG2G bool) *message {
	p = p.withDefaults()
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement(prefixKernmodul + ":" + rootName)
	root.CreateAttr("xmlns:"+prefixKernmodul, NSKernmodul130)
	if withG2G {
		root.CreateAttr("xmlns:"+prefixG2G, NSG2G)
	}
	root.CreateAttr("produkt", p.Name)
	root.CreateAttr("produkthersteller", p.Vendor)
	if p.Version != "" {
		root.CreateAttr("produktversion", p.Version)
	}
	root.CreateAttr("standard", StandardKernmodul)
	if test {
		root.CreateAttr("test", "true")
	}
	root.CreateAttr("version", VersionKernmodul)
	return &message{doc: doc, root: root}
}

// headerData is the content of nachrichtenkopf.g2g.
type headerData struct {
	UUID                     string
	TypeCode                 string
	Created                  time.Time
	Reader, Author           Party
	VerzeichnisdienstVersion string
}

// formatDateTime renders an xs:dateTime with seconds precision and an explicit
// offset (XÖV requires the time zone): 2026-11-23T09:30:00+01:00.
func formatDateTime(t time.Time) string {
	return t.Truncate(time.Second).Format("2006-01-02T15:04:05-07:00")
}

// checkParty validates a header party against sch-xbau-001/002.
func checkParty(role string, p Party) (Party, error) {
	if !dvdvKey.MatchString(p.Key) {
		return p, fmt.Errorf("xoev: %s key %q is not a DVDV Behördenkennung (^[a-z]{3}:\\d+$, XBau Schematron sch-xbau-001/002)", role, p.Key)
	}
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" {
		p.Name = p.Key
	}
	return p, nil
}

func (m *message) header(h headerData) {
	kopf := m.root.CreateElement("nachrichtenkopf.g2g")
	id := kopf.CreateElement("identifikation.nachricht")
	text(id, "nachrichtenUUID", h.UUID)
	code(id, "nachrichtentyp", ListKernmodulNachrichten, ListKernmodulNachrichtenVersion, h.TypeCode)
	text(id, "erstellungszeitpunkt", formatDateTime(h.Created))
	for _, p := range []struct {
		name  string
		party Party
	}{{"leser", h.Reader}, {"autor", h.Author}} {
		b := kopf.CreateElement(p.name)
		c := b.CreateElement("verzeichnisdienst")
		c.CreateAttr("listVersionID", h.VerzeichnisdienstVersion)
		text(c, "code", "DVDV")
		text(b, "kennung", p.party.Key)
		text(b, "name", p.party.Name)
	}
}

// bezugNachricht writes a reference to another message: the qualified
// bn-g2g:Identifikation.NachrichtType (children in NSG2G, <code> unqualified).
func bezugNachricht(parent *etree.Element, name string, ref Header) {
	b := parent.CreateElement(name)
	text(b, prefixG2G+":nachrichtenUUID", ref.UUID)
	t := b.CreateElement(prefixG2G + ":nachrichtentyp")
	listURI, version := ref.TypeListURI, ref.TypeListVersion
	if listURI == "" {
		listURI, version = ListKernmodulNachrichten, ListKernmodulNachrichtenVersion
	}
	t.CreateAttr("listURI", listURI)
	if version != "" {
		t.CreateAttr("listVersionID", version)
	}
	text(t, "code", ref.TypeCode)
	text(b, prefixG2G+":erstellungszeitpunkt", ref.CreatedRaw())
}

func text(parent *etree.Element, name, value string) *etree.Element {
	e := parent.CreateElement(name)
	e.SetText(value)
	return e
}

func code(parent *etree.Element, name, listURI, listVersion, value string) *etree.Element {
	e := parent.CreateElement(name)
	if listURI != "" {
		e.CreateAttr("listURI", listURI)
	}
	if listVersion != "" {
		e.CreateAttr("listVersionID", listVersion)
	}
	text(e, "code", value)
	return e
}

// checkNoEmpty enforces XBau Schematron sch-xbau-gen-001: no element may be
// empty or contain only white space.
func checkNoEmpty(e *etree.Element, path string) error {
	path += "/" + e.Tag
	if len(e.ChildElements()) == 0 && strings.TrimSpace(e.Text()) == "" {
		return fmt.Errorf("xoev: element %s is empty (XBau Schematron sch-xbau-gen-001)", path)
	}
	for _, c := range e.ChildElements() {
		if err := checkNoEmpty(c, path); err != nil {
			return err
		}
	}
	return nil
}

// checkDVDVParties is the header half of CheckTransportRules on a message
// being built: a leser or autor of nachrichtenkopf.g2g whose
// verzeichnisdienst is DVDV has a Behördenkennung as kennung (XBau
// Schematron sch-xbau-001/002).
func checkDVDVParties(root *etree.Element) error {
	kopf := root.SelectElement("nachrichtenkopf.g2g")
	if kopf == nil {
		return nil
	}
	for _, role := range []string{"leser", "autor"} {
		p := kopf.SelectElement(role)
		if p == nil {
			continue
		}
		code := p.FindElement("verzeichnisdienst/code")
		if code == nil || strings.TrimSpace(code.Text()) != "DVDV" {
			continue
		}
		text := ""
		if k := p.SelectElement("kennung"); k != nil {
			text = k.Text()
		}
		if !dvdvKey.MatchString(text) {
			return fmt.Errorf("xoev: /%s/nachrichtenkopf.g2g/%s/kennung: %q is not a DVDV Behördenkennung (^[a-z]{3}:\\d+$, XBau Schematron sch-xbau-001/002)", root.Tag, role, text)
		}
	}
	return nil
}

// bytes serialises the message (UTF-8, XML declaration, two-space indent).
func (m *message) bytes() ([]byte, error) {
	if err := checkNoEmpty(m.root, ""); err != nil {
		return nil, err
	}
	m.doc.Indent(2)
	return m.doc.WriteToBytes()
}
