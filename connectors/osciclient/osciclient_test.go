package osciclient_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/dxhub/dxhub/connectors/osciclient"
	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/internal/xmlsec/xmlsectest"
	"github.com/dxhub/dxhub/osci"
	"github.com/dxhub/dxhub/osci/oscitest"
	"github.com/dxhub/dxhub/routing"
)

const (
	hubKey    = "kop:0500000001"
	readerKey = "ags:05315000"
	service   = "urn:xoev-de:xbau:standard:xbau_2.6/xbau.wsdl"
)

var (
	interID  = xmlsectest.New("intermediary")
	hubSig   = xmlsectest.New("hub-signature")
	hubEnc   = xmlsectest.New("hub-cipher")
	readerID = xmlsectest.New("reader")
	expired  = xmlsectest.MustNew("reader-expired", xmlsectest.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
)

func ident(i *xmlsectest.Identity) osci.Identity { return osci.Identity{Key: i.Key, Cert: i.Cert} }

type fixture struct {
	t       testing.TB
	srv     *oscitest.Server
	store   *store.Store
	blobs   *blob.Store
	adapter *osciclient.Adapter
	mu      sync.Mutex
	sent    []sent
	sub     routing.Submission
	msg     routing.Message
	del     routing.Delivery
}

type sent struct {
	kind osci.Kind
	env  []byte
}

func newFixture(t testing.TB, readerCert *x509.Certificate) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t}
	var err error
	if f.srv, err = oscitest.Start(oscitest.Options{Identity: ident(interID)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.srv.Close)
	if f.store, err = store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"), store.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	if f.blobs, err = blob.Open(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	// The directory names intermediary and reader certificate; the
	// intermediary's certificates are configured (pinned).
	dir, err := dvdv.NewFileDirectory("test", []dvdv.Entry{{ReaderKey: readerKey, ServiceURI: service, Transport: "osci",
		URL: "https://fv.koeln.example/osci", Intermediary: f.srv.URL, EncryptionCert: string(pemOf(readerCert))}})
	if err != nil {
		t.Fatal(err)
	}
	if f.adapter, err = osciclient.New(f.store, blobOpener{f.blobs}, osciclient.Options{
		AuthorKey: hubKey, Signer: ident(hubSig), Cipher: ident(hubEnc), Resolver: dir,
		Intermediaries: []osciclient.Intermediary{{URL: f.srv.URL, CipherCert: interID.Cert, SignatureCert: interID.Cert}},
		Timeout:        5 * time.Second,
		OnExchange: func(k osci.Kind, env []byte) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.sent = append(f.sent, sent{k, env})
		},
	}); err != nil {
		t.Fatal(err)
	}
	ref, err := f.blobs.Put(ctx, strings.NewReader("%PDF-1.4 plan"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	ns := routing.NewSubmission{Submission: routing.Submission{ID: "sub-1", PortalID: "p1", Tenant: "05315000", Service: "bauantrag",
		Reference: "AZ-1", Applicant: routing.Applicant{Name: "Erika Mustermann"}, Form: []byte(`{}`), ReceivedAt: time.Now(),
		Attachments: []routing.Attachment{{ID: "a1", Filename: "plan.pdf", ContentType: "application/pdf", Size: ref.Size, SHA256: ref.SHA256, BlobKey: ref.Key}}}}
	if f.sub, _, err = f.store.CreateSubmission(ctx, ns); err != nil {
		t.Fatal(err)
	}
	f.sub.Attachments = ns.Attachments
	f.msg = routing.Message{SubmissionID: "sub-1", UUID: "5c0e6a2e-0000-4000-8000-000000000001", Standard: "XBau", Version: "2.6",
		RootElement: "baugenehmigung.antrag.0200", Namespace: "http://www.xleitstelle.de/xbau/2/6", Service: service,
		XML: []byte("<antrag>geheim</antrag>"), Attachments: []routing.MessageAttachment{{AttachmentID: "a1", DocumentID: "d1", Filename: "plan.pdf"}}}
	f.del = routing.Delivery{SubmissionID: "sub-1", MessageUUID: f.msg.UUID, TransportID: "dxhub-sub-1-0200",
		Route: routing.Route{ReaderKey: readerKey, ServiceURI: service, Transport: routing.TransportOSCI, Endpoint: "https://fv.koeln.example/osci"}}
	chk := oscitest.NewSchemaChecker(testenv.MustStandardsDir(t))
	t.Cleanup(func() {
		defer chk.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, s := range f.sent {
			if err := chk.Validate(s.kind.SchemaFile(), s.env); err != nil {
				t.Errorf("%s invalid: %v", s.kind, err)
			}
		}
		for _, x := range f.srv.Exchanges() {
			if x.Response != nil {
				if err := chk.Validate(x.ResponseSchema, x.Response); err != nil {
					t.Errorf("intermediary response %s invalid: %v", x.ResponseKind, err)
				}
			}
		}
	})
	return f
}

type blobOpener struct{ *blob.Store }

func (b blobOpener) Open(key string) (ioReadCloser, error) { return b.Store.Open(key) }

func (f *fixture) deliver() routing.Outcome {
	return f.adapter.Deliver(context.Background(), f.del, f.msg, f.sub)
}

// readerFetch fetches the reader's mailbox like the addressee's OSCI client
// and decrypts the content with the reader key.
func (f *fixture) readerFetch() []osci.Content {
	f.t.Helper()
	c := &osci.Client{URL: f.srv.URL, Signer: ident(readerID), Cipher: ident(readerID), IntermediaryCert: interID.Cert,
		IntermediarySigner: interID.Cert, HTTP: &http.Client{Timeout: 5 * time.Second}}
	r, err := c.FetchDelivery(context.Background(), "")
	if err != nil || r == nil {
		f.t.Fatalf("reader fetch: %v", err)
	}
	got, err := osci.OpenContent(r.Message.ContentPackage, &xmlsec.Decrypter{Key: readerID.Key, Cert: readerID.Cert}, hubSig.Cert, r.Attachments)
	if err != nil {
		f.t.Fatalf("reader open: %v", err)
	}
	return got
}

func TestDeliverStoreAndLaufzettel(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, readerID.Cert)
	out := f.deliver()
	if out.Kind != routing.Delivered || out.Status != routing.StatusSent || !strings.Contains(out.Evidence, "MessageId") {
		t.Fatalf("outcome %+v", out)
	}
	rec, err := f.store.OSCIOutGet(ctx, f.del.TransportID)
	if err != nil || rec.State != store.OSCISent || !strings.Contains(rec.ProcessCard, "creation") {
		t.Fatalf("state %+v %v", rec, err)
	}
	ds := f.srv.Deliveries()
	if len(ds) != 1 || ds[0].MessageID != rec.MessageID || len(ds[0].CustomHeaders) != 1 {
		t.Fatalf("intermediary holds %+v", ds)
	}
	// The intermediary cannot read the content.
	var b bytes.Buffer
	doc := etree.NewDocument()
	doc.SetRoot(ds[0].Content.Copy())
	_, _ = doc.WriteTo(&b)
	if strings.Contains(b.String(), "geheim") || strings.Contains(b.String(), base64Of("<antrag>geheim</antrag>")) {
		t.Fatal("content readable at the intermediary")
	}
	// The attachment travels as its own MIME part, encrypted for the reader
	// and referenced from the ContentPackage.
	if len(ds[0].Attachments) != 1 || bytes.Contains(ds[0].Attachments[0].Data, []byte("%PDF-1.4 plan")) {
		t.Fatalf("attachment parts at the intermediary: %+v", ds[0].Attachments)
	}
	if cr := ds[0].Content.FindElement("./EncryptedData/CipherData/CipherReference"); cr == nil ||
		cr.SelectAttrValue("URI", "") != "cid:"+ds[0].Attachments[0].ContentID {
		t.Fatalf("no CipherReference to the attachment part: %s", b.String())
	}
	// Redelivery after success does not store twice.
	if out := f.deliver(); out.Kind != routing.Delivered || len(f.srv.Deliveries()) != 1 {
		t.Fatalf("redeliver: %+v", out)
	}
	// Not yet fetched: the poll records nothing.
	res, err := f.adapter.PollProcessCards(ctx, 10)
	if err != nil || len(res) != 1 || res[0].Event != "" {
		t.Fatalf("poll before fetch: %+v %v", res, err)
	}
	got := f.readerFetch()
	if len(got) != 2 || string(got[0].Data) != "<antrag>geheim</antrag>" || string(got[1].Data) != "%PDF-1.4 plan" || got[1].Href == "" {
		t.Fatalf("reader got %q", got)
	}
	res, err = f.adapter.PollProcessCards(ctx, 10)
	if err != nil || len(res) != 1 || res[0].Event != routing.StatusFetched || res[0].Reception.IsZero() {
		t.Fatalf("poll after fetch: %+v %v", res, err)
	}
	evs, _ := f.store.Events(ctx, "sub-1")
	last := evs[len(evs)-1]
	if last.Status != routing.StatusFetched || last.Source != routing.SourceOSCI || !strings.Contains(last.Evidence, rec.MessageID) {
		t.Fatalf("event %+v", last)
	}
	if res, _ := f.adapter.PollProcessCards(ctx, 10); len(res) != 0 {
		t.Fatalf("polled again after fetched: %+v", res)
	}
}

func TestDeliverOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		fault     oscitest.Fault
		want      routing.OutcomeKind
		stale     bool
		reasonHas string
	}{
		{"9809 not delivered retries", oscitest.Fault{Kind: osci.StoreDelivery, Code: "9809"}, routing.Retry, false, "9809"},
		{"9700 certificate is permanent and stale", oscitest.Fault{Kind: osci.StoreDelivery, Code: "9700"}, routing.Permanent, true, "9700"},
		{"9200 decryption is permanent and stale", oscitest.Fault{Kind: osci.StoreDelivery, Code: "9200"}, routing.Permanent, true, "9200"},
		{"3802 warning succeeds", oscitest.Fault{Kind: osci.StoreDelivery, Code: "3802"}, routing.Delivered, false, "3802"},
		{"broken supplier signature is ambiguous", oscitest.Fault{Kind: osci.StoreDelivery, BreakSignature: true}, routing.Ambiguous, false, "signature"},
		{"getMessageId 503 retries", oscitest.Fault{Kind: osci.GetMessageID, HTTPStatus: 503, Times: 5}, routing.Retry, false, "503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, readerID.Cert)
			f.srv.Inject(tt.fault)
			out := f.deliver()
			if out.Kind != tt.want || out.RouteStale != tt.stale || !strings.Contains(out.Reason, tt.reasonHas) {
				t.Fatalf("outcome %+v", out)
			}
		})
	}
}

