// Package xta implements XTA 2 Version 3 (WSDL namespace
// http://xoev.de/transport/xta/211): a SOAP 1.2 / WS-Addressing codec with a
// hardened streaming parser, MTOM/XOP in both directions, an XTA server (the
// hub's built-in mailbox) and an XTA client.
//
// The Server serves every operation of the WSDL as http.Handlers:
// ManagementPort (checkAccountActive, lookupService, createMessageId,
// getTransportReport, cancelMessage), SendXtaPort (sendMessage,
// sendMessageSync) and MsgBoxPort (getStatusList, getNextStatusList,
// getMessage, getNextMessage, close), with MsgSelector, MsgBoxRequestID
// iteration, ItemsPending and NoMessageAvailable reasons. It talks to storage
// only through the consumer-side Backend interface (SyncBackend and
// CancelBackend are optional). With Config.ClientCerts, callers authenticate
// with TLS client certificates mapped to the identities they may act for.
//
// Contents are streamed in both directions and never held whole in memory:
// inline base64 is encoded from Content.Open into the response and decoded
// while a request is read; with MTOM (multipart/related;
// type="application/xop+xml") each content travels as its own binary part,
// read from or spooled to files part by part. Responses mirror the request's
// packaging unless Config.MTOM forces MTOM.
//
// Faults carry the XTA exception detail (xta:PermissionDeniedException …)
// with an errorCode from the code list urn:de:xta:webservice:codeliste:fehlernummer;
// on the client side they decode into *Fault, which carries the Fehlernummer.
//
// The WSDL and its XSDs are read at run time from the operator's standards
// directory (never compiled in) and served with the real port addresses.
package xta
