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

// kafkaWiring is the Kafka status publisher and intake connector (kafka.*);
// nil when kafka.brokers is empty. Its methods accept a nil receiver.
type kafkaWiring struct {
	log       *slog.Logger
	publisher *kafka.Publisher // nil without kafka.statusTopic
	intake    *kafka.Intake    // nil without kafka.intake.topic
	wake      chan struct{}
	closers   []func() error
}

// newKafkaWiring connects the publisher to the store's status events and the
// intake connector to the portal API's intake (api.SubmitDocument).
func newKafkaWiring(cfg *config.Config, st *store.Store, api *portal.Handler, clock routing.Clock, log *slog.Logger) (*kafkaWiring, error) {
	k := cfg.Kafka
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
	log.Info("kafka enabled", "brokers", k.Brokers, "status_topic", k.StatusTopic, "intake_topic", k.Intake.Topic,
		"group", k.Intake.Group, "dead_letter_topic", k.Intake.DeadLetterTopic, "tls", k.TLSEnabled(), "sasl", k.SASL.Mechanism)
	return w, nil
}

// wakeup makes the publisher look for new status events now.
func (w *kafkaWiring) wakeup() {
	if w == nil {
		return
	}
	select {
	case w.wake <- struct{}{}:
	default:
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
