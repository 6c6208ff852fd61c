package config

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Kafka connects the hub to Kafka (issue #8): status events out to
// statusTopic, submissions in from intake.topic. Disabled while brokers is
// empty (the embedded default).
//
//	kafka:
//	  brokers: [kafka-1.example:9093, kafka-2.example:9093]
//	  tls:                          # set caFile (or certFile/keyFile) to use TLS
//	    caFile: /etc/dxhub/kafka-ca.pem
//	    certFile: ""                # client certificate (mTLS)
//	    keyFile: ""
//	  sasl:
//	    mechanism: scram-sha-512    # plain | scram-sha-256 | scram-sha-512; "" = none
//	    username: dxhub
//	    passwordFile: /etc/dxhub/kafka-password
//	  statusTopic: dxhub.status     # "" = no status events
//	  intake:
//	    topic: dxhub.intake         # "" = no Kafka intake
//	    group: dxhub-intake
//	    deadLetterTopic: dxhub.intake.dlq
//	  writer:
//	    batchTimeout: 10ms
//	    acks: all                   # all | leader | none
//	  work:                         # work distribution over Kafka (off: the database queue)
//	    enabled: false
//	    topic: dxhub.work           # partitioned by recipient
//	    group: dxhub-work
//	    maxBlock: 1m                # longest one submission's retries hold up its recipient
//	    sessionTimeout: 30s         # a dead process's partitions move after this
//	    heartbeatInterval: 3s
//
// brokers is a list and so cannot be set from the environment; every other
// key can (DXHUB_KAFKA_STATUSTOPIC, ...).
type Kafka struct {
	Brokers     []string    `mapstructure:"brokers"`
	TLS         KafkaTLS    `mapstructure:"tls"`
	SASL        KafkaSASL   `mapstructure:"sasl"`
	StatusTopic string      `mapstructure:"statusTopic"`
	Intake      KafkaIntake `mapstructure:"intake"`
	Writer      KafkaWriter `mapstructure:"writer"`
	Work        KafkaWork   `mapstructure:"work"`
}

// KafkaWork is work distribution over Kafka (issue #8): accepted submissions
// go through the store's outbox to Topic, keyed by recipient, and every hub
// process consumes it in Group, each partition in order. Off, the pipeline's
// workers claim jobs from the database queue.
type KafkaWork struct {
	Enabled bool   `mapstructure:"enabled"`
	Topic   string `mapstructure:"topic"`
	Group   string `mapstructure:"group"`
	// MaxBlock bounds how long one submission's retries may hold up the
	// submissions behind it on its partition; a retry due later parks it in
	// the database retry queue (its order is then given up).
	MaxBlock          time.Duration `mapstructure:"maxBlock"`
	SessionTimeout    time.Duration `mapstructure:"sessionTimeout"`
	HeartbeatInterval time.Duration `mapstructure:"heartbeatInterval"`
}

// KafkaTLS holds PEM files; TLS is used when any is set.
type KafkaTLS struct {
	CAFile   string `mapstructure:"caFile"`
	CertFile string `mapstructure:"certFile"`
	KeyFile  string `mapstructure:"keyFile"`
}

// KafkaSASL is the SASL authentication.
type KafkaSASL struct {
	Mechanism    string `mapstructure:"mechanism"`
	Username     string `mapstructure:"username"`
	PasswordFile string `mapstructure:"passwordFile"`
}

// KafkaIntake is the intake connector's topic, group and dead-letter topic.
type KafkaIntake struct {
	Topic           string `mapstructure:"topic"`
	Group           string `mapstructure:"group"`
	DeadLetterTopic string `mapstructure:"deadLetterTopic"`
}

// KafkaWriter configures the producers.
type KafkaWriter struct {
	BatchTimeout time.Duration `mapstructure:"batchTimeout"`
	Acks         string        `mapstructure:"acks"`
}

// DefaultKafka returns the built-in defaults (disabled: no brokers).
func DefaultKafka() Kafka {
	return Kafka{
		StatusTopic: "dxhub.status",
		Intake:      KafkaIntake{Group: "dxhub-intake"},
		Writer:      KafkaWriter{BatchTimeout: 10 * time.Millisecond, Acks: "all"},
		Work: KafkaWork{Topic: "dxhub.work", Group: "dxhub-work", MaxBlock: time.Minute, SessionTimeout: 30 * time.Second,
			HeartbeatInterval: 3 * time.Second},
	}
}

// Enabled reports whether brokers are configured.
func (k Kafka) Enabled() bool { return len(k.Brokers) > 0 }

// TLSEnabled reports whether any TLS file is set.
func (k Kafka) TLSEnabled() bool {
	return k.TLS.CAFile != "" || k.TLS.CertFile != "" || k.TLS.KeyFile != ""
}

// Password reads sasl.passwordFile (surrounding white space trimmed).
func (k Kafka) Password() (string, error) {
	if k.SASL.PasswordFile == "" {
		return "", nil
	}
	return readKeyFile(k.SASL.PasswordFile)
}

func (k *Kafka) resolvePaths(baseDir string, fromEnv map[string]string) {
	r := func(key string, p *string) { *p = resolvePath(baseDir, *p, fromEnv[strings.ToLower(key)] != "") }
	r("kafka.tls.caFile", &k.TLS.CAFile)
	r("kafka.tls.certFile", &k.TLS.CertFile)
	r("kafka.tls.keyFile", &k.TLS.KeyFile)
	r("kafka.sasl.passwordFile", &k.SASL.PasswordFile)
}

// validTopic follows Kafka's rule: 1–249 of [a-zA-Z0-9._-], not "." or "..".
func validTopic(t string) bool {
	if t == "" || len(t) > 249 || t == "." || t == ".." {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (c *Config) validateKafka(p *problems) {
	k := c.Kafka
	if !k.Enabled() {
		if k.Work.Enabled {
			p.add("kafka.work.enabled", "needs kafka.brokers")
		}
		return
	}
	for i, b := range k.Brokers {
		host, port, err := net.SplitHostPort(b)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			p.add(fmt.Sprintf("kafka.brokers[%d]", i), "must be host:port, got %q", b)
		}
	}
	topics := map[string]string{}
	topic := func(key, t string, required bool) {
		switch {
		case t == "" && required:
			p.add(key, "must be set")
		case t == "":
		case !validTopic(t):
			p.add(key, "%q is not a valid Kafka topic name (1-249 characters of a-z A-Z 0-9 . _ -)", t)
		case topics[t] != "":
			p.add(key, "is the same topic as %s (%q)", topics[t], t)
		default:
			topics[t] = key
		}
	}
	topic("kafka.statusTopic", k.StatusTopic, false)
	if k.Intake.Topic != "" {
		topic("kafka.intake.topic", k.Intake.Topic, true)
		topic("kafka.intake.deadLetterTopic", k.Intake.DeadLetterTopic, true)
		if strings.TrimSpace(k.Intake.Group) == "" {
			p.add("kafka.intake.group", "must be set when kafka.intake.topic is")
		}
	} else if k.Intake.DeadLetterTopic != "" {
		p.add("kafka.intake.topic", "must be set when kafka.intake.deadLetterTopic is")
	}
	if k.Work.Enabled {
		topic("kafka.work.topic", k.Work.Topic, true)
		if strings.TrimSpace(k.Work.Group) == "" {
			p.add("kafka.work.group", "must be set when kafka.work.enabled is")
		} else if k.Work.Group == k.Intake.Group && k.Intake.Topic != "" {
			p.add("kafka.work.group", "must differ from kafka.intake.group (%q)", k.Work.Group)
		}
		if k.Work.MaxBlock <= 0 {
			p.add("kafka.work.maxBlock", "must be positive, got %s", k.Work.MaxBlock)
		}
		if k.Work.SessionTimeout < time.Second || k.Work.SessionTimeout > 5*time.Minute {
			p.add("kafka.work.sessionTimeout", "must be between 1s and 5m, got %s", k.Work.SessionTimeout)
		}
		if k.Work.HeartbeatInterval <= 0 || k.Work.HeartbeatInterval >= k.Work.SessionTimeout {
			p.add("kafka.work.heartbeatInterval", "must be positive and shorter than kafka.work.sessionTimeout, got %s", k.Work.HeartbeatInterval)
		}
	}
	if k.StatusTopic == "" && k.Intake.Topic == "" && !k.Work.Enabled {
		p.add("kafka.statusTopic", "kafka.brokers is set but neither kafka.statusTopic, kafka.intake.topic nor kafka.work is")
	}
	if k.Writer.BatchTimeout <= 0 {
		p.add("kafka.writer.batchTimeout", "must be positive, got %s", k.Writer.BatchTimeout)
	} else if k.Writer.BatchTimeout > 10*time.Second {
		p.add("kafka.writer.batchTimeout", "must be at most 10s (every event waits up to it), got %s", k.Writer.BatchTimeout)
	}
	switch k.Writer.Acks {
	case "all", "leader", "none":
	default:
		p.add("kafka.writer.acks", "must be all, leader or none, got %q", k.Writer.Acks)
	}
	for key, f := range map[string]string{"kafka.tls.caFile": k.TLS.CAFile, "kafka.tls.certFile": k.TLS.CertFile, "kafka.tls.keyFile": k.TLS.KeyFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			p.add(key, "%v", err)
		}
	}
	if (k.TLS.CertFile == "") != (k.TLS.KeyFile == "") {
		p.add("kafka.tls.keyFile", "kafka.tls.certFile and kafka.tls.keyFile must be set together")
	}
	switch strings.ToLower(k.SASL.Mechanism) {
	case "":
		if k.SASL.Username != "" || k.SASL.PasswordFile != "" {
			p.add("kafka.sasl.mechanism", "must be set when kafka.sasl.username or passwordFile is")
		}
	case "plain", "scram-sha-256", "scram-sha-512":
		if k.SASL.Username == "" {
			p.add("kafka.sasl.username", "must be set for SASL %s", k.SASL.Mechanism)
		}
		if k.SASL.PasswordFile == "" {
			p.add("kafka.sasl.passwordFile", "must be set for SASL %s", k.SASL.Mechanism)
		} else if _, err := k.Password(); err != nil {
			p.add("kafka.sasl.passwordFile", "%v", err)
		}
		if strings.EqualFold(k.SASL.Mechanism, "plain") && !k.TLSEnabled() {
			p.add("kafka.sasl.mechanism", "plain sends the password in clear; configure kafka.tls as well")
		}
	default:
		p.add("kafka.sasl.mechanism", "must be plain, scram-sha-256 or scram-sha-512, got %q", k.SASL.Mechanism)
	}
}
