package xta

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Doer sends HTTP requests: *http.Client, or a retrying client. Request
// bodies can be re-created with req.GetBody, so a retrying Doer can replay
// a streamed request without buffering it.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Endpoints are the URLs of a server's three ports.
type Endpoints struct {
	Management, Send, MsgBox string
}

// EndpointsAt returns the ports mounted at their default paths under base.
func EndpointsAt(base string) Endpoints {
	base = strings.TrimRight(base, "/")
	return Endpoints{Management: base + PathManagement, Send: base + PathSend, MsgBox: base + PathMsgBox}
}

// Client is an XTA 2 v3 client acting for one identity, as Autor
// (checkAccountActive, lookupService, createMessageId, sendMessage,
// sendMessageSync, getTransportReport, cancelMessage) and Leser
// (getStatusList, getNextStatusList, getMessage, getNextMessage, close).
// Requests and contents are streamed; contents go as MTOM parts when MTOM is
// set, else as inline base64.
//
// Errors: a *Fault for SOAP faults, an *HTTPError for HTTP errors without a
// SOAP fault, an *ExchangeError when no (valid) response arrived.
type Client struct {
	Endpoints Endpoints
	// Author is the identity (organisation key) sent as oscimeta:Author.
	Author     string
	AuthorType string // default "xoev"
	HTTP       Doer   // default http.DefaultClient
	MTOM       bool
	// MaxResponseBytes bounds a response (default 128 MiB).
	MaxResponseBytes int64
}

// HTTPError is an HTTP error status without a SOAP fault (e.g. 503 from a
// proxy); RetryAfter is the Retry-After hint, zero if none.
type HTTPError struct {
	Op         string
	StatusCode int
	RetryAfter time.Duration
	Body       string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("xta: %s: HTTP %d: %q", e.Op, e.StatusCode, e.Body)
}

// ExchangeError is a failed exchange: no response, or one that cannot be
// parsed. Sent reports whether the request was completely written before
// the failure, so the server may have processed it (ambiguous).
type ExchangeError struct {
	Op   string
	Sent bool
	Err  error
}

func (e *ExchangeError) Error() string {
	state := "not sent"
	if e.Sent {
		state = "sent"
	}
	return fmt.Sprintf("xta: %s (request %s): %v", e.Op, state, e.Err)
}

func (e *ExchangeError) Unwrap() error { return e.Err }

// OpName returns the WSDL operation name of an action.
func OpName(action string) string {
	switch action {
	case ActionCheckAccountActive:
		return "checkAccountActive"
	case ActionLookupService:
		return "lookupService"
	case ActionCreateMessageID:
		return "createMessageId"
	case ActionGetTransportReport:
		return "getTransportReport"
	case ActionCancelMessage:
		return "cancelMessage"
	case ActionSendMessage:
		return "sendMessage"
	case ActionSendMessageSync:
		return "sendMessageSync"
	case ActionGetStatusList:
		return "getStatusList"
	case ActionGetNextStatusList:
		return "getNextStatusList"
	case ActionGetMessage:
		return "getMessage"
	case ActionGetNextMessage:
		return "getNextMessage"
	case ActionClose:
		return "close"
	}
	return action
}

// call describes one exchange.
type call struct {
	endpoint, action string
	headers          func(x *Writer)
	body             func(x *Writer)
	meta             *MessageMeta // sendMessage*: header MessageMetaData, no Author
	contents         []Content    // the GenericContentContainer, if any
	sink             ContentSink  // for a container in the response
}

