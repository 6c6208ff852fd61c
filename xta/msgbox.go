package xta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MsgBoxResponse reasons for NoMessageAvailable (OSCI 2 MsgBox).
const (
	MsgBoxReasonNoMatch           = "http://www.osci.eu/ws/2008/05/transport/MsgBox/reasons/NoMatch"
	MsgBoxReasonSearchArgsInvalid = "http://www.osci.eu/ws/2008/05/transport/MsgBox/reasons/SearchArgsInvalid"
	MsgBoxReasonRequestIDInvalid  = "http://www.osci.eu/ws/2008/05/transport/MsgBox/reasons/RequestIdInvalid"
)

// Iteration is the state behind a MsgBoxRequestID: which reader, which
// selection, which list form and page size, and how far the reader has got.
type Iteration struct {
	Reader   string
	Selector Selector
	Form     string
	Limit    int
	Cursor   Cursor
}

// IterationStore keeps MsgBoxRequestID state between requests, so that a
// getNextStatusList/getNextMessage may reach another process or a restarted
// one. Implementations must be safe for concurrent use.
type IterationStore interface {
	// PutIteration stores a new iteration valid until expires. It may drop
	// expired iterations, and the oldest ones of the same reader beyond a
	// bound of its own.
	PutIteration(ctx context.Context, id string, it Iteration, expires time.Time) error
	// GetIteration returns the iteration id if it exists, belongs to reader
	// (compared case-insensitively) and has not expired at now.
	GetIteration(ctx context.Context, id, reader string, now time.Time) (Iteration, bool, error)
	// AdvanceIteration moves the iteration's cursor and extends its validity
	// to expires; an unknown or dropped id is not an error.
	AdvanceIteration(ctx context.Context, id string, c Cursor, expires time.Time) error
}

// MemoryIterations is an in-memory IterationStore holding at most Max
// iterations (0: 10000); the default when Config.Iterations is nil. Its
// state is lost with the process: a getNext* call after a restart gets
// RequestIdInvalid and the reader starts a new round.
type MemoryIterations struct {
	Max int

	mu sync.Mutex
	m  map[string]*memIteration
}

type memIteration struct {
	it      Iteration
	expires time.Time
}

var _ IterationStore = (*MemoryIterations)(nil)

// PutIteration implements IterationStore.
func (is *MemoryIterations) PutIteration(_ context.Context, id string, it Iteration, expires time.Time) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.m == nil {
		is.m = map[string]*memIteration{}
	}
	limit := is.Max
	if limit <= 0 {
		limit = 10000
	}
	for len(is.m) >= limit {
		// Full: drop the iteration that expires first (expired, or the
		// least recently used: validity is extended on every use).
		var (
			first   string
			firstAt time.Time
		)
		for k, v := range is.m {
			if first == "" || v.expires.Before(firstAt) {
				first, firstAt = k, v.expires
			}
		}
		delete(is.m, first)
	}
	is.m[id] = &memIteration{it: it, expires: expires}
	return nil
}

// GetIteration implements IterationStore.
func (is *MemoryIterations) GetIteration(_ context.Context, id, reader string, now time.Time) (Iteration, bool, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	v, ok := is.m[id]
	if !ok || !strings.EqualFold(v.it.Reader, reader) || now.After(v.expires) {
		return Iteration{}, false, nil
	}
	return v.it, true, nil
}

// AdvanceIteration implements IterationStore.
func (is *MemoryIterations) AdvanceIteration(_ context.Context, id string, c Cursor, expires time.Time) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	if v, ok := is.m[id]; ok {
		v.it.Cursor = c
		v.expires = expires
	}
	return nil
}

