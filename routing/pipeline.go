package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Store is what the pipeline needs from persistence. Each method is one
// transaction that commits a state change together with its status event.
type Store interface {
	ClaimJobs(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]string, error)
	ReleaseJob(ctx context.Context, submissionID, owner string, next time.Time) error
	// RenewLease extends owner's lease on a job until the given time; false
	// means the lease was lost (it ran out and another worker claimed the job).
	RenewLease(ctx context.Context, submissionID, owner string, until time.Time) (bool, error)
	NextJobAt(ctx context.Context) (time.Time, error)
	GetSubmission(ctx context.Context, id string) (Submission, error)
	SaveMapped(ctx context.Context, msg Message, ev StatusEvent) error
	OutboundMessage(ctx context.Context, submissionID string) (Message, error)
	Terminate(ctx context.Context, submissionID string, ev StatusEvent, deadLetter string) error
	SaveRoute(ctx context.Context, d Delivery, ev StatusEvent) error
	GetDelivery(ctx context.Context, submissionID string) (Delivery, error)
	RecordAttempt(ctx context.Context, r AttemptResult) error
	FinishJob(ctx context.Context, submissionID string) error
}

// Clock tells the time; tests inject a fake one.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Tenant is a municipality as the pipeline sees it.
type Tenant struct {
	AGS     string
	Name    string
	DVDVKey string // the reader's organisation key, e.g. "ags:05315000"
}

// Service is an online service as the pipeline sees it.
type Service struct {
	ID         string
	ServiceURI string // DVDV service specification URI
}

// PipelineConfig wires the pipeline.
type PipelineConfig struct {
	Store      Store
	Mapper     Mapper
	Resolver   Resolver
	Transports map[TransportKind]Transport
	Tenants    map[string]Tenant  // by AGS
	Services   map[string]Service // by service id
	AuthorKey  string             // the hub's DVDV key (author of outbound messages)
	AuthorName string
	// XTASender is the sender part of XTA message IDs
	// (urn:de:xta:messageid:<XTASender>:<uuid>).
	XTASender string
	Retry     RetryPolicy
	Clock     Clock
	Logger    *slog.Logger
	Owner     string        // lease owner name of this process
	Lease     time.Duration // how long a claimed job is ours
	Workers   int
	Poll      time.Duration // longest idle wait between queue scans
	// Breakers configures per-endpoint circuit breakers and concurrency limits.
	Breakers BreakerPolicy
	// OnEvent, if set, is called after a stage committed a status event (the
	// wiring wakes the Postfach and webhook dispatchers). It must not block.
	OnEvent func()
	// OnAttempt, if set, hears of every recorded transport attempt (metrics).
	// It must not block.
	OnAttempt func(AttemptResult)
	// Tracer, if set, receives one span per stage (trace.go).
	Tracer Tracer
}

// Pipeline drives accepted submissions through mapping, routing and delivery
// (DESIGN §1 steps 2–4). All progress is in the store; a crashed process loses
// only its leases, and another worker resumes from the last committed state.
type Pipeline struct {
	cfg      PipelineConfig
	log      *slog.Logger
	wake     chan struct{}
	breakers *Breakers
}

// NewPipeline checks the configuration and returns a pipeline.
func NewPipeline(cfg PipelineConfig) (*Pipeline, error) {
	if cfg.Store == nil || cfg.Mapper == nil || cfg.Resolver == nil {
		return nil, errors.New("routing: pipeline needs a store, a mapper and a resolver")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	if cfg.Workers < 0 {
		cfg.Workers = 0 // an intake-only process: Run returns at once, RunOnce still works
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Owner == "" {
		cfg.Owner = "dxhub"
	}
	if cfg.XTASender == "" {
		cfg.XTASender = "dxhub"
	}
	cfg.Retry = cfg.Retry.withDefaults()
	return &Pipeline{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), breakers: NewBreakers(cfg.Breakers, cfg.Clock)}, nil
}

// Wake makes idle workers scan the queue now (called after intake commits).
func (p *Pipeline) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run processes due jobs with the configured number of workers until ctx ends.
// With zero workers it returns at once.
func (p *Pipeline) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range p.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.worker(ctx, fmt.Sprintf("%s/%d", p.cfg.Owner, i))
		}()
	}
	wg.Wait()
}

