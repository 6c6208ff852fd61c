package routing

import (
	"context"
	"fmt"
)

// Premapped is a submission's XÖV message mapped at intake: the store commits
// it, with its `validated` event, in the transaction that accepts the
// submission, and the pipeline starts at routing. Mapping at intake is what
// the portal's synchronous pre-check does anyway (a mapping error is a 422 to
// the portal), so keeping its result saves mapping and validating every
// submission twice and one write transaction.
type Premapped struct {
	Message Message
	Event   StatusEvent
}

// Premap maps a submission that is about to be accepted exactly as the
// pipeline's mapping stage would (same reader, author, creation time and
// nachrichtenUUID, derived from the submission ID), under its own mapping
// span. Errors are the mapper's: one wrapping ErrPermanent means the
// submission cannot be mapped; any other leaves the mapping to the pipeline.
func (p *Pipeline) Premap(ctx context.Context, sub Submission) (*Premapped, error) {
	ctx, span := StartStage(ctx, p.cfg.Tracer, StageMapping, sub)
	defer span.End()
	msg, err := p.mapMessage(ctx, sub)
	if err != nil {
		span.Fail("at intake: " + err.Error())
		return nil, err
	}
	mappedSpan(span, msg)
	span.SetAttribute("mapping.at_intake", true)
	return &Premapped{Message: msg, Event: p.mappedEvent(msg)}, nil
}

// errUnknownTenant: the submission's tenant is not configured.
type errUnknownTenant string

func (e errUnknownTenant) Error() string { return "unknown tenant " + string(e) }

// mapMessage maps sub to its outbound message: the mapping stage's work
// without the commit.
func (p *Pipeline) mapMessage(ctx context.Context, sub Submission) (Message, error) {
	tenant, ok := p.cfg.Tenants[sub.Tenant]
	if !ok {
		return Message{}, errUnknownTenant(sub.Tenant)
	}
	msg, err := p.cfg.Mapper.Map(ctx, MapInput{
		Submission: sub, ReaderKey: tenant.DVDVKey, ReaderName: tenant.Name,
		AuthorKey: p.cfg.AuthorKey, AuthorName: p.cfg.AuthorName, Created: sub.ReceivedAt,
	})
	if err != nil {
		return Message{}, err
	}
	msg.SubmissionID = sub.ID
	if svc, ok := p.cfg.Services[sub.Service]; ok && msg.Service == "" {
		msg.Service = svc.ServiceURI
	}
	return msg, nil
}

// mappedSpan records a mapped message on its mapping span.
func mappedSpan(span Span, msg Message) {
	span.SetAttribute("xoev.root", msg.RootElement)
	span.SetAttribute("xoev.standard", msg.Standard+" "+msg.Version)
	span.SetAttribute("xoev.nachrichten_uuid", msg.UUID)
}

// mappedEvent is the `validated` event of a mapped message.
func (p *Pipeline) mappedEvent(msg Message) StatusEvent {
	return p.event(StatusValidated,
		fmt.Sprintf("mapped to %s (%s %s), schema-valid", msg.RootElement, msg.Standard, msg.Version), msg.UUID)
}
