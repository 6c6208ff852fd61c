package xta

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
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

// Config configures a Server.
type Config struct {
	// WSDLDir holds XTA.wsdl and its XSDs (the xta2-v3 schema set); required.
	WSDLDir string
	// BaseURL is the externally visible URL the ports are mounted under,
	// e.g. "https://hub.example.org"; required for the served WSDL.
	BaseURL string
	// ServerIdentity is the XTAServerIdentity of transport reports and the
	// sender part of the message IDs createMessageId issues
	// (urn:de:xta:messageid:<ServerIdentity>:<uuid>); default "dxhub",
	// at most 41 characters.
	ServerIdentity string
	// MaxRequestBytes bounds a sendMessage request (default 64 MiB: the XTA
	// limit of 40 MB per container, base64-encoded, plus the envelope).
	MaxRequestBytes int64
	// MaxControlBytes bounds all other requests (default 1 MiB).
	MaxControlBytes int64
	// Parse bounds the structure of every request: MaxDepth, MaxElements
	// and MaxAttrs (MaxBytes is set per port from the two fields above);
	// zero fields take the defaults of Limits.
	Parse Limits
	// DefaultListItems is used when getStatusList has no maxListItems
	// (default 100); MaxListItems caps it (default 1000).
	DefaultListItems int
	MaxListItems     int
	// MTOM makes every response that carries content (getMessage,
	// getNextMessage, sendMessageSync) MTOM/XOP; otherwise such responses
	// mirror the request: MTOM for an MTOM request, inline base64 else.
	MTOM bool
	// ClientCerts, when set, requires every caller to present a TLS client
	// certificate (the listener must request one, see ServerTLSConfig) that
	// the authority maps to the identities it may act for (9010–9014).
	ClientCerts *CertAuthority
	// IteratorTTL is how long a MsgBoxRequestID stays valid after its last
	// use (default 15 minutes).
	IteratorTTL time.Duration
	// Iterations keeps the MsgBoxRequestID state; nil keeps it in memory
	// (MemoryIterations with at most MaxIterators, default 10000).
	Iterations   IterationStore
	MaxIterators int
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
	iters  IterationStore
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
	if cfg.ServerIdentity == "" {
		cfg.ServerIdentity = "dxhub"
	}
	if len(cfg.ServerIdentity) > 41 || strings.ContainsAny(cfg.ServerIdentity, ": \t") {
		return nil, fmt.Errorf("xta: NewServer: ServerIdentity %q must be at most 41 characters without ':' or spaces", cfg.ServerIdentity)
	}
	if cfg.IteratorTTL <= 0 {
		cfg.IteratorTTL = 15 * time.Minute
	}
	if cfg.MaxIterators <= 0 {
		cfg.MaxIterators = 10000
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
	if cfg.Iterations == nil {
		cfg.Iterations = &MemoryIterations{Max: cfg.MaxIterators}
	}
	s := &Server{b: b, cfg: cfg, log: cfg.Logger, wsdl: ws, iters: cfg.Iterations}
	s.msgBox = s.port("MsgBoxPort", cfg.MaxControlBytes, map[string]opFunc{
		ActionGetStatusList:     s.getStatusList,
		ActionGetNextStatusList: s.getNextStatusList,
		ActionGetMessage:        s.getMessage,
		ActionGetNextMessage:    s.getNextMessage,
		ActionClose:             s.close,
	})
	s.send = s.port("SendXtaPort", cfg.MaxRequestBytes, map[string]opFunc{ActionSendMessage: nil, ActionSendMessageSync: nil})
	s.mgmt = s.port("ManagementPort", cfg.MaxControlBytes, map[string]opFunc{
		ActionCheckAccountActive: s.checkAccountActive,
		ActionLookupService:      s.lookupService,
		ActionCreateMessageID:    s.createMessageID,
		ActionGetTransportReport: s.getTransportReport,
		ActionCancelMessage:      s.cancelMessage,
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
	mtom   bool   // the request was MTOM (multipart/related)
	// peer is the caller's verified certificate identities (ClientCerts set).
	peer    []string
	peerErr error
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
	if s.cfg.ClientCerts != nil {
		req.peer, req.peerErr = s.cfg.ClientCerts.Identities(r.TLS, s.cfg.Now())
	}
	mtom, err := CheckContentType(r.Header.Get("Content-Type"))
	if err != nil {
		s.fault(w, req, &Fault{SOAPCode: "Sender", Reason: err.Error()})
		return
	}
	req.mtom = mtom
	body := http.MaxBytesReader(w, r.Body, limit)
	lim := s.cfg.Parse
	lim.MaxBytes = limit
	p, err := newMessageParser(r.Header.Get("Content-Type"), body, lim)
	if err != nil {
		s.fault(w, req, s.classify(err))
		return
	}
	var (
		op      opFunc
		send    *sendState
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
			if isSend(req.action) {
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
		// empty Body (checkAccountActive, createMessageId): resolve now.
		req.env = env
		err = s.resolve(r, req, portName, ops)
		op = ops[req.action]
		if err == nil && isSend(req.action) {
			err = NewFault(CodeNoParameters, "sendMessage without xta:GenericContentContainer")
		}
	}
	if err == nil {
		err = p.finishXOP()
	}
	if err == nil {
		if send != nil {
			err = send.finish(ctx, w, req)
		} else {
			err = op(ctx, w, req)
		}
	}
	if err != nil {
		s.fault(w, req, s.classify(err))
	}
}

func isSend(action string) bool {
	return action == ActionSendMessage || action == ActionSendMessageSync
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
	case errors.Is(err, ErrMTOM):
		return &Fault{SOAPCode: "Sender", Reason: err.Error()}
	case errors.As(err, &pe):
		return NewFault(CodeInvalidParameters, pe.msg)
	case errors.Is(err, ErrMalformed):
		return &Fault{SOAPCode: "Sender", Reason: err.Error()}
	case errors.Is(err, ErrUnknownMessage):
		return NewFault(CodeUnknownMessageID, err.Error())
	case errors.Is(err, ErrDuplicateMessage):
		return NewFault(CodeMessageIDUsed, err.Error())
	}
	if errors.Is(err, context.Canceled) {
		// The client hung up or the hub is shutting down: nobody reads the
		// fault, and it is no fault of the hub's.
		s.log.Info("xta: request canceled", "err", err)
		return NewFault(CodeInternalError, "request canceled")
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

// checkAccount requires that the caller may act for identity: with
// ClientCerts the identity must belong to the verified client certificate
// (9010 expired, 9014 not this certificate's), and it needs an active
// account (9012).
func (s *Server) checkAccount(ctx context.Context, req *request, identity, what string) error {
	if identity == "" {
		return NewFault(CodeNoParameters, what+" missing")
	}
	if s.cfg.ClientCerts != nil {
		if req.peerErr != nil {
			return req.peerErr
		}
		if !containsFold(req.peer, identity) {
			return NewFault(CodeCertSenderMismatch, fmt.Sprintf("the client certificate does not authorise %q", identity))
		}
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
	if err := s.checkAccount(ctx, req, req.author, "oscimeta:Author header"); err != nil {
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
