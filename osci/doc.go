// Package osci implements OSCI-Transport 1.2 for dxhub: the codec for the message
// types the hub needs (getMessageId, storeDelivery, fetchProcessCard,
// fetchDelivery, mediateDelivery, initDialog, exitDialog and their responses) with
// the header order of the soap*.xsd schemas, the ControlBlock of the dialog, the
// MIME framing of the HTTP body (a multipart/related document that carries its own
// MIME headers, Content-ID parts, attachments by reference) and the two security
// levels:
//
//   - content level: the Author signs the ContentContainer and encrypts it for the
//     Reader's cipher certificate (SealContent / OpenContent);
//   - order level: the client signs the whole order (ClientSignature) and
//     encrypts it for the intermediary (Encode); responses are decrypted and their
//     SupplierSignature verified against the intermediary's certificate (Decode).
//
// The Client drives dialogs against an intermediary over HTTP; osci/oscitest is a
// test intermediary.
package osci

// Namespaces and fixed URIs of OSCI 1.2.
const (
	NSSOAP             = "http://schemas.xmlsoap.org/soap/envelope/"
	NSOSCI             = "http://www.osci.de/2002/04/osci"
	NSXSI              = "http://www.w3.org/2001/XMLSchema-instance"
	ActorNext          = "http://schemas.xmlsoap.org/soap/actor/next"
	ActorNone          = "http://www.w3.org/2001/12/soap-envelope/actor/none"
	ContentIDMessage   = "osci@message"
	ContentIDEncrypted = "osci_enc"
)
