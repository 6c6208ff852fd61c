package xoev

// StatusInfo is the name of a statusbauportal code and the lifecycle kind dxhub
// assigns to it.
type StatusInfo struct {
	Name string // beschreibung in urn:xoev-de:xbau:codeliste:statusbauportal 3.0
	Kind Kind
}

// StatusBauportal maps every code of urn:xoev-de:xbau:codeliste:statusbauportal
// version 3.0 (the list a 1170 statusAntragsportal carries) to a lifecycle kind.
// The names are copied from the list; a test checks them against the genericode
// file. The classification is dxhub's:
//
//   - acknowledged: 14 Quittierung: Eingang Vorgang, 22 Vorgang wurde versendet
//     (the authority has registered the case);
//   - decided: the procedure has ended with an outcome: 04/06 Antrag abgelehnt
//     (a negative Bescheid is still a decision), 07 genehmigungsfreigestellt,
//     10 Bescheid erteilt, 11 Gültigkeit verlängert, 12 Rücknahmefiktion,
//     15 Rücknahme bestätigt, 19 Vorbescheid erteilt, 20 Vorgang abgeschlossen,
//     23 Vorgang zurückgezogen, 58 Eintritt Genehmigungsfiktion;
//   - rejected: 57 Sofortige Ablehnung (refused on formal grounds, like a
//     Rückweisung, without a decision on the merits);
//   - in_progress: every other code (participation of other authorities,
//     documents requested or complete, hearings, the supervision codes 50–56,
//     24 Vorgang wieder aufgenommen and 59 Rücknahme Genehmigungsfiktion).
//
// routing.Status.Advances keeps a late in_progress from moving a decided
// submission backwards.
var StatusBauportal = map[string]StatusInfo{
	"01": {"Alle beantragten Abweichungen zugelassen", KindInProgress},
	"02": {"Änderungen zum Antrag eingegangen", KindInProgress},
	"03": {"Anhörung zur Ablehnung ausstehend", KindInProgress},
	"04": {"Antrag abgelehnt", KindDecided},
	"05": {"Baubeginn angezeigt", KindInProgress},
	"06": {"Baugenehmigungsantrag abgelehnt", KindDecided},
	"07": {"Bauvorhaben genehmigungsfreigestellt", KindDecided},
	"08": {"Behördenbeteiligung eingeleitet", KindInProgress},
	"09": {"Behördenbeteiligung vollständig abgeschlossen", KindInProgress},
	"10": {"Bescheid erteilt", KindDecided},
	"11": {"Gültigkeit der Baugenehmigung verlängert", KindDecided},
	"12": {"Mitteilung der Rücknahmefiktion", KindDecided},
	"13": {"Prüfung bautechnischer Nachweise angefordert", KindInProgress},
	"14": {"Quittierung: Eingang Vorgang", KindAcknowledged},
	"15": {"Rücknahme des Vorgangs bestätigt", KindDecided},
	"16": {"Stellungnahme oder Nachbesserung eingegangen", KindInProgress},
	"17": {"Unterlagen nachgefordert", KindInProgress},
	"18": {"Unterlagen vollständig", KindInProgress},
	"19": {"Vorbescheid erteilt", KindDecided},
	"20": {"Vorgang abgeschlossen", KindDecided},
	"21": {"Vorgang kann nicht mehr zurückgezogen werden", KindInProgress},
	"22": {"Vorgang wurde versendet", KindAcknowledged},
	"23": {"Vorgang zurückgezogen", KindDecided},
	"24": {"Vorgang wieder aufgenommen", KindInProgress},
	"50": {"Bautechnische Nachweise geprüft - sind ordnungsgemäß", KindInProgress},
	"51": {"Bautechnische Nachweise geprüft - sind nicht ordnungsgemäß", KindInProgress},
	"52": {"Bauüberwachung durchgeführt - Mängelbeseitigung angeordnet", KindInProgress},
	"53": {"Bauüberwachung durchgeführt - Baueinstellung angeordnet", KindInProgress},
	"54": {"Bauüberwachung durchgeführt - Bauausführung entspricht den geprüften bautechnischen Nachweisen", KindInProgress},
	"55": {"Bauüberwachung abgeschlossen", KindInProgress},
	"56": {"Abschluss der bautechnischen Prüfung", KindInProgress},
	"57": {"Sofortige Ablehnung", KindRejected},
	"58": {"Eintritt Genehmigungsfiktion", KindDecided},
	"59": {"Rücknahme Genehmigungsfiktion", KindInProgress},
}

