package osci_test

import (
	"bytes"
	"testing"

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
