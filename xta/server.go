package xta

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Mount paths of the three ports on the hub's mux.
const (
	PathMsgBox     = "/xta/msgbox"
	PathSend       = "/xta/send"
	PathManagement = "/xta/management"
)

// Outcomes a Backend reports.
var (
	// ErrUnknownMessage: the message ID is not in this reader's mailbox (→ 9070).
	ErrUnknownMessage = errors.New("xta: unknown message ID")
	// ErrDuplicateMessage: the message ID was already received (→ 9024).
	ErrDuplicateMessage = errors.New("xta: message ID already used")
)

// Backend is the storage the XTA server needs. Implementations must be safe
// for concurrent use. An error that is (or wraps) a *Fault is sent to the
// client as is; any other unexpected error becomes fault 9030.
type Backend interface {
	// AccountActive reports whether identity (an organisation key such as
	// "ags:05315000") has a mailbox account on this hub.
	AccountActive(ctx context.Context, identity string) (bool, error)
	// StatusList returns up to max open (not yet closed) messages for reader,
	// oldest first, and how many further open messages were left out.
	StatusList(ctx context.Context, reader string, max int) (metas []MessageMeta, pending int, err error)
	// Fetch returns one open or closed message of reader, or ErrUnknownMessage.
	Fetch(ctx context.Context, reader, messageID string) (*OutboundMessage, error)
	// Close marks the message as fetched (the reader's acknowledgement). It
	// must be idempotent: closing a closed message returns nil. Unknown IDs
	// return ErrUnknownMessage.
	Close(ctx context.Context, reader, messageID string) error
	// Receive durably stores a message sent to the hub before returning nil.
	// The Content readers are valid only during the call. A message ID seen
	// before returns ErrDuplicateMessage.
	Receive(ctx context.Context, msg *InboundMessage) error
}

// Config configures a Server.
type Config struct {
	// WSDLDir holds XTA.wsdl and its XSDs (the xta2-v3 schema set); required.
	WSDLDir string
	// BaseURL is the externally visible URL the ports are mounted under,
	// e.g. "https://hub.example.org"; required for the served WSDL.
	BaseURL string
	// MaxRequestBytes bounds a sendMessage request (default 64 MiB: the XTA
	// limit of 40 MB per container, base64-encoded, plus the envelope).
	MaxRequestBytes int64
	// MaxControlBytes bounds all other requests (default 1 MiB).
	MaxControlBytes int64
	// DefaultListItems is used when getStatusList has no maxListItems
	// (default 100); MaxListItems caps it (default 1000).
	DefaultListItems int
	MaxListItems     int
	// SpoolDir receives inbound content while a sendMessage is read
	// (default os.TempDir()).
	SpoolDir string
	Logger   *slog.Logger
	// Now and NewID are injectable for tests.
	Now   func() time.Time
	NewID func() string
}

// Server is the XTA 2 v3 server. Create it with NewServer.
type Server struct {
	b      Backend
	cfg    Config
	log    *slog.Logger
	wsdl   *wsdlSet
	msgBox http.Handler
	send   http.Handler
	mgmt   http.Handler
}

