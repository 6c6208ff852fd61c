package xta_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

type rawResponse struct {
	status int
	ctype  string
	body   string
}

func post(t testing.TB, url, contentType, soapAction, body string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if soapAction != "" {
		req.Header.Set("SOAPAction", soapAction)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}

// request builds a SOAP 1.2 request; action "" omits wsa:Action, author ""
// omits the oscimeta:Author header.
func request(action, author, body string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing"
  xmlns:osci="http://www.osci.eu/ws/2008/05/transport" xmlns:om="http://www.osci.eu/ws/2014/10/transport"><soap:Header>`)
	if action != "" {
		b.WriteString(`<wsa:Action>` + action + `</wsa:Action>`)
	}
	b.WriteString(`<wsa:MessageID>urn:uuid:req-1</wsa:MessageID>`)
	if author != "" {
		b.WriteString(`<om:Author><om:Identifier type="xoev">` + author + `</om:Identifier></om:Author>`)
	}
	b.WriteString(`</soap:Header><soap:Body>` + body + `</soap:Body></soap:Envelope>`)
	return b.String()
}

func TestRawRequests(t *testing.T) {
	h := newHarness(t, nil)
	h.backend.Deliver(sampleMeta("urn:de:xta:messageid:dxhub:1", hubKey, readerKey),
		xtatest.Blob{ContentType: "application/xml", Data: []byte("<a/>")})
	const soapCT = "application/soap+xml; charset=utf-8"
	list := `<osci:MsgBoxStatusListRequest maxListItems="5" ListForm="MessageMetaData"/>`
	tests := []struct {
		name       string
		path       string
		ctype      string
		soapAction string
		body       string
		status     int
		want       []string // substrings of the response
	}{
		{"ok with wsa:Action", xta.PathMsgBox, soapCT, "", request(xta.ActionGetStatusList, readerKey, list), 200,
			[]string{"<wsa:Action>" + xta.ActionGetStatusList + "</wsa:Action>", "<wsa:RelatesTo>urn:uuid:req-1</wsa:RelatesTo>", "<wsa:MessageID>urn:uuid:", "urn:de:xta:messageid:dxhub:1"}},
		{"action only in quoted SOAPAction header", xta.PathMsgBox, soapCT, `"` + xta.ActionGetStatusList + `"`, request("", readerKey, list), 200,
			[]string{"<osci:MsgStatusList>"}},
		{"action only in unquoted SOAPAction header", xta.PathMsgBox, soapCT, xta.ActionGetStatusList, request("", readerKey, list), 200,
			[]string{"<osci:MsgStatusList>"}},
		{"action in Content-Type with quotes", xta.PathMsgBox, soapCT + `; action="` + xta.ActionGetStatusList + `"`, "", request("", readerKey, list), 200,
			[]string{"<osci:MsgStatusList>"}},
		{"action in Content-Type without quotes", xta.PathMsgBox, soapCT + `;action=` + xta.ActionGetStatusList, "", request("", readerKey, list), 200,
			[]string{"<osci:MsgStatusList>"}},
		{"matching wsa:Action and SOAPAction", xta.PathMsgBox, soapCT, `"` + xta.ActionGetStatusList + `"`, request(xta.ActionGetStatusList, readerKey, list), 200,
			[]string{"<osci:MsgStatusList>"}},
		{"mismatching wsa:Action and SOAPAction", xta.PathMsgBox, soapCT, xta.ActionClose, request(xta.ActionGetStatusList, readerKey, list), 400,
			[]string{"wsa:ActionMismatch"}},
		{"no action at all", xta.PathMsgBox, soapCT, "", request("", readerKey, list), 400,
			[]string{"<s:Value>s:Sender</s:Value>", "wsa:MessageAddressingHeaderRequired"}},
		{"wrong action for port", xta.PathManagement, soapCT, "", request(xta.ActionGetStatusList, readerKey, list), 400,
			[]string{"wsa:ActionNotSupported", "<wsa:Action>" + xta.ActionFault + "</wsa:Action>"}},
		{"unknown action", xta.PathMsgBox, soapCT, "", request("urn:nope", readerKey, list), 400,
			[]string{"wsa:ActionNotSupported"}},
		{"garbage body", xta.PathMsgBox, soapCT, "", "this is not xml", 400,
			[]string{"<s:Value>s:Sender</s:Value>", "malformed"}},
		{"empty body", xta.PathMsgBox, soapCT, "", "", 400, []string{"empty message"}},
		{"truncated envelope", xta.PathMsgBox, soapCT, "", request(xta.ActionGetStatusList, readerKey, list)[:200], 400,
			[]string{"<s:Value>s:Sender</s:Value>"}},
		{"doctype rejected", xta.PathMsgBox, soapCT, "", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>` + request(xta.ActionGetStatusList, readerKey, list)[38:], 400,
			[]string{"DOCTYPE"}},
		{"SOAP 1.1 envelope", xta.PathMsgBox, "text/xml", xta.ActionGetStatusList,
			`<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>`, 500,
			[]string{"<s:Value>s:VersionMismatch</s:Value>"}},
		{"wrong content type", xta.PathMsgBox, "application/json", "", "{}", 400, []string{"unsupported Content-Type"}},
		{"MTOM not supported", xta.PathSend, `multipart/related; type="application/xop+xml"`, "", "--x--", 400, []string{"MTOM"}},
		{"missing Author", xta.PathMsgBox, soapCT, "", request(xta.ActionGetStatusList, "", list), 400,
			[]string{"<code>9020</code>", "xta:ParameterIsNotValidException"}},
		{"unknown Author", xta.PathMsgBox, soapCT, "", request(xta.ActionGetStatusList, "ags:0", list), 400,
			[]string{"<xta:PermissionDeniedException>", `<xta:errorCode listURI="urn:de:xta:webservice:codeliste:fehlernummer" listVersionID="1.0"><code>9012</code>`,
				"<wsa:Action>" + xta.ActionGetStatusList + "</wsa:Action>", "<wsa:RelatesTo>urn:uuid:req-1</wsa:RelatesTo>"}},
		{"wrong body element", xta.PathMsgBox, soapCT, "", request(xta.ActionGetStatusList, readerKey, `<osci:MsgBoxFetchRequest/>`), 400,
			[]string{"<code>9022</code>"}},
		{"bad maxListItems", xta.PathMsgBox, soapCT, "", request(xta.ActionGetStatusList, readerKey, `<osci:MsgBoxStatusListRequest maxListItems="0"/>`), 400,
			[]string{"<code>9022</code>", "maxListItems"}},
		{"getMessage without selector", xta.PathMsgBox, soapCT, "", request(xta.ActionGetMessage, readerKey, `<osci:MsgBoxFetchRequest/>`), 400,
			[]string{"<code>9020</code>"}},
		{"close without id", xta.PathMsgBox, soapCT, "", request(xta.ActionClose, readerKey, `<osci:MsgBoxCloseRequest MsgBoxRequestID="1"/>`), 400,
			[]string{"<code>9020</code>"}},
		{"sendMessage without metadata", xta.PathSend, soapCT, "", request(xta.ActionSendMessage, "", `<x/>`), 400,
			[]string{"<code>9020</code>"}},
		{"unknown mustUnderstand header", xta.PathMsgBox, soapCT, "", strings.Replace(request(xta.ActionGetStatusList, readerKey, list),
			"</soap:Header>", `<wsse:Security xmlns:wsse="urn:sec" soap:mustUnderstand="true"/></soap:Header>`, 1), 500,
			[]string{"<s:Value>s:MustUnderstand</s:Value>"}},
		{"checkAccountActive ok", xta.PathManagement, soapCT, "", request(xta.ActionCheckAccountActive, readerKey, ""), 200,
			[]string{"<s:Body></s:Body>", "<wsa:Action>" + xta.ActionCheckAccountActive + "</wsa:Action>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, h.url+tt.path, tt.ctype, tt.soapAction, tt.body)
			if resp.status != tt.status {
				t.Errorf("status = %d, want %d\n%s", resp.status, tt.status, resp.body)
			}
			if resp.ctype != xta.ContentTypeSOAP12 {
				t.Errorf("Content-Type = %q", resp.ctype)
			}
			for _, w := range tt.want {
				if !strings.Contains(resp.body, w) {
					t.Errorf("response lacks %q:\n%s", w, resp.body)
				}
			}
		})
	}
}