// Do performs a raw exchange and returns the response envelope. It is the
// building block of the typed operations.
func (c *Client) do(ctx context.Context, cl call) (*Envelope, error) {
	op := OpName(cl.action)
	msgID := "urn:uuid:" + uuid.NewString()
	ct := ContentTypeSOAP12 + `; action="` + cl.action + `"`
	var boundary, rootCID string
	mtom := c.MTOM && len(cl.contents) > 0
	if mtom {
		var b [16]byte
		_, _ = rand.Read(b[:])
		boundary = "xta-" + hex.EncodeToString(b[:])
		rootCID = newCID("root")
		m, _ := newMTOMMessageWith(io.Discard, cl.action, boundary, rootCID)
		ct = m.ContentType()
	}
	write := func(w io.Writer) error {
		var x *Writer
		var mm *MTOMMessage
		if mtom {
			var err error
			if mm, err = newMTOMMessageWith(w, cl.action, boundary, rootCID); err != nil {
				return err
			}
			if x, err = mm.Root(); err != nil {
				return err
			}
		} else {
			x = NewWriter(w)
		}
		x.StartEnvelope(Addressing{Action: cl.action, MessageID: msgID, To: cl.endpoint}, func(x *Writer) {
			if cl.meta != nil {
				x.WriteMessageMetaData(*cl.meta)
			} else {
				x.WriteParty("oscimeta:Author", c.Author, c.AuthorType)
			}
			if cl.headers != nil {
				cl.headers(x)
			}
		})
		if cl.body != nil {
			cl.body(x)
		}
		var closers []io.Closer
		defer func() {
			for _, rc := range closers {
				_ = rc.Close()
			}
		}()
		if cl.contents != nil {
			x.Start("xta:GenericContentContainer")
			x.Start("xta:ContentContainer")
			for i, ct := range cl.contents {
				name := "xta:Attachment"
				if i == 0 {
					name = "xta:Message"
				}
				if ct.Open == nil {
					return fmt.Errorf("content %d has no Open", i)
				}
				rc, err := ct.Open()
				if err != nil {
					return fmt.Errorf("open content %d: %w", i, err)
				}
				closers = append(closers, rc)
				if err := x.WriteContent(name, ct, rc); err != nil {
					return err
				}
			}
			x.End("xta:ContentContainer")
			x.End("xta:GenericContentContainer")
		}
		x.EndEnvelope()
		if mm != nil {
			return mm.Finish(x)
		}
		return x.Flush()
	}
	getBody := func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(write(pw)) }()
		return pr, nil
	}
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	})
	body, _ := getBody()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cl.endpoint, body)
	if err != nil {
		body.Close()
		return nil, fmt.Errorf("xta: %s: %w", op, err)
	}
	req.GetBody = getBody
	req.Header.Set("Content-Type", ct)
	req.Header.Set("SOAPAction", `"`+cl.action+`"`)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &ExchangeError{Op: op, Sent: wrote.Load(), Err: err}
	}
	defer resp.Body.Close()
	if _, cerr := CheckContentType(resp.Header.Get("Content-Type")); cerr != nil {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if resp.StatusCode >= 300 {
			return nil, &HTTPError{Op: op, StatusCode: resp.StatusCode, RetryAfter: RetryAfter(resp.Header.Get("Retry-After"), time.Now()), Body: string(snippet)}
		}
		return nil, &ExchangeError{Op: op, Sent: true, Err: fmt.Errorf("HTTP %d with Content-Type %q: %q", resp.StatusCode, resp.Header.Get("Content-Type"), snippet)}
	}
	lim := c.MaxResponseBytes
	if lim <= 0 {
		lim = 128 << 20
	}
	sink := cl.sink
	if sink == nil {
		sink = func(int, ContentHeader, io.Reader) error {
			return errors.New("unexpected content container in response")
		}
	}
	env, err := ParseMessage(resp.Header.Get("Content-Type"), resp.Body, Limits{MaxBytes: lim}, sink)
	if err != nil {
		return nil, &ExchangeError{Op: op, Sent: true, Err: fmt.Errorf("parse response (HTTP %d): %w", resp.StatusCode, err)}
	}
	if f := FaultFromBody(env.Body); f != nil {
		return nil, fmt.Errorf("xta: %s: %w", op, f)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{Op: op, StatusCode: resp.StatusCode, RetryAfter: RetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	a := env.Addressing()
	if a.RelatesTo != msgID {
		return nil, &ExchangeError{Op: op, Sent: true, Err: fmt.Errorf("wsa:RelatesTo %q does not match request %q", a.RelatesTo, msgID)}
	}
	if a.Action != cl.action {
		return nil, &ExchangeError{Op: op, Sent: true, Err: fmt.Errorf("response wsa:Action %q, want %q", a.Action, cl.action)}
	}
	return env, nil
}

// RetryAfter parses a Retry-After header (seconds or HTTP date); zero if
// absent or invalid.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// CheckAccountActive calls checkAccountActive; nil means the account is active.
func (c *Client) CheckAccountActive(ctx context.Context) error {
	_, err := c.do(ctx, call{endpoint: c.Endpoints.Management, action: ActionCheckAccountActive})
	return err
}

// LookupService asks whether reader (key with identifier type, "" = xoev)
// can receive service.
func (c *Client) LookupService(ctx context.Context, readerKey, readerType, service string) (Availability, error) {
	env, err := c.do(ctx, call{endpoint: c.Endpoints.Management, action: ActionLookupService, body: func(x *Writer) {
		x.Start("xta:LookupServiceRequest")
		x.Start("xta:LookupServiceRequestList")
		x.Start("xta:LookupService")
		x.WriteParty("oscimeta:Reader", readerKey, readerType)
		x.Elem("xta:ServiceType", service)
		x.End("xta:LookupService")
		x.End("xta:LookupServiceRequestList")
		x.End("xta:LookupServiceRequest")
	}})
	if err != nil {
		return AvailabilityUnknown, err
	}
	if len(env.Body) != 1 || !env.Body[0].Is(NSXTA, "LookupServiceResponse") {
		return AvailabilityUnknown, &ExchangeError{Op: "lookupService", Sent: true, Err: errors.New("response body is not xta:LookupServiceResponse")}
	}
	v := env.Body[0].Child(NSXTA, "LookupServiceResultList").Child(NSXTA, "LookupServiceResult").Child(NSXTA, "IsServiceAvailableValue")
	if a := v.Child(NSXTA, "ServiceIsAvailable"); a != nil {
		if b, _ := strconv.ParseBool(a.TrimText()); b {
			return Available, nil
		}
		return NotAvailable, nil
	}
	return AvailabilityUnknown, nil
}

// CreateMessageID asks the server for a new message ID.
func (c *Client) CreateMessageID(ctx context.Context) (string, error) {
	env, err := c.do(ctx, call{endpoint: c.Endpoints.Management, action: ActionCreateMessageID})
	if err != nil {
		return "", err
	}
	if len(env.Body) != 1 || !env.Body[0].Is(NSWSA, "MessageID") || env.Body[0].TrimText() == "" {
		return "", &ExchangeError{Op: "createMessageId", Sent: true, Err: errors.New("response body is not a wsa:MessageID")}
	}
	return env.Body[0].TrimText(), nil
}

// SendMessage sends contents (the XÖV message first, then attachments) with
// meta (sendMessage). A retry must use the same meta.MessageID.
func (c *Client) SendMessage(ctx context.Context, meta MessageMeta, contents []Content) error {
	if len(contents) == 0 {
		return errors.New("xta: sendMessage: no content")
	}
	if meta.AuthorKey == "" {
		meta.AuthorKey, meta.AuthorType = c.Author, c.AuthorType
	}
	_, err := c.do(ctx, call{endpoint: c.Endpoints.Send, action: ActionSendMessage, meta: &meta, contents: contents})
	return err
}

// SendMessageSync sends like SendMessage and streams the answer's contents
// to sink; it returns the answer's metadata.
func (c *Client) SendMessageSync(ctx context.Context, meta MessageMeta, contents []Content, sink ContentSink) (MessageMeta, error) {
	if len(contents) == 0 {
		return MessageMeta{}, errors.New("xta: sendMessageSync: no content")
	}
	if meta.AuthorKey == "" {
		meta.AuthorKey, meta.AuthorType = c.Author, c.AuthorType
	}
	env, err := c.do(ctx, call{endpoint: c.Endpoints.Send, action: ActionSendMessageSync, meta: &meta, contents: contents, sink: sink})
	if err != nil {
		return MessageMeta{}, err
	}
	answer, err := ParseMessageMetaData(env.HeaderBlock(NSOSCIMeta, "MessageMetaData"))
	if err != nil {
		return MessageMeta{}, &ExchangeError{Op: "sendMessageSync", Sent: true, Err: err}
	}
	return answer, nil
}

func (c *Client) messageIDCall(ctx context.Context, action, id string) (*Envelope, error) {
	return c.do(ctx, call{endpoint: c.Endpoints.Management, action: action, body: func(x *Writer) { x.Elem("wsa:MessageID", id) }})
}

// GetTransportReport fetches the transport report of a message.
func (c *Client) GetTransportReport(ctx context.Context, messageID string) (*TransportReport, error) {
	env, err := c.messageIDCall(ctx, ActionGetTransportReport, messageID)
	if err != nil {
		return nil, err
	}
	if len(env.Body) != 1 {
		return nil, &ExchangeError{Op: "getTransportReport", Sent: true, Err: errors.New("response body is not xta:TransportReport")}
	}
	r, err := ParseTransportReport(env.Body[0])
	if err != nil {
		return nil, &ExchangeError{Op: "getTransportReport", Sent: true, Err: err}
	}
	return r, nil
}

// CancelMessage withdraws a message whose NotBefore has not been reached.
func (c *Client) CancelMessage(ctx context.Context, messageID string) error {
	_, err := c.messageIDCall(ctx, ActionCancelMessage, messageID)
	return err
}

// StatusPage is one page of a mailbox listing.
type StatusPage struct {
	Metas []MessageMeta
	// RequestID continues the iteration (getNextStatusList, getNextMessage).
	RequestID string
	// Pending is ItemsPending; NoMessageReason the NoMessageAvailable reason.
	Pending         int
	NoMessageReason string
}

func writeSelector(x *Writer, sel *Selector) {
	if sel == nil {
		return
	}
	if sel.NewEntry != nil {
		x.Start("osci:MsgSelector", "newEntry", strconv.FormatBool(*sel.NewEntry))
	} else {
		x.Start("osci:MsgSelector")
	}
	for _, id := range sel.MessageIDs {
		x.Elem("wsa:MessageID", id)
	}
	for _, id := range sel.RelatesTo {
		x.Elem("wsa:RelatesTo", id)
	}
	if !sel.From.IsZero() {
		x.Elem("osci:MsgBoxEntryTimeFrom", xsdTime(sel.From))
	}
	if !sel.To.IsZero() {
		x.Elem("osci:MsgBoxEntryTimeTo", xsdTime(sel.To))
	}
	x.End("osci:MsgSelector")
}

func parseMsgBoxResponse(op string, env *Envelope) (StatusPage, error) {
	var p StatusPage
	mr := env.HeaderBlock(NSOSCI, "MsgBoxResponse")
	if mr == nil {
		return p, &ExchangeError{Op: op, Sent: true, Err: errors.New("response lacks osci:MsgBoxResponse")}
	}
	p.RequestID, _ = mr.AttrValue("", "MsgBoxRequestID")
	if n := mr.Child(NSOSCI, "NoMessageAvailable"); n != nil {
		p.NoMessageReason, _ = n.AttrValue("", "reason")
	}
	if ip := mr.Child(NSOSCI, "ItemsPending"); ip != nil {
		v, err := strconv.Atoi(ip.TrimText())
		if err != nil || v < 0 {
			return p, &ExchangeError{Op: op, Sent: true, Err: fmt.Errorf("ItemsPending %q", ip.TrimText())}
		}
		p.Pending = v
	}
	return p, nil
}

func parseStatusList(op string, env *Envelope) (StatusPage, error) {
	p, err := parseMsgBoxResponse(op, env)
	if err != nil {
		return p, err
	}
	if len(env.Body) != 1 || !env.Body[0].Is(NSOSCI, "MsgStatusList") {
		return p, &ExchangeError{Op: op, Sent: true, Err: errors.New("response body is not osci:MsgStatusList")}
	}
	for _, el := range env.Body[0].ChildrenNamed(NSOSCIMeta, "MessageMetaData") {
		m, err := ParseMessageMetaData(el)
		if err != nil {
			return p, &ExchangeError{Op: op, Sent: true, Err: err}
		}
		p.Metas = append(p.Metas, m)
	}
	return p, nil
}

// GetStatusList lists up to max messages (max <= 0: the server's default)
// with ListForm=MessageMetaData; sel nil lists the unfetched messages.
func (c *Client) GetStatusList(ctx context.Context, max int, sel *Selector) (StatusPage, error) {
	env, err := c.do(ctx, call{endpoint: c.Endpoints.MsgBox, action: ActionGetStatusList, body: func(x *Writer) {
		attrs := []string{"ListForm", "MessageMetaData"}
		if max > 0 {
			attrs = append(attrs, "maxListItems", strconv.Itoa(max))
		}
		x.Start("osci:MsgBoxStatusListRequest", attrs...)
		writeSelector(x, sel)
		x.End("osci:MsgBoxStatusListRequest")
	}})
	if err != nil {
		return StatusPage{}, err
	}
	return parseStatusList("getStatusList", env)
}

func getNextBody(requestID string, received []string) func(x *Writer) {
	return func(x *Writer) {
		x.Start("osci:MsgBoxGetNextRequest", "MsgBoxRequestID", requestID)
		for _, id := range received {
			x.Elem("osci:LastMsgReceived", id)
		}
		x.End("osci:MsgBoxGetNextRequest")
	}
}

// GetNextStatusList continues a listing; received acknowledges messages
// (LastMsgReceived) like Close.
func (c *Client) GetNextStatusList(ctx context.Context, requestID string, received ...string) (StatusPage, error) {
	env, err := c.do(ctx, call{endpoint: c.Endpoints.MsgBox, action: ActionGetNextStatusList, body: getNextBody(requestID, received)})
	if err != nil {
		return StatusPage{}, err
	}
	return parseStatusList("getNextStatusList", env)
}

// FetchResult is the outcome of GetMessage/GetNextMessage; the contents went
// to the sink.
type FetchResult struct {
	Meta      MessageMeta
	RequestID string
	Pending   int
}

func (c *Client) fetch(ctx context.Context, op string, cl call) (FetchResult, error) {
	var r FetchResult
	seen := false
	inner := cl.sink
	cl.sink = func(i int, h ContentHeader, rd io.Reader) error {
		seen = true
		return inner(i, h, rd)
	}
	env, err := c.do(ctx, cl)
	if err != nil {
		return r, err
	}
	p, err := parseMsgBoxResponse(op, env)
	if err != nil {
		return r, err
	}
	r.RequestID, r.Pending = p.RequestID, p.Pending
	if r.Meta, err = ParseMessageMetaData(env.HeaderBlock(NSOSCIMeta, "MessageMetaData")); err != nil {
		return r, &ExchangeError{Op: op, Sent: true, Err: err}
	}
	if !seen {
		return r, &ExchangeError{Op: op, Sent: true, Err: errors.New("response has no xta:ContentContainer")}
	}
	return r, nil
}

// GetMessage fetches one message by ID; its contents are streamed to sink
// (index 0 is the XÖV message).
func (c *Client) GetMessage(ctx context.Context, messageID string, sink ContentSink) (FetchResult, error) {
	return c.fetch(ctx, "getMessage", call{endpoint: c.Endpoints.MsgBox, action: ActionGetMessage, sink: sink, body: func(x *Writer) {
		x.Start("osci:MsgBoxFetchRequest")
		writeSelector(x, &Selector{MessageIDs: []string{messageID}})
		x.End("osci:MsgBoxFetchRequest")
	}})
}

// GetNextMessage fetches the next message of an iteration, acknowledging
// received (LastMsgReceived).
func (c *Client) GetNextMessage(ctx context.Context, requestID string, sink ContentSink, received ...string) (FetchResult, error) {
	return c.fetch(ctx, "getNextMessage", call{endpoint: c.Endpoints.MsgBox, action: ActionGetNextMessage, sink: sink,
		body: getNextBody(requestID, received)})
}

// Close acknowledges messages (close with LastMsgReceived); requestID may
// be empty (a fresh one is sent).
func (c *Client) Close(ctx context.Context, requestID string, messageIDs ...string) error {
	if requestID == "" {
		requestID = "urn:uuid:" + uuid.NewString()
	}
	_, err := c.do(ctx, call{endpoint: c.Endpoints.MsgBox, action: ActionClose, body: func(x *Writer) {
		x.Start("osci:MsgBoxCloseRequest", "MsgBoxRequestID", requestID)
		for _, id := range messageIDs {
			x.Elem("osci:LastMsgReceived", id)
		}
		x.End("osci:MsgBoxCloseRequest")
	}})
	return err
}
