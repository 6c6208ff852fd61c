package xoev

import (
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// XBau 2.6 replies of the baugenehmigung process that an authority (or the
// Fachverfahren simulator) sends back for a 0200 or 1200: the result of the
// formal check (0201) and the Bescheid (0205). XBau qualifies its own
// elements (prefix xbau) but not the Kernmodul types inside them.
const (
	prefixXBau = "xbau"
	// ListXBauNachrichten is the nachrichtentyp list of XBau 2.6 messages.
	ListXBauNachrichten        = "urn:xoev-de:xbau:codeliste:xbau-nachrichten"
	ListXBauNachrichtenVersion = "4.0"
	// ListFormelleBefunde is the code list of 0201 artDesBefundes.
	ListFormelleBefunde        = "urn:xoev-de:xbau:codeliste:formelle-befunde"
	ListFormelleBefundeVersion = "1.0"
	standardXBau26             = "XBau-Hochbau"
	versionXBau26              = "2.6"
	code0201                   = "0201"
	code0205                   = "0205"
)

// FormalCheck is the content of a 0201 formellePruefung.
type FormalCheck struct {
	Complete bool      // antragVollstaendig
	Letter   string    // anschreiben, optional
	Findings []Finding // befunde (Code from ListFormelleBefunde, Description); required when not Complete
	Deadline time.Time // frist for the missing documents (with Findings)
}

// BescheidDocument is a file of a 0205: it travels as a transport attachment
// whose id is DokumentID and whose file name is Filename.
type BescheidDocument struct {
	Bezeichnung string // e.g. "Baugenehmigung"
	AnlageArt   string // code of urn:xoev-de:xbau:codeliste:anlagen (9999: sonstige)
	MimeType    string // code of xbau-mimetypes, e.g. application/pdf
	DokumentID  string
	Filename    string
	Date        time.Time // datum
}

// Bescheid is the content of a 0205.
type Bescheid struct {
	Granted   bool   // tenor/istGenehmigung
	Remedy    string // rechtshelfsbelehrung, optional
	Documents []BescheidDocument
}

// BuildFormellePruefung0201 builds an XBau 2.6
// baugenehmigung.formellePruefung.0201 answering ref.
func BuildFormellePruefung0201(ref Header, fc FormalCheck, r Reply) (Document, error) {
	if !fc.Complete && len(fc.Findings) == 0 {
		return Document{}, fmt.Errorf("xoev: reply %s: an incomplete application needs at least one finding", code0201)
	}
	disc := "vollstaendig"
	if !fc.Complete {
		disc = "unvollstaendig"
	}
	return buildReply26(ref, r, Root0201, code0201, disc, func(root *etree.Element) error {
		text(root, prefixXBau+":antragVollstaendig", fmt.Sprint(fc.Complete))
		if t := strings.TrimSpace(fc.Letter); t != "" {
			text(root.CreateElement(prefixXBau+":anschreiben"), "textabsatz", t)
		}
		if len(fc.Findings) == 0 {
			return nil
		}
		bf := root.CreateElement(prefixXBau + ":befundFrist")
		list := bf.CreateElement(prefixXBau + ":befundliste")
		for i, f := range fc.Findings {
			if strings.TrimSpace(f.Code) == "" || strings.TrimSpace(f.Description) == "" {
				return fmt.Errorf("xoev: reply %s: finding %d needs a code and a description", code0201, i+1)
			}
			listURI := f.ListURI
			if listURI == "" {
				listURI = ListFormelleBefunde
			}
			b := list.CreateElement(prefixXBau + ":befund")
			code(b, prefixXBau+":artDesBefundes", listURI, ListFormelleBefundeVersion, f.Code)
			text(b.CreateElement(prefixXBau+":beschreibung"), "textabsatz", strings.TrimSpace(f.Description))
		}
		if !fc.Deadline.IsZero() {
			text(bf, prefixXBau+":frist", fc.Deadline.Format("2006-01-02"))
		}
		return nil
	})
}

// BuildBescheid0205 builds an XBau 2.6 baugenehmigung.bescheid.0205 answering
// ref, listing the Bescheid's documents as anlagen.
func BuildBescheid0205(ref Header, b Bescheid, r Reply) (Document, error) {
	if len(b.Documents) == 0 {
		return Document{}, fmt.Errorf("xoev: reply %s: a Bescheid needs at least one document", code0205)
	}
	for i, d := range b.Documents {
		switch {
		case strings.TrimSpace(d.Bezeichnung) == "", d.DokumentID == "", d.Filename == "", d.MimeType == "", d.AnlageArt == "":
			return Document{}, fmt.Errorf("xoev: reply %s: document %d needs Bezeichnung, AnlageArt, MimeType, DokumentID and Filename", code0205, i+1)
		case d.Filename != SanitizeFilename(d.Filename, d.MimeType):
			return Document{}, fmt.Errorf("xoev: reply %s: document %d: file name %q does not match the XBau Dateiname pattern", code0205, i+1, d.Filename)
		}
	}
	return buildReply26(ref, r, Root0205, code0205, "", func(root *etree.Element) error {
		bs := root.CreateElement(prefixXBau + ":bescheid")
		text(bs.CreateElement(prefixXBau+":tenor"), prefixXBau+":istGenehmigung", fmt.Sprint(b.Granted))
		if t := strings.TrimSpace(b.Remedy); t != "" {
			text(bs.CreateElement(prefixXBau+":rechtshelfsbelehrung"), "textabsatz", t)
		}
		anl := root.CreateElement(prefixXBau + ":anlagen")
		for _, d := range b.Documents {
			a := anl.CreateElement("anlage")
			text(a, "bezeichnung", strings.TrimSpace(d.Bezeichnung))
			text(a, "versionsnummer", "1")
			date := d.Date
			if date.IsZero() {
				date = r.Created
			}
			text(a, "datum", date.Format("2006-01-02"))
			code(a, "anlageart", DefaultListVersions.Anlagen.URI, DefaultListVersions.Anlagen.Version, d.AnlageArt)
			code(a, "mimeType", DefaultListVersions.MimeTypes.URI, DefaultListVersions.MimeTypes.Version, d.MimeType)
			an := a.CreateElement("anhangOderVerlinkung").CreateElement("anhang")
			text(an, "dokumentid", d.DokumentID)
			text(an, "dateiname", d.Filename)
		}
		return nil
	})
}

func buildReply26(ref Header, r Reply, root, typeCode, discriminator string, body func(*etree.Element) error) (Document, error) {
	hd, err := replyHeader(ref, r, typeCode, discriminator)
	if err != nil {
		return Document{}, err
	}
	p := r.Product.withDefaults()
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	el := doc.CreateElement(prefixXBau + ":" + root)
	el.CreateAttr("xmlns:"+prefixXBau, NSXBau26)
	el.CreateAttr("xmlns:"+prefixG2G, NSG2G)
	el.CreateAttr("produkt", p.Name)
	el.CreateAttr("produkthersteller", p.Vendor)
	if p.Version != "" {
		el.CreateAttr("produktversion", p.Version)
	}
	el.CreateAttr("standard", standardXBau26)
	if r.Test {
		el.CreateAttr("test", "true")
	}
	el.CreateAttr("version", versionXBau26)
	m := &message{doc: doc, root: el}
	m.header(hd)
	if t := el.FindElement("nachrichtenkopf.g2g/identifikation.nachricht/nachrichtentyp"); t != nil {
		t.CreateAttr("listURI", ListXBauNachrichten)
		t.CreateAttr("listVersionID", ListXBauNachrichtenVersion)
	}
	b := el.CreateElement(prefixXBau + ":bezug")
	if r.Reference != "" {
		text(b, "referenz", strings.ToLower(r.Reference))
	}
	if v := strings.TrimSpace(r.CaseNumber); v != "" {
		text(b, "vorgang", v)
	}
	if !r.ReferenceOnly {
		bezugNachricht(b, "bezugNachricht", ref)
	}
	if err := body(el); err != nil {
		return Document{}, err
	}
	data, err := m.bytes()
	if err != nil {
		return Document{}, err
	}
	return Document{
		UUID: hd.UUID, Standard: standardXBau26, Version: versionXBau26, TypeCode: typeCode,
		RootElement: root, Namespace: NSXBau26, ReferenceUUID: strings.ToLower(r.Reference), XML: data,
	}, nil
}
