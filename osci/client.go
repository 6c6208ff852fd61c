package osci

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/dxhub/dxhub/internal/xmlsec"
)

// Client sends orders to one OSCI intermediary over HTTP. Every order is
// signed with Signer (ClientSignature) and encrypted for IntermediaryCert; every
// response must be encrypted for Cipher (the CipherCertificateOriginator the
// order names) and signed by the intermediary: its SignatureCertificateIntermediary
// must be IntermediarySigner when that is set, and must pass Trust.
type Client struct {
	URL              string
	Signer           Identity
	Cipher           Identity
	IntermediaryCert *x509.Certificate
	// IntermediarySigner pins the intermediary's signature certificate;
	// nil accepts the certificate the response carries when Trust (with Roots)
	// accepts it.
	IntermediarySigner *x509.Certificate
	Trust              *xmlsec.TrustStore
	// HTTP sends one attempt (its Timeout bounds it; default 60 s).
	HTTP *http.Client
	// RetryMax retries idempotent orders (getMessageId, fetchProcessCard,
	// initDialog, exitDialog) after failures that prove the intermediary did
	// not process them (connection refused, 429/503); default 2, -1 none.
	RetryMax                   int
	RetryWaitMin, RetryWaitMax time.Duration
	// AllowDeprecated accepts deprecated algorithms in responses.
	AllowDeprecated bool
	// Languages is DesiredLanguages (default "de").
	Languages string
	// OnExchange, when set, sees every plain request and response envelope
	// (for logging and schema checks).
	OnExchange func(kind Kind, envelope []byte)
}

// HTTPError is a non-200 answer without an OSCI message.
type HTTPError struct {
	StatusCode int
	RetryAfter time.Duration
	Body       string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("osci: HTTP %d: %s", e.StatusCode, e.Body) }

// ExchangeError is a transport failure. Sent reports whether the request was
// completely written: the intermediary may then have processed it.
type ExchangeError struct {
	Kind Kind
	Sent bool
	Err  error
}

func (e *ExchangeError) Error() string {
	s := "before"
	if e.Sent {
		s = "after"
	}
	return fmt.Sprintf("osci: %s: transport failure %s the request was sent: %v", e.Kind, s, e.Err)
}
func (e *ExchangeError) Unwrap() error { return e.Err }

// ErrControlBlock marks a response whose ControlBlock does not match the
// request (wrong Response to our Challenge, conversation or sequence).
var ErrControlBlock = errors.New("osci: ControlBlock mismatch")

// ErrResponse marks a response that could not be opened or verified
// (decryption, signature, certificate, schema): the order may have been
// executed.
var ErrResponse = errors.New("osci: invalid response")

// Response is an opened response.
type Response struct {
	Message     *Message
	Feedback    FeedbackResult
	Attachments []Part
	Envelope    []byte
}

func (c *Client) idempotent(k Kind) bool {
	switch k {
	case GetMessageID, FetchProcessCard, InitDialog, ExitDialog:
		return true
	}
	return false
}

// Dialog is an implicit or explicit OSCI dialog with its ControlBlock state.
type Dialog struct {
	c        *Client
	explicit bool
	conv     int64
	seq      int64
	response string // the supplier's last Challenge, echoed as our Response
	closed   bool
}

// Implicit returns a dialog for single orders (getMessageId, storeDelivery).
func (c *Client) Implicit() *Dialog { return &Dialog{c: c, conv: -1} }

// InitDialog opens an explicit dialog.
func (c *Client) InitDialog(ctx context.Context) (*Dialog, error) {
	d := &Dialog{c: c, explicit: true, conv: -1}
	if _, err := d.Do(ctx, &Message{Kind: InitDialog, CipherCertOriginator: c.Cipher.Cert, SignatureCertOriginator: c.Signer.Cert}); err != nil {
		return nil, err
	}
	return d, nil
}

// Exit closes an explicit dialog (no-op for implicit or closed dialogs).
func (d *Dialog) Exit(ctx context.Context) error {
	if !d.explicit || d.closed {
		return nil
	}
	_, err := d.Do(ctx, &Message{Kind: ExitDialog})
	d.closed = true
	return err
}

