// Package oscitest provides an OSCI 1.2 test intermediary (Intermediär) that
// speaks the real protocol over HTTP on 127.0.0.1, and an xmllint-based schema
// checker for OSCI envelopes.
package oscitest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"time"

	"github.com/beevik/etree"

	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/osci"
)

// Feedback texts of the codes the intermediary uses (German and English rows,
// as real intermediaries answer in every desired language).
var texts = map[string][2]string{
	"0800": {"Auftrag ausgeführt, Dialog beendet.", "Order executed, dialog finished."},
	"0801": {"Auftrag ausgeführt, Dialog weiterhin geöffnet.", "Order executed, dialog still open."},
	"9100": {"Nachricht ist keine OSCI-Nachricht.", "Message is not an OSCI message."},
	"9200": {"Fehler beim Entschlüsseln.", "Decryption failed."},
	"9300": {"Auftrag ungültig.", "Invalid order."},
	"9400": {"Ungültiger Nachrichtenkontext (ControlBlock).", "Invalid message context (ControlBlock)."},
	"9601": {"Signaturprüfung des Clients fehlgeschlagen.", "Client signature check failed."},
	"9700": {"Zertifikatsprüfung fehlgeschlagen.", "Certificate check failed."},
	"9800": {"MessageId fehlt.", "MessageId missing."},
	"9801": {"MessageId unzulässig oder bereits verwendet.", "MessageId illegal or already used."},
	"9802": {"Auftrag erfordert einen expliziten Dialog.", "Order requires an explicit dialog."},
	"9803": {"Keine Nachricht gefunden.", "No message found."},
	"9804": {"Kein Laufzettel gefunden.", "No process card found."},
	"9809": {"Nachricht konnte nicht zugestellt werden.", "Message could not be delivered."},
}

func feedback(code string) []osci.FeedbackEntry {
	t, ok := texts[code]
	if !ok {
		t = [2]string{"Testfehler " + code, "Test error " + code}
	}
	return []osci.FeedbackEntry{{Lang: "de", Code: code, Text: t[0]}, {Lang: "en", Code: code, Text: t[1]}}
}

// Fault is an injected fault. It applies to the next Times orders of Kind
// ("" = any kind; Times 0 = once).
type Fault struct {
	Kind osci.Kind
	// Code answers with this Feedback code: 9xxx fails the order (not
	// executed); 3xxx executes it and adds the warning.
	Code string
	// BreakSignature corrupts the SupplierSignature of the response (the
	// order is executed).
	BreakSignature bool
	// TimeoutAfterReceipt executes the order and then answers nothing until
	// the client gives up (its request context ends) or Release is called.
	TimeoutAfterReceipt bool
	// HTTPStatus answers with this status and no OSCI body (order not executed).
	HTTPStatus int
	// RetryAfter (seconds) is sent as the Retry-After header of an HTTPStatus
	// answer (0: no header).
	RetryAfter int
	// Corrupt executes the order and answers with the first half of the
	// response body only (a broken MIME/encryption structure).
	Corrupt bool
	// Delay executes the order and holds its answer back for Delay (a slow
	// intermediary); a client that gives up earlier gets nothing.
	Delay time.Duration
	// Stall holds the order unprocessed until the client gives up (or
	// Release is called); it is never executed.
	Stall bool
	// Refuse closes the next connection without reading it or answering.
	// Its order is unknown then, so Kind is ignored.
	Refuse bool
	Times  int
}

// MediateHandler answers a mediateDelivery for the addressee at
// contentReceiver: it gets the order's ContentPackage and returns the reply's.
type MediateHandler func(ctx context.Context, contentReceiver string, cp *etree.Element) (*etree.Element, error)

// Options configure an Intermediary.
type Options struct {
	// Identity is the intermediary's key and certificate (cipher and signature).
	Identity osci.Identity
	// Trust checks client certificates (validity, key usage, chain when Roots
	// are set). Nil checks validity and key usage only.
	Trust *xmlsec.TrustStore
	// Mediate forwards mediateDelivery; nil answers 9809.
	Mediate MediateHandler
	// Clock defaults to time.Now.
	Clock func() time.Time
	// DialogTimeout ends explicit dialogs idle for longer (default 10 min);
	// a later order in such a dialog is refused with 9400.
	DialogTimeout time.Duration
	// DiscardExchanges keeps no log of the exchanges (Exchanges returns
	// none), for long runs such as `dxhub bench`.
	DiscardExchanges bool
}