// NewServer validates cfg, loads the WSDL set from cfg.WSDLDir and returns a
// Server.
func NewServer(b Backend, cfg Config) (*Server, error) {
	if b == nil {
		return nil, errors.New("xta: NewServer: nil Backend")
	}
	if cfg.WSDLDir == "" {
		return nil, errors.New("xta: NewServer: WSDLDir is required")
	}
	if cfg.BaseURL == "" {
		return nil, errors.New("xta: NewServer: BaseURL is required")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 64 << 20
	}
	if cfg.MaxControlBytes <= 0 {
		cfg.MaxControlBytes = 1 << 20
	}
	if cfg.DefaultListItems <= 0 {
		cfg.DefaultListItems = 100
	}
	if cfg.MaxListItems <= 0 {
		cfg.MaxListItems = 1000
	}
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = os.TempDir()
	}
	if err := os.MkdirAll(cfg.SpoolDir, 0o750); err != nil {
		return nil, fmt.Errorf("xta: spool directory: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = func() string { return "urn:uuid:" + uuid.NewString() }
	}
	ws, err := loadWSDL(cfg.WSDLDir, cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	s := &Server{b: b, cfg: cfg, log: cfg.Logger, wsdl: ws}
	s.msgBox = s.port("MsgBoxPort", cfg.MaxControlBytes, map[string]opFunc{
		ActionGetStatusList: s.getStatusList,
		ActionGetMessage:    s.getMessage,
		ActionClose:         s.close,
	})
	s.send = s.port("SendXtaPort", cfg.MaxRequestBytes, map[string]opFunc{ActionSendMessage: nil})
	s.mgmt = s.port("ManagementPort", cfg.MaxControlBytes, map[string]opFunc{
		ActionCheckAccountActive: s.checkAccountActive,
	})
	return s, nil
}

// MsgBoxHandler serves the MsgBoxPort (mount at PathMsgBox).
func (s *Server) MsgBoxHandler() http.Handler { return s.msgBox }

// SendHandler serves the SendXtaPort (mount at PathSend).
func (s *Server) SendHandler() http.Handler { return s.send }

// ManagementHandler serves the ManagementPort (mount at PathManagement).
func (s *Server) ManagementHandler() http.Handler { return s.mgmt }

// Mount registers the three ports on mux at their default paths.
func (s *Server) Mount(mux *http.ServeMux) {
	mux.Handle(PathMsgBox, s.msgBox)
	mux.Handle(PathSend, s.send)
	mux.Handle(PathManagement, s.mgmt)
}

// request is a parsed request as seen by an operation.
type request struct {
	env    *Envelope
	addr   Addressing
	action string
	author string // oscimeta:Author identifier, "" if absent
}

// opFunc handles one operation and writes its response, or returns an error
// that is turned into a fault.
type opFunc func(ctx context.Context, w http.ResponseWriter, req *request) error

func (s *Server) port(name string, limit int64, ops map[string]opFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.serveMetadata(w, r)
			return
		case http.MethodPost:
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s.handle(w, r, name, limit, ops)
	})
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request, portName string, limit int64, ops map[string]opFunc) {
	ctx := r.Context()
	req := &request{}
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch mt {
	case "application/soap+xml", "text/xml", "application/xml":
	case "multipart/related":
		s.fault(w, req, &Fault{SOAPCode: "Sender", Reason: ErrMTOMUnsupported.Error()})
		return
	default:
		s.fault(w, req, &Fault{SOAPCode: "Sender", Reason: fmt.Sprintf("unsupported Content-Type %q, expected application/soap+xml", ct)})
		return
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	p := newParser(body, Limits{MaxBytes: limit})
	var (
		op      opFunc
		send    *sendState
		opErr   error
		started bool
	)
	defer func() {
		if send != nil {
			send.cleanup()
		}
	}()
	env, err := p.envelope(func(p *parser, start xml.StartElement) error {
		if !started {
			started = true
			req.env = p.env
			if err := s.resolve(r, req, portName, ops); err != nil {
				return err
			}
			if req.action == ActionSendMessage {
				send = &sendState{s: s}
				if err := send.begin(ctx, req); err != nil {
					return err
				}
			}
			op = ops[req.action]
		}
		if send != nil {
			return send.body(p, start)
		}
		el, err := p.tree(start, 2)
		if err != nil {
			return err
		}
		p.env.Body = append(p.env.Body, el)
		return nil
	})
	if err == nil && !started {
		// empty Body (checkAccountActive): resolve now.
		req.env = env
		err = s.resolve(r, req, portName, ops)
		op = ops[req.action]
		if err == nil && req.action == ActionSendMessage {
			err = NewFault(CodeNoParameters, "sendMessage without xta:GenericContentContainer")
		}
	}
	if err != nil {
		s.fault(w, req, s.classify(err))
		return
	}
	if send != nil {
		opErr = send.finish(ctx, w, req)
	} else {
		opErr = op(ctx, w, req)
	}
	if opErr != nil {
		s.fault(w, req, s.classify(opErr))
	}
}

// resolve determines the action, checks it against the port and checks
// mustUnderstand headers.
func (s *Server) resolve(r *http.Request, req *request, portName string, ops map[string]opFunc) error {
	req.addr = req.env.Addressing()
	ctAction := soapActionFromContentType(r.Header.Get("Content-Type"))
	hdrAction := unquote(r.Header.Get("SOAPAction"))
	action := req.addr.Action
	for _, other := range []string{ctAction, hdrAction} {
		if other == "" {
			continue
		}
		if action == "" {
			action = other
		} else if other != action {
			return &Fault{SOAPCode: "Sender", Subcode: "wsa:ActionMismatch",
				Reason: fmt.Sprintf("SOAP action %q does not match wsa:Action %q", other, action)}
		}
	}
	if action == "" {
		return &Fault{SOAPCode: "Sender", Subcode: "wsa:MessageAddressingHeaderRequired", Reason: "no wsa:Action header and no SOAP action"}
	}
	if _, ok := ops[action]; !ok {
		return &Fault{SOAPCode: "Sender", Subcode: "wsa:ActionNotSupported",
			Reason: fmt.Sprintf("action %q is not supported by the %s", action, portName)}
	}
	req.action = action
	for _, h := range req.env.Header {
		if mu, _ := h.AttrValue(NSSOAP12, "mustUnderstand"); (mu == "true" || mu == "1") && !understood(h) {
			return &Fault{SOAPCode: "MustUnderstand", Reason: fmt.Sprintf("header {%s}%s not understood", h.Name.Space, h.Name.Local)}
		}
	}
	if a := req.env.HeaderBlock(NSOSCIMeta, "Author"); a != nil {
		req.author, _ = parseParty(a)
	}
	return nil
}

func understood(h *Element) bool {
	switch h.Name.Space {
	case NSWSA:
		return true
	case NSOSCIMeta:
		return h.Name.Local == "Author" || h.Name.Local == "MessageMetaData"
	case NSOSCI:
		return h.Name.Local == "X509TokenContainer"
	}
	return false
}

// classify maps an error to the fault sent to the client.
func (s *Server) classify(err error) *Fault {
	var f *Fault
	var pe *paramError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &f):
		return f
	case errors.As(err, &mbe), errors.Is(err, ErrTooLarge):
		return NewFault(CodeSizeLimitExceeded, "request exceeds the size limit")
	case errors.Is(err, ErrVersionMismatch):
		return &Fault{SOAPCode: "VersionMismatch", Reason: err.Error()}
	case errors.Is(err, ErrMTOMUnsupported):
		return NewFault(CodeInvalidParameters, err.Error())
	case errors.As(err, &pe):
		return NewFault(CodeInvalidParameters, pe.msg)
	case errors.Is(err, ErrMalformed):
		return &Fault{SOAPCode: "Sender", Reason: err.Error()}
	case errors.Is(err, ErrUnknownMessage):
		return NewFault(CodeUnknownMessageID, err.Error())
	case errors.Is(err, ErrDuplicateMessage):
		return NewFault(CodeMessageIDUsed, err.Error())
	}
	s.log.Error("xta: internal error", "err", err)
	return NewFault(CodeInternalError, "internal server error")
}