// ConversationID is the conversation the supplier assigned (-1 before).
func (d *Dialog) ConversationID() int64 { return d.conv }

// newChallenge returns a fresh random challenge.
func newChallenge() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Do sends m in the dialog: it sets the ControlBlock, signs, encrypts, posts,
// opens and verifies the response and checks its ControlBlock. A 9xxx
// Feedback is returned as *FeedbackError together with the response.
func (d *Dialog) Do(ctx context.Context, m *Message) (*Response, error) {
	return d.do(ctx, m, nil)
}

func (d *Dialog) do(ctx context.Context, m *Message, attachments []Part) (*Response, error) {
	if d.closed {
		return nil, errors.New("osci: dialog is closed")
	}
	c := d.c
	challenge := newChallenge()
	cb := ControlBlock{ConversationID: -1, SequenceNumber: 0, Challenge: challenge}
	switch {
	case d.explicit && m.Kind == InitDialog:
		cb = ControlBlock{ConversationID: -1, SequenceNumber: -1, Challenge: challenge}
	case d.explicit:
		d.seq++
		cb = ControlBlock{ConversationID: d.conv, SequenceNumber: d.seq, Response: d.response, Challenge: challenge}
	}
	m.ControlBlock = cb
	m.DesiredLanguages = c.Languages
	if m.Kind == GetMessageID || m.Kind == StoreDelivery || m.Kind == MediateDelivery {
		if m.CipherCertOriginator == nil {
			m.CipherCertOriginator = c.Cipher.Cert
		}
		if m.SignatureCertOriginator == nil {
			m.SignatureCertOriginator = c.Signer.Cert
		}
	}
	enc, err := Encode(m, EncodeOptions{Signer: &c.Signer, EncryptFor: c.IntermediaryCert, Attachments: attachments})
	if err != nil {
		return nil, err
	}
	if c.OnExchange != nil {
		c.OnExchange(m.Kind, enc.Envelope)
	}
	body, err := c.post(ctx, m.Kind, enc.Body)
	if err != nil {
		return nil, err
	}
	if f, ok := ParseFault(body); ok {
		return nil, f
	}
	dec, err := Decode(body, DecodeOptions{
		Decrypter:         &xmlsec.Decrypter{Key: c.Cipher.Key, Cert: c.Cipher.Cert},
		RequireEncryption: true,
		SignerCert:        func(m *Message) (*x509.Certificate, error) { return c.supplierCert(ctx, m) },
		AllowDeprecated:   c.AllowDeprecated,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrResponse, m.Kind.ResponseKind(), err)
	}
	if c.OnExchange != nil {
		c.OnExchange(dec.Message.Kind, dec.Envelope)
	}
	r := &Response{Message: dec.Message, Attachments: dec.Attachments, Envelope: dec.Envelope}
	if r.Message.Kind != m.Kind.ResponseKind() {
		return nil, fmt.Errorf("%w: %s answered with %s", ErrResponse, m.Kind, r.Message.Kind)
	}
	got := r.Message.ControlBlock
	if got.Response != challenge {
		return nil, fmt.Errorf("%w: %s: the response does not answer our challenge", ErrControlBlock, r.Message.Kind)
	}
	if d.explicit && m.Kind != InitDialog && got.ConversationID != d.conv {
		return nil, fmt.Errorf("%w: %s: conversation %d, expected %d", ErrControlBlock, r.Message.Kind, got.ConversationID, d.conv)
	}
	if d.explicit && m.Kind != InitDialog && got.SequenceNumber != d.seq {
		return nil, fmt.Errorf("%w: %s: sequence %d, expected %d", ErrControlBlock, r.Message.Kind, got.SequenceNumber, d.seq)
	}
	if m.Kind == InitDialog {
		if got.ConversationID < 0 {
			return nil, fmt.Errorf("%w: responseToInitDialog without ConversationId", ErrControlBlock)
		}
		d.conv = got.ConversationID
	}
	d.response = got.Challenge
	r.Feedback = ClassifyFeedback(r.Message.Feedback)
	if r.Feedback.Err != nil {
		return r, r.Feedback.Err
	}
	if d.explicit && m.Kind != ExitDialog && d.response == "" {
		return nil, fmt.Errorf("%w: %s: no Challenge for the next order of the dialog", ErrControlBlock, r.Message.Kind)
	}
	return r, nil
}

