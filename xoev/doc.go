// Package xoev produces and parses the XÖV messages dxhub exchanges with
// Fachverfahren: the built-in Go mapping of XBau Kernmodul 1.3.0
// universellerAntrag.antrag.1200 (below), the declarative profile engine
// (Engine, Profile; config/profiles/README.md) with a JSON Schema of each
// service's form data (Profile.JSONSchema), and the back-channel parser.
//
// # Outbound: universellerAntrag.antrag.1200
//
// Mapper.Map turns a Submission into a universellerAntrag.antrag.1200
// (namespace NSKernmodul130) and validates it against the deployed XSD before
// returning it. Build one with Open (schemas and code lists from
// Config.StandardsDir) or NewMapper.
//
// Qualification: every Kernmodul schema has elementFormDefault="unqualified",
// so only the root element is in the Kernmodul namespace (prefix xbauk); all
// descendants, including nachrichtenkopf.g2g, are unqualified. Only a
// reference to another message (bezug/bezugNachricht, rueckweisungDaten/
// idNachricht) uses the qualified XÖV G2G namespace for its three children,
// while their <code> stays unqualified.
//
// Header: nachrichtenkopf.g2g with identifikation.nachricht (nachrichtenUUID =
// MessageUUID(submission ID, MessageKind1200), a UUIDv5 that survives
// re-mapping; nachrichtentyp 1200 of xbau-kernmodul-nachrichten 3.0;
// erstellungszeitpunkt with offset), then leser and autor (verzeichnisdienst
// DVDV, kennung such as "ags:05315000" checked against XBau Schematron
// sch-xbau-001/002, name). Root attributes produkt, produkthersteller,
// produktversion (Config.Product), standard "XBau-Kernmodul", optional
// test="true" (Config.Test) and version "1.3.0".
//
// Body, in XSD order:
//   - referenzAntragsservice: Submission.Reference if it is a UUID, else
//     UUIDv5(submission ID + ":referenzAntragsservice"). Document.ReferenceUUID
//     returns it; replies quote it in bezug/referenz. A non-UUID portal
//     reference is not carried in the XML (keep it in the correlation table).
//   - artDesAntrags (Code-Typ 4): form "artDesAntrags", else
//     Config.ServiceArtDesAntrags[Submission.Service]; list
//     Config.Lists.ArtDesAntrags (default urn:xoev-de:xbau:codeliste:artdesantrags
//     1.0). The code is checked only if that list is loaded.
//   - bezug (optional) from form "bezug".
//   - antragsteller/natuerlichePerson: id = UUIDv5(submission ID +
//     ":antragsteller:0"); name from form applicant.firstName/lastName, else
//     SplitName(Applicant.Name) (a single word: vorname/nichtVorhanden);
//     anschrift (postal code and city required); staat only for non-German
//     addresses, from form applicant.staat; kommunikation for the e-mail (kanal
//     01) and form applicant.phone (kanal 02).
//   - grundstueck+ with anschriftGrundstueck? and flurstueck+.
//   - anlagen: one anlage per attachment, by reference (see below).
//
// Text goes through NFC normalisation, typographic dashes become "-", and every
// value is checked against DIN 91379 datatypeC/D (patterns compiled from the
// deployed XSD) so that a bad character is reported with its JSON pointer.
//
// # Form JSON
//
// The fields the 1200 reads (all others are ignored):
//
//	{
//	  "artDesAntrags": "1000",                 // unless configured per service
//	  "applicant": {                            // optional
//	    "firstName": "Maria", "lastName": "von der Leyen",   // both or neither
//	    "title": "Dr.", "salutation": "Frau", "phone": "+49 221 1",
//	    "staat": "151"                          // Destatis Staatsgebiet, non-DE only
//	  },
//	  "bezug": {"referenz": "<uuid>", "vorgang": "Aktenzeichen"},   // optional
//	  "grundstuecke": [{                        // required, ≥ 1 ("grundstueck": {…} for one)
//	    "anschrift": {"strasse": "", "hausnummer": "", "postleitzahl": "", "ort": "", "ortsteil": "", "zusatz": ""},
//	    "bundesland": "05",                     // default for its Flurstücke
//	    "flurstuecke": [{                       // required, ≥ 1
//	      "bundesland": "05",                   // Destatis 01..16, required here or above
//	      "gemarkung": "053102",                // Gemarkungsnummer, or
//	      "gemarkungName": "Altstadt-Nord",     // Gemarkungsbezeichnung (exactly one)
//	      "flur": "7", "zaehler": "123", "nenner": "4", "folge": "001",
//	      "flurstueck": "123/4"                 // shorthand for zaehler/nenner
//	    }]
//	  }],
//	  "anlagen": {                              // optional, per attachment
//	    "<attachment ID or filename>": {"anlageart": "1803", "bezeichnung": "Lageplan"}
//	  }
//	}
//
// Numbers are accepted where strings are expected. Errors are *MappingError
// whose Field is a JSON pointer into the submission JSON ("/form/…",
// "/applicant/…", "/attachments/N/…").
//
// # Attachments
//
// Kernmodul anlagen never embed file content: MetadatenAnlageDirekt requires
// anhangOderVerlinkung, whose "anhang" (MetadatenAnhang) is the standard's way
// to describe a file that travels with the message as a transport attachment.
// Each anlage carries bezeichnung (form override, else the file name), datum
// (date of erstellungszeitpunkt), anlageart (urn:xoev-de:xbau:codeliste:anlagen
// 3.0: form "anlagen" entry, else Attachment.AnlageArt, else
// Config.DefaultAnlageArt = 9999 "Weitere, nicht näher spezifizierte Anlage"),
// mimeType (the content type, list Config.Lists.MimeTypes) and
// anhang(dokumentid, dateiname, @filesize, @hashValue = SHA-256 hex as the XSD
// prescribes). dokumentid is the attachment ID when it is a plain URI token,
// else "urn:uuid:"+UUIDv5(submission ID + ":attachment:" + index); dateiname is
// SanitizeFilename of the portal's name, made unique. Document.Attachments
// tells the transport which id and file name to give each transport
// attachment (XBau Fehlerkennzahl A010 requires the id).
//
// # Inbound
//
// ParseInbound parses back-channel messages without DTDs, with depth, element
// and size limits, in either header generation: XBau Kernmodul 1.3.0 and 1.1
// 1100 Rückweisung → "rejected" (Fehlerkennzahlen with their meanings), 1120
// Eingangsbestätigung and 1121 Aktenzeichen → "acknowledged", 1170
// statusFuerAntragsportal → the kind in StatusBauportal, 1180
// generischeQuittierungEingang → "acknowledged"; XBau 2.6/2.3
// baugenehmigung 0201 formellePruefung → "in_progress", 0205 bescheid →
// "decided" (with its documents); XInneres 0010 → "rejected", 0020 →
// "acknowledged"; anything else well-formed → "unknown" with its header.
// BuildReceipt1120, BuildAktenzeichen1121, BuildStatus1170,
// BuildRejection1100 and the XBau 2.6 BuildFormellePruefung0201 and
// BuildBescheid0205 produce valid replies to a parsed 1200 (for tests and the
// Fachverfahren simulator); Reply.ReferenceOnly makes them name the
// application only by bezug/referenz.
//
// # Validation and code lists
//
// Validator compiles each schema set once through libxml2 (cgo) and is safe
// for concurrent use. LoadCodeLists reads genericode files; CodeLists.Check
// reports unknown codes as *CodeError.
package xoev
