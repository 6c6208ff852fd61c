package osci_test

import (
	"testing"

	"github.com/dxhub/dxhub/osci"
)

func TestFaultRoundTrip(t *testing.T) {
	env, err := osci.BuildFault(&osci.Fault{Code: "9200", Text: "Fehler beim Entschlüsseln"})
	if err != nil {
		t.Fatal(err)
	}
	if err := checker(t).Validate("soapMessageFault.xsd", env); err != nil {
		t.Fatal(err)
	}
	body := osci.WriteMIME([]osci.Part{{ContentID: osci.ContentIDMessage, ContentType: "text/xml; charset=UTF-8", Data: env}})
	f, ok := osci.ParseFault(body)
	if !ok || f.Code != "9200" || f.Text != "Fehler beim Entschlüsseln" || f.Class() != osci.FeedbackPermanent {
		t.Fatalf("%+v %v", f, ok)
	}
	if _, ok := osci.ParseFault([]byte("<soap:Envelope/>")); ok {
		t.Fatal("not a fault")
	}
}

func FuzzParseFault(f *testing.F) {
	env, _ := osci.BuildFault(&osci.Fault{Code: "9400", Text: "x", Server: true})
	f.Add(env)
	f.Add(osci.WriteMIME([]osci.Part{{ContentID: osci.ContentIDMessage, ContentType: "text/xml", Data: env}}))
	f.Add([]byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultstring></faultstring></s:Fault></s:Body></s:Envelope>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if flt, ok := osci.ParseFault(data); ok && flt == nil {
			t.Fatal("ok without fault")
		}
	})
}