// saveIteration records how far the reader got: a new iteration (isNew) is
// stored with its first cursor in one write, an existing one advanced.
func (s *Server) saveIteration(ctx context.Context, id string, it Iteration, isNew bool) error {
	expires := s.cfg.Now().Add(s.cfg.IteratorTTL)
	var err error
	if isNew {
		err = s.iters.PutIteration(ctx, id, it, expires)
	} else {
		err = s.iters.AdvanceIteration(ctx, id, it.Cursor, expires)
	}
	if err != nil {
		return fmt.Errorf("msgbox request %s: %w", id, err)
	}
	return nil
}

// parseSelector decodes osci:MsgSelector (nil el: no selector).
func parseSelector(el *Element) (Selector, error) {
	var sel Selector
	if el == nil {
		return sel, nil
	}
	for _, id := range el.ChildrenNamed(NSWSA, "MessageID") {
		if v := id.TrimText(); v != "" {
			sel.MessageIDs = append(sel.MessageIDs, v)
		}
	}
	for _, id := range el.ChildrenNamed(NSWSA, "RelatesTo") {
		if v := id.TrimText(); v != "" {
			sel.RelatesTo = append(sel.RelatesTo, v)
		}
	}
	var err error
	if sel.From, err = parseTime(el.Child(NSOSCI, "MsgBoxEntryTimeFrom"), "MsgBoxEntryTimeFrom"); err != nil {
		return sel, NewFault(CodeInvalidParameters, err.Error())
	}
	if sel.To, err = parseTime(el.Child(NSOSCI, "MsgBoxEntryTimeTo"), "MsgBoxEntryTimeTo"); err != nil {
		return sel, NewFault(CodeInvalidParameters, err.Error())
	}
	if !sel.From.IsZero() && !sel.To.IsZero() && sel.To.Before(sel.From) {
		return sel, NewFault(CodeInvalidParameters, "MsgBoxEntryTimeTo lies before MsgBoxEntryTimeFrom")
	}
	if v, ok := el.AttrValue("", "newEntry"); ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return sel, NewFault(CodeInvalidParameters, fmt.Sprintf("MsgSelector/@newEntry %q is not a boolean", v))
		}
		sel.NewEntry = &b
	}
	return sel, nil
}

var trueVal = true

// listSelector applies the listing default: without explicit message IDs or
// newEntry, only unfetched messages are listed.
func listSelector(sel Selector) Selector {
	if sel.NewEntry == nil && len(sel.MessageIDs) == 0 {
		sel.NewEntry = &trueVal
	}
	return sel
}

func (s *Server) getStatusList(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := s.checkAccount(ctx, req, req.author, "oscimeta:Author header"); err != nil {
		return err
	}
	el, err := bodyElement(req, NSOSCI, "MsgBoxStatusListRequest")
	if err != nil {
		return err
	}
	limit := s.cfg.DefaultListItems
	if v, ok := el.AttrValue("", "maxListItems"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return NewFault(CodeInvalidParameters, fmt.Sprintf("maxListItems %q is not a positive integer", v))
		}
		limit = n
	}
	limit = min(limit, s.cfg.MaxListItems)
	form, _ := el.AttrValue("", "ListForm")
	if form != "" && form != "MessageMetaData" && form != "MsgAtrributes" {
		return NewFault(CodeInvalidParameters, fmt.Sprintf("ListForm %q is not supported", form))
	}
	sel, err := parseSelector(el.Child(NSOSCI, "MsgSelector"))
	if err != nil {
		return err
	}
	it := Iteration{Reader: req.author, Selector: listSelector(sel), Form: form, Limit: limit}
	return s.listPage(ctx, w, req, s.cfg.NewID(), it, true)
}