func (s *Server) replyAddressing(req *request, action string) Addressing {
	return Addressing{Action: action, MessageID: s.cfg.NewID(), To: AnonymousAddress, RelatesTo: req.addr.MessageID}
}

func (s *Server) fault(w http.ResponseWriter, req *request, f *Fault) {
	action := req.action
	if action == "" {
		action = ActionFault
	}
	s.log.Info("xta: fault", "action", action, "author", req.author, "code", f.Code, "reason", f.Reason)
	var buf bytes.Buffer
	x := NewWriter(&buf)
	x.StartEnvelope(s.replyAddressing(req, action), nil)
	x.WriteFault(f)
	x.EndEnvelope()
	_ = x.Flush()
	w.Header().Set("Content-Type", ContentTypeSOAP12)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(f.httpStatus())
	_, _ = w.Write(buf.Bytes())
}

// reply writes a complete response envelope.
func (s *Server) reply(w http.ResponseWriter, req *request, headers, body func(x *Writer)) error {
	var buf bytes.Buffer
	x := NewWriter(&buf)
	x.StartEnvelope(s.replyAddressing(req, req.action), headers)
	if body != nil {
		body(x)
	}
	x.EndEnvelope()
	if err := x.Flush(); err != nil {
		return err
	}
	w.Header().Set("Content-Type", ContentTypeSOAP12)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
	return nil
}

// checkAccount requires an active account for identity.
func (s *Server) checkAccount(ctx context.Context, identity, what string) error {
	if identity == "" {
		return NewFault(CodeNoParameters, what+" missing")
	}
	ok, err := s.b.AccountActive(ctx, identity)
	if err != nil {
		return fmt.Errorf("account lookup %s: %w", identity, err)
	}
	if !ok {
		return NewFault(CodeAccountMissing, fmt.Sprintf("no account for %q", identity))
	}
	return nil
}

func (s *Server) checkAccountActive(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := s.checkAccount(ctx, req.author, "oscimeta:Author header"); err != nil {
		return err
	}
	return s.reply(w, req, nil, nil)
}