// Fehlerkennzahlen holds the meanings (Bedeutung) of
// urn:xoev-de:xbau:codeliste:xbau-fehlerkennzahlen version 2.2, the codes of a
// 1100 Rückweisung. A test checks them against the genericode file.
var Fehlerkennzahlen = map[string]string{
	"X000": "Die Nachricht ist kein wohlgeformtes XML-Dokument.",
	"X001": "Die Nachricht ist nicht valide zu dem Schema der in der Nachricht angegebenen XBau-Version.",
	"X010": "Nicht Spezifikationskonform: Ungültige Schlüsseltabelle.",
	"X011": "Nicht Spezifikationskonform: Ungültiger Schlüssel in einer Schlüsseltabelle.",
	"V000": "Die Nachricht kann in der Version, die in der Nachricht angegeben wird, vom Empfänger nicht bearbeitet werden (Der Dienst ist in dieser Version nicht oder nicht mehr bereit).",
	"V001": "Dieser Nachrichtentyp wird von unserer Software derzeit nicht unterstützt.",
	"T000": "Das Zertifikat des Absenders ist abgelaufen.",
	"T001": "Das Zertifikat des Absenders ist widerrufen.",
	"T002": "Das Zertifikat des Absenders ist nicht gültig.",
	"T003": "Das Zertifikat des Absenders fehlt.",
	"T010": "Die Signatur der Inhaltsdaten fehlt oder hat nicht das geforderte Signaturniveau.",
	"T011": "Die Signatur der Inhaltsdaten ist nicht gültig (Integrität verletzt).",
	"T020": "Die Inhaltsdaten können von dem Empfänger nicht dechiffriert werden.",
	"T070": "Der Absender ist zur Inanspruchnahme dieses Dienstes nicht berechtigt.",
	"T080": "Die Nachricht ist dem falschen Empfänger / Leser zugestellt worden, d. h. im Nachrichtenkopf ist eine abweichende Empfängerbehörde eingetragen (Irrläufer).",
	"T099": "Sonstiger Verstoß gegen Anforderungen des OSCI-Transport-Profils",
	"S000": "Nicht Spezifikationskonform: Bauaufsichtlicher Vorgang mit einem in der Zukunft liegenden Datum.",
	"S050": "Nicht spezifikationskonform: Zurückweisung aufgrund erneuter Lieferung eines bereits erfolgreich entgegengenommenen Antrags (oder sonstigen Anliegens).",
	"S090": "Die in der Nachricht referenzierte Bezugsnachricht konnte nicht identifiziert werden",
	"S091": "Die in der Nachricht übermittelte Behördenkennung ist unbekannt",
	"S100": "Unerlaubte XBau-Nachricht für Rolle “xxx” (Prozessverstoß)",
	"S101": "Nachrichtensequenz für Prozess ungültig (Prozessverstoß)",
	"S102": "Das Test-Kennzeichen ist in diesem Kontext nicht erlaubt",
	"S999": "Nicht Spezifikationskonform aus anderen Gründen.",
	"A001": "Die durch die XBau-Nachricht referenzierte Anlage “xxx” ist nicht verfügbar",
	"A002": "Es wurde kein Dokument zur Anlage “xxx” übermittelt - sowohl das Feld “primaerdokument” als auch das Feld “referenzPrimaerdokument” sind leer",
	"A003": "Der Nachrichtentyp unterstützt keine referenzierten Anlagen",
	"A004": "Die übermittelte Anlage überschreitet die maximale für Anlagen zugelassene Größe",
	"A005": "Der MIME-Type der übermittelten Anlage ist inkorrekt",
	"A006": "Die übermittelte Anlage wird zurückgewiesen (z.B. aufgrund von Schadcodes)",
	"A007": "Die Anzahl der übermittelten Anlagen überschreitet die höchstzulässige Anzahl",
	"A008": "Die Größe der Summe der übermittelten Anlagen überschreitet die maximale Größe",
	"A009": "Der Dateiname der Anlage enthält ungültige Zeichen",
	"A010": "Ein Attribut \"id\" muss im XTA-Container für jede Anlage zur XBau-Fachnachricht instanziiert sein",
}

// XInneresFehlercodes holds the names of urn:de:xinneres:codeliste:fehlercodes
// version 2, the reasons of an XInneres rueckweisung.asynchron.0010. A test
// checks them against the genericode file.
var XInneresFehlercodes = map[string]string{
	"S001": "Nicht spezifikationskonform: Die Nachricht ist nicht UTF-8 codiert.",
	"S010": "Nicht spezifikationskonform: Ungültige Schlüsseltabelle.",
	"S011": "Nicht spezifikationskonform: Ungültiger Schlüssel in einer Schlüsseltabelle.",
	"S020": "Nicht spezifikationskonform: Fehlerhafte Einzelfälle",
	"S030": "Nicht spezifikationskonform: In der Nachricht ist mindestens ein mandatorisches Kindelement des Typs dinspec91379:datatypeC leer (d. h. mit einer Zeichenkette der Länge 0) enthalten, für das keine Ausnahmeregelung seitens des Fachmoduls besteht.",
	"S100": "Nicht spezifikationskonform: Rückweisung aufgrund erneuter Lieferung eines bereits erfolgreich verarbeiteten Datensatzes",
	"S999": "Nicht spezifikationskonform aus anderen Gründen.",
	"T000": "Das Zertifikat des Absenders ist abgelaufen.",
	"T001": "Das Zertifikat des Absenders ist widerrufen.",
	"T002": "Das Zertifikat des Absenders ist nicht gültig.",
	"T003": "Das Zertifikat des Absenders fehlt.",
	"T010": "Die Signatur der Inhaltsdaten fehlt oder hat nicht das geforderte Signaturniveau.",
	"T011": "Die Signatur der Inhaltsdaten ist nicht gültig (Integrität verletzt).",
	"T020": "Die Inhaltsdaten können von dem Empfänger nicht dechiffriert werden.",
	"T070": "Der Absender ist zur Inanspruchnahme dieses Dienstes nicht berechtigt.",
	"T080": "Die Nachricht ist dem falschen Empfänger / Leser zugestellt worden, d. h. im Nachrichtenkopf ist eine abweichende Empfängerbehörde eingetragen (Irrläufer).",
	"T099": "Sonstiger Verstoß gegen Anforderungen des OSCI-Transport-Profils",
	"V000": "Nicht spezifikationskonform: Die Nachricht kann in der Version, die in der Nachricht angegeben wird, vom Empfänger nicht bearbeitet werden (Der Dienst ist in dieser Version nicht oder nicht mehr bereit).",
	"X000": "Die Nachricht ist kein wohlgeformtes XML-Dokument.",
	"X001": "Die Nachricht ist nicht valide zu dem Schema der in der Nachricht angegebenen Version",
}