// supplierCert picks the certificate the response must be signed with.
func (c *Client) supplierCert(ctx context.Context, m *Message) (*x509.Certificate, error) {
	got := m.SignatureCertIntermediary
	switch {
	case c.IntermediarySigner != nil:
		if got != nil && !got.Equal(c.IntermediarySigner) {
			return nil, fmt.Errorf("%w: the response names intermediary signature certificate %q, not the configured %q",
				xmlsec.ErrCertificateMismatch, got.Subject, c.IntermediarySigner.Subject)
		}
		got = c.IntermediarySigner
	case got == nil:
		return nil, fmt.Errorf("%w: response without SignatureCertificateIntermediary", ErrUnsigned)
	case c.Trust == nil || c.Trust.Roots == nil:
		return nil, fmt.Errorf("%w: %q: neither pinned nor a trust store configured", xmlsec.ErrCertUntrusted, got.Subject)
	}
	if err := c.Trust.Check(ctx, got, xmlsec.UsageSignature); err != nil {
		return nil, err
	}
	return got, nil
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 60 * time.Second}
}

// post sends one order; idempotent orders go through go-retryablehttp.
func (c *Client) post(ctx context.Context, kind Kind, body []byte) ([]byte, error) {
	var sent bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			sent = true
		}
	}}
	ctx = httptrace.WithClientTrace(ctx, trace)
	var resp *http.Response
	var err error
	if c.idempotent(kind) && c.RetryMax >= 0 {
		rc := retryablehttp.NewClient()
		rc.HTTPClient = c.httpClient()
		rc.RetryMax = c.RetryMax
		if rc.RetryMax == 0 {
			rc.RetryMax = 2
		}
		rc.RetryWaitMin, rc.RetryWaitMax = orDur(c.RetryWaitMin, 100*time.Millisecond), orDur(c.RetryWaitMax, 2*time.Second)
		rc.CheckRetry = CheckRetry
		rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
		rc.Logger = nil
		var req *retryablehttp.Request
		if req, err = retryablehttp.NewRequestWithContext(ctx, http.MethodPost, c.URL, body); err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "text/xml")
		resp, err = rc.Do(req)
	} else {
		var req *http.Request
		if req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body)); err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "text/xml")
		resp, err = c.httpClient().Do(req)
	}
	if err != nil {
		return nil, &ExchangeError{Kind: kind, Sent: sent, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxPartSize*2))
	if err != nil {
		return nil, &ExchangeError{Kind: kind, Sent: true, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		if _, ok := ParseFault(data); ok {
			return data, nil
		}
		he := &HTTPError{StatusCode: resp.StatusCode, Body: string(data[:min(len(data), 300)])}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			he.RetryAfter = time.Duration(s) * time.Second
		}
		return nil, he
	}
	return data, nil
}

// CheckRetry retries only what the intermediary certainly did not process:
// connection failures before a request was written (dial errors) and 429/503
// answers. Everything else is returned to the caller.
func CheckRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return true, nil
		}
		return false, nil
	}
	return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable, nil
}