// Delivery is one stored delivery.
type Delivery struct {
	MessageID     string
	Subject       string
	Addressee     *x509.Certificate // CipherCertificateAddressee
	Originator    *x509.Certificate // SignatureCertificateOriginator
	OriginatorEnc *x509.Certificate // CipherCertificateOriginator
	Content       *etree.Element
	CustomHeaders []*etree.Element
	Attachments   []osci.Part
	Card          osci.ProcessCardBundle
}

// Exchange is one request/response pair as the intermediary saw it (plain
// envelopes).
type Exchange struct {
	Kind             osci.Kind
	Request          []byte
	ResponseKind     osci.Kind // "" for a SOAP fault or an HTTP error
	Response         []byte
	ResponseSchema   string
	FeedbackCode     string
	ReplayedRejected bool
	// Delayed is how long an injected Delay held the answer back; Stalled
	// says an injected Stall held the order unprocessed.
	Delayed time.Duration
	Stalled bool
}

type dialog struct {
	conv       int64
	seq        int64
	challenge  string // the supplier's last challenge, expected as Response
	cipher     *x509.Certificate
	signer     *x509.Certificate
	lastActive time.Time
}

// Intermediary is the test OSCI intermediary.
type Intermediary struct {
	opts Options
	dec  *xmlsec.Decrypter

	mu         sync.Mutex
	nextConv   int64
	dialogs    map[int64]*dialog
	seen       map[string]bool // challenges of implicit orders (replay protection)
	issued     map[string]bool // MessageIds issued by getMessageId
	deliveries map[string]*Delivery
	order      []string
	faults     []*Fault
	exchanges  []Exchange
	release    chan struct{}
	// fps memoises certificate fingerprints (fetch and fetchProcessCard
	// compare every stored delivery's certificates).
	fps map[*x509.Certificate]string
}

// New returns an intermediary; serve it with Start or as an http.Handler.
func New(o Options) (*Intermediary, error) {
	if o.Identity.Key == nil || o.Identity.Cert == nil {
		return nil, errors.New("oscitest: intermediary identity required")
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.DialogTimeout <= 0 {
		o.DialogTimeout = 10 * time.Minute
	}
	return &Intermediary{opts: o, dec: &xmlsec.Decrypter{Key: o.Identity.Key, Cert: o.Identity.Cert},
		nextConv: 1000, dialogs: map[int64]*dialog{}, seen: map[string]bool{}, issued: map[string]bool{},
		deliveries: map[string]*Delivery{}, release: make(chan struct{}), fps: map[*x509.Certificate]string{}}, nil
}

// Server is a running intermediary.
type Server struct {
	*Intermediary
	URL string
	srv *httptest.Server
}

// Start serves the intermediary on 127.0.0.1 (a free port).
func Start(o Options) (*Server, error) {
	im, err := New(o)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: im, ReadHeaderTimeout: 10 * time.Second}}
	ts.Start()
	return &Server{Intermediary: im, URL: ts.URL + "/osci", srv: ts}, nil
}

// Close stops the server (and releases hanging responses).
func (s *Server) Close() {
	s.Release()
	s.srv.Close()
}

// Inject queues a fault.
func (im *Intermediary) Inject(f Fault) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if f.Times <= 0 {
		f.Times = 1
	}
	im.faults = append(im.faults, &f)
}

// Release lets responses held by TimeoutAfterReceipt go (they are then
// discarded: the client gave up).
func (im *Intermediary) Release() {
	im.mu.Lock()
	defer im.mu.Unlock()
	select {
	case <-im.release:
	default:
		close(im.release)
	}
}

// Exchanges returns every exchange so far.
func (im *Intermediary) Exchanges() []Exchange {
	im.mu.Lock()
	defer im.mu.Unlock()
	return append([]Exchange(nil), im.exchanges...)
}

