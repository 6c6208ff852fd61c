package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/dxhub/dxhub/internal/loop"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

// Work topic records (Kafka work distribution, issue #8). The key is the
// recipient (RecipientKey), so a recipient's submissions share one partition;
// the value is a WorkRecord.
const (
	// WorkSchema names the schema of a work record's value.
	WorkSchema = "urn:dxhub:schema:work:1"
	// HeaderSubmissionID carries the submission ID of a work record.
	HeaderSubmissionID = "dxhub-submission-id"
)

// WorkRecord is the JSON value of one work topic record: an accepted,
// durably stored submission for the pipeline.
type WorkRecord struct {
	Schema       string    `json:"schema"`
	SubmissionID string    `json:"submissionId"`
	Recipient    string    `json:"recipient"`
	Tenant       string    `json:"tenant"`
	Service      string    `json:"service"`
	ReceivedAt   time.Time `json:"receivedAt"`
}

// RecipientKey is the work topic key of a recipient: the reader's DVDV
// organisation key and the DVDV service URI, which the intake's (tenant,
// service) determine through the configuration (DESIGN §1 step 3). Two
// services of one reader are two recipients: they may have different
// endpoints and are ordered independently.
func RecipientKey(readerKey, serviceURI string) string { return readerKey + " " + serviceURI }

// WorkOutbox is the store's outbox of accepted submissions (work_outbox).
type WorkOutbox interface {
	PendingWork(ctx context.Context, limit int) ([]store.WorkItem, error)
	WorkPublished(ctx context.Context, ids []int64) error
}

var _ WorkOutbox = (*store.Store)(nil)

// WorkPublisher publishes accepted submissions from the store's outbox to
// the work topic, in outbox order, and removes them from the outbox only
// after the brokers acknowledged them: never before the intake is durable,
// none lost across a crash or an outage (at least once; consumers
// de-duplicate by the submission's job state).
type WorkPublisher struct {
	Store  WorkOutbox
	Writer Writer
	// Recipient maps an intake's tenant and service to its RecipientKey;
	// ok false (no longer configured) keys the record by tenant and service.
	Recipient func(tenant, service string) (key string, ok bool)
	Logger    *slog.Logger
	Batch     int // most records per write (default 200)
	// Leader, if set, lets only one process publish at a time (the others
	// try to take over every LeadRetry, default 1 s): without it every
	// process publishes what it finds, and the topic carries duplicates.
	Leader    Leader
	LeadRetry time.Duration

	lead    *store.Leadership
	lastTry time.Time
}

// Leader elects the one work outbox publisher (store.TryLeadWorkPublisher).
type Leader interface {
	TryLeadWorkPublisher(ctx context.Context) (*store.Leadership, error)
}

var _ Leader = (*store.Store)(nil)

// leading reports whether this publisher may publish now, taking or
// checking the lead when a Leader is set.
func (p *WorkPublisher) leading(ctx context.Context) (bool, error) {
	if p.Leader == nil {
		return true, nil
	}
	retry := p.LeadRetry
	if retry <= 0 {
		retry = time.Second
	}
	if p.lead != nil {
		// The lock lives as long as its connection: look at it now and then
		// (were it lost unnoticed for a moment, two processes would publish,
		// which only makes duplicates).
		if time.Since(p.lastTry) < retry {
			return true, nil
		}
		p.lastTry = time.Now()
		if err := p.lead.Alive(ctx); err == nil {
			return true, nil
		}
		p.lead.Release()
		p.lead = nil
		logger(p.Logger).Warn("kafka: lost the work publisher lead; another process takes over")
	}
	if time.Since(p.lastTry) < retry {
		return false, nil
	}
	p.lastTry = time.Now()
	l, err := p.Leader.TryLeadWorkPublisher(ctx)
	if err != nil || l == nil {
		return false, err
	}
	p.lead = l
	logger(p.Logger).Info("kafka: this process publishes the work outbox")
	return true, nil
}

