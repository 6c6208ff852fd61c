package oscitest_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
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
	interID  = xmlsectest.New("intermediary")
	hubID    = xmlsectest.New("hub")
	readerID = xmlsectest.New("reader")
	otherID  = xmlsectest.New("other")
)

func ident(i *xmlsectest.Identity) osci.Identity { return osci.Identity{Key: i.Key, Cert: i.Cert} }

type env struct {
	srv     *oscitest.Server
	chk     *oscitest.SchemaChecker
	sent    []sentEnv
	hub     *osci.Client
	reader  *osci.Client
	mediate oscitest.MediateHandler
}

type sentEnv struct {
	kind osci.Kind
	env  []byte
}

func setup(t *testing.T, o oscitest.Options) *env {
	t.Helper()
	e := &env{chk: oscitest.NewSchemaChecker(testenv.MustStandardsDir(t))}
	t.Cleanup(func() { _ = e.chk.Close() })
	o.Identity = ident(interID)
	srv, err := oscitest.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	e.srv = srv
	mk := func(id *xmlsectest.Identity) *osci.Client {
		return &osci.Client{URL: srv.URL, Signer: ident(id), Cipher: ident(id), IntermediaryCert: interID.Cert,
			IntermediarySigner: interID.Cert, HTTP: &http.Client{Timeout: 10 * time.Second},
			OnExchange: func(k osci.Kind, b []byte) {
				if !k.Response() {
					e.sent = append(e.sent, sentEnv{k, b})
				}
			}}
	}
	e.hub, e.reader = mk(hubID), mk(readerID)
	// Every order the clients sent and every response the intermediary
	// returned validates against the OSCI 1.2 schemas.
	t.Cleanup(func() {
		for _, s := range e.sent {
			if err := e.chk.Validate(s.kind.SchemaFile(), s.env); err != nil {
				t.Errorf("sent %s invalid: %v", s.kind, err)
			}
		}
		for _, x := range srv.Exchanges() {
			if x.Response == nil {
				continue
			}
			if err := e.chk.Validate(x.ResponseSchema, x.Response); err != nil {
				t.Errorf("response %s (%s) invalid: %v", x.ResponseKind, x.FeedbackCode, err)
			}
		}
	})
	return e
}

