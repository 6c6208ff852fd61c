package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/dxhub/dxhub/connectors/portal"
	"github.com/dxhub/dxhub/internal/loop"
	"github.com/dxhub/dxhub/internal/tracing"
	"github.com/dxhub/dxhub/routing"
)

// Intake topic record headers. A record carries the submission JSON document
// of POST /v1/submissions as its value, one of HeaderAPIKey or HeaderPortalID,
// and HeaderIdempotencyKey.
const (
	HeaderAPIKey         = "dxhub-api-key"
	HeaderPortalID       = "dxhub-portal-id"
	HeaderIdempotencyKey = "idempotency-key"
)

// Dead-letter record headers (besides the intake record's own headers, minus
// the API key).
const (
	HeaderDLQCode      = "dxhub-dlq-code"
	HeaderDLQReason    = "dxhub-dlq-reason"
	HeaderDLQTopic     = "dxhub-dlq-topic"
	HeaderDLQPartition = "dxhub-dlq-partition"
	HeaderDLQOffset    = "dxhub-dlq-offset"
	// DeadLetterSchema names the schema of a dead-letter record's value.
	DeadLetterSchema = "urn:dxhub:schema:intake-dead-letter:1"
)

// ErrCommit: the record was stored or dead-lettered, but committing its
// offset failed; the consumer group will deliver it again (then a replay).
var ErrCommit = errors.New("kafka: intake: committing offset")

// Submitter is the HTTP API's intake (portal.Handler.SubmitDocument).
type Submitter interface {
	SubmitDocument(ctx context.Context, d portal.Document) (routing.Submission, bool, *portal.Problem)
}

var _ Submitter = (*portal.Handler)(nil)

// DeadLetter is the JSON value of a dead-letter record.
type DeadLetter struct {
	Schema string `json:"schema"`
	// Problem is the reason, as the HTTP API would have answered it.
	Problem *portal.Problem `json:"problem"`
	Topic   string          `json:"topic"`
	// Partition and Offset locate the rejected intake record.
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key,omitempty"`
	// Value is the rejected record's value: as JSON when it is valid JSON,
	// otherwise base64 in ValueBase64.
	Value       json.RawMessage `json:"value,omitempty"`
	ValueBase64 []byte          `json:"valueBase64,omitempty"`
}

// Intake consumes the intake topic: each record is validated and stored by
// the HTTP API's code (Submitter), with the record's idempotency key, and its
// offset committed only after the submission is durable. A record the API
// would reject with a 4xx goes to the dead-letter topic (then its offset is
// committed); a failure of the hub (5xx, e.g. the store) is retried with
// backoff and nothing is committed meanwhile.
type Intake struct {
	Reader     Reader
	DeadLetter Writer
	Submitter  Submitter
	Logger     *slog.Logger
	// Backoff between retries of a record the hub failed to store (default
	// 1 s, doubling up to MaxBackoff, default 30 s).
	Backoff, MaxBackoff time.Duration
	// Wait waits d or until ctx ends (default a timer); tests replace it.
	Wait func(ctx context.Context, d time.Duration) error
}

// Outcome is what happened to one record.
type Outcome int

const (
	Accepted     Outcome = iota // a new submission
	Replayed                    // the idempotency key was used before with the same document
	DeadLettered                // rejected and written to the dead-letter topic
)

func (o Outcome) String() string {
	return [...]string{"accepted", "replayed", "dead-lettered"}[o]
}

func (in *Intake) logger() *slog.Logger {
	if in.Logger == nil {
		return slog.Default()
	}
	return in.Logger
}

// Run consumes until ctx ends or the reader fails.
func (in *Intake) Run(ctx context.Context) error {
	for {
		m, err := in.Reader.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("kafka: intake fetch: %w", err)
		}
		if _, err := in.Process(ctx, m); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !errors.Is(err, ErrCommit) {
				return err
			}
			// The submission is durable; the record comes back as a replay.
			in.logger().Warn("kafka: intake offset commit failed", "err", err)
		}
	}
}