// Close gives up the lead, if held.
func (p *WorkPublisher) Close() {
	if p.lead != nil {
		p.lead.Release()
		p.lead = nil
	}
}

// WorkMessage returns the work topic record of one outbox item.
func (p *WorkPublisher) WorkMessage(w store.WorkItem) (Message, error) {
	key, ok := "", false
	if p.Recipient != nil {
		key, ok = p.Recipient(w.Tenant, w.Service)
	}
	if !ok {
		key = "tenant:" + w.Tenant + " service:" + w.Service
	}
	v, err := json.Marshal(WorkRecord{Schema: WorkSchema, SubmissionID: w.SubmissionID, Recipient: key, Tenant: w.Tenant,
		Service: w.Service, ReceivedAt: w.ReceivedAt.UTC()})
	if err != nil {
		return Message{}, fmt.Errorf("kafka: encode work record %s: %w", w.SubmissionID, err)
	}
	return Message{Key: []byte(key), Value: v, Time: w.ReceivedAt, Headers: []Header{
		{HeaderSubmissionID, []byte(w.SubmissionID)},
		{HeaderSchema, []byte(WorkSchema)},
		{HeaderContentType, []byte("application/json")},
	}}, nil
}

// RunOnce publishes every pending item and returns how many it published
// (none while another process leads). It is not safe for concurrent use.
func (p *WorkPublisher) RunOnce(ctx context.Context) (int, error) {
	if ok, err := p.leading(ctx); !ok || err != nil {
		return 0, err
	}
	batch := p.Batch
	if batch <= 0 {
		batch = 200
	}
	n := 0
	for {
		pending, err := p.Store.PendingWork(ctx, batch)
		if err != nil || len(pending) == 0 {
			return n, err
		}
		msgs := make([]Message, len(pending))
		ids := make([]int64, len(pending))
		for i, w := range pending {
			if msgs[i], err = p.WorkMessage(w); err != nil {
				return n, err
			}
			ids[i] = w.ID
		}
		if err := p.Writer.WriteMessages(ctx, msgs...); err != nil {
			return n, fmt.Errorf("kafka: publish %d work records: %w", len(msgs), err)
		}
		if err := p.Store.WorkPublished(ctx, ids); err != nil {
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
func (p *WorkPublisher) Run(ctx context.Context, interval time.Duration, wake <-chan struct{}) {
	loop.Run(ctx, interval, wake, func(ctx context.Context) error { _, err := p.RunOnce(ctx); return err },
		func(err error) {
			logger(p.Logger).Error("kafka: publishing work records failed; will retry", "err", err)
		})
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

// Partition is one partition assigned to this member of a consumer group,
// for one generation.
type Partition interface {
	ID() int
	// Fetch returns the partition's next record.
	Fetch(ctx context.Context) (Message, error)
	// Commit commits the offset after m for the group (fails once the
	// generation ended: the partition may belong to another member now).
	Commit(ctx context.Context, m Message) error
}

// Group is a consumer-group membership that hands every assigned partition
// to its own goroutine.
type Group interface {
	// Run calls fn for each partition assigned to this member, concurrently,
	// generation after generation, until ctx ends. fn must return soon after
	// its ctx ends (the partition was revoked in a rebalance, or shutdown).
	Run(ctx context.Context, fn func(ctx context.Context, p Partition)) error
	// Close leaves the group.
	Close() error
}

// GroupOptions tune the group membership; zero values take kafka-go's
// defaults (session 30 s, rebalance 30 s, heartbeat 3 s).
type GroupOptions struct {
	SessionTimeout    time.Duration
	RebalanceTimeout  time.Duration
	HeartbeatInterval time.Duration
	Logger            *slog.Logger
}

// NewGroup joins the consumer group for topic. Partitions without a
// committed offset start at the oldest record.
func NewGroup(c Config, topic, groupID string, o GroupOptions) (Group, error) {
	dialer, err := c.memberDialer("group", topic, groupID)
	if err != nil {
		return nil, err
	}
	cg, err := kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID: groupID, Brokers: c.Brokers, Dialer: dialer, Topics: []string{topic},
		StartOffset: kafkago.FirstOffset, SessionTimeout: o.SessionTimeout, RebalanceTimeout: o.RebalanceTimeout,
		HeartbeatInterval: o.HeartbeatInterval, JoinGroupBackoff: time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("kafka: consumer group %s: %w", groupID, err)
	}
	return &group{cg: cg, brokers: c.Brokers, topic: topic, dialer: dialer, log: logger(o.Logger)}, nil
}

type group struct {
	cg      *kafkago.ConsumerGroup
	brokers []string
	topic   string
	dialer  *kafkago.Dialer
	log     *slog.Logger
	commit  sync.Mutex // one offset commit at a time on the coordinator connection
}

func (g *group) Run(ctx context.Context, fn func(ctx context.Context, p Partition)) error {
	// Partition goroutines finish their record in progress after ctx ends;
	// Run returns only after them, so the caller may close the store.
	var running sync.WaitGroup
	defer running.Wait()
	for {
		gen, err := g.cg.Next(ctx)
		switch {
		case ctx.Err() != nil || errors.Is(err, kafkago.ErrGroupClosed):
			return nil
		case err != nil:
			// Join or sync failed (the broker is away, a rebalance is in
			// progress): the group retries with backoff.
			g.log.Warn("kafka: consumer group generation failed; rejoining", "topic", g.topic, "err", err)
			continue
		}
		var ids []int
		for _, a := range gen.Assignments[g.topic] {
			ids = append(ids, a.ID)
			running.Add(1)
			gen.Start(func(gctx context.Context) {
				defer running.Done()
				pctx, cancel := context.WithCancel(ctx)
				defer cancel()
				stop := context.AfterFunc(gctx, cancel)
				defer stop()
				r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: g.brokers, Topic: g.topic, Partition: a.ID, Dialer: g.dialer,
					MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 250 * time.Millisecond, ReadLagInterval: -1})
				defer r.Close()
				off := a.Offset
				if off < 0 {
					off = kafkago.FirstOffset
				}
				if err := r.SetOffset(off); err != nil {
					g.log.Error("kafka: set partition offset", "partition", a.ID, "offset", off, "err", err)
					<-pctx.Done()
					return
				}
				fn(pctx, &partition{g: g, gen: gen, r: r, id: a.ID})
			})
		}
		g.log.Info("kafka: work partitions assigned", "topic", g.topic, "generation", gen.ID, "partitions", ids)
	}
}

func (g *group) Close() error { return g.cg.Close() }

type partition struct {
	g   *group
	gen *kafkago.Generation
	r   *kafkago.Reader
	id  int
}

func (p *partition) ID() int { return p.id }

func (p *partition) Fetch(ctx context.Context) (Message, error) {
	m, err := p.r.FetchMessage(ctx)
	if err != nil {
		return Message{}, err
	}
	out := Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Time: m.Time}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, Header{Key: h.Key, Value: h.Value})
	}
	return out, nil
}

