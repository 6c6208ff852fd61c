package osci_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/internal/xmlsec/xmlsectest"
	"github.com/dxhub/dxhub/osci"
	"github.com/dxhub/dxhub/osci/oscitest"
)

var (
	client       = xmlsectest.New("client")
	intermediary = xmlsectest.New("intermediary")
	reader       = xmlsectest.New("reader")
	other        = xmlsectest.New("other")
)

func id(i *xmlsectest.Identity) *osci.Identity { return &osci.Identity{Key: i.Key, Cert: i.Cert} }

func checker(t *testing.T) *oscitest.SchemaChecker {
	c := oscitest.NewSchemaChecker(testenv.MustStandardsDir(t))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

const metaData = `<oscimeta:MessageMetaData xmlns:oscimeta="http://www.osci.eu/ws/2014/10/transport" Id="MetaData"><oscimeta:DeliveryAttributes/></oscimeta:MessageMetaData>`

func sampleMessages(t *testing.T) []*osci.Message {
	t.Helper()
	md := etree.NewDocument()
	if err := md.ReadFromString(metaData); err != nil {
		t.Fatal(err)
	}
	cp, err := osci.SealContent("cc1", []osci.Content{{Data: []byte("<xbau/>")}}, id(client), reader.Cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	plainCP, err := osci.SealContent("cc2", []osci.Content{{Data: []byte("<xbau/>")}, {Href: "cid:att1"}}, id(client), nil,
		[]osci.Part{{ContentID: "att1", Data: []byte("pdf")}})
	if err != nil {
		t.Fatal(err)
	}
	// Attachments encrypted for the reader as separate parts (CipherReference).
	encCP, _, err := osci.SealContentAttachments("cc3", []osci.Content{{Data: []byte("<xbau/>")}, {Href: "cid:att1"}}, id(client), reader.Cert,
		[]osci.Part{{ContentID: "att1", ContentType: "application/pdf", Data: []byte("pdf")}}, xmlsec.OAEP11SHA256)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	card := osci.ProcessCardBundle{MessageID: "bWlk", RecentModification: now, Creation: &osci.Timestamp{Plain: now},
		Inspections: []osci.Inspection{{Timestamp: osci.Timestamp{Plain: now}, SubjectName: "CN=client", IssuerName: "CN=client", SerialNumber: "1"}}}
	fwd := card
	fwd.Forwarding = &osci.Timestamp{Plain: now}
	rec := fwd
	rec.Reception = &osci.Timestamp{Plain: now}
	fb := []osci.FeedbackEntry{{Lang: "de", Code: "0800", Text: "Auftrag ausgeführt, Dialog beendet."}, {Lang: "en", Code: "0800", Text: "Order executed."}}
	req := osci.ControlBlock{ConversationID: 7, SequenceNumber: 1, Response: "s1", Challenge: "c2"}
	implicit := osci.ControlBlock{ConversationID: -1, SequenceNumber: 0, Challenge: "c1"}
	resp := osci.ControlBlock{ConversationID: 7, SequenceNumber: 1, Response: "c2", Challenge: "s2"}
	return []*osci.Message{
		{Kind: osci.GetMessageID, ControlBlock: implicit, CipherCertOriginator: client.Cert, SignatureCertOriginator: client.Cert},
		{Kind: osci.ResponseToGetMessageID, ControlBlock: osci.ControlBlock{ConversationID: 7, SequenceNumber: 0, Response: "c1"}, Feedback: fb, MessageID: "bWlk", SignatureCertIntermediary: intermediary.Cert},
		{Kind: osci.StoreDelivery, ControlBlock: implicit, MessageID: "bWlk", Subject: "Bauantrag", CipherCertOriginator: client.Cert, CipherCertAddressee: reader.Cert, CustomHeaders: []*etree.Element{md.Root()}, ContentPackage: cp},
		{Kind: osci.StoreDelivery, ControlBlock: implicit, MessageID: "bWlk", CipherCertAddressee: reader.Cert, ContentPackage: plainCP},
		{Kind: osci.StoreDelivery, ControlBlock: implicit, MessageID: "bWlk", CipherCertAddressee: reader.Cert, ContentPackage: encCP},
		{Kind: osci.ResponseToStoreDelivery, ControlBlock: osci.ControlBlock{ConversationID: 7, SequenceNumber: 0, Response: "c1"}, Feedback: fb, ProcessCards: []osci.ProcessCardBundle{card}},
		{Kind: osci.InitDialog, ControlBlock: osci.ControlBlock{ConversationID: -1, SequenceNumber: -1, Challenge: "c0"}, CipherCertOriginator: client.Cert},
		{Kind: osci.ResponseToInitDialog, ControlBlock: osci.ControlBlock{ConversationID: 7, SequenceNumber: -1, Response: "c0", Challenge: "s1"}, Feedback: fb},
		{Kind: osci.FetchProcessCard, ControlBlock: req, Selection: &osci.Selection{MessageIDs: []string{"bWlk", "bWlj"}, Limit: 10}},
		{Kind: osci.ResponseToFetchProcessCard, ControlBlock: resp, Feedback: fb, Selection: &osci.Selection{MessageIDs: []string{"bWlk"}}, ProcessCards: []osci.ProcessCardBundle{rec, card}},
		{Kind: osci.FetchDelivery, ControlBlock: req, Selection: &osci.Selection{MessageIDs: []string{"bWlk"}}},
		{Kind: osci.FetchDelivery, ControlBlock: req},
		{Kind: osci.ResponseToFetchDelivery, ControlBlock: resp, Feedback: fb, ProcessCards: []osci.ProcessCardBundle{fwd}, CipherCertAddressee: reader.Cert, ContentPackage: cp},
		{Kind: osci.ResponseToFetchDelivery, ControlBlock: resp, Feedback: fb, ProcessCards: []osci.ProcessCardBundle{fwd}, CipherCertAddressee: reader.Cert, ContentPackage: encCP},
		{Kind: osci.MediateDelivery, ControlBlock: req, ContentReceiver: "https://fv.example/osci", MessageID: "bWlk", ContentPackage: cp},
		{Kind: osci.ResponseToMediateDelivery, ControlBlock: resp, Feedback: fb, ProcessCards: []osci.ProcessCardBundle{rec, fwd}, ContentPackage: cp},
		{Kind: osci.ExitDialog, ControlBlock: req},
		{Kind: osci.ResponseToExitDialog, ControlBlock: osci.ControlBlock{ConversationID: 7, SequenceNumber: 1, Response: "c2"}, Feedback: fb},
	}
}

// Every message kind, built, signed and encoded, validates against its
// soap*.xsd with xmllint, and survives encryption, decryption, signature check
// and parsing.
func TestCodecSchemaValidRoundTrip(t *testing.T) {
	chk := checker(t)
	for _, m := range sampleMessages(t) {
		t.Run(string(m.Kind), func(t *testing.T) {
			signer, recipient, dec := id(client), intermediary.Cert, &xmlsec.Decrypter{Key: intermediary.Key}
			if m.Kind.Response() {
				signer, recipient, dec = id(intermediary), client.Cert, &xmlsec.Decrypter{Key: client.Key}
			}
			var atts []osci.Part
			if m.ContentPackage != nil && strings.Contains(elString(m.ContentPackage), "cid:att1") {
				atts = []osci.Part{{ContentID: "att1", ContentType: "application/pdf", Data: []byte("pdf")}}
			}
			enc, err := osci.Encode(m, osci.EncodeOptions{Signer: signer, EncryptFor: recipient, Attachments: atts})
			if err != nil {
				t.Fatal(err)
			}
			if err := chk.Validate(m.Kind.SchemaFile(), enc.Envelope); err != nil {
				t.Fatalf("%v\n%s", err, enc.Envelope)
			}
			if bytes.Contains(enc.Body, []byte("ControlBlock")) {
				t.Fatal("transport encryption leaks the order")
			}
			parts, err := osci.ParseMIME(enc.Body)
			if err != nil {
				t.Fatal(err)
			}
			if err := chk.Validate("soapMessageEncrypted.xsd", parts[0].Data); err != nil {
				t.Fatalf("%v\n%s", err, parts[0].Data)
			}
			got, err := osci.Decode(enc.Body, osci.DecodeOptions{Decrypter: dec, RequireEncryption: true,
				SignerCert: func(*osci.Message) (*x509.Certificate, error) { return signer.Cert, nil }})
			if err != nil {
				t.Fatal(err)
			}
			g := got.Message
			if g.Kind != m.Kind || !g.Signed || g.ControlBlock != m.ControlBlock || g.MessageID != m.MessageID ||
				len(g.Feedback) != len(m.Feedback) || len(g.ProcessCards) != len(m.ProcessCards) || len(got.Attachments) != len(atts) {
				t.Fatalf("round trip: %+v", g)
			}
			if m.Kind == osci.StoreDelivery && m.CustomHeaders != nil && (len(g.CustomHeaders) != 1 || g.CustomHeaders[0].Tag != "MessageMetaData") {
				t.Fatalf("MessageMetaData lost: %+v", g.CustomHeaders)
			}
		})
	}
}

func elString(e *etree.Element) string {
	d := etree.NewDocument()
	d.SetRoot(e.Copy())
	s, _ := d.WriteToString()
	return s
}

var _ = errors.Is
