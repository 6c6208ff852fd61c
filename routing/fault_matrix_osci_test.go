package routing_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/connectors/osciclient"
	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/internal/xmlsec/xmlsectest"
	"github.com/dxhub/dxhub/osci"
	"github.com/dxhub/dxhub/osci/oscitest"
	"github.com/dxhub/dxhub/routing"
)

// osciMatrixIDs are the OSCI identities of the matrix, created once: RSA key
// generation dominates otherwise. They are valid around both the injected
// clock (t0) and the wall clock.
var osciMatrixIDs = sync.OnceValue(func() (ids struct{ inter, hubSig, hubEnc, reader *xmlsectest.Identity }) {
	from, until := t0, t0
	if now := time.Now(); now.Before(from) {
		from = now
	} else {
		until = now
	}
	o := xmlsectest.Options{NotBefore: from.Add(-24 * time.Hour), NotAfter: until.Add(30 * 24 * time.Hour)}
	ids.inter = xmlsectest.MustNew("matrix-intermediary", o)
	ids.hubSig = xmlsectest.MustNew("matrix-hub-signature", o)
	ids.hubEnc = xmlsectest.MustNew("matrix-hub-cipher", o)
	ids.reader = xmlsectest.MustNew("matrix-reader", o)
	return ids
})

func osciIdent(i *xmlsectest.Identity) osci.Identity { return osci.Identity{Key: i.Key, Cert: i.Cert} }

// osciTarget is an oscitest intermediary (with its own fault injection)
// and the connectors/osciclient adapter that stores deliveries there; the
// reader is a second OSCI client that fetches its mailbox.
type osciTarget struct {
	t       *testing.T
	srv     *oscitest.Server
	dead    string // an intermediary URL nothing listens at
	adapter *osciclient.Adapter
	reader  *osci.Client

	mu   sync.Mutex
	down bool
}

func newOSCITarget(t *testing.T, e *env) (faultTarget, routing.Transport) {
	ids := osciMatrixIDs()
	srv, err := oscitest.Start(oscitest.Options{Identity: osciIdent(ids.inter), Clock: e.clock.Now,
		Trust: &xmlsec.TrustStore{Now: e.clock.Now}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	o := &osciTarget{t: t, srv: srv, dead: deadURL(t) + "/osci"}
	// Both intermediaries are configured (pinned certificates); the
	// directory names the one in use.
	o.adapter, err = osciclient.New(e.store, noBlobs{}, osciclient.Options{AuthorKey: matrixHubKey,
		Signer: osciIdent(ids.hubSig), Cipher: osciIdent(ids.hubEnc), Resolver: o,
		Intermediaries: []osciclient.Intermediary{
			{URL: srv.URL, CipherCert: ids.inter.Cert, SignatureCert: ids.inter.Cert},
			{URL: o.dead, CipherCert: ids.inter.Cert, SignatureCert: ids.inter.Cert},
		},
		RetryMax: -1, Timeout: 2 * time.Second, Clock: e.clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	o.reader = &osci.Client{URL: srv.URL, Signer: osciIdent(ids.reader), Cipher: osciIdent(ids.reader),
		IntermediaryCert: ids.inter.Cert, IntermediarySigner: ids.inter.Cert, Trust: &xmlsec.TrustStore{Now: e.clock.Now}, RetryMax: -1}
	return o, o.adapter
}

// Resolve is the adapter's directory (it re-resolves certificates at
// delivery time): the same entry the pipeline routes by.
func (o *osciTarget) Resolve(ctx context.Context, readerKey, serviceURI string) (routing.Route, error) {
	e := o.Entry()
	e.ReaderKey, e.ServiceURI, e.Transport = matrixReaderKey, "urn:svc", string(routing.TransportOSCI)
	dir, err := dvdv.NewFileDirectory("matrix", []dvdv.Entry{e})
	if err != nil {
		return routing.Route{}, err
	}
	return dir.Resolve(ctx, readerKey, serviceURI)
}

func (o *osciTarget) Entry() dvdv.Entry {
	o.mu.Lock()
	defer o.mu.Unlock()
	inter := o.srv.URL
	if o.down {
		inter = o.dead
	}
	reader := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: osciMatrixIDs().reader.Cert.Raw})
	return dvdv.Entry{URL: "https://fv.koeln.example/osci", Intermediary: inter, EncryptionCert: string(reader)}
}

func (o *osciTarget) Success() routing.Status { return routing.StatusFetched }

func (o *osciTarget) Inject(f fault) {
	sd := osci.StoreDelivery
	switch f {
	case faultRefuseOnce:
		o.srv.Inject(oscitest.Fault{Refuse: true}) // the first order is getMessageId
	case faultDown:
		o.mu.Lock()
		o.down = true
		o.mu.Unlock()
	case fault503:
		o.srv.Inject(oscitest.Fault{Kind: sd, HTTPStatus: 503, RetryAfter: 600})
	case faultTimeoutAfterReceipt:
		o.srv.Inject(oscitest.Fault{Kind: sd, TimeoutAfterReceipt: true})
	case faultRetryable:
		o.srv.Inject(oscitest.Fault{Kind: sd, Code: "9809"})
	case faultPermanent:
		o.srv.Inject(oscitest.Fault{Kind: sd, Code: "9300"})
	case faultCorrupt:
		o.srv.Inject(oscitest.Fault{Kind: sd, Corrupt: true})
	case faultSlow:
		o.srv.Inject(oscitest.Fault{Kind: sd, Delay: slowHold})
	case faultSlowBeyondTimeout:
		o.srv.Inject(oscitest.Fault{Kind: sd, Stall: true})
	default:
		o.t.Fatalf("osci target: fault %d not supported", f)
	}
}

// Received counts the deliveries the intermediary stored; every row wants
// at most one, also after a resend (the adapter reads the Laufzettel of its
// MessageId before sending again).
func (o *osciTarget) Received() int { return len(o.srv.Deliveries()) }

func (o *osciTarget) Held() int {
	n := 0
	for _, ex := range o.srv.Exchanges() {
		if ex.Delayed > 0 || ex.Stalled {
			n++
		}
	}
	return n
}

// Finalize: the reader fetches its mailbox (the intermediary writes
// Reception on the Laufzettel), then the adapter's cron polls the cards.
func (o *osciTarget) Finalize(ctx context.Context) (int, error) {
	r, err := o.reader.FetchDelivery(ctx, "")
	if err != nil {
		return 0, fmt.Errorf("reader fetchDelivery: %w", err)
	}
	if r == nil {
		return 0, fmt.Errorf("reader mailbox empty")
	}
	res, err := o.adapter.PollProcessCards(ctx, 10)
	n := 0
	for _, c := range res {
		if c.Err != nil {
			return n, c.Err
		}
		if c.Event == routing.StatusFetched {
			n++
		}
	}
	return n, err
}