// listPage answers getStatusList/getNextStatusList with the next page of it.
func (s *Server) listPage(ctx context.Context, w http.ResponseWriter, req *request, requestID string, it Iteration, isNew bool) error {
	metas, remaining, err := s.b.StatusList(ctx, it.Reader, ListQuery{Selector: it.Selector, After: it.Cursor, Limit: it.Limit})
	if err != nil {
		return fmt.Errorf("status list %s: %w", it.Reader, err)
	}
	if len(metas) > 0 {
		last := metas[len(metas)-1]
		it.Cursor = Cursor{Delivery: last.Delivery, MessageID: last.MessageID}
	}
	if isNew || len(metas) > 0 {
		if err := s.saveIteration(ctx, requestID, it, isNew); err != nil {
			return err
		}
	}
	s.log.Debug("xta: status list", "reader", it.Reader, "items", len(metas), "remaining", remaining)
	reason := ""
	if len(metas) == 0 {
		reason = MsgBoxReasonNoMatch
	}
	return s.reply(w, req, func(x *Writer) {
		x.writeMsgBoxResponse(requestID, reason, remaining)
	}, func(x *Writer) {
		writeStatusList(x, it.Form, metas)
	})
}

func writeStatusList(x *Writer, form string, metas []MessageMeta) {
	x.Start("osci:MsgStatusList")
	for _, m := range metas {
		if form == "MsgAtrributes" {
			x.writeMsgAttributes(m)
		} else {
			x.WriteMessageMetaData(m)
		}
	}
	x.End("osci:MsgStatusList")
}

// getNextRequest decodes osci:MsgBoxGetNextRequest and acknowledges its
// LastMsgReceived entries (OSCI 2: the reader confirms what it received
// with the previous response, like close).
func (s *Server) getNextRequest(ctx context.Context, req *request) (string, error) {
	el, err := bodyElement(req, NSOSCI, "MsgBoxGetNextRequest")
	if err != nil {
		return "", err
	}
	id, _ := el.AttrValue("", "MsgBoxRequestID")
	if id = strings.TrimSpace(id); id == "" {
		return "", NewFault(CodeNoParameters, "MsgBoxGetNextRequest without MsgBoxRequestID")
	}
	if err := s.closeAll(ctx, req.author, el.ChildrenNamed(NSOSCI, "LastMsgReceived")); err != nil {
		return "", err
	}
	return id, nil
}

func (s *Server) getNextStatusList(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := s.checkAccount(ctx, req, req.author, "oscimeta:Author header"); err != nil {
		return err
	}
	id, err := s.getNextRequest(ctx, req)
	if err != nil {
		return err
	}
	it, ok, err := s.iters.GetIteration(ctx, id, req.author, s.cfg.Now())
	if err != nil {
		return fmt.Errorf("msgbox request %s: %w", id, err)
	}
	if !ok {
		return s.reply(w, req, func(x *Writer) {
			x.writeMsgBoxResponse(id, MsgBoxReasonRequestIDInvalid, 0)
		}, func(x *Writer) { writeStatusList(x, "", nil) })
	}
	return s.listPage(ctx, w, req, id, it, false)
}

func (x *Writer) writeMsgBoxResponse(requestID, noMessageReason string, pending int) {
	x.Start("osci:MsgBoxResponse", "MsgBoxRequestID", requestID)
	if noMessageReason != "" {
		x.Raw(`<osci:NoMessageAvailable reason="` + noMessageReason + `"/>`)
	} else {
		x.Elem("osci:ItemsPending", strconv.Itoa(pending))
	}
	x.End("osci:MsgBoxResponse")
}

func (x *Writer) writeMsgAttributes(m MessageMeta) {
	x.Start("osci:MsgAttributes")
	x.Elem("wsa:MessageID", m.MessageID)
	for _, r := range m.InReplyTo {
		x.Elem("wsa:RelatesTo", r)
	}
	scenario := m.BusinessScenario.Code
	if scenario == "" {
		scenario = m.UndefinedScenario
	}
	x.Elem("osci:TypeOfBusinessScenario", scenario)
	x.Elem("osci:MsgSize", strconv.FormatInt(min(m.Size, 1<<31-1), 10))
	x.Elem("osci:DeliveryTime", xsdTime(m.Delivery))
	if !m.InitialFetch.IsZero() {
		x.Elem("osci:InitialFetchedTime", xsdTime(m.InitialFetch))
	}
	x.End("osci:MsgAttributes")
}