// Deliveries returns the stored deliveries in order.
func (im *Intermediary) Deliveries() []Delivery {
	im.mu.Lock()
	defer im.mu.Unlock()
	var out []Delivery
	for _, id := range im.order {
		out = append(out, *im.deliveries[id])
	}
	return out
}

// Card returns the process card of a delivery.
func (im *Intermediary) Card(messageID string) (osci.ProcessCardBundle, bool) {
	im.mu.Lock()
	defer im.mu.Unlock()
	d, ok := im.deliveries[messageID]
	if !ok {
		return osci.ProcessCardBundle{}, false
	}
	return d.Card, true
}

// Put places a delivery into an addressee's mailbox directly, as if another
// originator had stored it (used to simulate replies to the hub). It returns
// the MessageId.
func (im *Intermediary) Put(d Delivery) string {
	im.mu.Lock()
	defer im.mu.Unlock()
	if d.MessageID == "" {
		d.MessageID = newID()
	}
	now := im.opts.Clock()
	d.Card = osci.ProcessCardBundle{MessageID: d.MessageID, RecentModification: now, Creation: &osci.Timestamp{Plain: now}, Subject: d.Subject}
	im.deliveries[d.MessageID] = &d
	im.order = append(im.order, d.MessageID)
	return d.MessageID
}

// takeRefuse consumes a queued Refuse fault.
func (im *Intermediary) takeRefuse() bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	for i, f := range im.faults {
		if f.Refuse {
			f.Times--
			if f.Times <= 0 {
				im.faults = append(im.faults[:i], im.faults[i+1:]...)
			}
			return true
		}
	}
	return false
}

func (im *Intermediary) takeFault(k osci.Kind) *Fault {
	im.mu.Lock()
	defer im.mu.Unlock()
	for i, f := range im.faults {
		if f.Refuse {
			continue
		}
		if f.Kind == "" || f.Kind == k {
			f.Times--
			if f.Times <= 0 {
				im.faults = append(im.faults[:i], im.faults[i+1:]...)
			}
			return f
		}
	}
	return nil
}

func newID() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// fp is fingerprint, memoised; im.mu must be held.
func (im *Intermediary) fp(c *x509.Certificate) string {
	if f, ok := im.fps[c]; ok {
		return f
	}
	f := fingerprint(c)
	im.fps[c] = f
	return f
}

func fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// ServeHTTP handles one OSCI order.
func (im *Intermediary) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "OSCI intermediary: POST an OSCI message", http.StatusMethodNotAllowed)
		return
	}
	if im.takeRefuse() {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // aborts the connection without an answer
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 2*osci.MaxPartSize))
	if err != nil {
		return
	}
	ex := Exchange{}
	var retryAfter int
	resp, status := im.handle(r.Context(), body, &ex, &retryAfter)
	im.mu.Lock()
	if !im.opts.DiscardExchanges {
		im.exchanges = append(im.exchanges, ex)
	}
	release := im.release
	im.mu.Unlock()
	if status == -1 { // timeout after receipt, or a stalled order
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return
	}
	if ex.Delayed > 0 { // the slowness is the injected fault itself
		timer := time.NewTimer(ex.Delayed)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			return
		case <-release:
		}
	}
	if retryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(retryAfter))
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write(resp)
}

func (im *Intermediary) fault(ex *Exchange, code, text string) ([]byte, int) {
	env, err := osci.BuildFault(&osci.Fault{Code: code, Text: text})
	if err != nil {
		return []byte(err.Error()), http.StatusInternalServerError
	}
	ex.Response, ex.ResponseSchema, ex.FeedbackCode = env, "soapMessageFault.xsd", code
	return osci.WriteMIME([]osci.Part{{ContentID: osci.ContentIDMessage, ContentType: "text/xml; charset=UTF-8", Data: env}}), http.StatusOK
}

