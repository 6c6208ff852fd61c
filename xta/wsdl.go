package xta

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"

	"github.com/beevik/etree"
)

// WSDLFile is the file name of the XTA 2 v3 WSDL inside Config.WSDLDir.
const WSDLFile = "XTA.wsdl"

const (
	nsWSDL     = "http://schemas.xmlsoap.org/wsdl/"
	nsWSDLSoap = "http://schemas.xmlsoap.org/wsdl/soap12/"
	nsXSD      = "http://www.w3.org/2001/XMLSchema"
)

// wsdlSet is the WSDL with real port addresses and every XSD it reaches,
// with schemaLocations rewritten to "<management URL>?xsd=NAME".
type wsdlSet struct {
	wsdl []byte
	xsds map[string][]byte
}

// loadWSDL reads XTA.wsdl and, transitively, the XSDs it imports from dir.
// Only files referenced this way are served, so ?xsd= cannot reach anything else.
func loadWSDL(dir, baseURL string) (*wsdlSet, error) {
	ports := map[string]string{
		"MsgBoxPort":     baseURL + PathMsgBox,
		"SendXtaPort":    baseURL + PathSend,
		"ManagementPort": baseURL + PathManagement,
	}
	xsdURL := func(name string) string {
		return baseURL + PathManagement + "?xsd=" + url.QueryEscape(name)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromFile(filepath.Join(dir, WSDLFile)); err != nil {
		return nil, fmt.Errorf("xta: read WSDL: %w", err)
	}
	root := doc.Root()
	if root == nil || root.NamespaceURI() != nsWSDL || root.Tag != "definitions" {
		return nil, fmt.Errorf("xta: %s is not a WSDL 1.1 document", filepath.Join(dir, WSDLFile))
	}
	set := &wsdlSet{xsds: map[string][]byte{}}
	replaced := 0
	for _, svc := range children(root, nsWSDL, "service") {
		for _, port := range children(svc, nsWSDL, "port") {
			addr, ok := ports[port.SelectAttrValue("name", "")]
			if !ok {
				continue
			}
			for _, a := range children(port, nsWSDLSoap, "address") {
				a.CreateAttr("location", addr)
				replaced++
			}
		}
	}
	if replaced != len(ports) {
		return nil, fmt.Errorf("xta: %s: found %d of the %d soap12:address elements of MsgBoxPort, SendXtaPort, ManagementPort", WSDLFile, replaced, len(ports))
	}
	queue := rewriteSchemaRefs(root, xsdURL)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if _, done := set.xsds[name]; done {
			continue
		}
		if name != filepath.Base(name) || name == "" || name == ".." {
			return nil, fmt.Errorf("xta: schemaLocation %q is not a plain file name", name)
		}
		xd := etree.NewDocument()
		if err := xd.ReadFromFile(filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("xta: read schema %s: %w", name, err)
		}
		if xd.Root() == nil {
			return nil, fmt.Errorf("xta: schema %s is empty", name)
		}
		queue = append(queue, rewriteSchemaRefs(xd.Root(), xsdURL)...)
		b, err := xd.WriteToBytes()
		if err != nil {
			return nil, fmt.Errorf("xta: write schema %s: %w", name, err)
		}
		set.xsds[name] = b
	}
	b, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("xta: write WSDL: %w", err)
	}
	set.wsdl = b
	return set, nil
}

func children(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

// rewriteSchemaRefs rewrites xs:import/xs:include/xs:redefine schemaLocations
// below el to served URLs and returns the referenced file names.
func rewriteSchemaRefs(el *etree.Element, xsdURL func(string) string) []string {
	var names []string
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		for _, c := range e.ChildElements() {
			if c.NamespaceURI() == nsXSD && (c.Tag == "import" || c.Tag == "include" || c.Tag == "redefine") {
				if loc := c.SelectAttr("schemaLocation"); loc != nil && loc.Value != "" {
					names = append(names, loc.Value)
					loc.Value = xsdURL(loc.Value)
				}
			}
			walk(c)
		}
	}
	walk(el)
	return names
}

// serveMetadata answers GET ?wsdl and GET ?xsd=NAME.
func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var body []byte
	switch {
	case q.Has("wsdl") || q.Has("WSDL"):
		body = s.wsdl.wsdl
	case q.Has("xsd"):
		b, ok := s.wsdl.xsds[q.Get("xsd")]
		if !ok {
			http.Error(w, "unknown schema", http.StatusNotFound)
			return
		}
		body = b
	default:
		http.Error(w, "this is a SOAP 1.2 endpoint: POST a request, or GET ?wsdl", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}