// bodyElement returns the single body element, which must have the given name.
func bodyElement(req *request, ns, local string) (*Element, error) {
	if len(req.env.Body) == 0 {
		return nil, NewFault(CodeNoParameters, fmt.Sprintf("Body must contain %s", local))
	}
	el := req.env.Body[0]
	if len(req.env.Body) > 1 || !el.Is(ns, local) {
		return nil, NewFault(CodeInvalidParameters, fmt.Sprintf("Body must contain exactly one {%s}%s", ns, local))
	}
	return el, nil
}

func (s *Server) getStatusList(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := s.checkAccount(ctx, req.author, "oscimeta:Author header"); err != nil {
		return err
	}
	el, err := bodyElement(req, NSOSCI, "MsgBoxStatusListRequest")
	if err != nil {
		return err
	}
	max := s.cfg.DefaultListItems
	if v, ok := el.AttrValue("", "maxListItems"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return NewFault(CodeInvalidParameters, fmt.Sprintf("maxListItems %q is not a positive integer", v))
		}
		max = n
	}
	max = min(max, s.cfg.MaxListItems)
	form, _ := el.AttrValue("", "ListForm")
	if form != "" && form != "MessageMetaData" && form != "MsgAtrributes" {
		return NewFault(CodeInvalidParameters, fmt.Sprintf("ListForm %q is not supported", form))
	}
	metas, pending, err := s.b.StatusList(ctx, req.author, max)
	if err != nil {
		return fmt.Errorf("status list %s: %w", req.author, err)
	}
	requestID := s.cfg.NewID()
	s.log.Debug("xta: getStatusList", "reader", req.author, "items", len(metas), "pending", pending)
	return s.reply(w, req, func(x *Writer) {
		x.writeMsgBoxResponse(requestID, len(metas) == 0, pending)
	}, func(x *Writer) {
		x.Start("osci:MsgStatusList")
		for _, m := range metas {
			if form == "MsgAtrributes" {
				x.writeMsgAttributes(m)
			} else {
				x.WriteMessageMetaData(m)
			}
		}
		x.End("osci:MsgStatusList")
	})
}

// MsgBoxReasonNoMatch is the NoMessageAvailable reason for an empty result.
const MsgBoxReasonNoMatch = "http://www.osci.eu/ws/2008/05/transport/MsgBox/reasons/NoMatch"

func (x *Writer) writeMsgBoxResponse(requestID string, empty bool, pending int) {
	x.Start("osci:MsgBoxResponse", "MsgBoxRequestID", requestID)
	if empty {
		x.Raw(`<osci:NoMessageAvailable reason="` + MsgBoxReasonNoMatch + `"/>`)
	} else {
		x.Elem("osci:ItemsPending", strconv.Itoa(pending))
	}
	x.End("osci:MsgBoxResponse")
}

func (x *Writer) writeMsgAttributes(m MessageMeta) {
	x.Start("osci:MsgAttributes")
	x.Elem("wsa:MessageID", m.MessageID)
	scenario := m.BusinessScenario.Code
	if scenario == "" {
		scenario = m.UndefinedScenario
	}
	x.Elem("osci:TypeOfBusinessScenario", scenario)
	x.Elem("osci:MsgSize", strconv.FormatInt(min(m.Size, 1<<31-1), 10))
	x.Elem("osci:DeliveryTime", xsdTime(m.Delivery))
	x.End("osci:MsgAttributes")
}

// selectedID returns the single wsa:MessageID of a MsgBoxFetchRequest.
func selectedID(el *Element) (string, error) {
	ids := el.Child(NSOSCI, "MsgSelector").ChildrenNamed(NSWSA, "MessageID")
	switch len(ids) {
	case 0:
		return "", NewFault(CodeNoParameters, "MsgSelector/wsa:MessageID missing")
	case 1:
		if id := ids[0].TrimText(); id != "" {
			return id, nil
		}
		return "", NewFault(CodeNoParameters, "empty MsgSelector/wsa:MessageID")
	default:
		return "", NewFault(CodeInvalidParameters, "getMessage takes exactly one MsgSelector/wsa:MessageID")
	}
}

