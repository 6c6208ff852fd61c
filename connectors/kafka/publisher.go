package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/dxhub/dxhub/internal/loop"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/tracing"
	"github.com/dxhub/dxhub/routing"
)

// Status topic record headers.
const (
	HeaderEventID     = "dxhub-event-id"
	HeaderSchema      = "dxhub-schema"
	HeaderContentType = "content-type"
	// StatusEventSchema names the schema of the record value
	// (status-event.schema.json).
	StatusEventSchema = "urn:dxhub:schema:status-event:1"
)

// StatusEvent is the JSON value of one status topic record; its key is the
// submission ID. status-event.schema.json describes it.
type StatusEvent struct {
	Schema       string         `json:"schema"`
	EventID      int64          `json:"eventId"`
	SubmissionID string         `json:"submissionId"`
	PortalID     string         `json:"portalId"`
	Tenant       string         `json:"tenant"`
	Service      string         `json:"service"`
	Reference    string         `json:"reference"`
	Status       routing.Status `json:"status"`
	Time         time.Time      `json:"time"`
	Source       routing.Source `json:"source"`
	Detail       string         `json:"detail,omitempty"`
	Evidence     string         `json:"evidence,omitempty"`
}

// EventStore is the status event outbox the publisher drains.
type EventStore interface {
	PendingKafkaEvents(ctx context.Context, limit int) ([]store.KafkaEvent, error)
	KafkaPublished(ctx context.Context, eventIDs []int64, at time.Time) error
}

var _ EventStore = (*store.Store)(nil)

// Publisher publishes the store's status events to the status topic: every
// event at least once, each submission's events in order (one key, one
// partition, written in event order), none lost across a crash (an event is
// marked published only after the brokers acknowledged it). A crash between
// the acknowledgement and the mark publishes the event again, so consumers
// de-duplicate by eventId (it only grows within a submission).
type Publisher struct {
	Store  EventStore
	Writer Writer
	Clock  routing.Clock
	Logger *slog.Logger
	// Batch is the most events per write (default 200).
	Batch int
	// Tracer, if set, traces each published event as a span of its
	// submission's trace; the record carries a traceparent header.
	Tracer routing.Tracer
}

func (p *Publisher) now() time.Time {
	if p.Clock == nil {
		return time.Now()
	}
	return p.Clock.Now()
}

func (p *Publisher) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

// Record returns the status topic record of one event.
func Record(e store.KafkaEvent) (Message, error) {
	v, err := json.Marshal(StatusEvent{Schema: StatusEventSchema, EventID: e.Event.ID, SubmissionID: e.Event.SubmissionID,
		PortalID: e.PortalID, Tenant: e.Tenant, Service: e.Service, Reference: e.Reference,
		Status: e.Event.Status, Time: e.Event.Time.UTC(), Source: e.Event.Source, Detail: e.Event.Detail, Evidence: e.Event.Evidence})
	if err != nil {
		return Message{}, fmt.Errorf("kafka: encode event %d: %w", e.Event.ID, err)
	}
	return Message{Key: []byte(e.Event.SubmissionID), Value: v, Time: e.Event.Time, Headers: []Header{
		{HeaderEventID, []byte(strconv.FormatInt(e.Event.ID, 10))},
		{HeaderSchema, []byte(StatusEventSchema)},
		{HeaderContentType, []byte("application/json")},
	}}, nil
}

// RunOnce publishes every pending event and returns how many it published.
// On a write error nothing of the failed batch is marked; the next run writes
// it again from its first event.
func (p *Publisher) RunOnce(ctx context.Context) (int, error) {
	batch := p.Batch
	if batch <= 0 {
		batch = 200
	}
	n := 0
	for {
		pending, err := p.Store.PendingKafkaEvents(ctx, batch)
		if err != nil || len(pending) == 0 {
			return n, err
		}
		msgs := make([]Message, len(pending))
		ids := make([]int64, len(pending))
		spans := make([]routing.Span, 0, len(pending))
		for i, e := range pending {
			if msgs[i], err = Record(e); err != nil {
				return n, err
			}
			ids[i] = e.Event.ID
			if p.Tracer != nil {
				sctx, span := p.Tracer.StartStage(ctx, routing.StageKafkaStatus,
					routing.Submission{ID: e.Event.SubmissionID, Tenant: e.Tenant, Service: e.Service, TraceParent: e.TraceParent})
				span.SetAttribute("status.event", e.Event.ID)
				span.SetAttribute("status.value", string(e.Event.Status))
				if tp := tracing.TraceParent(sctx); tp != "" {
					msgs[i].Headers = append(msgs[i].Headers, Header{"traceparent", []byte(tp)})
				}
				spans = append(spans, span)
			}
		}
		err = p.Writer.WriteMessages(ctx, msgs...)
		for _, s := range spans {
			if err != nil {
				s.Fail(err.Error())
			}
			s.End()
		}
		if err != nil {
			return n, fmt.Errorf("kafka: publish %d status events: %w", len(msgs), err)
		}
		if err := p.Store.KafkaPublished(ctx, ids, p.now()); err != nil {
			return n, err
		}
		n += len(pending)
		if len(pending) < batch {
			return n, nil
		}
	}
}

// Run publishes until ctx ends: every interval, when woken, and after a
// failure again after interval.
func (p *Publisher) Run(ctx context.Context, interval time.Duration, wake <-chan struct{}) {
	loop.Run(ctx, interval, wake, func(ctx context.Context) error { _, err := p.RunOnce(ctx); return err },
		func(err error) { p.logger().Error("kafka: publishing status events failed; will retry", "err", err) })
}