func (s *Server) getMessage(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := s.checkAccount(ctx, req, req.author, "oscimeta:Author header"); err != nil {
		return err
	}
	el, err := bodyElement(req, NSOSCI, "MsgBoxFetchRequest")
	if err != nil {
		return err
	}
	if part, ok := el.AttrValue("", "MsgPart"); ok && strings.TrimSpace(part) != "Envelope" {
		return NewFault(CodeInvalidParameters, fmt.Sprintf("MsgPart %q is not supported, only Envelope", part))
	}
	sel, err := parseSelector(el.Child(NSOSCI, "MsgSelector"))
	if err != nil {
		return err
	}
	if len(sel.MessageIDs) == 0 && len(sel.RelatesTo) == 0 && sel.From.IsZero() && sel.To.IsZero() && sel.NewEntry == nil {
		return NewFault(CodeNoParameters, "MsgSelector/wsa:MessageID missing")
	}
	it := Iteration{Reader: req.author, Selector: sel, Limit: 1}
	requestID := s.cfg.NewID()
	if len(sel.MessageIDs) == 1 && len(sel.RelatesTo) == 0 && sel.From.IsZero() && sel.To.IsZero() && sel.NewEntry == nil {
		// The common case: one message by ID, open or already fetched.
		// Its selection has nothing to continue, so the iteration is not
		// stored: getNextMessage with this ID answers 9070 either way.
		return s.sendFetched(ctx, w, req, requestID, sel.MessageIDs[0], -1)
	}
	return s.nextMessage(ctx, w, req, requestID, it, true)
}

func (s *Server) getNextMessage(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := s.checkAccount(ctx, req, req.author, "oscimeta:Author header"); err != nil {
		return err
	}
	id, err := s.getNextRequest(ctx, req)
	if err != nil {
		return err
	}
	it, ok, err := s.iters.GetIteration(ctx, id, req.author, s.cfg.Now())
	if err != nil {
		return fmt.Errorf("msgbox request %s: %w", id, err)
	}
	if !ok {
		return NewFault(CodeUnknownMessageID, fmt.Sprintf("MsgBoxRequestID %q is unknown or expired (%s)", id, MsgBoxReasonRequestIDInvalid))
	}
	return s.nextMessage(ctx, w, req, id, it, false)
}

// nextMessage sends the first message of it after its cursor.
func (s *Server) nextMessage(ctx context.Context, w http.ResponseWriter, req *request, requestID string, it Iteration, isNew bool) error {
	metas, remaining, err := s.b.StatusList(ctx, it.Reader, ListQuery{Selector: it.Selector, After: it.Cursor, Limit: 1})
	if err != nil {
		return fmt.Errorf("status list %s: %w", it.Reader, err)
	}
	if len(metas) == 0 {
		return NewFault(CodeUnknownMessageID, fmt.Sprintf("no (further) message matches the selection (%s)", MsgBoxReasonNoMatch))
	}
	it.Cursor = Cursor{Delivery: metas[0].Delivery, MessageID: metas[0].MessageID}
	if err := s.saveIteration(ctx, requestID, it, isNew); err != nil {
		return err
	}
	return s.sendFetched(ctx, w, req, requestID, metas[0].MessageID, remaining)
}

// sendFetched streams one message of the reader's mailbox; pending < 0
// means "not known" and is computed from the iteration state.
func (s *Server) sendFetched(ctx context.Context, w http.ResponseWriter, req *request, requestID, id string, pending int) error {
	msg, err := s.b.Fetch(ctx, req.author, id)
	if err != nil {
		if errors.Is(err, ErrUnknownMessage) {
			return NewFault(CodeUnknownMessageID, fmt.Sprintf("message %q unknown for %q", id, req.author))
		}
		return fmt.Errorf("fetch %s: %w", id, err)
	}
	if pending < 0 {
		pending = 0
	}
	err = s.streamMessage(w, req, msg, func(x *Writer) {
		x.writeMsgBoxResponse(requestID, "", pending)
	})
	if err == nil {
		s.log.Info("xta: getMessage", "reader", req.author, "message_id", id)
	}
	return err
}