func (p *partition) Commit(_ context.Context, m Message) error {
	p.g.commit.Lock()
	defer p.g.commit.Unlock()
	return p.gen.CommitOffsets(map[string]map[int]int64{p.g.topic: {p.id: m.Offset + 1}})
}

// WorkHandler takes one submission to a durable outcome
// (routing.OrderedWorker).
type WorkHandler interface {
	Handle(ctx context.Context, submissionID string) (routing.WorkResult, error)
}

var _ WorkHandler = (*routing.OrderedWorker)(nil)

// WorkConsumer consumes the work topic in a consumer group: each assigned
// partition in its own goroutine, its records one at a time and in order.
// A record's offset is committed only after the handler reached a durable
// outcome for its submission; a failure of the hub (the store) is retried
// with backoff and holds the partition meanwhile. Redelivered records
// (rebalance, crash before the commit) find their submission finished and
// are skipped.
type WorkConsumer struct {
	Group   Group
	Handler WorkHandler
	Logger  *slog.Logger
	// Backoff between retries of a record the hub failed to handle
	// (default 1 s, doubling up to MaxBackoff, default 30 s).
	Backoff, MaxBackoff time.Duration
	// Wait waits d or until ctx ends (default a timer); tests replace it.
	Wait func(ctx context.Context, d time.Duration) error
	// OnResult, if set, hears of every handled record (metrics, tests).
	OnResult func(partition int, submissionID string, r routing.WorkResult)
}

