package xta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// MessageIDPrefix starts every XTA message ID: urn:de:xta:messageid:<sender>:<uuid>.
const MessageIDPrefix = "urn:de:xta:messageid:"

func (s *Server) lookupService(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := s.checkAccount(ctx, req, req.author, "oscimeta:Author header"); err != nil {
		return err
	}
	el, err := bodyElement(req, NSXTA, "LookupServiceRequest")
	if err != nil {
		return err
	}
	type query struct {
		key, typ, service string
		avail             Availability
	}
	var qs []query
	for _, item := range el.ChildrenNamed(NSXTA, "LookupServiceRequestList") {
		ls := item.Child(NSXTA, "LookupService")
		key, typ := parseParty(ls.Child(NSOSCIMeta, "Reader"))
		svc := ls.Child(NSXTA, "ServiceType").TrimText()
		if key == "" || svc == "" {
			return NewFault(CodeNoParameters, "LookupService needs oscimeta:Reader/Identifier and ServiceType")
		}
		qs = append(qs, query{key: key, typ: typ, service: svc})
	}
	if len(qs) == 0 {
		return NewFault(CodeNoParameters, "LookupServiceRequest without LookupServiceRequestList")
	}
	for i := range qs {
		a, err := s.b.LookupService(ctx, req.author, qs[i].key, qs[i].service)
		if err != nil {
			return fmt.Errorf("lookupService %s %s: %w", qs[i].key, qs[i].service, err)
		}
		qs[i].avail = a
	}
	return s.reply(w, req, nil, func(x *Writer) {
		x.Start("xta:LookupServiceResponse")
		x.Start("xta:LookupServiceResultList")
		for _, q := range qs {
			x.Start("xta:LookupServiceResult")
			x.WriteParty("oscimeta:Reader", q.key, q.typ)
			x.Elem("xta:ServiceType", q.service)
			x.Start("xta:IsServiceAvailableValue")
			switch q.avail {
			case Available:
				x.Elem("xta:ServiceIsAvailable", "true")
			case NotAvailable:
				x.Elem("xta:ServiceIsAvailable", "false")
			default:
				x.Elem("xta:ServiceIsAvailableUnknown", "true")
			}
			x.End("xta:IsServiceAvailableValue")
			x.End("xta:LookupServiceResult")
		}
		x.End("xta:LookupServiceResultList")
		x.End("xta:LookupServiceResponse")
	})
}

func (s *Server) createMessageID(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := s.checkAccount(ctx, req, req.author, "oscimeta:Author header"); err != nil {
		return err
	}
	id := MessageIDPrefix + s.cfg.ServerIdentity + ":" + uuid.NewString()
	s.log.Debug("xta: createMessageId", "author", req.author, "message_id", id)
	return s.reply(w, req, nil, func(x *Writer) { x.Elem("wsa:MessageID", id) })
}

// bodyMessageID returns the wsa:MessageID that is the whole body.
func bodyMessageID(req *request) (string, error) {
	el, err := bodyElement(req, NSWSA, "MessageID")
	if err != nil {
		return "", err
	}
	id := el.TrimText()
	if id == "" {
		return "", NewFault(CodeNoParameters, "empty wsa:MessageID")
	}
	return id, nil
}

func (s *Server) report(ctx context.Context, req *request, id string) (*TransportReport, error) {
	r, err := s.b.TransportReport(ctx, req.author, id)
	if errors.Is(err, ErrUnknownMessage) {
		return nil, NewFault(CodeUnknownMessageID, fmt.Sprintf("message %q unknown for %q", id, req.author))
	}
	if err != nil {
		return nil, fmt.Errorf("transport report %s: %w", id, err)
	}
	if r.ServerIdentity == "" {
		r.ServerIdentity = s.cfg.ServerIdentity
	}
	if r.ReportTime.IsZero() {
		r.ReportTime = s.cfg.Now()
	}
	return r, nil
}

func (s *Server) getTransportReport(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := s.checkAccount(ctx, req, req.author, "oscimeta:Author header"); err != nil {
		return err
	}
	id, err := bodyMessageID(req)
	if err != nil {
		return err
	}
	r, err := s.report(ctx, req, id)
	if err != nil {
		return err
	}
	return s.reply(w, req, nil, func(x *Writer) { x.WriteTransportReport(r) })
}

// cancelMessage withdraws a message of the caller (as author) whose
// NotBefore time lies in the future: 9101 without NotBefore, 9100 once it
// has passed or the message is already delivered.
func (s *Server) cancelMessage(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := s.checkAccount(ctx, req, req.author, "oscimeta:Author header"); err != nil {
		return err
	}
	id, err := bodyMessageID(req)
	if err != nil {
		return err
	}
	r, err := s.report(ctx, req, id)
	if err != nil {
		return err
	}
	if !strings.EqualFold(r.Meta.AuthorKey, req.author) {
		return NewFault(CodeUnknownMessageID, fmt.Sprintf("%q is not the author of message %q", req.author, id))
	}
	switch {
	case r.Meta.NotBefore.IsZero():
		return NewFault(CodeNotBeforeNotSet, fmt.Sprintf("message %q has no NotBefore time and is delivered at once", id))
	case !s.cfg.Now().Before(r.Meta.NotBefore) || !r.Meta.Delivery.IsZero():
		return NewFault(CodeNotBeforePassed, fmt.Sprintf("NotBefore %s of message %q has passed", xsdTime(r.Meta.NotBefore), id))
	}
	cb, ok := s.b.(CancelBackend)
	if !ok {
		return NewFault(CodeInternalError, "this server cannot withdraw messages")
	}
	if err := cb.Cancel(ctx, req.author, id); err != nil {
		if errors.Is(err, ErrUnknownMessage) {
			return NewFault(CodeUnknownMessageID, fmt.Sprintf("message %q unknown for %q", id, req.author))
		}
		return fmt.Errorf("cancel %s: %w", id, err)
	}
	s.log.Info("xta: cancelMessage", "author", req.author, "message_id", id)
	return s.reply(w, req, nil, nil)
}