func content(t *testing.T, payload string) *etree.Element {
	t.Helper()
	cp, err := osci.SealContent("cc1", []osci.Content{{Data: []byte(payload)}}, &osci.Identity{Key: hubID.Key, Cert: hubID.Cert}, readerID.Cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func store(t *testing.T, e *env, payload string) (string, *osci.Response) {
	t.Helper()
	ctx := context.Background()
	id, err := e.hub.GetMessageID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.hub.StoreDelivery(ctx, &osci.Message{MessageID: id, Subject: "Bauantrag", CipherCertAddressee: readerID.Cert,
		ContentPackage: content(t, payload)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return id, r
}

// The full passive-recipient flow: getMessageId → storeDelivery → the
// addressee fetches (and decrypts with the reader key) → the process card
// shows Creation, Forwarding and Reception.
func TestStoreFetchProcessCard(t *testing.T) {
	ctx := context.Background()
	e := setup(t, oscitest.Options{})
	id, r := store(t, e, "<antrag>geheim</antrag>")
	if !r.Feedback.OK || len(r.Message.ProcessCards) != 1 || r.Message.ProcessCards[0].Creation == nil || r.Message.ProcessCards[0].Reception != nil {
		t.Fatalf("storeDelivery response: %+v", r.Message)
	}
	cards, err := e.hub.FetchProcessCards(ctx, []string{id})
	if err != nil || len(cards) != 1 || cards[0].Reception != nil {
		t.Fatalf("cards before fetch: %+v %v", cards, err)
	}
	// Another client is not the addressee: nothing for it.
	other := *e.reader
	other.Signer, other.Cipher = ident(otherID), ident(otherID)
	if got, err := other.FetchDelivery(ctx, ""); err != nil || got != nil {
		t.Fatalf("other addressee fetched %+v %v", got, err)
	}
	got, err := e.reader.FetchDelivery(ctx, "")
	if err != nil || got == nil {
		t.Fatalf("fetch: %v", err)
	}
	if got.Message.ProcessCards[0].MessageID != id || got.Message.SignatureCertOriginator == nil {
		t.Fatalf("fetched %+v", got.Message)
	}
	contents, err := osci.OpenContent(got.Message.ContentPackage, &xmlsec.Decrypter{Key: readerID.Key, Cert: readerID.Cert},
		got.Message.SignatureCertOriginator, got.Attachments)
	if err != nil || string(contents[0].Data) != "<antrag>geheim</antrag>" {
		t.Fatalf("open: %q %v", contents, err)
	}
	if again, err := e.reader.FetchDelivery(ctx, ""); err != nil || again != nil {
		t.Fatalf("second fetch: %+v %v", again, err)
	}
	cards, err = e.hub.FetchProcessCards(ctx, []string{id})
	if err != nil || len(cards) != 1 || cards[0].Reception == nil || cards[0].Forwarding == nil {
		t.Fatalf("cards after fetch: %+v %v", cards, err)
	}
}

func TestExplicitDialogControlBlock(t *testing.T) {
	ctx := context.Background()
	e := setup(t, oscitest.Options{})
	d, err := e.hub.InitDialog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := d.Do(ctx, &osci.Message{Kind: osci.GetMessageID}); err != nil {
			t.Fatalf("order %d: %v", i, err)
		}
	}
	if err := d.Exit(ctx); err != nil {
		t.Fatal(err)
	}
	// An order out of sequence within the dialog is refused with 9400.
	d, err = e.hub.InitDialog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Do(ctx, &osci.Message{Kind: osci.FetchProcessCard, Selection: &osci.Selection{MessageIDs: []string{"eA=="}}}); err == nil {
		t.Fatal("unknown message id found")
	}
	if err := d.Exit(ctx); err != nil {
		t.Fatal(err)
	}
}

// A recorded order posted again (same ControlBlock challenge) is rejected
// with 9400; so is one posted into a dialog out of sequence.
func TestReplayedControlBlockRejected(t *testing.T) {
	ctx := context.Background()
	e := setup(t, oscitest.Options{})
	var last []byte
	rec := &recorder{next: http.DefaultTransport, last: &last}
	e.hub.HTTP = &http.Client{Transport: rec}
	if _, err := e.hub.GetMessageID(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(e.srv.URL, "text/xml", bytes.NewReader(last))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	dec, err := osci.Decode(body, osci.DecodeOptions{Decrypter: &xmlsec.Decrypter{Key: hubID.Key}, RequireEncryption: true,
		SignerCert: func(*osci.Message) (*x509.Certificate, error) { return interID.Cert, nil }})
	if err != nil {
		t.Fatal(err)
	}
	res := osci.ClassifyFeedback(dec.Message.Feedback)
	if res.Err == nil || res.Err.Code != "9400" || res.Err.Class != osci.FeedbackRetry {
		t.Fatalf("replay feedback: %+v", res)
	}
	xs := e.srv.Exchanges()
	if !xs[len(xs)-1].ReplayedRejected {
		t.Fatal("replay not flagged")
	}
}

type recorder struct {
	next http.RoundTripper
	last *[]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	*r.last = b
	req.Body = io.NopCloser(bytes.NewReader(b))
	return r.next.RoundTrip(req)
}

func TestTamperedOrderRejected(t *testing.T) {
	e := setup(t, oscitest.Options{})
	m := &osci.Message{Kind: osci.GetMessageID, ControlBlock: osci.ControlBlock{ConversationID: -1, SequenceNumber: 0, Challenge: "abc"},
		CipherCertOriginator: hubID.Cert, SignatureCertOriginator: hubID.Cert}
	// Signed, then one byte of the signed order changed, then encrypted.
	enc, err := osci.Encode(m, osci.EncodeOptions{Signer: &osci.Identity{Key: hubID.Key, Cert: hubID.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	parts, _ := osci.ParseMIME(enc.Body)
	bad := bytes.Replace(parts[0].Data, []byte(">abc<"), []byte(">abd<"), 1)
	body, err := osci.SealTransport(osci.WriteMIME([]osci.Part{{ContentID: osci.ContentIDMessage, ContentType: "text/xml; charset=UTF-8", Data: bad}}), interID.Cert)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(e.srv.URL, "text/xml", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	dec, err := osci.Decode(rb, osci.DecodeOptions{Decrypter: &xmlsec.Decrypter{Key: hubID.Key}, RequireEncryption: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := osci.ClassifyFeedback(dec.Message.Feedback); r.Err == nil || r.Err.Code != "9601" {
		t.Fatalf("tampered order: %+v", r)
	}
	// Encrypted for another key: the intermediary cannot open it → SOAP fault 9200.
	body, _ = osci.SealTransport(enc.Body, otherID.Cert)
	resp, err = http.Post(e.srv.URL, "text/xml", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	rb, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if f, ok := osci.ParseFault(rb); !ok || f.Code != "9200" {
		t.Fatalf("wrong intermediary key: %+v %s", f, rb)
	}
}

func TestFaultInjection(t *testing.T) {
	ctx := context.Background()
	t.Run("9xxx", func(t *testing.T) {
		e := setup(t, oscitest.Options{})
		e.srv.Inject(oscitest.Fault{Kind: osci.StoreDelivery, Code: "9809"})
		id, err := e.hub.GetMessageID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.hub.StoreDelivery(ctx, &osci.Message{MessageID: id, CipherCertAddressee: readerID.Cert, ContentPackage: content(t, "x")}, nil)
		var fe *osci.FeedbackError
		if !errors.As(err, &fe) || fe.Code != "9809" || fe.Class != osci.FeedbackRetry {
			t.Fatalf("err = %v", err)
		}
		if len(e.srv.Deliveries()) != 0 {
			t.Fatal("stored despite 9xxx")
		}
	})
	t.Run("3xxx warning", func(t *testing.T) {
		e := setup(t, oscitest.Options{})
		e.srv.Inject(oscitest.Fault{Kind: osci.StoreDelivery, Code: "3802"})
		_, r := store(t, e, "x")
		if !r.Feedback.OK || len(r.Feedback.Warnings) != 2 || r.Feedback.Warnings[0].Code != "3802" {
			t.Fatalf("feedback %+v", r.Feedback)
		}
	})
	t.Run("broken signature", func(t *testing.T) {
		e := setup(t, oscitest.Options{})
		e.srv.Inject(oscitest.Fault{Kind: osci.GetMessageID, BreakSignature: true})
		_, err := e.hub.GetMessageID(ctx)
		if !errors.Is(err, osci.ErrResponse) || !errors.Is(err, osci.ErrBadSignature) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("timeout after receipt", func(t *testing.T) {
		e := setup(t, oscitest.Options{})
		id, err := e.hub.GetMessageID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e.srv.Inject(oscitest.Fault{Kind: osci.StoreDelivery, TimeoutAfterReceipt: true})
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err = e.hub.StoreDelivery(cctx, &osci.Message{MessageID: id, CipherCertAddressee: readerID.Cert, ContentPackage: content(t, "x")}, nil)
		var xe *osci.ExchangeError
		if !errors.As(err, &xe) || !xe.Sent {
			t.Fatalf("err = %v", err)
		}
		if len(e.srv.Deliveries()) != 1 {
			t.Fatal("the order was not executed before the timeout")
		}
	})
	t.Run("503 with Retry-After", func(t *testing.T) {
		e := setup(t, oscitest.Options{})
		id, err := e.hub.GetMessageID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e.srv.Inject(oscitest.Fault{Kind: osci.StoreDelivery, HTTPStatus: 503, RetryAfter: 600})
		_, err = e.hub.StoreDelivery(ctx, &osci.Message{MessageID: id, CipherCertAddressee: readerID.Cert, ContentPackage: content(t, "x")}, nil)
		var he *osci.HTTPError
		if !errors.As(err, &he) || he.StatusCode != 503 || he.RetryAfter != 10*time.Minute {
			t.Fatalf("err = %#v", err)
		}
		if len(e.srv.Deliveries()) != 0 {
			t.Fatal("stored despite 503")
		}
	})
	t.Run("corrupt response", func(t *testing.T) {
		e := setup(t, oscitest.Options{})
		id, err := e.hub.GetMessageID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e.srv.Inject(oscitest.Fault{Kind: osci.StoreDelivery, Corrupt: true})
		_, err = e.hub.StoreDelivery(ctx, &osci.Message{MessageID: id, CipherCertAddressee: readerID.Cert, ContentPackage: content(t, "x")}, nil)
		if !errors.Is(err, osci.ErrResponse) {
			t.Fatalf("err = %v", err)
		}
		if len(e.srv.Deliveries()) != 1 {
			t.Fatal("a corrupt answer must still execute the order")
		}
	})
	t.Run("slow answer", func(t *testing.T) {
		e := setup(t, oscitest.Options{})
		e.srv.Inject(oscitest.Fault{Kind: osci.GetMessageID, Delay: 20 * time.Millisecond})
		if _, err := e.hub.GetMessageID(ctx); err != nil {
			t.Fatal(err)
		}
		if ex := e.srv.Exchanges(); len(ex) != 1 || ex[0].Delayed != 20*time.Millisecond {
			t.Fatalf("exchanges %+v", ex)
		}
	})
	t.Run("stalled order is not executed", func(t *testing.T) {
		e := setup(t, oscitest.Options{})
		id, err := e.hub.GetMessageID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e.srv.Inject(oscitest.Fault{Kind: osci.StoreDelivery, Stall: true})
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err = e.hub.StoreDelivery(cctx, &osci.Message{MessageID: id, CipherCertAddressee: readerID.Cert, ContentPackage: content(t, "x")}, nil)
		var xe *osci.ExchangeError
		if !errors.As(err, &xe) || !xe.Sent {
			t.Fatalf("err = %v", err)
		}
		if len(e.srv.Deliveries()) != 0 {
			t.Fatal("a stalled order was executed")
		}
		if ex := e.srv.Exchanges(); len(ex) != 2 || !ex[1].Stalled {
			t.Fatalf("exchanges %+v", ex)
		}
	})
	t.Run("refused connection", func(t *testing.T) {
		e := setup(t, oscitest.Options{})
		e.hub.RetryMax = -1
		e.srv.Inject(oscitest.Fault{Refuse: true})
		_, err := e.hub.GetMessageID(ctx)
		var xe *osci.ExchangeError
		if !errors.As(err, &xe) {
			t.Fatalf("err = %v", err)
		}
		if len(e.srv.Exchanges()) != 0 {
			t.Fatal("a refused connection was read")
		}
		if _, err := e.hub.GetMessageID(ctx); err != nil {
			t.Fatalf("after the refusal: %v", err)
		}
	})
	t.Run("HTTP 503 retried for idempotent orders", func(t *testing.T) {
		e := setup(t, oscitest.Options{})
		e.hub.RetryWaitMin, e.hub.RetryWaitMax = time.Millisecond, time.Millisecond
		e.srv.Inject(oscitest.Fault{HTTPStatus: 503})
		if _, err := e.hub.GetMessageID(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMediateDelivery(t *testing.T) {
	ctx := context.Background()
	e := setup(t, oscitest.Options{Mediate: func(_ context.Context, uri string, cp *etree.Element) (*etree.Element, error) {
		if uri != "https://fv.example/osci" || cp == nil {
			return nil, errors.New("unexpected")
		}
		return osci.SealContent("reply", []osci.Content{{Data: []byte("<antwort/>")}}, &osci.Identity{Key: readerID.Key, Cert: readerID.Cert}, hubID.Cert, nil)
	}})
	r, err := e.hub.MediateDelivery(ctx, "https://fv.example/osci", &osci.Message{ContentPackage: content(t, "<frage/>")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := osci.OpenContent(r.Message.ContentPackage, &xmlsec.Decrypter{Key: hubID.Key}, readerID.Cert, nil)
	if err != nil || string(got[0].Data) != "<antwort/>" || !strings.Contains(string(r.Envelope), "ReplyProcessCardBundle") {
		t.Fatalf("%q %v", got, err)
	}
}

// The intermediary's SupplierSignature certificate is accepted when pinned or
// when it chains to the trust store; otherwise the response is refused.
func TestIntermediarySignatureTrust(t *testing.T) {
	ctx := context.Background()
	ca := xmlsectest.MustNew("osci-ca", xmlsectest.Options{IsCA: true})
	otherCA := xmlsectest.MustNew("other-ca", xmlsectest.Options{IsCA: true})
	issued := xmlsectest.MustNew("intermediary-issued", xmlsectest.Options{Issuer: ca})
	srv, err := oscitest.Start(oscitest.Options{Identity: ident(issued)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	pool := func(i *xmlsectest.Identity) *x509.CertPool {
		p := x509.NewCertPool()
		p.AddCert(i.Cert)
		return p
	}
	tests := []struct {
		name    string
		pin     *x509.Certificate
		trust   *xmlsec.TrustStore
		wantErr error
	}{
		{"chains to the trust store", nil, &xmlsec.TrustStore{Roots: pool(ca)}, nil},
		{"pinned", issued.Cert, nil, nil},
		{"another root", nil, &xmlsec.TrustStore{Roots: pool(otherCA)}, xmlsec.ErrCertUntrusted},
		{"neither pinned nor trust store", nil, nil, xmlsec.ErrCertUntrusted},
		{"another pinned certificate", otherID.Cert, nil, xmlsec.ErrCertificateMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &osci.Client{URL: srv.URL, Signer: ident(hubID), Cipher: ident(hubID), IntermediaryCert: issued.Cert,
				IntermediarySigner: tt.pin, Trust: tt.trust, HTTP: &http.Client{Timeout: 10 * time.Second}}
			_, err := c.GetMessageID(ctx)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// A client certificate that is expired is refused with 9700.
func TestExpiredClientCertificate(t *testing.T) {
	e := setup(t, oscitest.Options{})
	old := xmlsectest.MustNew("old", xmlsectest.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	e.hub.Signer = ident(old)
	_, err := e.hub.GetMessageID(context.Background())
	var fe *osci.FeedbackError
	if !errors.As(err, &fe) || fe.Code != "9700" {
		t.Fatalf("err = %v", err)
	}
}

// Every order kind answered with an error Feedback still gets a
// schema-valid, signed and encrypted response of its kind (checked in
// setup's cleanup).
func TestErrorResponsesOfEveryKind(t *testing.T) {
	ctx := context.Background()
	e := setup(t, oscitest.Options{Mediate: func(context.Context, string, *etree.Element) (*etree.Element, error) {
		return nil, errors.New("unreachable")
	}})
	id, r := store(t, e, "x")
	if !r.Feedback.OK {
		t.Fatal(r.Feedback)
	}
	ops := []struct {
		kind osci.Kind
		run  func() error
	}{
		{osci.InitDialog, func() error { _, err := e.hub.InitDialog(ctx); return err }},
		{osci.GetMessageID, func() error { _, err := e.hub.GetMessageID(ctx); return err }},
		{osci.StoreDelivery, func() error {
			_, err := e.hub.StoreDelivery(ctx, &osci.Message{MessageID: id, CipherCertAddressee: readerID.Cert, ContentPackage: content(t, "y")}, nil)
			return err
		}},
		{osci.FetchDelivery, func() error { _, err := e.reader.FetchDelivery(ctx, id); return err }},
		{osci.FetchProcessCard, func() error { _, err := e.hub.FetchProcessCards(ctx, []string{id}); return err }},
		{osci.MediateDelivery, func() error {
			_, err := e.hub.MediateDelivery(ctx, "https://fv.example/osci", &osci.Message{ContentPackage: content(t, "z")})
			return err
		}},
		{osci.ExitDialog, func() error {
			d, err := e.hub.InitDialog(ctx)
			if err != nil {
				return err
			}
			return d.Exit(ctx)
		}},
	}
	for _, op := range ops {
		t.Run(string(op.kind), func(t *testing.T) {
			e.srv.Inject(oscitest.Fault{Kind: op.kind, Code: "9300"})
			err := op.run()
			var fe *osci.FeedbackError
			if !errors.As(err, &fe) || fe.Code != "9300" {
				t.Fatalf("err = %v", err)
			}
		})
	}
	// 9801: a MessageId used twice; 9809: the mediate handler failed.
	_, err := e.hub.StoreDelivery(ctx, &osci.Message{MessageID: id, CipherCertAddressee: readerID.Cert, ContentPackage: content(t, "y")}, nil)
	var fe *osci.FeedbackError
	if !errors.As(err, &fe) || fe.Code != "9801" || fe.Class != osci.FeedbackPermanent {
		t.Fatalf("reused MessageId: %v", err)
	}
	_, err = e.hub.MediateDelivery(ctx, "https://fv.example/osci", &osci.Message{ContentPackage: content(t, "z")})
	if !errors.As(err, &fe) || fe.Code != "9809" {
		t.Fatalf("mediate: %v", err)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// An explicit dialog idle for longer than DialogTimeout is gone: the next
// order in it is refused with 9400.
func TestDialogTimeout(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	e := setup(t, oscitest.Options{Clock: clk.now, DialogTimeout: time.Minute})
	d, err := e.hub.InitDialog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Do(ctx, &osci.Message{Kind: osci.GetMessageID}); err != nil {
		t.Fatal(err)
	}
	clk.advance(2 * time.Minute)
	_, err = d.Do(ctx, &osci.Message{Kind: osci.GetMessageID})
	var fe *osci.FeedbackError
	if !errors.As(err, &fe) || fe.Code != "9400" {
		t.Fatalf("order in an expired dialog: %v", err)
	}
}

// replayer returns the first response it saw for every later request: an
// attacker replaying a recorded (validly signed and encrypted) answer.
type replayer struct {
	next  http.RoundTripper
	first []byte
}

func (r *replayer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if r.first == nil {
		r.first = b
	}
	resp.Body = io.NopCloser(bytes.NewReader(r.first))
	resp.ContentLength = int64(len(r.first))
	return resp, nil
}

// The client rejects a replayed response: it does not answer the fresh
// challenge of the new order.
func TestReplayedResponseRejected(t *testing.T) {
	ctx := context.Background()
	e := setup(t, oscitest.Options{})
	e.hub.HTTP = &http.Client{Transport: &replayer{next: http.DefaultTransport}}
	if _, err := e.hub.GetMessageID(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := e.hub.GetMessageID(ctx)
	if !errors.Is(err, osci.ErrControlBlock) || !strings.Contains(err.Error(), "challenge") {
		t.Fatalf("replayed response: %v", err)
	}
}

// Encrypted attachment parts pass through the intermediary unchanged: stored
// with the delivery, served with fetchDelivery (responses schema-checked in
// setup), and opened by the addressee with the reader key.
func TestStoreFetchEncryptedAttachments(t *testing.T) {
	ctx := context.Background()
	e := setup(t, oscitest.Options{})
	plan := []byte("%PDF-1.4 Lageplan")
	cp, parts, err := osci.SealContentAttachments("cc1", []osci.Content{{Data: []byte("<antrag/>")}, {Href: "cid:plan@hub"}},
		&osci.Identity{Key: hubID.Key, Cert: hubID.Cert}, readerID.Cert, []osci.Part{{ContentID: "plan@hub", ContentType: "application/pdf", Data: plan}},
		xmlsec.OAEP11SHA256)
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.hub.GetMessageID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.hub.StoreDelivery(ctx, &osci.Message{MessageID: id, CipherCertAddressee: readerID.Cert, ContentPackage: cp}, parts); err != nil {
		t.Fatal(err)
	}
	ds := e.srv.Deliveries()
	if len(ds) != 1 || len(ds[0].Attachments) != 1 || !bytes.Equal(ds[0].Attachments[0].Data, parts[0].Data) {
		t.Fatalf("stored %+v", ds)
	}
	got, err := e.reader.FetchDelivery(ctx, id)
	if err != nil || got == nil || len(got.Attachments) != 1 {
		t.Fatalf("fetch: %+v %v", got, err)
	}
	contents, err := osci.OpenContent(got.Message.ContentPackage, &xmlsec.Decrypter{Key: readerID.Key, Cert: readerID.Cert}, hubID.Cert, got.Attachments)
	if err != nil || len(contents) != 2 || !bytes.Equal(contents[1].Data, plan) {
		t.Fatalf("open: %q %v", contents, err)
	}
}

// Several deliveries are fetched in one explicit dialog: one initDialog, a
// fetchDelivery per delivery plus the empty answer (9803, after which the
// dialog stays usable), one exitDialog. Dialog.FetchDelivery refuses an
// implicit dialog. DiscardExchanges keeps no exchange log.
func TestFetchSeveralInOneDialog(t *testing.T) {
	ctx := context.Background()
	e := setup(t, oscitest.Options{})
	want := map[string]bool{}
	for _, p := range []string{"<a>1</a>", "<a>2</a>", "<a>3</a>"} {
		id, _ := store(t, e, p)
		want[id] = true
	}
	mark := len(e.sent)
	d, err := e.reader.InitDialog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r, err := d.FetchDelivery(ctx, "")
		if err != nil || r == nil || !want[r.Message.ProcessCards[0].MessageID] {
			t.Fatalf("fetch in dialog: %+v %v", r, err)
		}
		delete(want, r.Message.ProcessCards[0].MessageID)
	}
	if r, err := d.FetchDelivery(ctx, ""); err != nil || r != nil {
		t.Fatalf("empty mailbox: %+v %v", r, err)
	}
	if err := d.Exit(ctx); err != nil {
		t.Fatalf("exit after the empty answer: %v", err)
	}
	var kinds []osci.Kind
	for _, s := range e.sent[mark:] {
		kinds = append(kinds, s.kind)
	}
	if fmt.Sprint(kinds) != fmt.Sprint([]osci.Kind{osci.InitDialog, osci.FetchDelivery, osci.FetchDelivery, osci.FetchDelivery, osci.FetchDelivery, osci.ExitDialog}) {
		t.Fatalf("orders sent: %v", kinds)
	}
	if _, err := e.reader.Implicit().FetchDelivery(ctx, ""); err == nil {
		t.Fatal("fetchDelivery in an implicit dialog was not refused")
	}

	quiet, err := oscitest.Start(oscitest.Options{Identity: ident(interID), DiscardExchanges: true})
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	c := *e.hub
	c.URL, c.OnExchange = quiet.URL, nil
	if _, err := c.GetMessageID(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(quiet.Exchanges()); n != 0 {
		t.Fatalf("DiscardExchanges kept %d exchanges", n)
	}
}
