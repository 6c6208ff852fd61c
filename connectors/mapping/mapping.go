// Package mapping adapts the xoev package to the routing core: it implements
// routing.Mapper (submission → validated XÖV message) and routing.InboundParser
// (back-channel XÖV → status), translating types and error classes at the
// boundary so that neither package imports the other.
package mapping

import (
	"context"
	"fmt"

	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xoev"
)

// Mapper implements routing.Mapper with an *xoev.Mapper.
type Mapper struct {
	X *xoev.Mapper
}

var (
	_ routing.Mapper        = Mapper{}
	_ routing.InboundParser = Parser{}
)

// Map builds and validates the message. Mapping, code-list and schema errors
// are permanent: the submission is rejected with the exact reason.
func (m Mapper) Map(ctx context.Context, in routing.MapInput) (routing.Message, error) {
	sub := in.Submission
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
	doc, err := m.X.Map(ctx, xoev.MapInput{
		Submission: xs,
		Reader:     xoev.Party{Key: in.ReaderKey, Name: in.ReaderName},
		Author:     xoev.Party{Key: in.AuthorKey, Name: in.AuthorName},
		Created:    in.Created,
	})
	if err != nil {
		if xoev.IsPermanent(err) {
			return routing.Message{}, routing.PermanentError(err)
		}
		return routing.Message{}, fmt.Errorf("mapping: %w", err)
	}
	msg := routing.Message{
		UUID: doc.UUID, Standard: doc.Standard, Version: doc.Version, TypeCode: doc.TypeCode,
		RootElement: doc.RootElement, Namespace: doc.Namespace, XML: doc.XML,
	}
	for _, a := range doc.Attachments {
		msg.Attachments = append(msg.Attachments, routing.MessageAttachment{
			AttachmentID: a.ID, DocumentID: a.DokumentID, Filename: a.Filename,
		})
	}
	return msg, nil
}

// Parser implements routing.InboundParser with xoev.ParseInbound.
type Parser struct{}

// ParseInbound classifies a back-channel message; unknown kinds have no status.
func (Parser) ParseInbound(payload []byte) (routing.InboundReport, error) {
	in, err := xoev.ParseInbound(payload)
	if err != nil {
		return routing.InboundReport{}, err
	}
	rep := routing.InboundReport{
		MessageUUID: in.Header.UUID, TypeCode: in.Header.TypeCode, RootElement: in.Header.RootElement,
		ReferencedUUID: in.RefMessageUUID, Detail: in.Detail,
	}
	if in.Kind != xoev.KindUnknown {
		rep.Status = routing.Status(in.Kind)
	}
	if in.CaseNumber != "" {
		rep.Detail += " (Aktenzeichen " + in.CaseNumber + ")"
	}
	return rep, nil
}
