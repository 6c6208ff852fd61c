package routing

import "context"

// Stage names a traced step of one submission's way through the hub
// (DESIGN §1). Every stage span of a submission continues the trace its
// intake started (Submission.TraceParent), even in another process and after
// a restart.
type Stage string

// Traced stages. Status dispatch stages are children of the same trace.
const (
	StageIntake      Stage = "intake"
	StageMapping     Stage = "mapping"
	StageRouting     Stage = "routing"
	StageDelivery    Stage = "delivery"
	StageBackChannel Stage = "back-channel"
	StageWebhook     Stage = "status.webhook"
	StagePostfach    Stage = "status.postfach"
	StageKafkaStatus Stage = "status.kafka"
)

// Tracer is the hook through which the pipeline, the back-channel and the
// status dispatchers report stage spans. routing knows no tracing library:
// internal/tracing implements it with OpenTelemetry. A nil Tracer traces
// nothing.
type Tracer interface {
	// StartStage starts the span of stage for the submission. It continues
	// the trace in sub.TraceParent (when empty, the implementation may look
	// it up by sub.ID). The returned context carries the span, so log lines
	// and outbound calls made with it name the trace.
	StartStage(ctx context.Context, stage Stage, sub Submission) (context.Context, Span)
}

// Span is one started stage span.
type Span interface {
	// SetAttribute records a key/value (string, int, int64, bool, float64;
	// anything else is formatted as a string).
	SetAttribute(key string, value any)
	// Fail marks the span as failed with the reason.
	Fail(reason string)
	// End finishes the span.
	End()
}

// StartStage starts a stage span with t, or a no-op span when t is nil.
func StartStage(ctx context.Context, t Tracer, stage Stage, sub Submission) (context.Context, Span) {
	if t == nil {
		return ctx, noSpan{}
	}
	return t.StartStage(ctx, stage, sub)
}

type noSpan struct{}

func (noSpan) SetAttribute(string, any) {}
func (noSpan) Fail(string)              {}
func (noSpan) End()                     {}