func TestWSDL(t *testing.T) {
	h := newHarness(t, nil)
	for _, path := range []string{xta.PathManagement, xta.PathMsgBox, xta.PathSend} {
		resp, err := http.Get(h.url + path + "?wsdl")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(b)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
			t.Fatalf("GET %s?wsdl: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if strings.Contains(body, "REPLACE_WITH_ACTUAL_URL") {
			t.Errorf("%s: placeholder left in WSDL", path)
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(b); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"MsgBoxPort": h.url + xta.PathMsgBox, "SendXtaPort": h.url + xta.PathSend, "ManagementPort": h.url + xta.PathManagement}
		for _, port := range doc.FindElements("//port") {
			addr := port.FindElement("address[namespace-uri()='http://schemas.xmlsoap.org/wsdl/soap12/']")
			name := port.SelectAttrValue("name", "")
			if addr == nil || addr.SelectAttrValue("location", "") != want[name] {
				t.Errorf("port %s address = %v, want %s", name, addr, want[name])
			}
			delete(want, name)
		}
		if len(want) != 0 {
			t.Errorf("ports missing: %v", want)
		}
		if !strings.Contains(body, `schemaLocation="`+h.url+xta.PathManagement+`?xsd=OSCI2_02.xsd"`) {
			t.Errorf("schemaLocation not rewritten")
		}
	}
	// Every schema reachable from the WSDL is served, imports rewritten.
	resp := get(t, h.url+xta.PathManagement+"?xsd=OSCI2_02.xsd")
	if resp.status != 200 || !strings.Contains(resp.body, `schemaLocation="`+h.url+xta.PathManagement+`?xsd=.xsd"`) {
		t.Errorf("OSCI2_02.xsd: %d, imports not rewritten", resp.status)
	}
	if r := get(t, h.url+xta.PathMsgBox+"?xsd=.xsd"); r.status != 200 || !strings.Contains(r.body, "http://www.w3.org/2003/05/soap-envelope") {
		t.Errorf("SOAP envelope schema not served: %d", r.status)
	}
	for _, bad := range []string{"../../etc/passwd", "README.md", "nope.xsd"} {
		if r := get(t, h.url+xta.PathManagement+"?xsd="+bad); r.status != 404 {
			t.Errorf("?xsd=%s: status %d, want 404", bad, r.status)
		}
	}
	if r := get(t, h.url+xta.PathManagement); r.status != http.StatusMethodNotAllowed {
		t.Errorf("plain GET: status %d", r.status)
	}
}