// A storeDelivery whose answer never came (timeout after receipt) is
// ambiguous; the retry finds the Laufzettel of the persisted MessageId and
// does not store the message twice.
func TestAmbiguousStoreIsNotRepeated(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, readerID.Cert)
	f.srv.Inject(oscitest.Fault{Kind: osci.StoreDelivery, TimeoutAfterReceipt: true})
	// The hub gives up once the intermediary has executed the order (and
	// holds its answer back): not after a fixed time, which a loaded machine
	// may need for the steps before.
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for len(f.srv.Deliveries()) == 0 {
			select {
			case <-tick.C:
			case <-cctx.Done():
				return
			}
		}
		cancel()
	}()
	out := f.adapter.Deliver(cctx, f.del, f.msg, f.sub)
	cancel()
	if out.Kind != routing.Ambiguous {
		t.Fatalf("outcome %+v", out)
	}
	out = f.deliver()
	if out.Kind != routing.Delivered || !strings.Contains(out.Reason, "earlier attempt") || len(f.srv.Deliveries()) != 1 {
		t.Fatalf("retry %+v, %d deliveries", out, len(f.srv.Deliveries()))
	}
}

func TestReaderCertificateChecked(t *testing.T) {
	f := newFixture(t, expired.Cert)
	out := f.deliver()
	if out.Kind != routing.Permanent || !out.RouteStale || !errorsContain(out.Reason, "expired") {
		t.Fatalf("outcome %+v", out)
	}
	if len(f.srv.Exchanges()) != 0 {
		t.Fatal("sent despite an expired reader certificate")
	}
}

func errorsContain(s, sub string) bool { return strings.Contains(s, sub) }

type recvFunc func(ctx context.Context, in routing.Inbound) (routing.InboundRecord, error)

func (r recvFunc) Receive(ctx context.Context, in routing.Inbound) (routing.InboundRecord, error) {
	return r(ctx, in)
}

