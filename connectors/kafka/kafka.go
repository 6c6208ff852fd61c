// Package kafka connects dxhub to Kafka (issue #8): it publishes every status
// event to a status topic (Publisher), takes submissions from an intake
// topic (Intake), with invalid records sent to a dead-letter topic, and
// distributes the pipeline's work between hub processes over a work topic
// partitioned by recipient (WorkPublisher, WorkConsumer).
//
// The Kafka client (github.com/segmentio/kafka-go) stays behind the small
// Writer, Reader and Group interfaces of this package; NewWriter, NewReader
// and NewGroup build them from the configuration (brokers, TLS, SASL, writer
// batch timeout and acks).
package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// Message is one Kafka record.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Time      time.Time
}

// Header returns the value of the last header named key (case-sensitive, as
// Kafka headers are) and whether it is present.
func (m Message) Header(key string) (string, bool) {
	v, ok := "", false
	for _, h := range m.Headers {
		if h.Key == key {
			v, ok = string(h.Value), true
		}
	}
	return v, ok
}

// Writer produces records to one topic. WriteMessages returns once every
// record is acknowledged as configured (acks) or with an error; after an error
// some records may have been written.
type Writer interface {
	WriteMessages(ctx context.Context, msgs ...Message) error
	Close() error
}

// Reader consumes one topic in a consumer group. FetchMessage does not commit;
// CommitMessages commits the offsets after the given records.
type Reader interface {
	FetchMessage(ctx context.Context) (Message, error)
	CommitMessages(ctx context.Context, msgs ...Message) error
	Close() error
}

// Acks are the producer acknowledgements the writer waits for.
type Acks string

const (
	AcksAll    Acks = "all"    // every in-sync replica (RequireAll)
	AcksLeader Acks = "leader" // the partition leader only
	AcksNone   Acks = "none"   // fire and forget
)

// Config is the client configuration (config.Kafka, resolved).
type Config struct {
	Brokers []string
	// TLS, if set, is used for every connection.
	TLS *tls.Config
	// SASLMechanism is "", "plain", "scram-sha-256" or "scram-sha-512".
	SASLMechanism string
	Username      string
	Password      string
	// BatchTimeout bounds how long the writer waits to fill a batch
	// (kafka-go's default of 1 s would delay every single event by 1 s).
	BatchTimeout time.Duration
	Acks         Acks
	// ClientID names this process to the brokers.
	ClientID string
}

// TLSConfig builds a client TLS configuration from PEM files: caFile (the
// brokers' CA; empty = system roots) and an optional client certificate.
func TLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka: tls ca: no PEM certificate in %s", caFile)
		}
		c.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: tls client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

func (c Config) mechanism() (sasl.Mechanism, error) {
	switch strings.ToLower(c.SASLMechanism) {
	case "":
		return nil, nil
	case "plain":
		return plain.Mechanism{Username: c.Username, Password: c.Password}, nil
	case "scram-sha-256":
		return scram.Mechanism(scram.SHA256, c.Username, c.Password)
	case "scram-sha-512":
		return scram.Mechanism(scram.SHA512, c.Username, c.Password)
	default:
		return nil, fmt.Errorf("kafka: unknown SASL mechanism %q (plain, scram-sha-256, scram-sha-512)", c.SASLMechanism)
	}
}

func (c Config) check() error {
	if len(c.Brokers) == 0 {
		return errors.New("kafka: no brokers")
	}
	return nil
}

// NewWriter returns a writer to topic. Records are partitioned by key with
// the murmur2 hash of the Java client, so other producers of the same keys
// agree on the partition.
func NewWriter(c Config, topic string) (Writer, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	mech, err := c.mechanism()
	if err != nil {
		return nil, err
	}
	acks := kafkago.RequireAll
	switch c.Acks {
	case AcksAll, "":
	case AcksLeader:
		acks = kafkago.RequireOne
	case AcksNone:
		acks = kafkago.RequireNone
	default:
		return nil, fmt.Errorf("kafka: unknown acks %q (all, leader, none)", c.Acks)
	}
	bt := c.BatchTimeout
	if bt <= 0 {
		bt = DefaultBatchTimeout
	}
	w := &kafkago.Writer{
		Addr:         kafkago.TCP(c.Brokers...),
		Topic:        topic,
		Balancer:     &kafkago.Murmur2Balancer{},
		BatchTimeout: bt,
		RequiredAcks: acks,
		MaxAttempts:  3,
		Transport:    &kafkago.Transport{TLS: c.TLS, SASL: mech, ClientID: c.ClientID},
	}
	return writer{w}, nil
}

// DefaultBatchTimeout is the writer batch timeout when none is configured.
const DefaultBatchTimeout = 10 * time.Millisecond

type writer struct{ w *kafkago.Writer }

func (w writer) WriteMessages(ctx context.Context, msgs ...Message) error {
	out := make([]kafkago.Message, len(msgs))
	for i, m := range msgs {
		out[i] = kafkago.Message{Key: m.Key, Value: m.Value, Time: m.Time}
		for _, h := range m.Headers {
			out[i].Headers = append(out[i].Headers, kafkago.Header{Key: h.Key, Value: h.Value})
		}
	}
	if err := w.w.WriteMessages(ctx, out...); err != nil {
		return fmt.Errorf("kafka: write to %s: %w", w.w.Topic, err)
	}
	return nil
}

func (w writer) Close() error { return w.w.Close() }

// NewReader returns a consumer-group reader of topic that starts at the
// oldest record when the group has no committed offset, and commits
// synchronously, only when asked.
func NewReader(c Config, topic, group string) (Reader, error) {
	dialer, err := c.memberDialer("reader", topic, group)
	if err != nil {
		return nil, err
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:        c.Brokers,
		Topic:          topic,
		GroupID:        group,
		StartOffset:    kafkago.FirstOffset,
		CommitInterval: 0, // synchronous commits
		MaxWait:        500 * time.Millisecond,
		Dialer:         dialer,
	})
	return reader{r}, nil
}

type reader struct{ r *kafkago.Reader }

func (r reader) FetchMessage(ctx context.Context) (Message, error) {
	m, err := r.r.FetchMessage(ctx)
	if err != nil {
		return Message{}, err
	}
	out := Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Time: m.Time}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, Header{Key: h.Key, Value: h.Value})
	}
	return out, nil
}

func (r reader) CommitMessages(ctx context.Context, msgs ...Message) error {
	in := make([]kafkago.Message, len(msgs))
	for i, m := range msgs {
		in[i] = kafkago.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
	}
	return r.r.CommitMessages(ctx, in...)
}

func (r reader) Close() error { return r.r.Close() }

// memberDialer checks c and a consumer-group member's topic and group (what
// names the member in the error) and returns its dialer.
func (c Config) memberDialer(what, topic, group string) (*kafkago.Dialer, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if topic == "" || group == "" {
		return nil, fmt.Errorf("kafka: %s needs a topic and a group", what)
	}
	return c.dialer()
}

// dialer is the connection setup of consumer-group members (readers and
// the work group): TLS, SASL and client ID from c.
func (c Config) dialer() (*kafkago.Dialer, error) {
	mech, err := c.mechanism()
	if err != nil {
		return nil, err
	}
	return &kafkago.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: c.TLS, SASLMechanism: mech, ClientID: c.ClientID}, nil
}