func TestNewServerErrors(t *testing.T) {
	b := xtatest.NewMemoryBackend()
	dir := filepath.Join(testenv.MustStandardsDir(t), "xta2-v3")
	for name, cfg := range map[string]xta.Config{
		"no dir":       {BaseURL: "http://x"},
		"no base":      {WSDLDir: dir},
		"missing wsdl": {WSDLDir: t.TempDir(), BaseURL: "http://x"},
	} {
		if _, err := xta.NewServer(b, cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func get(t *testing.T, url string) rawResponse {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResponse{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}

// TestResponsesValidateWithXmllint extracts the header blocks and body
// children of real responses and validates each against the XSD declaring it.
func TestResponsesValidateWithXmllint(t *testing.T) {
	h := newHarness(t, nil)
	id := "urn:de:xta:messageid:dxhub:6f1c2d3e-0000-4000-8000-000000000009"
	meta := sampleMeta(id, hubKey, readerKey)
	meta.InReplyTo = []string{"urn:de:xta:messageid:other:1"}
	meta.Subject = "Bauantrag <Test> & Co"
	h.backend.Deliver(meta,
		xtatest.Blob{ContentType: "application/xml", Filename: "antrag.xml", Data: []byte("<a/>")},
		xtatest.Blob{ContentType: "application/pdf", Filename: "plan.pdf", Data: randomBytes(t, 3000)})
	const soapCT = "application/soap+xml; charset=utf-8"
	responses := map[string]string{
		"statuslist": post(t, h.url+xta.PathMsgBox, soapCT, "", request(xta.ActionGetStatusList, readerKey, `<osci:MsgBoxStatusListRequest ListForm="MessageMetaData"/>`)).body,
		"attributes": post(t, h.url+xta.PathMsgBox, soapCT, "", request(xta.ActionGetStatusList, readerKey, `<osci:MsgBoxStatusListRequest ListForm="MsgAtrributes"/>`)).body,
		"getmessage": post(t, h.url+xta.PathMsgBox, soapCT, "", request(xta.ActionGetMessage, readerKey,
			`<osci:MsgBoxFetchRequest><osci:MsgSelector><wsa:MessageID>`+id+`</wsa:MessageID></osci:MsgSelector></osci:MsgBoxFetchRequest>`)).body,
		"empty":   post(t, h.url+xta.PathMsgBox, soapCT, "", request(xta.ActionGetStatusList, hubKey, `<osci:MsgBoxStatusListRequest/>`)).body,
		"fault":   post(t, h.url+xta.PathMsgBox, soapCT, "", request(xta.ActionGetStatusList, "ags:0", `<osci:MsgBoxStatusListRequest/>`)).body,
		"unknown": post(t, h.url+xta.PathMsgBox, soapCT, "", request(xta.ActionClose, readerKey, `<osci:MsgBoxCloseRequest MsgBoxRequestID="1"><osci:LastMsgReceived>urn:x</osci:LastMsgReceived></osci:MsgBoxCloseRequest>`)).body,
		"lookup": post(t, h.url+xta.PathManagement, soapCT, "", request(xta.ActionLookupService, hubKey,
			`<xta:LookupServiceRequest xmlns:xta="http://xoev.de/transport/xta/211"><xta:LookupServiceRequestList><xta:LookupService><om:Reader><om:Identifier type="xoev">`+readerKey+`</om:Identifier></om:Reader><xta:ServiceType>urn:svc</xta:ServiceType></xta:LookupService></xta:LookupServiceRequestList><xta:LookupServiceRequestList><xta:LookupService><om:Reader><om:Identifier type="xoev">ags:0</om:Identifier></om:Reader><xta:ServiceType>urn:svc</xta:ServiceType></xta:LookupService></xta:LookupServiceRequestList></xta:LookupServiceRequest>`)).body,
		"createid": post(t, h.url+xta.PathManagement, soapCT, "", request(xta.ActionCreateMessageID, hubKey, ``)).body,
		"report":   post(t, h.url+xta.PathManagement, soapCT, "", request(xta.ActionGetTransportReport, readerKey, `<wsa:MessageID>`+id+`</wsa:MessageID>`)).body,
		"cancel":   post(t, h.url+xta.PathManagement, soapCT, "", request(xta.ActionCancelMessage, readerKey, `<wsa:MessageID>`+id+`</wsa:MessageID>`)).body,
		"nextlist": post(t, h.url+xta.PathMsgBox, soapCT, "", request(xta.ActionGetNextStatusList, readerKey, `<osci:MsgBoxGetNextRequest MsgBoxRequestID="urn:uuid:gone"/>`)).body,
	}
	validated := xmllintValidate(t, responses)
	for _, must := range []string{"MessageMetaData", "MsgStatusList", "MsgBoxResponse", "GenericContentContainer", "PermissionDeniedException",
		"InvalidMessageIDException", "Action", "RelatesTo", "Envelope", "TransportReport", "LookupServiceResponse", "MessageID"} {
		if !validated[must] {
			t.Errorf("%s was never validated", must)
		}
	}
}

// xmllintValidate checks every header block, body element and fault detail
// of each response, and each whole envelope, with xmllint against the XTA
// schema set; it returns the local names of the validated elements.
func xmllintValidate(t *testing.T, responses map[string]string) map[string]bool {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint not installed (apt-get install libxml2-utils)")
	}
	schemaDir := filepath.Join(testenv.MustStandardsDir(t), "xta2-v3")
	schemaFor := map[string]string{
		xta.NSOSCIMeta: "OSCI_MessageMetaData_V2.02.xsd",
		xta.NSOSCI:     "OSCI2_02.xsd",
		xta.NSWSA:      "ws-addr.xsd",
		xta.NSSOAP12:   ".xsd",
	}
	validated := map[string]bool{}
	tmp := t.TempDir()
	for name, body := range responses {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(body); err != nil {
			t.Fatalf("%s: response not XML: %v", name, err)
		}
		root := doc.Root()
		var parts []*etree.Element
		for _, sect := range root.ChildElements() {
			parts = append(parts, sect.ChildElements()...)
		}
		parts = append(parts, root) // the whole envelope against the SOAP 1.2 schema
		for i := 0; i < len(parts); i++ {
			el := parts[i]
			ns := el.NamespaceURI()
			xsd := schemaFor[ns]
			if ns == xta.NSXTA {
				xsd = "XTA-Webservice-Globale-Elemente.xsd"
				if strings.HasSuffix(el.Tag, "Exception") {
					xsd = "XTA-Webservice-Exceptions.xsd"
				}
			}
			if ns == xta.NSSOAP12 && el.Tag == "Fault" {
				// The detail inside the fault is validated separately.
				for _, d := range el.FindElements("Detail/*") {
					parts = append(parts, d)
				}
			}
			if xsd == "" {
				t.Errorf("%s: no schema for {%s}%s", name, ns, el.Tag)
				continue
			}
			out := etree.NewDocument()
			cp := el.Copy()
			for _, a := range root.Attr {
				if a.Space == "xmlns" {
					cp.CreateAttr("xmlns:"+a.Key, a.Value)
				}
			}
			out.SetRoot(cp)
			file := filepath.Join(tmp, name+"-"+el.Tag+"-"+string(rune('a'+i%26))+".xml")
			if err := out.WriteToFile(file); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(xmllint, "--noout", "--nonet", "--schema", filepath.Join(schemaDir, xsd), file)
			if outp, err := cmd.CombinedOutput(); err != nil {
				src, _ := os.ReadFile(file)
				t.Errorf("%s: {%s}%s does not validate against %s: %v\n%s\n%s", name, ns, el.Tag, xsd, err, outp, truncate(src))
			}
			validated[el.Tag] = true
		}
	}
	return validated
}

func truncate(b []byte) []byte {
	if len(b) > 2000 {
		return append(b[:2000:2000], "…"...)
	}
	return b
}

func TestParseContainerEnvelope(t *testing.T) {
	wrap := func(content string) string {
		return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:x="http://xoev.de/transport/xta/211"><s:Body>` +
			`<x:GenericContentContainer><x:ContentContainer><x:Message contentType="text/plain">` + content +
			`</x:Message></x:ContentContainer></x:GenericContentContainer></s:Body></s:Envelope>`
	}
	tests := []struct {
		name, in, want, err string
	}{
		{"plain", wrap("SGFsbG8gV2VsdA=="), "Hallo Welt", ""},
		{"line breaks", wrap("SGFs\r\nbG8g\n  V2Vs\tdA=="), "Hallo Welt", ""},
		{"character references", wrap("SGFs&#13;&#10;bG8gV2VsdA&#x3D;&#61;"), "Hallo Welt", ""},
		{"cdata", wrap("SGFs<![CDATA[bG8gV2Vs]]>dA=="), "Hallo Welt", ""},
		{"comment inside", wrap("SGFsbG8g<!-- c -->V2VsdA=="), "Hallo Welt", ""},
		{"empty", wrap(""), "", ""},
		{"xop include", wrap(`<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:1"/>`), "", "MTOM"},
		{"bad base64", wrap("SGFsbG8*V2VsdA=="), "", "illegal base64"},
		{"undefined entity", wrap("SGFs&foo;"), "", "undefined entity"},
		{"truncated", wrap("SGFsbG8gV2VsdA==")[:150], "", "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bytes.Buffer
			_, err := xta.ParseContainerEnvelope(strings.NewReader(tt.in), xta.Limits{}, func(_ int, h xta.ContentHeader, r io.Reader) error {
				_, err := io.Copy(&got, r)
				return err
			})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Errorf("content = %q, want %q", got.String(), tt.want)
			}
		})
	}
}

func TestParseEnvelopeLimits(t *testing.T) {
	deep := `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>` + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + `</s:Body></s:Envelope>`
	if _, err := xta.ParseEnvelope(strings.NewReader(deep), xta.Limits{}); err == nil || !strings.Contains(err.Error(), "nesting") {
		t.Errorf("deep: err = %v", err)
	}
	big := `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><a>` + strings.Repeat("x", 5000) + `</a></s:Body></s:Envelope>`
	if _, err := xta.ParseEnvelope(strings.NewReader(big), xta.Limits{MaxBytes: 1000}); err == nil || !strings.Contains(err.Error(), "size limit") {
		t.Errorf("big: err = %v", err)
	}
	bomb := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&lol2;</s:Body></s:Envelope>`
	if _, err := xta.ParseEnvelope(strings.NewReader(bomb), xta.Limits{}); err == nil || !strings.Contains(err.Error(), "DOCTYPE") {
		t.Errorf("entity bomb: err = %v", err)
	}
	trailing := `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope><x/>`
	if _, err := xta.ParseEnvelope(strings.NewReader(trailing), xta.Limits{}); err == nil {
		t.Error("content after the envelope accepted")
	}
	pi := `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><?evil x?><s:Body/></s:Envelope>`
	if _, err := xta.ParseEnvelope(strings.NewReader(pi), xta.Limits{}); err == nil {
		t.Error("processing instruction accepted")
	}
	ok := `<?xml version="1.0" encoding="UTF-8"?><e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Header><w:Action xmlns:w="http://www.w3.org/2005/08/addressing"> urn:a </w:Action></e:Header><e:Body><b xmlns="urn:b"/></e:Body></e:Envelope>`
	env, err := xta.ParseEnvelope(strings.NewReader(ok), xta.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if env.Addressing().Action != "urn:a" || len(env.Body) != 1 || !env.Body[0].Is("urn:b", "b") {
		t.Errorf("parsed = %+v", env)
	}
}

func FuzzParseEnvelope(f *testing.F) {
	f.Add(request(xta.ActionGetStatusList, readerKey, `<osci:MsgBoxStatusListRequest maxListItems="5"/>`))
	f.Add(request(xta.ActionGetMessage, readerKey, `<osci:MsgBoxFetchRequest><osci:MsgSelector><wsa:MessageID>urn:x</wsa:MessageID></osci:MsgSelector></osci:MsgBoxFetchRequest>`))
	f.Add(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:x="http://xoev.de/transport/xta/211"><s:Body><x:GenericContentContainer><x:ContentContainer><x:Message contentType="a">SGFs&#13;bG8=</x:Message></x:ContentContainer></x:GenericContentContainer></s:Body></s:Envelope>`)
	f.Add(`<!DOCTYPE a><a/>`)
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		env, err := xta.ParseEnvelope(strings.NewReader(in), xta.Limits{MaxBytes: 1 << 16})
		if err == nil {
			if env == nil {
				t.Fatal("nil envelope without error")
			}
			_ = env.Addressing()
			_ = xta.FaultFromBody(env.Body)
		}
		_, _ = xta.ParseContainerEnvelope(strings.NewReader(in), xta.Limits{MaxBytes: 1 << 16}, func(_ int, _ xta.ContentHeader, r io.Reader) error {
			_, err := io.Copy(io.Discard, r)
			return err
		})
	})
}

func BenchmarkLeserCycle100KB(b *testing.B) {
	h := newHarness(b, nil)
	payload := randomBytes(b, 100<<10)
	c := xtatest.New(h.url, readerKey, nil)
	c.AttachmentDir = b.TempDir()
	ctx := context.Background()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		id := "urn:de:xta:messageid:dxhub:bench-" + strconv.Itoa(i)
		h.backend.Deliver(sampleMeta(id, hubKey, readerKey),
			xtatest.Blob{ContentType: "application/xml", Data: []byte("<a/>")},
			xtatest.Blob{ContentType: "application/pdf", Filename: "p.pdf", Data: payload})
		list, err := c.GetStatusList(ctx, 10)
		if err != nil || len(list) != 1 {
			b.Fatalf("list: %v %d", err, len(list))
		}
		fm, err := c.GetMessage(ctx, id)
		if err != nil || len(fm.Attachments) != 1 || fm.Attachments[0].Bytes != int64(len(payload)) {
			b.Fatalf("get: %v", err)
		}
		if err := c.Close(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}
