// Package mapping adapts the xoev package to the routing core: it implements
// routing.Mapper (submission → validated XÖV message) and routing.InboundParser
// (back-channel XÖV → status), translating types and error classes at the
// boundary so that neither package imports the other.
package mapping

import (
	"context"
	"errors"
	"fmt"

	"github.com/dxhub/dxhub/connectors/portal"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xoev"
)

// Mapper implements routing.Mapper. A service with a mapping profile
// registered in E is mapped by the profile engine; every other service by the
// built-in Go mapping X (universellerAntrag.antrag.1200). Either may be nil.
type Mapper struct {
	X *xoev.Mapper
	E *xoev.Engine
}

var (
	_ routing.Mapper        = Mapper{}
	_ routing.InboundParser = Parser{}
)

// Map builds and validates the message. Mapping, code-list and schema errors
// are permanent: the submission is rejected with the exact reason.
func (m Mapper) Map(ctx context.Context, in routing.MapInput) (routing.Message, error) {
	xin := xoev.MapInput{
		Submission: toXoev(in.Submission),
		Reader:     xoev.Party{Key: in.ReaderKey, Name: in.ReaderName},
		Author:     xoev.Party{Key: in.AuthorKey, Name: in.AuthorName},
		Created:    in.Created,
	}
	var (
		doc xoev.Document
		err error
	)
	if _, ok := m.profile(in.Submission.Service); ok {
		doc, err = m.E.Map(ctx, xin)
	} else if m.X != nil {
		doc, err = m.X.Map(ctx, xin)
	} else {
		return routing.Message{}, fmt.Errorf("mapping: %w %q", xoev.ErrNoProfile, in.Submission.Service)
	}
	if err != nil {
		if xoev.IsPermanent(err) {
			return routing.Message{}, routing.PermanentError(err)
		}
		return routing.Message{}, fmt.Errorf("mapping: %w", err)
	}
	msg := routing.Message{
		UUID: doc.UUID, Standard: doc.Standard, Version: doc.Version, TypeCode: doc.TypeCode,
		RootElement: doc.RootElement, Namespace: doc.Namespace, XML: doc.XML, ApplicationReference: doc.ReferenceUUID,
	}
	for _, a := range doc.Attachments {
		msg.Attachments = append(msg.Attachments, routing.MessageAttachment{
			AttachmentID: a.ID, DocumentID: a.DokumentID, Filename: a.Filename,
		})
	}
	return msg, nil
}

func (m Mapper) profile(service string) (*xoev.Profile, bool) {
	if m.E == nil {
		return nil, false
	}
	return m.E.Profile(service)
}

// Precheck is the intake pre-check (portal.Options.Check) for services with
// a declarative profile: premap maps the submission as the pipeline will
// (routing.Pipeline.Premap), and its message is committed with the
// submission. A mapping error becomes field errors (JSON pointer, expected
// type or code list); schema violations of the built message are reported on
// the pointer "" (they mean the profile or form data cannot produce a valid
// message). Services without a profile are not checked (the pipeline maps
// them).
func (m Mapper) Precheck(premap func(context.Context, routing.Submission) (*routing.Premapped, error)) func(context.Context, routing.Submission) (*routing.Premapped, []portal.FieldError, error) {
	return func(ctx context.Context, sub routing.Submission) (*routing.Premapped, []portal.FieldError, error) {
		if _, ok := m.profile(sub.Service); !ok {
			return nil, nil, nil
		}
		pm, err := premap(ctx, sub)
		if err == nil {
			return pm, nil, nil
		}
		fes, err := fieldErrors(err)
		return nil, fes, err
	}
}

// fieldErrors turns a mapping error into the portal's field errors, or
// returns it if it is not the submission's fault.
func fieldErrors(err error) ([]portal.FieldError, error) {
	if mes := xoev.AsFieldErrors(err); len(mes) > 0 {
		out := make([]portal.FieldError, 0, len(mes))
		for _, me := range mes {
			code := portal.CodeInvalidField
			var ce *xoev.CodeError
			if errors.As(me, &ce) {
				code = "unknown-code"
			}
			out = append(out, portal.FieldError{Field: me.Field, Code: code, Detail: me.Reason})
		}
		return out, nil
	}
	var se *xoev.SchemaError
	if errors.As(err, &se) {
		return []portal.FieldError{{Field: "", Code: portal.CodeInvalidField, Detail: se.Error()}}, nil
	}
	return nil, err
}

func toXoev(sub routing.Submission) xoev.Submission {
	xs := xoev.Submission{
		ID: sub.ID, Reference: sub.Reference, Service: sub.Service, Form: sub.Form,
		Applicant: xoev.Applicant{
			Name: sub.Applicant.Name, Street: sub.Applicant.Address.Street, HouseNumber: sub.Applicant.Address.HouseNumber,
			PostalCode: sub.Applicant.Address.PostalCode, City: sub.Applicant.Address.City,
			Country: sub.Applicant.Address.Country, Email: sub.Applicant.Email,
		},
	}
	for _, a := range sub.Attachments {
		xs.Attachments = append(xs.Attachments, xoev.Attachment{
			ID: a.ID, Filename: a.Filename, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256,
		})
	}
	return xs
}

// Parser implements routing.InboundParser with xoev.ParseInboundWithin.
type Parser struct {
	// Limits are limits.inbound; zero fields keep xoev's defaults.
	Limits xoev.InboundLimits
}

// ParseInbound classifies a back-channel message; unknown kinds have no status.
// The detail names the Aktenzeichen when the message carries one.
func (p Parser) ParseInbound(payload []byte) (routing.InboundReport, error) {
	in, err := xoev.ParseInboundWithin(payload, p.Limits)
	if err != nil {
		return routing.InboundReport{}, err
	}
	rep := routing.InboundReport{
		MessageUUID: in.Header.UUID, TypeCode: in.Header.TypeCode, RootElement: in.Header.RootElement,
		ReferencedUUID: in.RefMessageUUID, ApplicationReference: in.Reference, Detail: in.Detail,
	}
	if in.Kind != xoev.KindUnknown {
		rep.Status = routing.Status(in.Kind)
	}
	if in.CaseNumber != "" {
		rep.Detail += " (Aktenzeichen " + in.CaseNumber + ")"
	}
	return rep, nil
}