// Process handles one record until it is stored or dead-lettered, retrying
// failures of the hub, then commits its offset (an error wrapping ErrCommit
// if that fails). It returns early only when ctx ends (then nothing is
// committed and the group redelivers the record).
func (in *Intake) Process(ctx context.Context, m Message) (Outcome, error) {
	backoff := in.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	maxBackoff := in.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 30 * time.Second
	}
	for attempt := 1; ; attempt++ {
		out, err := in.handle(ctx, m)
		if err == nil {
			// Not retried here: after a rebalance the partition may belong
			// to another member, which gets the record again (a replay).
			if err := in.Reader.CommitMessages(ctx, m); err != nil {
				return out, fmt.Errorf("%w %d of %s/%d: %w", ErrCommit, m.Offset, m.Topic, m.Partition, err)
			}
			return out, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		in.logger().Error("kafka: intake record failed; will retry", "topic", m.Topic, "partition", m.Partition,
			"offset", m.Offset, "attempt", attempt, "err", err, "retry_in", backoff)
		if err := in.wait(ctx, backoff); err != nil {
			return 0, err
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (in *Intake) wait(ctx context.Context, d time.Duration) error {
	if in.Wait != nil {
		return in.Wait(ctx, d)
	}
	return loop.Sleep(ctx, d)
}

// handle stores or dead-letters one record; an error means neither happened.
func (in *Intake) handle(ctx context.Context, m Message) (Outcome, error) {
	// A producer's W3C trace context (traceparent/tracestate record headers)
	// becomes the parent of the intake span.
	ctx = tracing.Extract(ctx, m.Header)
	d := portal.Document{Body: m.Value, NoAttachments: true}
	d.APIKey, _ = m.Header(HeaderAPIKey)
	d.PortalID, _ = m.Header(HeaderPortalID)
	key, hasKey := m.Header(HeaderIdempotencyKey)
	d.IdempotencyKey = key
	var (
		sub     routing.Submission
		created bool
		p       *portal.Problem
	)
	if !hasKey || key == "" {
		p = &portal.Problem{Type: portal.ProblemTypePrefix + portal.CodeInvalidIdempotencyKey, Title: "Invalid Idempotency-Key header",
			Status: 400, Code: portal.CodeInvalidIdempotencyKey,
			Detail: "the record has no " + HeaderIdempotencyKey + " header; Kafka redelivers records, so every intake record needs one"}
	} else {
		sub, created, p = in.Submitter.SubmitDocument(ctx, d)
	}
	switch {
	case p == nil && created:
		in.logger().DebugContext(ctx, "kafka: intake record stored", "id", sub.ID, "portal", sub.PortalID,
			"partition", m.Partition, "offset", m.Offset)
		return Accepted, nil
	case p == nil:
		return Replayed, nil
	case p.Status >= 500:
		return 0, fmt.Errorf("kafka: intake: %w", p)
	}
	if err := in.deadLetter(ctx, m, p); err != nil {
		return 0, err
	}
	in.logger().WarnContext(ctx, "kafka: intake record rejected to the dead-letter topic", "topic", m.Topic,
		"partition", m.Partition, "offset", m.Offset, "code", p.Code, "detail", p.Detail)
	return DeadLettered, nil
}

func (in *Intake) deadLetter(ctx context.Context, m Message, p *portal.Problem) error {
	dl := DeadLetter{Schema: DeadLetterSchema, Problem: p, Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: string(m.Key)}
	if json.Valid(m.Value) {
		dl.Value = m.Value
	} else {
		dl.ValueBase64 = m.Value
	}
	v, err := json.Marshal(dl)
	if err != nil {
		return fmt.Errorf("kafka: encode dead letter: %w", err)
	}
	out := Message{Key: m.Key, Value: v}
	for _, h := range m.Headers {
		if h.Key != HeaderAPIKey { // never copy a secret into another topic
			out.Headers = append(out.Headers, h)
		}
	}
	out.Headers = append(out.Headers,
		Header{HeaderDLQCode, []byte(p.Code)},
		Header{HeaderDLQReason, []byte(p.Detail)},
		Header{HeaderDLQTopic, []byte(m.Topic)},
		Header{HeaderDLQPartition, []byte(strconv.Itoa(m.Partition))},
		Header{HeaderDLQOffset, []byte(strconv.FormatInt(m.Offset, 10))},
		Header{HeaderContentType, []byte("application/json")},
	)
	if err := in.DeadLetter.WriteMessages(ctx, out); err != nil {
		return fmt.Errorf("kafka: dead-letter offset %d: %w", m.Offset, err)
	}
	return nil
}
