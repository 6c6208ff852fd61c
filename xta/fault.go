package xta

import (
	"fmt"
	"strconv"
)

// Fehlernummer code list of XTA-WS v3.
const (
	FehlerCodeListURI     = "urn:de:xta:webservice:codeliste:fehlernummer"
	FehlerCodeListVersion = "1.0"
)

// Fehlernummern used by this package (XTA-WS code list; see TRANSPORT.md §7).
const (
	CodeUnspecified        = 9000
	CodeAccountLocked      = 9011
	CodeAccountMissing     = 9012
	CodeNoParameters       = 9020
	CodeInvalidURI         = 9021
	CodeInvalidParameters  = 9022
	CodeSizeLimitExceeded  = 9023
	CodeMessageIDUsed      = 9024
	CodeInternalError      = 9030
	CodeDirectoryError     = 9031
	CodeDeliveryError      = 9032
	CodeSchemaViolation    = 9050
	CodeUnknownMessageID   = 9070
	CodeServiceOnlyAsync   = 9080
	CodeServiceOnlySync    = 9081
	CodeNotBeforePassed    = 9100
	CodeNotBeforeNotSet    = 9101
	CodeMaliciousCode      = 9060
	CodeWrongEncoding      = 9051
	CodeProfileViolation   = 9052
	CodeCertExpired        = 9010
	CodeServiceNotBooked   = 9013
	CodeCertSenderMismatch = 9014
)

// XTA exception element names (local names in NSXTA).
const (
	ExcPermissionDenied      = "PermissionDeniedException"
	ExcParameterIsNotValid   = "ParameterIsNotValidException"
	ExcTechnicalProblem      = "XTAWSTechnicalProblemException"
	ExcMessageSchemaViolated = "MessageSchemaViolationException"
	ExcVirusDetection        = "MessageVirusDetectionException"
	ExcInvalidMessageID      = "InvalidMessageIDException"
	ExcSyncAsync             = "SyncAsyncException"
	ExcCancelDenied          = "CancelDeniedException"
)

type codeInfo struct {
	exception string
	name      string
}

var codes = map[int]codeInfo{
	9000: {ExcTechnicalProblem, "Unspezifizierter Fehler"},
	9010: {ExcPermissionDenied, "Zertifikat abgelaufen"},
	9011: {ExcPermissionDenied, "Account gesperrt"},
	9012: {ExcPermissionDenied, "Kein Account vorhanden"},
	9013: {ExcPermissionDenied, "Dienst nicht gebucht"},
	9014: {ExcPermissionDenied, "Zertifikat passt nicht zur Absenderkennung"},
	9020: {ExcParameterIsNotValid, "Keine Parameter übergeben"},
	9021: {ExcParameterIsNotValid, "Ungültige URI"},
	9022: {ExcParameterIsNotValid, "Ungültige Parameterkombination"},
	9023: {ExcParameterIsNotValid, "Größenbeschränkung überschritten"},
	9024: {ExcParameterIsNotValid, "MessageID bereits verwendet"},
	9030: {ExcTechnicalProblem, "Interner Serverfehler"},
	9031: {ExcTechnicalProblem, "Fehler beim Zugriff auf externes Verzeichnis"},
	9032: {ExcTechnicalProblem, "Fehler bei der Zustellung"},
	9050: {ExcMessageSchemaViolated, "Nachricht nicht schemakonform"},
	9051: {ExcMessageSchemaViolated, "Falsche Zeichenkodierung"},
	9052: {ExcMessageSchemaViolated, "Verstoß gegen das Dienstprofil"},
	9060: {ExcVirusDetection, "Schadcode entdeckt"},
	9070: {ExcInvalidMessageID, "MessageID für dieses Konto unbekannt"},
	9080: {ExcSyncAsync, "Dienst nur asynchron verfügbar"},
	9081: {ExcSyncAsync, "Dienst nur synchron verfügbar"},
	9100: {ExcCancelDenied, "Zeitpunkt NotBefore bereits erreicht"},
	9101: {ExcCancelDenied, "NotBefore nicht gesetzt"},
}

