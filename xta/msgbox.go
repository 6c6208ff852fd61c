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

// iterator is the state behind a MsgBoxRequestID: which reader, which
// selection and how far the reader has got. Iterators live in memory; after
// a restart or their TTL a getNext* call gets RequestIdInvalid and the
// reader starts a new round (XTA leaves the iteration's durability open).
type iterator struct {
	reader  string
	sel     Selector
	form    string
	limit   int
	cursor  Cursor
	expires time.Time
}

type iterators struct {
	mu  sync.Mutex
	m   map[string]*iterator
	ttl time.Duration
	max int
	now func() time.Time
}

func (is *iterators) put(id string, it *iterator) {
	is.mu.Lock()
	defer is.mu.Unlock()
	now := is.now()
	if len(is.m) >= is.max {
		for k, v := range is.m {
			if now.After(v.expires) {
				delete(is.m, k)
			}
		}
		for k := range is.m { // still full: drop an arbitrary one
			if len(is.m) < is.max {
				break
			}
			delete(is.m, k)
		}
	}
	it.expires = now.Add(is.ttl)
	is.m[id] = it
}

// get returns a copy of the iterator if it exists, belongs to reader and
// has not expired.
func (is *iterators) get(id, reader string) (iterator, bool) {
	is.mu.Lock()
	defer is.mu.Unlock()
	it, ok := is.m[id]
	if !ok || !strings.EqualFold(it.reader, reader) || is.now().After(it.expires) {
		return iterator{}, false
	}
	return *it, true
}

func (is *iterators) advance(id string, c Cursor) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if it, ok := is.m[id]; ok {
		it.cursor = c
		it.expires = is.now().Add(is.ttl)
	}
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
	it := &iterator{reader: req.author, sel: listSelector(sel), form: form, limit: limit}
	requestID := s.cfg.NewID()
	s.iters.put(requestID, it)
	return s.listPage(ctx, w, req, requestID, *it)
}

// listPage answers getStatusList/getNextStatusList with the next page of it.
func (s *Server) listPage(ctx context.Context, w http.ResponseWriter, req *request, requestID string, it iterator) error {
	metas, remaining, err := s.b.StatusList(ctx, it.reader, ListQuery{Selector: it.sel, After: it.cursor, Limit: it.limit})
	if err != nil {
		return fmt.Errorf("status list %s: %w", it.reader, err)
	}
	if len(metas) > 0 {
		last := metas[len(metas)-1]
		s.iters.advance(requestID, Cursor{Delivery: last.Delivery, MessageID: last.MessageID})
	}
	s.log.Debug("xta: status list", "reader", it.reader, "items", len(metas), "remaining", remaining)
	reason := ""
	if len(metas) == 0 {
		reason = MsgBoxReasonNoMatch
	}
	return s.reply(w, req, func(x *Writer) {
		x.writeMsgBoxResponse(requestID, reason, remaining)
	}, func(x *Writer) {
		writeStatusList(x, it.form, metas)
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
	it, ok := s.iters.get(id, req.author)
	if !ok {
		return s.reply(w, req, func(x *Writer) {
			x.writeMsgBoxResponse(id, MsgBoxReasonRequestIDInvalid, 0)
		}, func(x *Writer) { writeStatusList(x, "", nil) })
	}
	return s.listPage(ctx, w, req, id, it)
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
	it := iterator{reader: req.author, sel: sel, limit: 1}
	requestID := s.cfg.NewID()
	s.iters.put(requestID, &it)
	if len(sel.MessageIDs) == 1 && len(sel.RelatesTo) == 0 && sel.From.IsZero() && sel.To.IsZero() && sel.NewEntry == nil {
		// The common case: one message by ID, open or already fetched.
		return s.sendFetched(ctx, w, req, requestID, sel.MessageIDs[0], -1)
	}
	return s.nextMessage(ctx, w, req, requestID, it)
}

func (s *Server) getNextMessage(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := s.checkAccount(ctx, req, req.author, "oscimeta:Author header"); err != nil {
		return err
	}
	id, err := s.getNextRequest(ctx, req)
	if err != nil {
		return err
	}
	it, ok := s.iters.get(id, req.author)
	if !ok {
		return NewFault(CodeUnknownMessageID, fmt.Sprintf("MsgBoxRequestID %q is unknown or expired (%s)", id, MsgBoxReasonRequestIDInvalid))
	}
	return s.nextMessage(ctx, w, req, id, it)
}

// nextMessage sends the first message of it after its cursor.
func (s *Server) nextMessage(ctx context.Context, w http.ResponseWriter, req *request, requestID string, it iterator) error {
	metas, remaining, err := s.b.StatusList(ctx, it.reader, ListQuery{Selector: it.sel, After: it.cursor, Limit: 1})
	if err != nil {
		return fmt.Errorf("status list %s: %w", it.reader, err)
	}
	if len(metas) == 0 {
		return NewFault(CodeUnknownMessageID, fmt.Sprintf("no (further) message matches the selection (%s)", MsgBoxReasonNoMatch))
	}
	s.iters.advance(requestID, Cursor{Delivery: metas[0].Delivery, MessageID: metas[0].MessageID})
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
