package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrDuplicate is returned for an inbound message whose transport ID was
// received before; the first copy was already processed.
var ErrDuplicate = errors.New("duplicate inbound message")

// InboundReport is a parsed back-channel message in protocol-neutral form.
type InboundReport struct {
	MessageUUID    string
	TypeCode       string
	RootElement    string
	ReferencedUUID string // the nachrichtenUUID of our message it answers
	// ApplicationReference is the application's reference the message quotes
	// (XBau bezug/referenz, the referenzAntragsservice of our message). It
	// correlates messages that name no message, such as an XBau 1121
	// Aktenzeichen, when the store implements ReferenceStore.
	ApplicationReference string
	Status               Status // the status it announces; "" for an unknown kind
	Detail               string
}

// ReferenceStore is implemented by inbound stores that can also find a
// submission by the application reference its outbound message carried. The
// lookup is scoped to readerKey, the organisation the reply comes from: only
// a submission delivered to that reader may match (ErrNotFound otherwise), so
// an authority cannot reach another's submission by quoting its reference.
type ReferenceStore interface {
	SubmissionByApplicationReference(ctx context.Context, readerKey, ref string) (string, error)
}

// MessageCorrelator is implemented by inbound stores that find the
// submission an outbound nachrichtenUUID belongs to in one read, with the
// fields the back-channel uses (ID, Tenant, Service, TraceParent; no form,
// applicant or attachments), instead of SubmissionByMessageUUID followed by
// a submission load. ErrNotFound (wrapped) if no outbound message has it.
type MessageCorrelator interface {
	CorrelateMessageUUID(ctx context.Context, uuid string) (Submission, error)
}

// InboundParser reads an XÖV back-channel document. It fails only for input
// that is not a well-formed XÖV message; unknown kinds come back with no Status.
type InboundParser interface {
	ParseInbound(payload []byte) (InboundReport, error)
}

// InboundRecord is an inbound message as stored, before it is acknowledged.
type InboundRecord struct {
	TransportID    string // de-duplication key (XTA MessageID)
	Transport      TransportKind
	ReceivedAt     time.Time
	AuthorKey      string
	ReaderKey      string
	MessageUUID    string
	TypeCode       string
	SubmissionID   string // correlated submission, "" if none
	Classification string
	Note           string
	Payload        []byte
	Attachments    []Attachment
}

// InboundStore persists inbound messages with the events they cause.
type InboundStore interface {
	SubmissionByMessageUUID(ctx context.Context, uuid string) (string, error)
	GetSubmission(ctx context.Context, id string) (Submission, error)
	ReceiveInbound(ctx context.Context, rec InboundRecord, events []StatusEvent) error
}

// Inbound is one message arriving on the back-channel.
type Inbound struct {
	TransportID string
	Transport   TransportKind
	AuthorKey   string // who sent it (the Fachverfahren's organisation key)
	ReaderKey   string // whom it is for (the hub)
	Payload     []byte
	// Attachments came with the message (e.g. a Bescheid PDF), already kept
	// in the blob store; they are forwarded to the citizen's Postfach with
	// the status event the message causes.
	Attachments []Attachment
}

// BackChannel turns receipts, rejections and status messages from Fachverfahren
// into status events of the submissions they refer to (DESIGN §1 step 5).
type BackChannel struct {
	Store   InboundStore
	Parser  InboundParser
	Tenants map[string]Tenant // by AGS: the author of a reply must be the submission's reader
	Clock   Clock
	Logger  *slog.Logger
	// Tracer, if set, gets a back-channel span for every message correlated
	// to a submission, in the submission's trace (trace.go).
	Tracer Tracer
}

// ErrMalformedInbound wraps parser failures: the sender gets a schema fault.
var ErrMalformedInbound = errors.New("malformed inbound message")

