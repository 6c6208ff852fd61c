package oscitest_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/dxhub/dxhub/osci"
	"github.com/dxhub/dxhub/osci/oscitest"
)

var payload100k = bytes.Repeat([]byte("<feld>Bauantrag Müller</feld>\n"), 100*1024/31)

// BenchmarkStoreDeliveryHTTP is the full order round trip over HTTP on
// 127.0.0.1 with a 100 KB payload: the hub signs and encrypts the content for
// the reader, signs and encrypts the order for the intermediary; oscitest
// decrypts, verifies, checks the ControlBlock, stores and answers signed and
// encrypted; the client decrypts and verifies the response. (getMessageId,
// another round trip, is excluded.)
func BenchmarkStoreDeliveryHTTP(b *testing.B) {
	srv, err := oscitest.Start(oscitest.Options{Identity: ident(interID)})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c := &osci.Client{URL: srv.URL, Signer: ident(hubID), Cipher: ident(hubID), IntermediaryCert: interID.Cert,
		IntermediarySigner: interID.Cert, HTTP: &http.Client{Timeout: 30 * time.Second}}
	ctx := context.Background()
	ids := make([]string, 0, 1024)
	b.SetBytes(int64(len(payload100k)))
	for b.Loop() {
		b.StopTimer()
		if len(ids) == 0 {
			for range 16 {
				id, err := c.GetMessageID(ctx)
				if err != nil {
					b.Fatal(err)
				}
				ids = append(ids, id)
			}
		}
		id := ids[len(ids)-1]
		ids = ids[:len(ids)-1]
		b.StartTimer()
		cp, err := osci.SealContent("cc1", []osci.Content{{Data: payload100k}}, &osci.Identity{Key: hubID.Key, Cert: hubID.Cert}, readerID.Cert, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.StoreDelivery(ctx, &osci.Message{MessageID: id, CipherCertAddressee: readerID.Cert, ContentPackage: cp}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
