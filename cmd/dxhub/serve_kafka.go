package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/connectors/kafka"
	"github.com/dxhub/dxhub/connectors/portal"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

// kafkaWiring is the Kafka status publisher, intake connector and work
// distribution (kafka.*); nil when kafka.brokers is empty. Its methods accept
// a nil receiver.
type kafkaWiring struct {
	log       *slog.Logger
	publisher *kafka.Publisher // nil without kafka.statusTopic
	intake    *kafka.Intake    // nil without kafka.intake.topic
	wake      chan struct{}
	// Work distribution (kafka.work.enabled): the outbox → work topic
	// publisher and the consumer group member; nil when off.
	workPub  *kafka.WorkPublisher
	work     *kafka.WorkConsumer
	workWake chan struct{}
	closers  []func() error
}

// newKafkaWiring connects the publisher to the store's status events, the
// intake connector to the portal API's intake (api.SubmitDocument) and, with
// kafka.work.enabled, the work topic to the pipeline.
func newKafkaWiring(cfg *config.Config, st *store.Store, api *portal.Handler, pipeline *routing.Pipeline, clock routing.Clock, log *slog.Logger) (*kafkaWiring, error) {
	k := cfg.Kafka
	st.SetWorkTopic(k.Enabled() && k.Work.Enabled)
	if !k.Enabled() || !k.Work.Enabled {
		// Jobs a previous run held for the work topic go to the database
		// queue (one indexed update; nothing to do normally).
		if n, err := st.ReleaseWorkTopic(context.Background(), clock.Now()); err != nil {
			return nil, err
		} else if n > 0 {
			log.Warn("kafka work distribution is off: jobs held for the work topic handed to the database queue", "jobs", n)
		}
	}
	if !k.Enabled() {
		return nil, nil
	}
	kc := kafka.Config{Brokers: k.Brokers, SASLMechanism: k.SASL.Mechanism, Username: k.SASL.Username,
		BatchTimeout: k.Writer.BatchTimeout, Acks: kafka.Acks(k.Writer.Acks)}
	if host, err := os.Hostname(); err == nil {
		kc.ClientID = "dxhub-" + host
	}
	var err error
	if k.TLSEnabled() {
		if kc.TLS, err = kafka.TLSConfig(k.TLS.CAFile, k.TLS.CertFile, k.TLS.KeyFile); err != nil {
			return nil, err
		}
	}
	if kc.Password, err = k.Password(); err != nil {
		return nil, fmt.Errorf("kafka.sasl.passwordFile: %w", err)
	}
	w := &kafkaWiring{log: log, wake: make(chan struct{}, 1)}
	if k.StatusTopic != "" {
		wr, err := kafka.NewWriter(kc, k.StatusTopic)
		if err != nil {
			return nil, err
		}
		w.closers = append(w.closers, wr.Close)
		w.publisher = &kafka.Publisher{Store: st, Writer: wr, Clock: clock, Logger: log}
	}
	if k.Intake.Topic != "" {
		dlq, err := kafka.NewWriter(kc, k.Intake.DeadLetterTopic)
		if err != nil {
			w.close()
			return nil, err
		}
		w.closers = append(w.closers, dlq.Close)
		rd, err := kafka.NewReader(kc, k.Intake.Topic, k.Intake.Group)
		if err != nil {
			w.close()
			return nil, err
		}
		w.closers = append([]func() error{rd.Close}, w.closers...) // the reader first: it leaves the group
		w.intake = &kafka.Intake{Reader: rd, DeadLetter: dlq, Submitter: api, Logger: log}
	}
	if k.Work.Enabled {
		if err := w.setupWork(cfg, kc, st, pipeline, log); err != nil {
			w.close()
			return nil, err
		}
	}
	log.Info("kafka enabled", "brokers", k.Brokers, "status_topic", k.StatusTopic, "intake_topic", k.Intake.Topic,
		"group", k.Intake.Group, "dead_letter_topic", k.Intake.DeadLetterTopic, "tls", k.TLSEnabled(), "sasl", k.SASL.Mechanism,
		"work_topic", workTopic(k), "work_group", k.Work.Group)
	return w, nil
}