func (s *Server) getMessage(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := s.checkAccount(ctx, req.author, "oscimeta:Author header"); err != nil {
		return err
	}
	el, err := bodyElement(req, NSOSCI, "MsgBoxFetchRequest")
	if err != nil {
		return err
	}
	id, err := selectedID(el)
	if err != nil {
		return err
	}
	msg, err := s.b.Fetch(ctx, req.author, id)
	if err != nil {
		if errors.Is(err, ErrUnknownMessage) {
			return NewFault(CodeUnknownMessageID, fmt.Sprintf("message %q unknown for %q", id, req.author))
		}
		return fmt.Errorf("fetch %s: %w", id, err)
	}
	contents := append([]Content{msg.Message}, msg.Attachments...)
	readers := make([]io.ReadCloser, 0, len(contents))
	defer func() {
		for _, rc := range readers {
			_ = rc.Close()
		}
	}()
	for i, c := range contents {
		if c.Open == nil {
			return fmt.Errorf("fetch %s: content %d has no Open", id, i)
		}
		rc, err := c.Open()
		if err != nil {
			return fmt.Errorf("fetch %s: open content %d: %w", id, i, err)
		}
		readers = append(readers, rc)
	}
	meta := msg.Meta
	if meta.Size == 0 {
		for _, c := range contents {
			meta.Size += c.Size
		}
	}
	// From here on the response is streamed; a failure can only abort the
	// connection so the reader never sees a truncated message as complete.
	w.Header().Set("Content-Type", ContentTypeSOAP12)
	w.WriteHeader(http.StatusOK)
	x := NewWriter(w)
	x.StartEnvelope(s.replyAddressing(req, req.action), func(x *Writer) {
		x.WriteMessageMetaData(meta)
		x.writeMsgBoxResponse(s.cfg.NewID(), false, 0)
	})
	x.Start("xta:GenericContentContainer")
	x.Start("xta:ContentContainer")
	for i, c := range contents {
		name := "xta:Attachment"
		if i == 0 {
			name = "xta:Message"
		}
		if err := x.writeContent(name, c, readers[i]); err != nil {
			s.log.Error("xta: getMessage aborted while streaming", "message_id", id, "content", i, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	x.End("xta:ContentContainer")
	x.End("xta:GenericContentContainer")
	x.EndEnvelope()
	if err := x.Flush(); err != nil {
		s.log.Warn("xta: getMessage response not completed", "message_id", id, "err", err)
	}
	s.log.Info("xta: getMessage", "reader", req.author, "message_id", id, "contents", len(contents))
	return nil
}

// writeContent streams one xta:ContentType element with base64 content.
func (x *Writer) writeContent(name string, c Content, r io.Reader) error {
	attrs := []string{"contentType", c.ContentType}
	if c.Description != "" {
		attrs = append(attrs, "contentDescription", c.Description)
	}
	if c.Encoding != "" {
		attrs = append(attrs, "encoding", c.Encoding)
	}
	if c.Filename != "" {
		attrs = append(attrs, "filename", c.Filename)
	}
	if c.ID != "" {
		attrs = append(attrs, "id", c.ID)
	}
	if c.Size > 0 {
		attrs = append(attrs, "size", strconv.FormatInt(c.Size, 10))
	}
	x.Start(name, attrs...)
	enc := base64.NewEncoder(base64.StdEncoding, x)
	n, err := io.Copy(enc, r)
	if err != nil {
		return fmt.Errorf("read content: %w", err)
	}
	if err := enc.Close(); err != nil {
		return err
	}
	if n != c.Size {
		return fmt.Errorf("content has %d bytes, declared %d", n, c.Size)
	}
	x.End(name)
	return x.Err()
}

func (s *Server) close(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := s.checkAccount(ctx, req.author, "oscimeta:Author header"); err != nil {
		return err
	}
	el, err := bodyElement(req, NSOSCI, "MsgBoxCloseRequest")
	if err != nil {
		return err
	}
	ids := el.ChildrenNamed(NSOSCI, "LastMsgReceived")
	if len(ids) == 0 {
		return NewFault(CodeNoParameters, "MsgBoxCloseRequest without LastMsgReceived")
	}
	for _, idEl := range ids {
		id := idEl.TrimText()
		if id == "" {
			return NewFault(CodeNoParameters, "empty LastMsgReceived")
		}
		if err := s.b.Close(ctx, req.author, id); err != nil {
			if errors.Is(err, ErrUnknownMessage) {
				return NewFault(CodeUnknownMessageID, fmt.Sprintf("message %q unknown for %q", id, req.author))
			}
			return fmt.Errorf("close %s: %w", id, err)
		}
		s.log.Info("xta: close", "reader", req.author, "message_id", id)
	}
	return s.reply(w, req, nil, nil)
}