// handle processes one body and returns the HTTP answer (-1: hold it).
func (im *Intermediary) handle(ctx context.Context, body []byte, ex *Exchange, retryAfter *int) ([]byte, int) {
	now := im.opts.Clock()
	var dlg *dialog
	var replayed bool
	dec, err := osci.Decode(body, osci.DecodeOptions{Decrypter: im.dec, RequireEncryption: true})
	switch {
	case errors.Is(err, osci.ErrDecryptFailed), errors.Is(err, osci.ErrNotEncrypted):
		return im.fault(ex, "9200", err.Error())
	case err != nil:
		return im.fault(ex, "9100", err.Error())
	}
	m := dec.Message
	ex.Kind, ex.Request = m.Kind, dec.Envelope
	if m.Kind.Response() {
		return im.fault(ex, "9300", "a response is not an order")
	}
	// Injected faults; an HTTP failure happens before any processing.
	f := im.takeFault(m.Kind)
	if f != nil && f.HTTPStatus != 0 {
		ex.FeedbackCode = fmt.Sprint(f.HTTPStatus)
		*retryAfter = f.RetryAfter
		return []byte("injected HTTP failure"), f.HTTPStatus
	}
	if f != nil && f.Stall {
		ex.Stalled = true
		return nil, -1
	}
	// Whom to answer: the originator's cipher certificate of the order or its dialog.
	cipher := m.CipherCertOriginator
	im.mu.Lock()
	for conv, d := range im.dialogs {
		if now.Sub(d.lastActive) > im.opts.DialogTimeout {
			delete(im.dialogs, conv)
		}
	}
	if d := im.dialogs[m.ControlBlock.ConversationID]; d != nil && m.ControlBlock.ConversationID >= 0 {
		dlg = d
		if cipher == nil {
			cipher = d.cipher
		}
	}
	im.mu.Unlock()
	if cipher == nil {
		return im.fault(ex, "9200", "no CipherCertificateOriginator to encrypt the response for")
	}
	reply := &osci.Message{Kind: m.Kind.ResponseKind(), SignatureCertIntermediary: im.opts.Identity.Cert,
		ControlBlock: osci.ControlBlock{ConversationID: m.ControlBlock.ConversationID, SequenceNumber: m.ControlBlock.SequenceNumber,
			Response: m.ControlBlock.Challenge}}
	signer := m.SignatureCertOriginator
	if signer == nil && dlg != nil {
		signer = dlg.signer
	}
	if signer == nil {
		return im.respond(ex, reply, cipher, "9601", nil)
	}
	if err := dec.Verify(signer, false); err != nil {
		ex.FeedbackCode = "9601"
		return im.respond(ex, reply, cipher, "9601", nil)
	}
	for _, c := range []*x509.Certificate{m.SignatureCertOriginator, m.CipherCertOriginator} {
		if c == nil {
			continue
		}
		u := xmlsec.UsageSignature
		if c == m.CipherCertOriginator {
			u = xmlsec.UsageEncryption
		}
		if err := im.opts.Trust.Check(ctx, c, u); err != nil {
			return im.respond(ex, reply, cipher, "9700", nil)
		}
	}
	// ControlBlock.
	cb := m.ControlBlock
	explicitOnly := m.Kind == osci.FetchDelivery || m.Kind == osci.FetchProcessCard || m.Kind == osci.MediateDelivery || m.Kind == osci.ExitDialog
	im.mu.Lock()
	switch {
	case m.Kind == osci.InitDialog:
		if im.seen[cb.Challenge] {
			replayed = true
			break
		}
		im.seen[cb.Challenge] = true
		im.nextConv++
		dlg = &dialog{conv: im.nextConv, cipher: m.CipherCertOriginator, signer: m.SignatureCertOriginator, lastActive: now}
		im.dialogs[dlg.conv] = dlg
		reply.ControlBlock.ConversationID, reply.ControlBlock.SequenceNumber = dlg.conv, -1
	case cb.ConversationID < 0 || cb.Response == "":
		if explicitOnly {
			im.mu.Unlock()
			return im.respond(ex, reply, cipher, "9802", nil)
		}
		if cb.Challenge == "" || im.seen[cb.Challenge] {
			replayed = true
			break
		}
		im.seen[cb.Challenge] = true
		im.nextConv++
		reply.ControlBlock.ConversationID = im.nextConv
		reply.ControlBlock.SequenceNumber = max(cb.SequenceNumber, 0)
	default:
		if dlg == nil || cb.Response != dlg.challenge || cb.SequenceNumber != dlg.seq+1 || cb.Challenge == "" {
			replayed = true
			break
		}
		dlg.seq = cb.SequenceNumber
		dlg.lastActive = now
	}
	if replayed {
		ex.ReplayedRejected = true
		im.mu.Unlock()
		return im.respond(ex, reply, cipher, "9400", nil)
	}
	if dlg != nil && m.Kind != osci.ExitDialog {
		dlg.challenge = newID()
		reply.ControlBlock.Challenge = dlg.challenge
	}
	if m.Kind == osci.ExitDialog && dlg != nil {
		delete(im.dialogs, dlg.conv)
	}
	im.mu.Unlock()

	if f != nil && len(f.Code) > 0 && f.Code[0] == '9' {
		return im.respond(ex, reply, cipher, f.Code, f)
	}
	code := "0800"
	if dlg != nil && m.Kind != osci.ExitDialog {
		code = "0801"
	}
	var atts []osci.Part
	switch m.Kind {
	case osci.GetMessageID:
		id := newID()
		im.mu.Lock()
		im.issued[id] = true
		im.mu.Unlock()
		reply.MessageID = id
	case osci.StoreDelivery:
		if c := im.store(m, dec.Attachments, now); c != "" {
			return im.respond(ex, reply, cipher, c, f)
		}
		card, _ := im.Card(m.MessageID)
		reply.ProcessCards = []osci.ProcessCardBundle{card}
	case osci.FetchDelivery:
		d, c := im.fetch(dlg, m.Selection, now)
		if c != "" {
			return im.respond(ex, reply, cipher, c, f)
		}
		reply.ContentPackage, reply.CustomHeaders, atts = d.Content, d.CustomHeaders, d.Attachments
		reply.CipherCertOriginator, reply.SignatureCertOriginator, reply.CipherCertAddressee = d.OriginatorEnc, d.Originator, d.Addressee
		card := d.Card // responseToFetchDelivery: Creation and Forwarding only
		card.Reception = nil
		reply.ProcessCards = []osci.ProcessCardBundle{card}
		reply.Selection = m.Selection
	case osci.FetchProcessCard:
		cards, c := im.cards(dlg, m.Selection)
		if c != "" {
			return im.respond(ex, reply, cipher, c, f)
		}
		reply.ProcessCards = cards
		reply.Selection = m.Selection
		if reply.Selection == nil || (len(reply.Selection.MessageIDs) == 0 && reply.Selection.ReceptionOfDelivery.IsZero()) {
			reply.Selection = &osci.Selection{ReceptionOfDelivery: time.Unix(0, 0)}
		}
	case osci.MediateDelivery:
		if im.opts.Mediate == nil {
			return im.respond(ex, reply, cipher, "9809", f)
		}
		out, err := im.opts.Mediate(ctx, m.ContentReceiver, m.ContentPackage)
		if err != nil {
			return im.respond(ex, reply, cipher, "9809", f)
		}
		reply.ContentPackage = out
		card := osci.ProcessCardBundle{MessageID: orDefault(m.MessageID, newID()), RecentModification: now,
			Creation: &osci.Timestamp{Plain: now}, Forwarding: &osci.Timestamp{Plain: now}, Reception: &osci.Timestamp{Plain: now}}
		replyCard := card
		replyCard.Reception = nil
		reply.ProcessCards = []osci.ProcessCardBundle{card, replyCard}
	}
	reply.Feedback = feedback(code)
	if f != nil && len(f.Code) > 0 && f.Code[0] == '3' {
		reply.Feedback = append(feedback(f.Code), reply.Feedback...)
	}
	ex.FeedbackCode = code
	out, status := im.encode(ex, reply, cipher, atts, f)
	if f != nil && f.TimeoutAfterReceipt {
		return nil, -1
	}
	if f != nil && f.Corrupt && status == http.StatusOK {
		out = out[:len(out)/2]
	}
	if f != nil && f.Delay > 0 {
		ex.Delayed = f.Delay
	}
	return out, status
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// respond answers with an error Feedback (the order is not executed).
func (im *Intermediary) respond(ex *Exchange, reply *osci.Message, cipher *x509.Certificate, code string, f *Fault) ([]byte, int) {
	reply.Feedback = feedback(code)
	ex.FeedbackCode = code
	reply.MessageID, reply.ContentPackage, reply.ProcessCards = "", nil, nil
	reply.CipherCertOriginator, reply.SignatureCertOriginator, reply.CipherCertAddressee, reply.CustomHeaders = nil, nil, nil, nil
	if reply.ControlBlock.ConversationID < 0 {
		im.mu.Lock()
		im.nextConv++
		reply.ControlBlock.ConversationID = im.nextConv
		im.mu.Unlock()
	}
	if reply.Kind != osci.ResponseToInitDialog {
		reply.ControlBlock.SequenceNumber = max(reply.ControlBlock.SequenceNumber, 0)
	}
	if reply.Kind == osci.ResponseToFetchProcessCard || reply.Kind == osci.ResponseToFetchDelivery {
		if reply.ControlBlock.Challenge == "" {
			reply.ControlBlock.Challenge = newID()
		}
		if reply.Kind == osci.ResponseToFetchProcessCard {
			reply.Selection = &osci.Selection{ReceptionOfDelivery: time.Unix(0, 0)}
		}
	}
	if (reply.Kind == osci.ResponseToMediateDelivery || reply.Kind == osci.ResponseToInitDialog) && reply.ControlBlock.Challenge == "" {
		reply.ControlBlock.Challenge = newID()
	}
	if reply.Kind == osci.ResponseToExitDialog {
		reply.ControlBlock.Challenge = ""
	}
	return im.encode(ex, reply, cipher, nil, f)
}

func (im *Intermediary) encode(ex *Exchange, reply *osci.Message, cipher *x509.Certificate, atts []osci.Part, f *Fault) ([]byte, int) {
	enc, err := osci.Encode(reply, osci.EncodeOptions{Signer: &im.opts.Identity, Attachments: atts})
	if err != nil {
		return im.fault(ex, "9300", "building the response: "+err.Error())
	}
	env := enc.Envelope
	if f != nil && f.BreakSignature {
		env = breakSignature(env)
	}
	ex.ResponseKind, ex.Response, ex.ResponseSchema = reply.Kind, env, reply.Kind.SchemaFile()
	inner := osci.WriteMIME(append([]osci.Part{{ContentID: osci.ContentIDMessage, ContentType: "text/xml; charset=UTF-8", Data: env}}, atts...))
	out, err := osci.SealTransport(inner, cipher)
	if err != nil {
		return im.fault(ex, "9200", "encrypting the response: "+err.Error())
	}
	return out, http.StatusOK
}

// breakSignature flips one character of the SignatureValue.
func breakSignature(env []byte) []byte {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(env); err != nil {
		return env
	}
	sv := doc.FindElement("//SignatureValue")
	if sv == nil {
		return env
	}
	t := []byte(sv.Text())
	if t[0] == 'A' {
		t[0] = 'B'
	} else {
		t[0] = 'A'
	}
	sv.SetText(string(t))
	b, err := doc.WriteToBytes()
	if err != nil {
		return env
	}
	return b
}

// store executes storeDelivery; it returns a 9xxx code on failure.
func (im *Intermediary) store(m *osci.Message, atts []osci.Part, now time.Time) string {
	im.mu.Lock()
	defer im.mu.Unlock()
	switch {
	case m.MessageID == "":
		return "9800"
	case !im.issued[m.MessageID] || im.deliveries[m.MessageID] != nil:
		return "9801"
	case m.CipherCertAddressee == nil:
		return "9300"
	}
	if err := im.opts.Trust.Check(context.Background(), m.CipherCertAddressee, xmlsec.UsageEncryption); err != nil {
		return "9700"
	}
	d := &Delivery{MessageID: m.MessageID, Subject: m.Subject, Addressee: m.CipherCertAddressee, Originator: m.SignatureCertOriginator,
		OriginatorEnc: m.CipherCertOriginator, Content: m.ContentPackage.Copy(), Attachments: atts}
	for _, h := range m.CustomHeaders {
		d.CustomHeaders = append(d.CustomHeaders, h.Copy())
	}
	d.Card = osci.ProcessCardBundle{MessageID: m.MessageID, RecentModification: now, Creation: &osci.Timestamp{Plain: now}, Subject: m.Subject}
	for _, c := range []*x509.Certificate{m.SignatureCertOriginator, m.CipherCertOriginator} {
		if c != nil {
			d.Card.Inspections = append(d.Card.Inspections, osci.Inspection{Timestamp: osci.Timestamp{Plain: now},
				SubjectName: c.Subject.String(), IssuerName: c.Issuer.String(), SerialNumber: c.SerialNumber.String(),
				CertType: "unknown", MathResult: "ok", OfflineResult: "valid"})
		}
	}
	im.deliveries[m.MessageID] = d
	im.order = append(im.order, m.MessageID)
	return ""
}

// fetch executes fetchDelivery for the dialog's client (the addressee): the
// selected delivery, or the first one not yet received. Forwarding and
// Reception are set: the fetch is the acknowledgement.
func (im *Intermediary) fetch(dlg *dialog, sel *osci.Selection, now time.Time) (Delivery, string) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if dlg == nil || dlg.cipher == nil {
		return Delivery{}, "9802"
	}
	fp := im.fp(dlg.cipher)
	var found *Delivery
	for _, id := range im.order {
		d := im.deliveries[id]
		if d.Addressee == nil || im.fp(d.Addressee) != fp {
			continue
		}
		switch {
		case sel != nil && len(sel.MessageIDs) > 0:
			if d.MessageID != sel.MessageIDs[0] {
				continue
			}
		case sel != nil && !sel.ReceptionOfDelivery.IsZero():
			if d.Card.Reception == nil || d.Card.Reception.Plain.Before(sel.ReceptionOfDelivery) {
				continue
			}
		default:
			if d.Card.Reception != nil {
				continue
			}
		}
		found = d
		break
	}
	if found == nil {
		return Delivery{}, "9803"
	}
	found.Card.RecentModification = now
	if found.Card.Forwarding == nil {
		found.Card.Forwarding = &osci.Timestamp{Plain: now}
	}
	if found.Card.Reception == nil {
		found.Card.Reception = &osci.Timestamp{Plain: now}
	}
	return *found, ""
}