// The hub's own mailbox: a reply stored by the Fachverfahren is fetched,
// persisted, decrypted and handed to the back-channel exactly once.
func TestFetchMailbox(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, readerID.Cert)
	cp, err := osci.SealContent("reply", []osci.Content{{Data: []byte("<quittung/>")}}, &osci.Identity{Key: readerID.Key, Cert: readerID.Cert}, hubEnc.Cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := etree.NewDocument()
	_ = md.ReadFromString(`<oscimeta:MessageMetaData xmlns:oscimeta="http://www.osci.eu/ws/2014/10/transport" Id="MetaData"><oscimeta:Originators><oscimeta:Author><oscimeta:Identifier type="xoev">ags:05315000</oscimeta:Identifier></oscimeta:Author></oscimeta:Originators></oscimeta:MessageMetaData>`)
	id := f.srv.Put(oscitest.Delivery{Addressee: hubEnc.Cert, Originator: readerID.Cert, OriginatorEnc: readerID.Cert, Content: cp,
		CustomHeaders: []*etree.Element{md.Root()}})
	var got []routing.Inbound
	recv := recvFunc(func(_ context.Context, in routing.Inbound) (routing.InboundRecord, error) {
		for _, g := range got {
			if g.TransportID == in.TransportID {
				return routing.InboundRecord{}, routing.ErrDuplicate
			}
		}
		got = append(got, in)
		return routing.InboundRecord{}, nil
	})
	n, err := f.adapter.FetchMailbox(ctx, osciclient.MailboxOptions{Intermediary: f.srv.URL}, recv)
	if err != nil || n != 1 {
		t.Fatalf("fetch: %d %v", n, err)
	}
	if len(got) != 1 || got[0].TransportID != id || string(got[0].Payload) != "<quittung/>" || got[0].AuthorKey != readerKey || got[0].Transport != routing.TransportOSCI {
		t.Fatalf("received %+v", got)
	}
	if card, _ := f.srv.Card(id); card.Reception == nil {
		t.Fatal("the fetch did not set Reception")
	}
	// Nothing new on the next run.
	if n, err := f.adapter.FetchMailbox(ctx, osciclient.MailboxOptions{Intermediary: f.srv.URL}, recv); err != nil || n != 0 || len(got) != 1 {
		t.Fatalf("second run: %d %v %d", n, err, len(got))
	}
	// A receiver failure leaves the stored delivery pending; the next run
	// hands it over without fetching again.
	id2 := f.srv.Put(oscitest.Delivery{Addressee: hubEnc.Cert, Originator: readerID.Cert, OriginatorEnc: readerID.Cert, Content: cp})
	failing := recvFunc(func(context.Context, routing.Inbound) (routing.InboundRecord, error) {
		return routing.InboundRecord{}, errors.New("database is locked")
	})
	if _, err := f.adapter.FetchMailbox(ctx, osciclient.MailboxOptions{Intermediary: f.srv.URL}, failing); err == nil {
		t.Fatal("receiver failure not reported")
	}
	if n, err := f.adapter.ProcessInbox(ctx, recv); err != nil || n != 1 || got[len(got)-1].TransportID != id2 {
		t.Fatalf("process inbox: %d %v", n, err)
	}
}

// A reply whose attachment (a Bescheid PDF) travels as a separate MIME part
// encrypted for the hub is opened in full: the part is decrypted with the
// hub's key and covered by the Author signature before the message is handed
// over; a tampered part leaves the delivery stored with a note, not handed over.
func TestFetchMailboxEncryptedAttachment(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, readerID.Cert)
	seal := func() (*etree.Element, []osci.Part) {
		cp, parts, err := osci.SealContentAttachments("reply", []osci.Content{{Data: []byte("<bescheid/>")}, {Href: "cid:bescheid@fv"}},
			&osci.Identity{Key: readerID.Key, Cert: readerID.Cert}, hubEnc.Cert,
			[]osci.Part{{ContentID: "bescheid@fv", ContentType: "application/pdf", Data: []byte("%PDF-1.7 Bescheid")}}, xmlsec.OAEP11SHA256)
		if err != nil {
			t.Fatal(err)
		}
		return cp, parts
	}
	var got []routing.Inbound
	recv := recvFunc(func(_ context.Context, in routing.Inbound) (routing.InboundRecord, error) {
		got = append(got, in)
		return routing.InboundRecord{}, nil
	})
	cp, parts := seal()
	id := f.srv.Put(oscitest.Delivery{Addressee: hubEnc.Cert, Originator: readerID.Cert, OriginatorEnc: readerID.Cert, Content: cp, Attachments: parts})
	if n, err := f.adapter.FetchMailbox(ctx, osciclient.MailboxOptions{Intermediary: f.srv.URL}, recv); err != nil || n != 1 {
		t.Fatalf("fetch: %d %v", n, err)
	}
	if len(got) != 1 || got[0].TransportID != id || string(got[0].Payload) != "<bescheid/>" {
		t.Fatalf("received %+v", got)
	}
	// The decrypted Bescheid is kept in the blob store and handed over with
	// the message, for the citizen's Postfach.
	if atts := got[0].Attachments; len(atts) != 1 || atts[0].Filename != "bescheid@fv" || atts[0].ContentType != "application/pdf" {
		t.Fatalf("attachments = %+v", got[0].Attachments)
	}
	rc, err := f.blobs.Open(got[0].Attachments[0].BlobKey)
	if err != nil {
		t.Fatal(err)
	}
	kept, _ := io.ReadAll(rc)
	rc.Close()
	if string(kept) != "%PDF-1.7 Bescheid" {
		t.Fatalf("kept attachment %q", kept)
	}
	cp, parts = seal()
	parts[0].Data[len(parts[0].Data)-1] ^= 1
	f.srv.Put(oscitest.Delivery{Addressee: hubEnc.Cert, Originator: readerID.Cert, OriginatorEnc: readerID.Cert, Content: cp, Attachments: parts})
	if _, err := f.adapter.FetchMailbox(ctx, osciclient.MailboxOptions{Intermediary: f.srv.URL}, recv); err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("a tampered attachment was handed over: %+v", got[1:])
	}
}

