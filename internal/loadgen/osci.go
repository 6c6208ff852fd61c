package loadgen

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"

	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/osci"
	"github.com/dxhub/dxhub/xoev"
)

// OSCIFachverfahren is a Fachverfahren that receives its messages as OSCI
// 1.2 addressee at an intermediary and answers over OSCI: it fetches
// deliveries (transport level: orders signed by it and encrypted for the
// intermediary, responses decrypted and verified), opens each content
// (content level: decrypted with its key, the hub's Author signature
// checked), and stores a signed 1120 Eingangsbestätigung encrypted for the
// hub's cipher certificate in the hub's mailbox at the same intermediary.
// Run is an Options.Reader.
type OSCIFachverfahren struct {
	// Intermediary is the intermediary's URL; IntermediaryCert its cipher
	// and signature certificate.
	Intermediary     string
	IntermediaryCert *x509.Certificate
	// Identity is the Fachverfahren's key pair (signature and cipher).
	Identity osci.Identity
	// HubSigner is the hub's OSCI signature certificate (Author of the
	// contents); HubCipher the hub's cipher certificate (addressee of the
	// answers).
	HubSigner, HubCipher *x509.Certificate
	// ReaderKey is the Fachverfahren's organisation key, the Author of its
	// answers ("ags:05315000").
	ReaderKey string
	HTTP      *http.Client

	handled atomic.Int64
}

// Handled is the number of deliveries answered so far.
func (f *OSCIFachverfahren) Handled() int64 { return f.handled.Load() }

func (f *OSCIFachverfahren) client() *osci.Client {
	return &osci.Client{URL: f.Intermediary, Signer: f.Identity, Cipher: f.Identity,
		IntermediaryCert: f.IntermediaryCert, IntermediarySigner: f.IntermediaryCert, HTTP: f.HTTP}
}

// Run fetches and answers deliveries until ctx ends. Worker i of several
// shares the mailbox with the others (the intermediary hands each delivery
// out once). An idle worker backs off like the XTA clients (20 ms doubling
// to 500 ms).
func (f *OSCIFachverfahren) Run(ctx context.Context, i int) error {
	c := f.client()
	err := pollWithBackoff(ctx, func() (int, error) { return f.round(ctx, c) })
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("osci fachverfahren %d: %w", i, err)
	}
	return nil
}

// round fetches up to 50 deliveries in one explicit dialog and answers each.
func (f *OSCIFachverfahren) round(ctx context.Context, c *osci.Client) (int, error) {
	d, err := c.InitDialog(ctx)
	if err != nil {
		return 0, fmt.Errorf("initDialog: %w", err)
	}
	n := 0
	for n < 50 {
		r, ferr := d.FetchDelivery(ctx, "")
		if ferr != nil {
			err = fmt.Errorf("fetchDelivery: %w", ferr)
			break
		}
		if r == nil {
			break
		}
		if err = f.answer(ctx, c, r); err != nil {
			break
		}
		n++
	}
	if xerr := d.Exit(ctx); err == nil && xerr != nil {
		err = fmt.Errorf("exitDialog: %w", xerr)
	}
	return n, err
}

// answer opens one fetched delivery and stores the 1120 for the hub.
func (f *OSCIFachverfahren) answer(ctx context.Context, c *osci.Client, r *osci.Response) error {
	m := r.Message
	if m.SignatureCertOriginator == nil || !m.SignatureCertOriginator.Equal(f.HubSigner) {
		return errors.New("the delivery is not signed with the hub's OSCI signature certificate")
	}
	contents, err := osci.OpenContent(m.ContentPackage, &xmlsec.Decrypter{Key: f.Identity.Key, Cert: f.Identity.Cert}, f.HubSigner, r.Attachments)
	if err != nil {
		return fmt.Errorf("open content: %w", err)
	}
	if len(contents) == 0 {
		return errors.New("delivery without content")
	}
	ref, err := xoev.ParseInbound(contents[0].Data)
	if err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	doc, err := xoev.BuildReceipt1120(ref.Header, xoev.Reply{Created: time.Now(), Reference: ref.Reference, CaseNumber: "BENCH-1"})
	if err != nil {
		return fmt.Errorf("build 1120: %w", err)
	}
	cp, err := osci.SealContent("reply", []osci.Content{{Data: doc.XML}}, &f.Identity, f.HubCipher, nil)
	if err != nil {
		return fmt.Errorf("seal 1120: %w", err)
	}
	id, err := c.GetMessageID(ctx)
	if err != nil {
		return fmt.Errorf("getMessageId: %w", err)
	}
	if _, err := c.StoreDelivery(ctx, &osci.Message{MessageID: id, Subject: doc.RootElement + " " + ref.Reference,
		CipherCertAddressee: f.HubCipher, CustomHeaders: []*etree.Element{f.metaData()}, ContentPackage: cp}, nil); err != nil {
		return fmt.Errorf("storeDelivery of the 1120: %w", err)
	}
	f.handled.Add(1)
	return nil
}

// metaData is the oscimeta:MessageMetaData header naming the Fachverfahren
// as Author (the hub reads the author's organisation key from it).
func (f *OSCIFachverfahren) metaData() *etree.Element {
	md := etree.NewElement("oscimeta:MessageMetaData")
	md.CreateAttr("xmlns:oscimeta", "http://www.osci.eu/ws/2014/10/transport")
	md.CreateAttr("Id", "MetaData")
	id := md.CreateElement("oscimeta:Originators").CreateElement("oscimeta:Author").CreateElement("oscimeta:Identifier")
	id.CreateAttr("type", "xoev")
	id.SetText(f.ReaderKey)
	return md
}