// cards executes fetchProcessCard for the dialog's client: the cards of the
// deliveries it originated or addresses (SelectionRule Role narrows it),
// selected by MessageId or by Reception at or after ReceptionOfDelivery.
func (im *Intermediary) cards(dlg *dialog, sel *osci.Selection) ([]osci.ProcessCardBundle, string) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if dlg == nil {
		return nil, "9802"
	}
	var fps []string
	for _, c := range []*x509.Certificate{dlg.cipher, dlg.signer} {
		if c != nil {
			fps = append(fps, im.fp(c))
		}
	}
	mine := func(d *Delivery) bool {
		certs := []*x509.Certificate{d.Originator, d.OriginatorEnc, d.Addressee}
		if sel != nil && sel.Role == "Addressee" {
			certs = []*x509.Certificate{d.Addressee}
		} else if sel != nil && sel.Role == "Originator" {
			certs = []*x509.Certificate{d.Originator, d.OriginatorEnc}
		}
		for _, c := range certs {
			if c == nil {
				continue
			}
			for _, fp := range fps {
				if im.fp(c) == fp {
					return true
				}
			}
		}
		return false
	}
	var out []osci.ProcessCardBundle
	for _, id := range im.order {
		d := im.deliveries[id]
		if !mine(d) {
			continue
		}
		if sel != nil && len(sel.MessageIDs) > 0 {
			want := false
			for _, s := range sel.MessageIDs {
				want = want || s == d.MessageID
			}
			if !want {
				continue
			}
		} else if sel != nil && !sel.ReceptionOfDelivery.IsZero() &&
			(d.Card.Reception == nil || d.Card.Reception.Plain.Before(sel.ReceptionOfDelivery)) {
			continue
		}
		out = append(out, d.Card)
	}
	if len(out) == 0 {
		return nil, "9804"
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RecentModification.Before(out[j].RecentModification) })
	if sel != nil && sel.Limit > 0 && len(out) > sel.Limit {
		out = out[:sel.Limit]
	}
	return out, ""
}
