package osci_test

import (
	"bytes"
	"testing"

	"github.com/beevik/etree"

	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/osci"
)

var payload100k = bytes.Repeat([]byte("<feld>Bauantrag Müller</feld>\n"), 100*1024/31)

// BenchmarkStoreDeliveryRoundTrip: author signs and encrypts 100 KB for the reader,
// client signs and encrypts the order for the intermediary, the intermediary
// decrypts and verifies, the reader decrypts and verifies the author.
func BenchmarkStoreDeliveryRoundTrip(b *testing.B) {
	b.SetBytes(int64(len(payload100k)))
	for b.Loop() {
		enc := storeDeliveryBody(b, payload100k)
		got, err := osci.Decode(enc.Body, osci.DecodeOptions{Decrypter: &xmlsec.Decrypter{Key: intermediary.Key}, RequireEncryption: true, SignerCert: signer(client.Cert)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := osci.OpenContent(got.Message.ContentPackage, &xmlsec.Decrypter{Key: reader.Key}, client.Cert, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCostSign(b *testing.B) {
	for b.Loop() {
		if _, err := osci.SealContent("cc1", []osci.Content{{Data: payload100k}}, id(client), nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCostSignAndEncryptContent(b *testing.B) {
	for b.Loop() {
		if _, err := osci.SealContent("cc1", []osci.Content{{Data: payload100k}}, id(client), reader.Cert, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCostSerializeOnly(b *testing.B) {
	cp, _ := osci.SealContent("cc1", []osci.Content{{Data: payload100k}}, nil, nil, nil)
	m := &osci.Message{Kind: osci.StoreDelivery, ControlBlock: osci.ControlBlock{ConversationID: -1, SequenceNumber: 0, Challenge: "c"}, MessageID: "bWlk", CipherCertAddressee: reader.Cert, ContentPackage: cp}
	for b.Loop() {
		if _, err := osci.Encode(m, osci.EncodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCostOrderSignEncrypt(b *testing.B) {
	cp, _ := osci.SealContent("cc1", []osci.Content{{Data: payload100k}}, nil, nil, nil)
	m := &osci.Message{Kind: osci.StoreDelivery, ControlBlock: osci.ControlBlock{ConversationID: -1, SequenceNumber: 0, Challenge: "c"}, MessageID: "bWlk", CipherCertAddressee: reader.Cert, ContentPackage: cp}
	for b.Loop() {
		if _, err := osci.Encode(m, osci.EncodeOptions{Signer: id(client), EncryptFor: intermediary.Cert}); err != nil {
			b.Fatal(err)
		}
	}
}

var attachment1M = bytes.Repeat([]byte("%PDF-1.4 Lageplan 0123456789abcdef\n"), 1<<20/35)

// benchmarkAttachment runs one storeDelivery with a 1 MB attachment through
// every level: the author seals it (inline as Base64Content, or as a
// separate encrypted MIME part), the order is signed and encrypted for the
// intermediary, the intermediary opens the order, the reader opens the
// content.
func benchmarkAttachment(b *testing.B, asPart bool) {
	b.SetBytes(int64(len(attachment1M)))
	for b.Loop() {
		var cp *etree.Element
		var parts []osci.Part
		var err error
		if asPart {
			cp, parts, err = osci.SealContentAttachments("cc1", []osci.Content{{Data: []byte("<antrag/>")}, {Href: "cid:plan"}}, id(client), reader.Cert,
				[]osci.Part{{ContentID: "plan", ContentType: "application/pdf", Data: attachment1M}}, xmlsec.OAEP11SHA256)
		} else {
			cp, err = osci.SealContent("cc1", []osci.Content{{Data: []byte("<antrag/>")}, {Data: attachment1M}}, id(client), reader.Cert, nil)
		}
		if err != nil {
			b.Fatal(err)
		}
		m := &osci.Message{Kind: osci.StoreDelivery, ControlBlock: osci.ControlBlock{ConversationID: -1, SequenceNumber: 0, Challenge: "c1"},
			MessageID: "bWlk", CipherCertAddressee: reader.Cert, ContentPackage: cp}
		enc, err := osci.Encode(m, osci.EncodeOptions{Signer: id(client), EncryptFor: intermediary.Cert, Attachments: parts})
		if err != nil {
			b.Fatal(err)
		}
		got, err := osci.Decode(enc.Body, osci.DecodeOptions{Decrypter: &xmlsec.Decrypter{Key: intermediary.Key}, RequireEncryption: true, SignerCert: signer(client.Cert)})
		if err != nil {
			b.Fatal(err)
		}
		contents, err := osci.OpenContent(got.Message.ContentPackage, &xmlsec.Decrypter{Key: reader.Key}, client.Cert, got.Attachments)
		if err != nil || len(contents) != 2 || len(contents[1].Data) != len(attachment1M) {
			b.Fatalf("open: %d contents, %v", len(contents), err)
		}
		b.ReportMetric(float64(len(enc.Body))/float64(len(attachment1M)), "wire/payload")
	}
}

func BenchmarkAttachment1MBInline(b *testing.B)        { benchmarkAttachment(b, false) }
func BenchmarkAttachment1MBEncryptedPart(b *testing.B) { benchmarkAttachment(b, true) }
