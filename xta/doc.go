// Package xta implements the hub's side of XTA 2 Version 3 (WSDL namespace
// http://xoev.de/transport/xta/211): a SOAP 1.2 / WS-Addressing codec with a
// hardened envelope parser and an XTA server (the built-in mailbox) exposing
// the MsgBoxPort (getStatusList, getMessage, close), the SendXtaPort
// (sendMessage) and the ManagementPort (checkAccountActive) as http.Handlers.
//
// The server talks to storage only through the consumer-side Backend
// interface. Attachments travel as inline base64 inside
// xta:GenericContentContainer: outbound they are encoded straight from
// Content.Open into the http.ResponseWriter, inbound they are decoded while
// the request is read and spooled to temporary files, so no attachment is
// ever held whole in memory. MTOM/XOP is not supported (yet): such requests
// are answered with a clear SOAP fault.
//
// Faults carry the XTA exception detail (xta:PermissionDeniedException …)
// with an errorCode from the code list urn:de:xta:webservice:codeliste:fehlernummer;
// on the client side they decode into *Fault, which carries the Fehlernummer.
//
// The WSDL and its XSDs are read at run time from the operator's standards
// directory (never compiled in) and served with the real port addresses.
package xta