// The MessageMetaData custom header is valid against the OSCI
// MessageMetaData 2.02 schema (xmllint) — apart from its Id attribute, which
// the OSCI library adds (Id="MetaData") so that the ClientSignature can
// reference the header, and which the 2.02 schema does not declare.
func TestMessageMetaDataValid(t *testing.T) {
	f := newFixture(t, readerID.Cert)
	if out := f.deliver(); out.Kind != routing.Delivered {
		t.Fatalf("outcome %+v", out)
	}
	md := f.srv.Deliveries()[0].CustomHeaders[0].Copy()
	if md.SelectAttrValue("Id", "") != "MetaData" {
		t.Fatal("MessageMetaData without Id: the ClientSignature cannot cover it")
	}
	md.RemoveAttr("Id")
	doc := etree.NewDocument()
	doc.SetRoot(md)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("xmllint", "--nonet", "--noout", "--schema",
		filepath.Join(testenv.MustStandardsDir(t), "xta2-v3", "OSCI_MessageMetaData_V2.02.xsd"), "-")
	cmd.Stdin = bytes.NewReader(b)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, b)
	}
}

// A crash between the fetch (the acknowledgement) and the commit loses
// nothing: the next run finds the Laufzettel with Reception for a MessageId
// the hub never stored and fetches that delivery again by MessageId.
func TestFetchMailboxRecoversAfterCrash(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, readerID.Cert)
	cp, err := osci.SealContent("reply", []osci.Content{{Data: []byte("<quittung/>")}}, &osci.Identity{Key: readerID.Key, Cert: readerID.Cert}, hubEnc.Cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := f.srv.Put(oscitest.Delivery{Addressee: hubEnc.Cert, Originator: readerID.Cert, OriginatorEnc: readerID.Cert, Content: cp})
	// The fetch that "crashed": done with the hub's identities, never stored.
	hub := &osci.Client{URL: f.srv.URL, Signer: ident(hubSig), Cipher: ident(hubEnc), IntermediaryCert: interID.Cert,
		IntermediarySigner: interID.Cert, HTTP: &http.Client{Timeout: 5 * time.Second}}
	if r, err := hub.FetchDelivery(ctx, ""); err != nil || r == nil {
		t.Fatalf("lost fetch: %v", err)
	}
	var got []routing.Inbound
	recv := recvFunc(func(_ context.Context, in routing.Inbound) (routing.InboundRecord, error) {
		got = append(got, in)
		return routing.InboundRecord{}, nil
	})
	n, err := f.adapter.FetchMailbox(ctx, osciclient.MailboxOptions{Intermediary: f.srv.URL}, recv)
	if err != nil || n != 1 || len(got) != 1 || got[0].TransportID != id || string(got[0].Payload) != "<quittung/>" {
		t.Fatalf("recovery: %d %v %+v", n, err, got)
	}
	if n, err := f.adapter.FetchMailbox(ctx, osciclient.MailboxOptions{Intermediary: f.srv.URL}, recv); err != nil || n != 0 || len(got) != 1 {
		t.Fatalf("second run: %d %v %d", n, err, len(got))
	}
}