// Receive stores the message and its effect in one transaction. It returns
// ErrDuplicate for a repeated transport ID and wraps ErrMalformedInbound when
// the payload is not an XÖV message. Well-formed messages that cannot be
// correlated or are not understood are kept with a note, never dropped.
func (b *BackChannel) Receive(ctx context.Context, in Inbound) (InboundRecord, error) {
	now := b.now()
	rep, err := b.Parser.ParseInbound(in.Payload)
	if err != nil {
		return InboundRecord{}, fmt.Errorf("%w: %w", ErrMalformedInbound, err)
	}
	rec := InboundRecord{
		TransportID: in.TransportID, Transport: in.Transport, ReceivedAt: now, AuthorKey: in.AuthorKey,
		ReaderKey: in.ReaderKey, MessageUUID: rep.MessageUUID, TypeCode: rep.TypeCode, Payload: in.Payload,
		Classification: string(rep.Status), Attachments: in.Attachments,
	}
	var events []StatusEvent
	var span Span = noSpan{}
	refStore, _ := b.Store.(ReferenceStore)
	switch {
	case rep.ReferencedUUID == "" && (rep.ApplicationReference == "" || refStore == nil):
		rec.Note = "no reference to an earlier message"
	case rep.ReferencedUUID == "" && in.AuthorKey == "":
		// The reference lookup is scoped to the sender; without one it
		// could reach any authority's submission.
		rec.Note = "application reference " + rep.ApplicationReference + " from an unknown author; not correlated"
	default:
		sub, err := b.correlate(ctx, in, rep, refStore)
		if errors.Is(err, ErrNotFound) {
			if rep.ReferencedUUID != "" {
				rec.Note = "refers to unknown message " + rep.ReferencedUUID
			} else {
				rec.Note = "refers to unknown application reference " + rep.ApplicationReference
			}
			break
		}
		if err != nil {
			return InboundRecord{}, err
		}
		subID := sub.ID
		if t, ok := b.Tenants[sub.Tenant]; ok && in.AuthorKey != "" && t.DVDVKey != in.AuthorKey {
			rec.Note = fmt.Sprintf("author %s is not the reader %s of submission %s; not applied", in.AuthorKey, t.DVDVKey, subID)
			break
		}
		rec.SubmissionID = subID
		ctx, span = StartStage(ctx, b.Tracer, StageBackChannel, sub)
		defer span.End()
		span.SetAttribute("inbound.transport", string(in.Transport))
		span.SetAttribute("inbound.transport_id", in.TransportID)
		span.SetAttribute("inbound.type_code", rep.TypeCode)
		span.SetAttribute("inbound.root", rep.RootElement)
		span.SetAttribute("inbound.status", string(rep.Status))
		if rep.Status == "" {
			span.Fail("unknown message type " + rep.TypeCode)
			rec.Note = "message type " + rep.TypeCode + " is not a known back-channel message; kept"
			break
		}
		// Detail is for people (portal and citizen); Evidence names the message.
		events = append(events, StatusEvent{
			Status: rep.Status, Time: now, Source: SourceXOEV,
			Detail: rep.Detail, Evidence: rep.RootElement + " " + rep.MessageUUID,
		})
	}
	if err := b.Store.ReceiveInbound(ctx, rec, events); err != nil {
		span.Fail(err.Error())
		return InboundRecord{}, err
	}
	if rec.Note != "" {
		b.logger().WarnContext(ctx, "inbound message kept without effect", "transport_id", in.TransportID, "note", rec.Note)
	}
	return rec, nil
}

// correlate finds the submission rep refers to: by the nachrichtenUUID it
// names (one read with a MessageCorrelator), else by the application
// reference scoped to the sender. ErrNotFound if there is none.
func (b *BackChannel) correlate(ctx context.Context, in Inbound, rep InboundReport, refStore ReferenceStore) (Submission, error) {
	if rep.ReferencedUUID != "" {
		if c, ok := b.Store.(MessageCorrelator); ok {
			return c.CorrelateMessageUUID(ctx, rep.ReferencedUUID)
		}
	}
	var subID string
	var err error
	if rep.ReferencedUUID != "" {
		subID, err = b.Store.SubmissionByMessageUUID(ctx, rep.ReferencedUUID)
	} else {
		subID, err = refStore.SubmissionByApplicationReference(ctx, in.AuthorKey, rep.ApplicationReference)
	}
	if err != nil {
		return Submission{}, err
	}
	if heads, ok := b.Store.(submissionHeads); ok {
		return heads.GetSubmissionHead(ctx, subID) // the form is not needed here
	}
	return b.Store.GetSubmission(ctx, subID)
}

func (b *BackChannel) now() time.Time {
	if b.Clock == nil {
		return time.Now()
	}
	return b.Clock.Now()
}

func (b *BackChannel) logger() *slog.Logger {
	if b.Logger == nil {
		return slog.Default()
	}
	return b.Logger
}
