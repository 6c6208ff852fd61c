package xoev

// Namespaces of the XBau 2.6 bundle (Kernmodul 1.3.0 and XÖV-Bibliothek).
const (
	// NSKernmodul130 is the target namespace of XBau Kernmodul 1.3.0 (XBau 2.6).
	// Its schemas use elementFormDefault="unqualified": only the root element
	// is in this namespace, every descendant element is unqualified.
	NSKernmodul130 = "http://www.xleitstelle.de/xbau/kernmodul/1/3/0"
	// NSG2G is the qualified XÖV Basisnachricht G2G 1.1 namespace. The Kernmodul
	// uses it for bezug/bezugNachricht and rueckweisungDaten/idNachricht, whose
	// children (nachrichtenUUID, nachrichtentyp, erstellungszeitpunkt) are
	// qualified while the nested <code> stays unqualified.
	NSG2G = "http://xoev.de/schemata/basisnachricht/g2g/1_1"
)

// Standard identity of Kernmodul 1.3.0 messages (fixed root attributes).
const (
	StandardKernmodul = "XBau-Kernmodul"
	VersionKernmodul  = "1.3.0"
)

// Root element names and message type codes (xbau-kernmodul-nachrichten 3.0).
const (
	Root1200 = "universellerAntrag.antrag.1200"
	Root1100 = "prozessnachrichten.rueckweisung.G2G.1100"
	Root1120 = "prozessnachrichten.eingangsbestaetigung.1120"
	Root1170 = "prozessnachrichten.statusFuerAntragsportal.1170"

	Code1200 = "1200"
	Code1100 = "1100"
	Code1120 = "1120"
	Code1121 = "1121"
	Code1170 = "1170"
)

// Code list URIs and the versions the XBau 2.6 schemas fix or the bundled
// genericode files carry.
const (
	ListKernmodulNachrichten        = "urn:xoev-de:xbau-kernmodul:codeliste:xbau-kernmodul-nachrichten"
	ListKernmodulNachrichtenVersion = "3.0" // fixed in xbau-kernmodul-codes.xsd

	ListVerzeichnisdienst = "urn:xoev-de:kosit:codeliste:verzeichnisdienst"
	ListErreichbarkeit    = "urn:de:xoev:codeliste:erreichbarkeit"
	ListBundesland        = "urn:de:bund:destatis:bevoelkerungsstatistik:schluessel:bundesland"
	ListStaat             = "urn:de:bund:destatis:bevoelkerungsstatistik:schluessel:staatsgebiete"
	ListAnlagen           = "urn:xoev-de:xbau:codeliste:anlagen"
	ListMimeTypes         = "urn:xoev-de:xbau:codeliste:xbau-mimetypes"
	ListArtDesAntrags     = "urn:xoev-de:xbau:codeliste:artdesantrags"
	ListStatusBauportal   = "urn:xoev-de:xbau:codeliste:statusbauportal"
	ListFehlerkennzahlen  = "urn:xoev-de:xbau:codeliste:xbau-fehlerkennzahlen"

	ListStatusBauportalVersion  = "3.0"
	ListFehlerkennzahlenVersion = "2.2"
)

// Paths of the schema sets and code lists below the standards directory (the
// operator-deployed XRepository bundles, DESIGN §6).
const (
	xbau26Dir   = "xoev/xbau/2.6/xsd_dev"
	codeListDir = "xoev/codelists"
	// xdomeaCodeListDir holds the xdomea 3.0.0 genericode lists.
	xdomeaCodeListDir = "xoev/xdomea/schemes/xdomea_3.0.0/code_lists"
)

// ListDVDVPraefix is the code list of the XInneres behoerdenkennung/praefix.
const ListDVDVPraefix = "urn:xoev-de:bund:bmi:bit:codeliste:dvdv.praefix"
