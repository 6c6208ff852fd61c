package xoev

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Reply holds the common data of a reply an authority (or a Fachverfahren
// simulator) sends back for a 1200.
type Reply struct {
	// UUID is the reply's nachrichtenUUID. Empty derives it deterministically
	// from the referenced message, the reply type and (1170) the status code,
	// so a simulator that re-sends produces the same message.
	UUID string
	// Created is erstellungszeitpunkt; it must not be zero.
	Created time.Time
	// Reference is bezug/referenz: the referenzAntragsservice of the
	// application (Inbound.Reference of the parsed 1200). Optional.
	Reference string
	// ReferenceOnly leaves bezug/bezugNachricht out: the reply names the
	// application only by Reference (bezug/referenz), as a Fachverfahren does
	// that answers outside the message exchange (e.g. a 1121 sent when the
	// Aktenzeichen is assigned). Requires Reference; ignored by the 1100.
	ReferenceOnly bool
	// CaseNumber is bezug/vorgang, the authority's Aktenzeichen. Optional.
	CaseNumber string
	// Text is information (1120) or begruendung (1170). Optional.
	Text string
	// VerzeichnisdienstVersion defaults to DefaultListVersions.Verzeichnisdienst.
	VerzeichnisdienstVersion string
	Product                  Product
	Test                     bool
}

// BuildReceipt1120 builds a prozessnachrichten.eingangsbestaetigung.1120 that
// acknowledges the message ref (normally a 1200). The reply goes from ref's
// reader to ref's author.
func BuildReceipt1120(ref Header, r Reply) (Document, error) {
	return buildReply(ref, r, Root1120, Code1120, "", func(m *message) error {
		if t := strings.TrimSpace(r.Text); t != "" {
			text(m.root.CreateElement("information"), "textabsatz", t)
		}
		return nil
	})
}

// BuildAktenzeichen1121 builds a prozessnachrichten.aktenzeichen.1121 that
// tells the applicant the Aktenzeichen (r.CaseNumber, required) under which
// the authority handles the application ref. The reply quotes ref in
// bezug/bezugNachricht as well as r.Reference, so either correlates it;
// with r.ReferenceOnly it names the application only by r.Reference.
func BuildAktenzeichen1121(ref Header, r Reply) (Document, error) {
	if strings.TrimSpace(r.CaseNumber) == "" {
		return Document{}, fmt.Errorf("xoev: reply %s: CaseNumber (the Aktenzeichen) is required", Code1121)
	}
	return buildReply(ref, r, Root1121, Code1121, "", func(*message) error { return nil })
}

// BuildStatus1170 builds a prozessnachrichten.statusFuerAntragsportal.1170 with
// statusAntragsportal code from urn:xoev-de:xbau:codeliste:statusbauportal 3.0.
// deadline (frist) is optional (zero time: none).
func BuildStatus1170(ref Header, statusCode string, deadline time.Time, r Reply) (Document, error) {
	if _, ok := StatusBauportal[statusCode]; !ok {
		return Document{}, &CodeError{Field: "statusAntragsportal", Code: statusCode, ListURI: ListStatusBauportal, ListVersion: ListStatusBauportalVersion}
	}
	return buildReply(ref, r, Root1170, Code1170, statusCode, func(m *message) error {
		code(m.root, "statusAntragsportal", ListStatusBauportal, ListStatusBauportalVersion, statusCode)
		if !deadline.IsZero() {
			text(m.root, "frist", deadline.Format("2006-01-02"))
		}
		if t := strings.TrimSpace(r.Text); t != "" {
			text(m.root.CreateElement("begruendung"), "text", base64.StdEncoding.EncodeToString([]byte(t)))
		}
		return nil
	})
}

// BuildRejection1100 builds a prozessnachrichten.rueckweisung.G2G.1100 that
// rejects the message ref; original is the rejected message (carried base64 in
// rueckweisungDaten/nachricht). Every reason's Code must be in
// xbau-fehlerkennzahlen 2.2; Text becomes fehlertext, Meaning is ignored.
func BuildRejection1100(ref Header, original []byte, reasons []Reason, r Reply) (Document, error) {
	if len(reasons) == 0 {
		return Document{}, fmt.Errorf("xoev: 1100 needs at least one reason")
	}
	if len(original) == 0 {
		return Document{}, fmt.Errorf("xoev: 1100 needs the rejected message")
	}
	for i, rs := range reasons {
		if _, ok := Fehlerkennzahlen[rs.Code]; !ok {
			return Document{}, &CodeError{Field: fmt.Sprintf("rueckweisungsgrund[%d]/grund", i), Code: rs.Code, ListURI: ListFehlerkennzahlen, ListVersion: ListFehlerkennzahlenVersion}
		}
	}
	return buildReply(ref, r, Root1100, Code1100, "", func(m *message) error {
		rd := m.root.CreateElement("rueckweisungDaten")
		for _, rs := range reasons {
			g := rd.CreateElement("rueckweisungsgrund")
			code(g, "grund", "", ListFehlerkennzahlenVersion, rs.Code)
			if t := strings.TrimSpace(rs.Text); t != "" {
				text(g, "fehlertext", t)
			}
		}
		bezugNachricht(rd, "idNachricht", ref)
		text(rd, "nachricht", base64.StdEncoding.EncodeToString(original))
		return nil
	})
}

// replyHeader checks a reply's data and returns its nachrichtenkopf: the
// reply travels the other way, from ref's reader to ref's author.
func replyHeader(ref Header, r Reply, typeCode, discriminator string) (headerData, error) {
	if !isUUID(ref.UUID) || ref.TypeCode == "" {
		return headerData{}, fmt.Errorf("xoev: reply %s: referenced header needs nachrichtenUUID and nachrichtentyp", typeCode)
	}
	if r.Created.IsZero() {
		return headerData{}, fmt.Errorf("xoev: reply %s: Created is zero", typeCode)
	}
	if ref.CreatedText == "" && ref.Created.IsZero() {
		return headerData{}, fmt.Errorf("xoev: reply %s: referenced header has no erstellungszeitpunkt", typeCode)
	}
	if r.ReferenceOnly && r.Reference == "" {
		return headerData{}, fmt.Errorf("xoev: reply %s: ReferenceOnly needs the Reference (bezug/referenz)", typeCode)
	}
	if r.Reference != "" && !isUUID(r.Reference) {
		return headerData{}, fmt.Errorf("xoev: reply %s: Reference %q is not a UUID", typeCode, r.Reference)
	}
	// The reply travels the other way: the 1200's reader is its author.
	reader, err := checkParty("reader", Party{Key: ref.AuthorKey, Name: ref.AuthorName})
	if err != nil {
		return headerData{}, err
	}
	author, err := checkParty("author", Party{Key: ref.ReaderKey, Name: ref.ReaderName})
	if err != nil {
		return headerData{}, err
	}
	id := r.UUID
	if id == "" {
		name := "reply:" + strings.ToLower(ref.UUID) + ":" + typeCode
		if discriminator != "" {
			name += ":" + discriminator
		}
		id = derivedUUID(name)
	}
	if !isUUID(id) {
		return headerData{}, fmt.Errorf("xoev: reply %s: UUID %q is not a UUID", typeCode, id)
	}
	vd := r.VerzeichnisdienstVersion
	if vd == "" {
		vd = DefaultListVersions.Verzeichnisdienst
	}
	return headerData{UUID: id, TypeCode: typeCode, Created: r.Created, Reader: reader, Author: author, VerzeichnisdienstVersion: vd}, nil
}

func buildReply(ref Header, r Reply, root, typeCode, discriminator string, body func(*message) error) (Document, error) {
	hd, err := replyHeader(ref, r, typeCode, discriminator)
	if err != nil {
		return Document{}, err
	}
	id := hd.UUID
	m := newMessage(root, r.Product, r.Test, true)
	m.header(hd)
	if root != Root1100 {
		b := m.root.CreateElement("bezug")
		if r.Reference != "" {
			text(b, "referenz", strings.ToLower(r.Reference))
		}
		if v := strings.TrimSpace(r.CaseNumber); v != "" {
			text(b, "vorgang", v)
		}
		if !r.ReferenceOnly {
			bezugNachricht(b, "bezugNachricht", ref)
		}
	}
	if err := body(m); err != nil {
		return Document{}, err
	}
	data, err := m.bytes()
	if err != nil {
		return Document{}, err
	}
	return Document{
		UUID: id, Standard: StandardKernmodul, Version: VersionKernmodul, TypeCode: typeCode,
		RootElement: root, Namespace: NSKernmodul130, ReferenceUUID: strings.ToLower(r.Reference), XML: data,
	}, nil
}