// kinds returns the kinds of the orders sent since mark.
func (f *fixture) kinds(mark int) []osci.Kind {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []osci.Kind
	for _, s := range f.sent[mark:] {
		if !s.kind.Response() {
			out = append(out, s.kind)
		}
	}
	return out
}

func (f *fixture) mark() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

// One mailbox run fetches all deliveries in one explicit dialog; the
// recovery check (a fetchProcessCard of the whole window) runs on the first
// run, after a failed run and after RecoverEvery, not on every run.
func TestFetchMailboxOneDialogAndRecoveryCadence(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, readerID.Cert)
	put := func() string {
		cp, err := osci.SealContent("reply", []osci.Content{{Data: []byte("<quittung/>")}}, &osci.Identity{Key: readerID.Key, Cert: readerID.Cert}, hubEnc.Cert, nil)
		if err != nil {
			t.Fatal(err)
		}
		return f.srv.Put(oscitest.Delivery{Addressee: hubEnc.Cert, Originator: readerID.Cert, OriginatorEnc: readerID.Cert, Content: cp})
	}
	var got []string
	recv := recvFunc(func(_ context.Context, in routing.Inbound) (routing.InboundRecord, error) {
		got = append(got, in.TransportID)
		return routing.InboundRecord{}, nil
	})
	opts := osciclient.MailboxOptions{Intermediary: f.srv.URL}
	count := func(ks []osci.Kind, k osci.Kind) int {
		n := 0
		for _, x := range ks {
			if x == k {
				n++
			}
		}
		return n
	}
	for range 3 {
		put()
	}
	m := f.mark()
	if n, err := f.adapter.FetchMailbox(ctx, opts, recv); err != nil || n != 3 || len(got) != 3 {
		t.Fatalf("first run: %d %v %v", n, err, got)
	}
	ks := f.kinds(m)
	// Recovery dialog (init, fetchProcessCard, exit) and the fetch dialog
	// (init, 3 deliveries + the empty answer, exit).
	if count(ks, osci.InitDialog) != 2 || count(ks, osci.ExitDialog) != 2 || count(ks, osci.FetchProcessCard) != 1 || count(ks, osci.FetchDelivery) != 4 {
		t.Fatalf("first run sent %v", ks)
	}

	// A fetch that "crashed" (acknowledged, never stored) between two
	// successful runs is not looked for on the next run…
	lost := put()
	hub := &osci.Client{URL: f.srv.URL, Signer: ident(hubSig), Cipher: ident(hubEnc), IntermediaryCert: interID.Cert,
		IntermediarySigner: interID.Cert, HTTP: &http.Client{Timeout: 5 * time.Second}}
	if r, err := hub.FetchDelivery(ctx, ""); err != nil || r == nil {
		t.Fatalf("lost fetch: %v", err)
	}
	m = f.mark()
	if n, err := f.adapter.FetchMailbox(ctx, opts, recv); err != nil || n != 0 {
		t.Fatalf("second run: %d %v", n, err)
	}
	if ks := f.kinds(m); count(ks, osci.FetchProcessCard) != 0 || count(ks, osci.InitDialog) != 1 {
		t.Fatalf("second run sent %v", ks)
	}
	// …but once RecoverEvery has passed.
	every := opts
	every.RecoverEvery = time.Nanosecond
	if n, err := f.adapter.FetchMailbox(ctx, every, recv); err != nil || n != 1 || got[len(got)-1] != lost {
		t.Fatalf("recovery run: %d %v %v", n, err, got)
	}

	// A failed run makes the next run check again.
	put()
	f.srv.Inject(oscitest.Fault{Kind: osci.FetchDelivery, HTTPStatus: http.StatusServiceUnavailable})
	if _, err := f.adapter.FetchMailbox(ctx, opts, recv); err == nil {
		t.Fatal("the failed fetch was not reported")
	}
	m = f.mark()
	if n, err := f.adapter.FetchMailbox(ctx, opts, recv); err != nil || n != 1 {
		t.Fatalf("run after the failure: %d %v", n, err)
	}
	if ks := f.kinds(m); count(ks, osci.FetchProcessCard) != 1 {
		t.Fatalf("run after the failure sent %v", ks)
	}
}