// Fault is a SOAP 1.2 fault. For XTA faults Code is the Fehlernummer and
// Exception the detail element's local name (e.g. "PermissionDeniedException");
// plain SOAP faults (not XML, version mismatch, unknown action) have Code 0.
type Fault struct {
	SOAPCode  string // "Sender", "Receiver", "VersionMismatch", "MustUnderstand"
	Subcode   string // optional subcode value as qualified text, e.g. "wsa:ActionNotSupported"
	Reason    string
	Code      int    // Fehlernummer, 0 if none
	CodeName  string // errorCode/name
	Exception string // local name of the detail element in NSXTA
}

// NewFault returns the XTA fault for a Fehlernummer with a human reason. The
// exception and SOAP code follow from the number (9030–9032: Receiver).
func NewFault(code int, reason string) *Fault {
	info, ok := codes[code]
	if !ok {
		info = codeInfo{ExcTechnicalProblem, "Fehler " + strconv.Itoa(code)}
	}
	soapCode := "Sender"
	if info.exception == ExcTechnicalProblem {
		soapCode = "Receiver"
	}
	if reason == "" {
		reason = info.name
	}
	return &Fault{SOAPCode: soapCode, Reason: reason, Code: code, CodeName: info.name, Exception: info.exception}
}

// Error implements error.
func (f *Fault) Error() string {
	if f.Code != 0 {
		return fmt.Sprintf("xta fault %d (%s): %s", f.Code, f.Exception, f.Reason)
	}
	return fmt.Sprintf("soap fault %s: %s", f.SOAPCode, f.Reason)
}

// Retryable reports whether the fault is worth retrying with the same
// message: XTA 9030–9032 and SOAP Receiver faults without a number.
func (f *Fault) Retryable() bool {
	if f.Code != 0 {
		return f.Code >= 9030 && f.Code <= 9032
	}
	return f.SOAPCode == "Receiver"
}

// httpStatus follows the SOAP 1.2 HTTP binding: Sender faults are 400,
// everything else 500.
func (f *Fault) httpStatus() int {
	if f.SOAPCode == "Sender" {
		return 400
	}
	return 500
}

// WriteFault writes the fault as a SOAP 1.2 body (inside an envelope opened
// with StartEnvelope).
func (x *Writer) WriteFault(f *Fault) {
	x.Start("s:Fault")
	x.Start("s:Code")
	x.Elem("s:Value", "s:"+f.SOAPCode)
	if f.Subcode != "" {
		x.Start("s:Subcode")
		x.Elem("s:Value", f.Subcode)
		x.End("s:Subcode")
	}
	x.End("s:Code")
	x.Start("s:Reason")
	x.Elem("s:Text", f.Reason, "xml:lang", "de")
	x.End("s:Reason")
	if f.Exception != "" {
		x.Start("s:Detail")
		x.Start("xta:" + f.Exception)
		x.Start("xta:errorCode", "listURI", FehlerCodeListURI, "listVersionID", FehlerCodeListVersion)
		x.Elem("code", strconv.Itoa(f.Code))
		x.Elem("name", f.CodeName)
		x.End("xta:errorCode")
		x.End("xta:" + f.Exception)
		x.End("s:Detail")
	}
	x.End("s:Fault")
}

// FaultFromBody decodes a SOAP 1.2 Fault element; it returns nil if body is
// not a Fault.
func FaultFromBody(body []*Element) *Fault {
	if len(body) == 0 || !body[0].Is(NSSOAP12, "Fault") {
		return nil
	}
	el := body[0]
	f := &Fault{}
	code := el.Child(NSSOAP12, "Code")
	f.SOAPCode = localPart(code.Child(NSSOAP12, "Value").TrimText())
	f.Subcode = code.Child(NSSOAP12, "Subcode").Child(NSSOAP12, "Value").TrimText()
	f.Reason = el.Child(NSSOAP12, "Reason").Child(NSSOAP12, "Text").TrimText()
	if d := el.Child(NSSOAP12, "Detail"); d != nil {
		for _, exc := range d.Children {
			if exc.Name.Space != NSXTA {
				continue
			}
			f.Exception = exc.Name.Local
			ec := exc.Child(NSXTA, "errorCode")
			f.Code, _ = strconv.Atoi(ec.Child("", "code").TrimText())
			f.CodeName = ec.Child("", "name").TrimText()
			break
		}
	}
	return f
}

func localPart(qname string) string {
	if i := len(qname) - 1; i >= 0 {
		for j := i; j >= 0; j-- {
			if qname[j] == ':' {
				return qname[j+1:]
			}
		}
	}
	return qname
}