func workTopic(k config.Kafka) string {
	if !k.Work.Enabled {
		return ""
	}
	return k.Work.Topic
}

// setupWork wires work distribution: the outbox publisher keyed by
// recipient, and this process's member of the work consumer group, whose
// partitions run the pipeline through an ordered worker.
func (w *kafkaWiring) setupWork(cfg *config.Config, kc kafka.Config, st *store.Store, pipeline *routing.Pipeline, log *slog.Logger) error {
	k := cfg.Kafka.Work
	wr, err := kafka.NewWriter(kc, k.Topic)
	if err != nil {
		return err
	}
	w.closers = append(w.closers, wr.Close)
	// One publisher at a time (a PostgreSQL advisory lock); it polls the
	// outbox every 100 ms besides being woken by this process's intakes.
	w.workPub = &kafka.WorkPublisher{Store: st, Writer: wr, Recipient: recipients(cfg), Logger: log, Leader: st}
	w.closers = append(w.closers, func() error { w.workPub.Close(); return nil })
	w.workWake = make(chan struct{}, 1)
	g, err := kafka.NewGroup(kc, k.Topic, k.Group, kafka.GroupOptions{SessionTimeout: k.SessionTimeout,
		RebalanceTimeout: k.SessionTimeout, HeartbeatInterval: k.HeartbeatInterval, Logger: log})
	if err != nil {
		return err
	}
	w.closers = append([]func() error{g.Close}, w.closers...) // leave the group first
	host, _ := os.Hostname()
	ow, err := routing.NewOrderedWorker(routing.OrderedConfig{Pipeline: pipeline, Store: st,
		Owner: fmt.Sprintf("kafka/%s/%d", host, os.Getpid()), Lease: cfg.Workers.Lease, MaxBlock: k.MaxBlock, Logger: log})
	if err != nil {
		return err
	}
	w.work = &kafka.WorkConsumer{Group: g, Handler: ow, Logger: log}
	return nil
}

// recipients maps an intake's (tenant, service) to its work topic key: the
// tenant's DVDV organisation key and the service's DVDV service URI, the
// pair the pipeline resolves the route from.
func recipients(cfg *config.Config) func(tenant, service string) (string, bool) {
	readers := map[string]string{}
	for _, t := range cfg.Tenants {
		readers[t.AGS] = t.DVDVKey
	}
	uris := map[string]string{}
	for _, s := range cfg.Services {
		uris[s.ID] = s.ServiceURI
	}
	return func(tenant, service string) (string, bool) {
		r, ok1 := readers[tenant]
		u, ok2 := uris[service]
		if !ok1 || !ok2 {
			return "", false
		}
		return kafka.RecipientKey(r, u), true
	}
}

// wakeup makes the publishers look for new status events and work now.
func (w *kafkaWiring) wakeup() {
	if w == nil {
		return
	}
	for _, c := range []chan struct{}{w.wake, w.workWake} {
		if c == nil {
			continue
		}
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// start runs the publisher and the intake consumer until ctx ends.
func (w *kafkaWiring) start(ctx context.Context, wg *sync.WaitGroup) {
	if w == nil {
		return
	}
	if w.publisher != nil {
		wg.Add(1)
		go func() { defer wg.Done(); w.publisher.Run(ctx, 2*time.Second, w.wake) }()
	}
	if w.workPub != nil {
		wg.Add(2)
		go func() { defer wg.Done(); w.workPub.Run(ctx, 100*time.Millisecond, w.workWake) }()
		go func() {
			defer wg.Done()
			if err := w.work.Run(ctx); err != nil {
				w.log.Error("kafka work consumer stopped", "err", err)
			}
		}()
	}
	if w.intake != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := w.intake.Run(ctx); err != nil {
					w.log.Error("kafka intake stopped; restarting", "err", err)
					select {
					case <-ctx.Done():
					case <-time.After(5 * time.Second):
					}
				}
			}
		}()
	}
}

func (w *kafkaWiring) close() {
	if w == nil {
		return
	}
	var errs []error
	for _, c := range w.closers {
		errs = append(errs, c())
	}
	w.closers = nil
	if err := errors.Join(errs...); err != nil {
		w.log.Warn("kafka: close", "err", err)
	}
}