// Run consumes until ctx ends.
func (c *WorkConsumer) Run(ctx context.Context) error { return c.Group.Run(ctx, c.consume) }

func (c *WorkConsumer) consume(ctx context.Context, p Partition) {
	backoff := c.backoff()
	for ctx.Err() == nil {
		m, err := p.Fetch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			logger(c.Logger).Error("kafka: work fetch failed; will retry", "partition", p.ID(), "err", err, "retry_in", backoff)
			if c.wait(ctx, backoff) != nil {
				return
			}
			backoff = min(2*backoff, c.maxBackoff())
			continue
		}
		backoff = c.backoff()
		c.Process(ctx, p, m)
	}
}

func (c *WorkConsumer) backoff() time.Duration {
	if c.Backoff > 0 {
		return c.Backoff
	}
	return time.Second
}

func (c *WorkConsumer) maxBackoff() time.Duration {
	if c.MaxBackoff > 0 {
		return c.MaxBackoff
	}
	return 30 * time.Second
}

func (c *WorkConsumer) wait(ctx context.Context, d time.Duration) error {
	if c.Wait != nil {
		return c.Wait(ctx, d)
	}
	return loop.Sleep(ctx, d)
}

// Process handles one record to a durable outcome and commits its offset.
// It returns false only when ctx ended first (nothing committed: the
// partition's next owner gets the record again).
func (c *WorkConsumer) Process(ctx context.Context, p Partition, m Message) bool {
	log := logger(c.Logger).With("partition", m.Partition, "offset", m.Offset)
	var rec WorkRecord
	if err := json.Unmarshal(m.Value, &rec); err != nil || rec.Schema != WorkSchema || rec.SubmissionID == "" {
		// Not a record of ours: nothing to do, and nothing else would ever
		// handle it differently; skip it rather than block the partition.
		log.Error("kafka: work record is not a "+WorkSchema+" record; skipped", "key", string(m.Key), "err", err)
		c.commit(ctx, p, m, log)
		return true
	}
	backoff := c.backoff()
	for attempt := 1; ; attempt++ {
		res, err := c.Handler.Handle(ctx, rec.SubmissionID)
		if err == nil {
			log.Debug("kafka: work record handled", "submission", rec.SubmissionID, "result", res)
			if c.OnResult != nil {
				c.OnResult(m.Partition, rec.SubmissionID, res)
			}
			c.commit(ctx, p, m, log)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		log.Error("kafka: work record failed; will retry (the partition waits)", "submission", rec.SubmissionID,
			"attempt", attempt, "err", err, "retry_in", backoff)
		if c.wait(ctx, backoff) != nil {
			return false
		}
		backoff = min(2*backoff, c.maxBackoff())
	}
}

func (c *WorkConsumer) commit(ctx context.Context, p Partition, m Message, log *slog.Logger) {
	// Not retried: a failed commit means the generation ended and the
	// partition's next owner gets the record again, which is a duplicate.
	if err := p.Commit(ctx, m); err != nil {
		log.Warn("kafka: work offset commit failed; the record will be redelivered and skipped as a duplicate", "err", err)
	}
}