func orDur(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// GetMessageID asks the intermediary for a MessageId (implicit dialog).
func (c *Client) GetMessageID(ctx context.Context) (string, error) {
	r, err := c.Implicit().Do(ctx, &Message{Kind: GetMessageID})
	if err != nil {
		return "", err
	}
	if r.Message.MessageID == "" {
		return "", fmt.Errorf("%w: responseToGetMessageId without MessageId", ErrResponse)
	}
	return r.Message.MessageID, nil
}

// StoreDelivery stores a ContentPackage for the addressee (implicit dialog);
// attachments are the MIME parts its contents reference.
// The response carries the Feedback (warnings in Feedback.Warnings) and the
// ProcessCardBundle.
func (c *Client) StoreDelivery(ctx context.Context, m *Message, attachments []Part) (*Response, error) {
	m.Kind = StoreDelivery
	return c.Implicit().do(ctx, m, attachments)
}

// FetchProcessCards reads the Laufzettel of messageIDs in an explicit dialog.
func (c *Client) FetchProcessCards(ctx context.Context, messageIDs []string) ([]ProcessCardBundle, error) {
	d, err := c.InitDialog(ctx)
	if err != nil {
		return nil, err
	}
	r, err := d.Do(ctx, &Message{Kind: FetchProcessCard, Selection: &Selection{MessageIDs: messageIDs, Limit: len(messageIDs)}})
	if xerr := d.Exit(ctx); err == nil && xerr != nil {
		err = xerr
	}
	if err != nil {
		var fe *FeedbackError
		if errors.As(err, &fe) && (fe.Code == "9803" || fe.Code == "9804") {
			return nil, nil
		}
		return nil, err
	}
	return r.Message.ProcessCards, nil
}

// FetchReceivedCards reads the Laufzettel of deliveries received since
// since, where the client has role ("Addressee" or "Originator"), at most
// limit (0: no limit), in an explicit dialog.
func (c *Client) FetchReceivedCards(ctx context.Context, since time.Time, role string, limit int) ([]ProcessCardBundle, error) {
	d, err := c.InitDialog(ctx)
	if err != nil {
		return nil, err
	}
	r, err := d.Do(ctx, &Message{Kind: FetchProcessCard, Selection: &Selection{ReceptionOfDelivery: since, Role: role, Limit: limit}})
	if xerr := d.Exit(ctx); err == nil && xerr != nil {
		err = xerr
	}
	if err != nil {
		var fe *FeedbackError
		if errors.As(err, &fe) && (fe.Code == "9803" || fe.Code == "9804") {
			return nil, nil
		}
		return nil, err
	}
	return r.Message.ProcessCards, nil
}

// FetchDelivery fetches one delivery of the client's mailbox in an explicit
// dialog (the first not yet received, or messageID). It returns nil and no
// error when the mailbox holds nothing (feedback 9803/9804). The fetch is the
// acknowledgement: the intermediary writes Reception on the process card.
func (c *Client) FetchDelivery(ctx context.Context, messageID string) (*Response, error) {
	d, err := c.InitDialog(ctx)
	if err != nil {
		return nil, err
	}
	r, err := d.FetchDelivery(ctx, messageID)
	if xerr := d.Exit(ctx); err == nil && xerr != nil {
		err = xerr
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// FetchDelivery fetches one delivery in the explicit dialog d, like
// Client.FetchDelivery: nil and no error when the mailbox holds nothing
// (9803/9804; the dialog stays usable). Fetching several deliveries in one
// dialog saves the initDialog and exitDialog exchanges (each signed and
// encrypted both ways) per delivery.
func (d *Dialog) FetchDelivery(ctx context.Context, messageID string) (*Response, error) {
	if !d.explicit {
		return nil, errors.New("osci: fetchDelivery needs an explicit dialog (InitDialog)")
	}
	m := &Message{Kind: FetchDelivery}
	if messageID != "" {
		m.Selection = &Selection{MessageIDs: []string{messageID}}
	}
	r, err := d.Do(ctx, m)
	if err != nil {
		var fe *FeedbackError
		if errors.As(err, &fe) && (fe.Code == "9803" || fe.Code == "9804") {
			return nil, nil
		}
		return nil, err
	}
	return r, nil
}

// MediateDelivery sends a ContentPackage synchronously to contentReceiver in
// an explicit dialog and returns the addressee's answer.
func (c *Client) MediateDelivery(ctx context.Context, contentReceiver string, m *Message) (*Response, error) {
	d, err := c.InitDialog(ctx)
	if err != nil {
		return nil, err
	}
	m.Kind, m.ContentReceiver = MediateDelivery, contentReceiver
	r, err := d.Do(ctx, m)
	if xerr := d.Exit(ctx); err == nil && xerr != nil {
		err = xerr
	}
	return r, err
}