// streamMessage writes a response with MessageMetaData (and extra headers)
// and the message as GenericContentContainer, inline or MTOM. Errors before
// the first byte are returned; later ones abort the connection, so the
// reader never sees a truncated message as complete.
func (s *Server) streamMessage(w http.ResponseWriter, req *request, msg *OutboundMessage, headers func(x *Writer)) error {
	contents := append([]Content{msg.Message}, msg.Attachments...)
	readers := make([]io.ReadCloser, 0, len(contents))
	defer func() {
		for _, rc := range readers {
			_ = rc.Close()
		}
	}()
	for i, c := range contents {
		if c.Open == nil {
			return fmt.Errorf("message %s: content %d has no Open", msg.Meta.MessageID, i)
		}
		rc, err := c.Open()
		if err != nil {
			return fmt.Errorf("message %s: open content %d: %w", msg.Meta.MessageID, i, err)
		}
		readers = append(readers, rc)
	}
	meta := msg.Meta
	if meta.Size == 0 {
		for _, c := range contents {
			meta.Size += c.Size
		}
	}
	var x *Writer
	var mm *MTOMMessage
	if s.cfg.MTOM || req.mtom {
		mm = NewMTOMMessage(w, req.action)
		w.Header().Set("Content-Type", mm.ContentType())
		w.WriteHeader(http.StatusOK)
		var err error
		if x, err = mm.Root(); err != nil {
			panic(http.ErrAbortHandler)
		}
	} else {
		w.Header().Set("Content-Type", ContentTypeSOAP12)
		w.WriteHeader(http.StatusOK)
		x = NewWriter(w)
	}
	x.StartEnvelope(s.replyAddressing(req, req.action), func(x *Writer) {
		x.WriteMessageMetaData(meta)
		if headers != nil {
			headers(x)
		}
	})
	x.Start("xta:GenericContentContainer")
	x.Start("xta:ContentContainer")
	for i, c := range contents {
		name := "xta:Attachment"
		if i == 0 {
			name = "xta:Message"
		}
		if err := x.WriteContent(name, c, readers[i]); err != nil {
			s.log.Error("xta: response aborted while streaming", "message_id", meta.MessageID, "content", i, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	x.End("xta:ContentContainer")
	x.End("xta:GenericContentContainer")
	x.EndEnvelope()
	var err error
	if mm != nil {
		err = mm.Finish(x)
	} else {
		err = x.Flush()
	}
	if err != nil {
		s.log.Warn("xta: response not completed", "message_id", meta.MessageID, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (s *Server) close(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := s.checkAccount(ctx, req, req.author, "oscimeta:Author header"); err != nil {
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
	if err := s.closeAll(ctx, req.author, ids); err != nil {
		return err
	}
	return s.reply(w, req, nil, nil)
}

// closeAll acknowledges every LastMsgReceived of reader (idempotent).
func (s *Server) closeAll(ctx context.Context, reader string, ids []*Element) error {
	for _, idEl := range ids {
		id := idEl.TrimText()
		if id == "" {
			return NewFault(CodeNoParameters, "empty LastMsgReceived")
		}
		if err := s.b.Close(ctx, reader, id); err != nil {
			if errors.Is(err, ErrUnknownMessage) {
				return NewFault(CodeUnknownMessageID, fmt.Sprintf("message %q unknown for %q", id, reader))
			}
			return fmt.Errorf("close %s: %w", id, err)
		}
		s.log.Info("xta: close", "reader", reader, "message_id", id)
	}
	return nil
}