func (p *Pipeline) worker(ctx context.Context, owner string) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		n, err := p.runBatch(ctx, owner, 4)
		if err != nil && ctx.Err() == nil {
			p.log.Error("pipeline: queue scan failed", "err", err)
		}
		if ctx.Err() != nil {
			return
		}
		if n > 0 {
			// There may be more: let another idle worker look too. A worker
			// that finds nothing does not pass the wake-up on, so idle
			// workers never keep each other spinning.
			p.Wake()
			continue
		}
		wait := p.cfg.Poll
		if next, err := p.cfg.Store.NextJobAt(ctx); err == nil && !next.IsZero() {
			if d := next.Sub(p.cfg.Clock.Now()); d < wait {
				wait = max(d, time.Millisecond)
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-timer.C:
		}
	}
}

// RunOnce processes every job that is due now and returns how many it handled.
// Tests drive the pipeline with it and an injected clock.
func (p *Pipeline) RunOnce(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := p.runBatch(ctx, p.cfg.Owner+"/once", 16)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

func (p *Pipeline) runBatch(ctx context.Context, owner string, limit int) (int, error) {
	claimed := p.cfg.Clock.Now()
	ids, err := p.cfg.Store.ClaimJobs(ctx, owner, claimed, p.cfg.Lease, limit)
	if err != nil {
		return 0, err
	}
	// The claim leased every job until claimed+Lease. While more than half
	// of that is left, the lease is certainly still ours and renewing it
	// would only cost a write transaction per job (most batches are worked
	// within milliseconds of the claim).
	fresh := claimed.Add(p.cfg.Lease / 2)
	for _, id := range ids {
		// A batch is claimed at once but worked in turn: renew each job's lease
		// as its turn comes once half of it is used up, and skip the job if the
		// lease ran out meanwhile and another worker holds it now.
		if !p.cfg.Clock.Now().Before(fresh) {
			held, err := p.cfg.Store.RenewLease(ctx, id, owner, p.cfg.Clock.Now().Add(p.cfg.Lease))
			if err != nil {
				return len(ids), err
			}
			if !held {
				p.log.Debug("pipeline: lease lost before processing; another worker has the job", "submission", id)
				continue
			}
		}
		if err := p.Process(ctx, id, owner); err != nil {
			if ctx.Err() != nil {
				return len(ids), ctx.Err()
			}
			// The job keeps its lease and is retried when the lease runs out.
			p.log.Error("pipeline: processing failed; retried after the lease", "submission", id, "err", err)
		}
	}
	return len(ids), nil
}

// Process advances one claimed submission as far as it can go now. Each step
// commits its state change with its status event, so a crash resumes at the
// step it stopped in. Where the store can (StepCommitter), consecutive steps
// commit together: mapping with routing once the route resolves, and for a
// transport that delivers by the commit itself (the built-in XTA mailbox)
// the first attempt too. What a commit stored is carried on to the next step
// instead of being read back.
func (p *Pipeline) Process(ctx context.Context, id, owner string) error {
	heads, _ := p.cfg.Store.(submissionHeads)
	steps, _ := p.cfg.Store.(StepCommitter)
	var next *carried
	for first := true; ; first = false {
		var sub Submission
		var err error
		switch {
		case next != nil:
			sub = next.sub
		case heads != nil && !first:
			// After a stage committed, the next one is past mapping: the
			// form is not needed (read it only if the status says otherwise).
			sub, err = heads.GetSubmissionHead(ctx, id)
			if err == nil && sub.Status == StatusReceived {
				sub, err = p.cfg.Store.GetSubmission(ctx, id)
			}
		default:
			sub, err = p.cfg.Store.GetSubmission(ctx, id)
		}
		if err != nil {
			return err
		}
		in := next
		next = nil
		var done bool
		switch sub.Status {
		case StatusReceived:
			var mapped *mappedStep
			mapped, done, err = p.mapStage(ctx, sub, owner)
			if mapped != nil {
				if steps != nil {
					done, next, err = p.routeStage(ctx, sub, owner, &steps, mapped, nil)
				} else {
					err = p.cfg.Store.SaveMapped(ctx, mapped.msg, mapped.ev)
				}
			}
		case StatusValidated:
			done, next, err = p.routeStage(ctx, sub, owner, &steps, nil, in)
		case StatusRouted:
			done, err = p.deliverStage(ctx, sub, owner, in)
		default:
			// Delivered or beyond (or terminal): nothing left for the pipeline.
			return p.cfg.Store.FinishJob(ctx, id)
		}
		if errors.Is(err, ErrStale) {
			// Our lease ran out mid-step and another worker committed it first;
			// its record stands and this worker's result is discarded.
			p.log.Info("pipeline: step already committed by another worker", "submission", id, "err", err)
			return nil
		}
		if err == nil && p.cfg.OnEvent != nil {
			p.cfg.OnEvent() // a spurious wake-up (a postponed stage) costs one empty scan
		}
		if err != nil || done {
			return err
		}
	}
}

// carried is what a commit just stored, for the next step: the submission
// with its new status, the outbound message and, once routed, the delivery.
type carried struct {
	sub      Submission
	msg      Message
	delivery *Delivery
}

// mappedStep is a mapping result not committed yet.
type mappedStep struct {
	msg Message
	ev  StatusEvent
}

// submissionHeads is a Store that can load a submission without its form
// (Form nil), for the steps that never read it.
type submissionHeads interface {
	GetSubmissionHead(ctx context.Context, id string) (Submission, error)
}

func (p *Pipeline) event(st Status, detail, evidence string) StatusEvent {
	return StatusEvent{Status: st, Time: p.cfg.Clock.Now(), Source: SourceHub, Detail: detail, Evidence: evidence}
}

// mapStage maps the submission. It returns the mapping to commit, or nil
// when the stage ended otherwise (rejected, postponed).
func (p *Pipeline) mapStage(ctx context.Context, sub Submission, owner string) (*mappedStep, bool, error) {
	ctx, span := StartStage(ctx, p.cfg.Tracer, StageMapping, sub)
	defer span.End()
	msg, err := p.mapMessage(ctx, sub)
	var unknown errUnknownTenant
	if errors.As(err, &unknown) {
		span.Fail(err.Error())
		return nil, true, p.cfg.Store.Terminate(ctx, sub.ID,
			p.event(StatusRejected, "tenant "+sub.Tenant+" is no longer configured", ""), err.Error())
	}
	if errors.Is(err, ErrPermanent) {
		p.log.WarnContext(ctx, "submission rejected by mapping", "submission", sub.ID, "err", err)
		span.Fail("rejected: " + err.Error())
		return nil, true, p.cfg.Store.Terminate(ctx, sub.ID, p.event(StatusRejected, "mapping failed: "+err.Error(), ""), "")
	}
	if err != nil {
		span.Fail("postponed: " + err.Error())
		return nil, true, p.retryLater(ctx, sub, owner, "mapping: "+err.Error())
	}
	mappedSpan(span, msg)
	return &mappedStep{msg: msg, ev: p.mappedEvent(msg)}, false, nil
}

// routeStage resolves the route and commits the delivery with its fixed
// transport ID. mapped is a mapping committed together with the route (nil:
// the submission is validated in the store); in is what the previous commit
// stored (nil: read the message). With a StepCommitter (*steps non-nil) the
// steps commit together, and a transport that delivers by the commit makes
// its first attempt inside the same commit; otherwise the delivery waits for
// the next step. A commit that finds its first step done already clears
// *steps: the pipeline reads the state again and goes step by step.
func (p *Pipeline) routeStage(ctx context.Context, sub Submission, owner string, steps *StepCommitter, mapped *mappedStep,
	in *carried) (bool, *carried, error) {
	parent := ctx
	ctx, span := StartStage(ctx, p.cfg.Tracer, StageRouting, sub)
	ended := false
	end := func() {
		if !ended {
			ended = true
			span.End()
		}
	}
	defer end()
	// unrouted ends the stage without a route: a mapping carried along is
	// committed alone first, so the history shows it before the outcome.
	unrouted := func(outcome func() error) (bool, *carried, error) {
		if mapped != nil {
			if err := p.cfg.Store.SaveMapped(ctx, mapped.msg, mapped.ev); err != nil {
				return true, nil, err
			}
		}
		return true, nil, outcome()
	}
	tenant := p.cfg.Tenants[sub.Tenant]
	svc, ok := p.cfg.Services[sub.Service]
	if !ok {
		span.Fail("unknown service " + sub.Service)
		return unrouted(func() error {
			return p.cfg.Store.Terminate(ctx, sub.ID,
				p.event(StatusFailed, "service "+sub.Service+" is no longer configured", ""), "unknown service "+sub.Service)
		})
	}
	var msg Message
	switch {
	case mapped != nil:
		msg = mapped.msg
	case in != nil:
		msg = in.msg
	default:
		var err error
		if msg, err = p.cfg.Store.OutboundMessage(ctx, sub.ID); err != nil {
			return true, nil, err
		}
	}
	span.SetAttribute("dvdv.reader", tenant.DVDVKey)
	span.SetAttribute("dvdv.service", svc.ServiceURI)
	route, err := p.cfg.Resolver.Resolve(ctx, tenant.DVDVKey, svc.ServiceURI)
	if err != nil {
		span.Fail("no route: " + err.Error())
		return unrouted(func() error {
			return p.retryLater(ctx, sub, owner, fmt.Sprintf("no route for %s / %s: %v", tenant.DVDVKey, svc.ServiceURI, err))
		})
	}
	span.SetAttribute("route.transport", string(route.Transport))
	span.SetAttribute("route.endpoint", route.Endpoint)
	span.SetAttribute("route.source", route.Source)
	transport, ok := p.cfg.Transports[route.Transport]
	if !ok {
		span.Fail("transport " + string(route.Transport) + " not run by this hub")
		return unrouted(func() error {
			return p.retryLater(ctx, sub, owner, fmt.Sprintf("route names transport %q, which this hub does not run", route.Transport))
		})
	}
	now := p.cfg.Clock.Now()
	d := Delivery{
		SubmissionID: sub.ID, MessageUUID: msg.UUID, TransportID: p.transportID(route.Transport, msg.UUID),
		Route: route, NextAttemptAt: now, CreatedAt: now,
	}
	detail := fmt.Sprintf("routed to %s via %s", route.ReaderKey, route.Transport)
	if route.Endpoint != "" {
		detail += " at " + route.Endpoint
	}
	routed := p.event(StatusRouted, detail, d.TransportID)
	if *steps == nil {
		if mapped != nil { // Process hands a mapping in only with a StepCommitter; commit it first all the same
			if err := p.cfg.Store.SaveMapped(ctx, mapped.msg, mapped.ev); err != nil {
				return true, nil, err
			}
		}
		return false, nil, p.cfg.Store.SaveRoute(ctx, d, routed)
	}
	st := Steps{Delivery: &d, Routed: routed}
	if mapped != nil {
		st.Message, st.Validated = &mapped.msg, mapped.ev
	}
	var (
		res        AttemptResult
		deferUntil time.Time
		deferred   bool
		attemptErr error
	)
	if deliveredByCommit(transport) {
		// Nothing leaves the hub before the commit: deliver now and commit
		// the attempt with the route. The delivery span is the routing
		// span's sibling, as in a separate step.
		end()
		var made bool
		res, deferUntil, made, attemptErr = p.attempt(parent, sub, d, msg, transport)
		deferred = !made
		if made && attemptErr == nil {
			st.Attempt = &res
		}
	}
	c, err := (*steps).CommitSteps(ctx, st)
	if err != nil {
		return true, nil, err
	}
	if !c.Applied {
		p.log.InfoContext(ctx, "pipeline: step committed before; reading the submission again", "submission", sub.ID)
		*steps = nil
		return false, nil, nil
	}
	switch {
	case st.Attempt != nil:
		if p.cfg.OnAttempt != nil {
			p.cfg.OnAttempt(res)
		}
		return true, nil, nil
	case attemptErr != nil:
		return true, nil, attemptErr
	case deferred:
		// The endpoint's breaker deferred the attempt: the route stands,
		// the job waits.
		return true, nil, p.cfg.Store.ReleaseJob(ctx, sub.ID, owner, deferUntil)
	}
	sub.Status = StatusRouted
	return false, &carried{sub: sub, msg: msg, delivery: &c.Delivery}, nil
}

// transportID derives the message ID used on the wire from the (deterministic)
// nachrichtenUUID, so a re-run after a crash sends the same ID (DESIGN §3).
// OSCI IDs are issued by the intermediary; until the OSCI adapter has one, the
// same URN shape serves as the hub-side key.
func (p *Pipeline) transportID(_ TransportKind, uuid string) string {
	return "urn:de:xta:messageid:" + p.cfg.XTASender + ":" + strings.ToLower(uuid)
}

// Breakers exposes the circuit breakers (state for operators and metrics).
func (p *Pipeline) Breakers() *Breakers { return p.breakers }

// deliverStage makes one delivery attempt and records it; in is what the
// routing commit stored (nil: read the delivery and the message).
func (p *Pipeline) deliverStage(ctx context.Context, sub Submission, owner string, in *carried) (bool, error) {
	var d Delivery
	var msg Message
	if in != nil && in.delivery != nil {
		d, msg = *in.delivery, in.msg
	} else {
		var err error
		if d, err = p.cfg.Store.GetDelivery(ctx, sub.ID); err != nil {
			return true, err
		}
		if msg, err = p.cfg.Store.OutboundMessage(ctx, sub.ID); err != nil {
			return true, err
		}
	}
	transport := p.cfg.Transports[d.Route.Transport]
	if transport == nil {
		return true, fmt.Errorf("routing: no transport %q for delivery of %s", d.Route.Transport, sub.ID)
	}
	res, deferUntil, made, err := p.attempt(ctx, sub, d, msg, transport)
	if err != nil {
		return true, err
	}
	if !made {
		return true, p.cfg.Store.ReleaseJob(ctx, sub.ID, owner, deferUntil)
	}
	if err := p.cfg.Store.RecordAttempt(ctx, res); err != nil {
		return true, err
	}
	if p.cfg.OnAttempt != nil {
		p.cfg.OnAttempt(res)
	}
	return true, nil
}

// attempt makes one delivery attempt and decides what follows it; the
// caller commits the result. made is false, with the time to try again,
// when the endpoint's circuit breaker defers the delivery: that is not an
// attempt, and the job waits without using up the submission's retry budget.
func (p *Pipeline) attempt(ctx context.Context, sub Submission, d Delivery, msg Message, transport Transport) (
	res AttemptResult, deferUntil time.Time, made bool, err error) {
	key := endpointKey(d.Route)
	ok, retryAt, why := p.breakers.Acquire(key)
	if !ok {
		p.log.DebugContext(ctx, "delivery deferred", "submission", sub.ID, "reason", why, "until", retryAt)
		return AttemptResult{}, retryAt, false, nil
	}
	ctx, span := StartStage(ctx, p.cfg.Tracer, StageDelivery, sub)
	defer span.End()
	span.SetAttribute("delivery.attempt", d.Attempts+1)
	span.SetAttribute("delivery.transport", string(d.Route.Transport))
	span.SetAttribute("delivery.endpoint", firstNonEmpty(d.Route.Endpoint, d.Route.ReaderKey))
	span.SetAttribute("delivery.transport_id", d.TransportID)
	started := p.cfg.Clock.Now()
	out := transport.Deliver(ctx, d, msg, sub)
	finished := p.cfg.Clock.Now()
	span.SetAttribute("delivery.outcome", out.Kind.String())
	if out.Kind != Delivered {
		span.Fail(out.Kind.String() + ": " + out.Reason)
	}
	p.breakers.Release(key, out.Kind)
	if out.RouteStale {
		p.invalidateRoute(ctx, d.Route, out.Reason)
	}
	res = AttemptResult{Delivery: d, Number: d.Attempts + 1, Started: started, Finished: finished, Outcome: out}
	log := p.log.With("submission", sub.ID, "transport_id", d.TransportID, "attempt", res.Number)
	switch out.Kind {
	case Delivered:
		st := out.Status
		if st == "" {
			st = StatusDelivered
		}
		res.Done = true
		ev := p.event(st, deliveredDetail(d, out), firstNonEmpty(out.Evidence, d.TransportID))
		res.Event = &ev
		log.InfoContext(ctx, "delivered", "status", st)
	case Permanent:
		res.Dead = true
		ev := p.event(StatusFailed, "delivery failed permanently: "+out.Reason, out.Evidence)
		res.Event = &ev
		log.WarnContext(ctx, "delivery failed permanently", "reason", out.Reason)
	case Retry, Ambiguous:
		if p.cfg.Retry.Exhausted(res.Number, retryBase(sub), finished) {
			res.Dead = true
			ev := p.event(StatusFailed, fmt.Sprintf("delivery gave up after %d attempts: %s", res.Number, out.Reason), out.Evidence)
			res.Event = &ev
			log.WarnContext(ctx, "delivery retries exhausted", "reason", out.Reason)
		} else {
			res.NextAttemptAt = finished.Add(p.cfg.Retry.Delay(res.Number, out.RetryAfter))
			log.InfoContext(ctx, "delivery will be retried", "outcome", out.Kind, "reason", out.Reason, "next", res.NextAttemptAt)
		}
	default:
		return res, time.Time{}, true, fmt.Errorf("routing: transport returned no outcome for %s", sub.ID)
	}
	return res, time.Time{}, true, nil
}

// invalidateRoute drops a cached route after a delivery failed in a way that
// suggests the directory entry changed (a renewed certificate, say).
func (p *Pipeline) invalidateRoute(ctx context.Context, rt Route, reason string) {
	inv, ok := p.cfg.Resolver.(RouteInvalidator)
	if !ok {
		return
	}
	if err := inv.InvalidateRoute(ctx, rt.ReaderKey, rt.ServiceURI); err != nil {
		p.log.WarnContext(ctx, "could not invalidate cached route", "reader", rt.ReaderKey, "service", rt.ServiceURI, "err", err)
		return
	}
	p.log.InfoContext(ctx, "cached route invalidated after a certificate or decryption failure",
		"reader", rt.ReaderKey, "service", rt.ServiceURI, "reason", reason)
}

func deliveredDetail(d Delivery, out Outcome) string {
	if d.Route.Transport == TransportXTAMailbox {
		return "in the XTA mailbox of " + d.Route.ReaderKey + ", ready to be fetched"
	}
	s := "accepted by " + d.Route.Endpoint
	if out.Reason != "" {
		s += ": " + out.Reason
	}
	return s
}

// retryLater postpones a submission that cannot progress now (no route yet, a
// transient mapping problem). After MaxAge it fails and becomes a dead letter.
func (p *Pipeline) retryLater(ctx context.Context, sub Submission, owner, reason string) error {
	now := p.cfg.Clock.Now()
	if now.Sub(retryBase(sub)) >= p.cfg.Retry.MaxAge {
		return p.cfg.Store.Terminate(ctx, sub.ID, p.event(StatusFailed, "gave up: "+reason, ""), reason)
	}
	p.log.WarnContext(ctx, "submission postponed", "submission", sub.ID, "reason", reason)
	return p.cfg.Store.ReleaseJob(ctx, sub.ID, owner, now.Add(p.cfg.Retry.Delay(1, 0)))
}

func retryBase(sub Submission) time.Time {
	if sub.RetryBase.IsZero() {
		return sub.ReceivedAt
	}
	return sub.RetryBase
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
