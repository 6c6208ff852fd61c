package config

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"
)

func TestKafkaValidate(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	on := func(c *Config) { c.Kafka.Brokers = []string{"127.0.0.1:9092"} }
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string
	}{
		{name: "disabled by default", mutate: func(*Config) {}},
		{name: "disabled ignores the rest", mutate: func(c *Config) { c.Kafka.Writer.Acks = "bogus" }},
		{name: "status only", mutate: on},
		{name: "intake and status", mutate: func(c *Config) {
			on(c)
			c.Kafka.Intake.Topic, c.Kafka.Intake.DeadLetterTopic = "dxhub.intake", "dxhub.intake.dlq"
		}},
		{name: "bad brokers", mutate: func(c *Config) { c.Kafka.Brokers = []string{"kafka", ":9092", "k:0", "k:9092"} },
			want: []string{"kafka.brokers[0]", "kafka.brokers[1]", "kafka.brokers[2]"}},
		{name: "topics", mutate: func(c *Config) {
			on(c)
			c.Kafka.StatusTopic = "a topic"
			c.Kafka.Intake.Topic, c.Kafka.Intake.Group = "in", " "
		}, want: []string{"kafka.intake.deadLetterTopic", "kafka.intake.group", "kafka.statusTopic"}},
		{name: "same topic twice", mutate: func(c *Config) {
			on(c)
			c.Kafka.Intake.Topic, c.Kafka.Intake.DeadLetterTopic = "dxhub.status", "dlq"
		}, want: []string{"kafka.intake.topic"}},
		{name: "dead letters without intake", mutate: func(c *Config) { on(c); c.Kafka.Intake.DeadLetterTopic = "dlq" },
			want: []string{"kafka.intake.topic"}},
		{name: "nothing to do", mutate: func(c *Config) { on(c); c.Kafka.StatusTopic = "" }, want: []string{"kafka.statusTopic"}},
		{name: "writer", mutate: func(c *Config) { on(c); c.Kafka.Writer = KafkaWriter{BatchTimeout: 0, Acks: "1"} },
			want: []string{"kafka.writer.acks", "kafka.writer.batchTimeout"}},
		{name: "slow batches", mutate: func(c *Config) { on(c); c.Kafka.Writer.BatchTimeout = time.Minute },
			want: []string{"kafka.writer.batchTimeout"}},
		{name: "tls files", mutate: func(c *Config) { on(c); c.Kafka.TLS = KafkaTLS{CAFile: "/nonexistent/ca.pem", CertFile: pw} },
			want: []string{"kafka.tls.caFile", "kafka.tls.keyFile"}},
		{name: "scram", mutate: func(c *Config) {
			on(c)
			c.Kafka.SASL = KafkaSASL{Mechanism: "scram-sha-512", Username: "dxhub", PasswordFile: pw}
		}},
		{name: "scram incomplete", mutate: func(c *Config) { on(c); c.Kafka.SASL = KafkaSASL{Mechanism: "scram-sha-256", PasswordFile: empty} },
			want: []string{"kafka.sasl.passwordFile", "kafka.sasl.username"}},
		{name: "plain needs tls", mutate: func(c *Config) {
			on(c)
			c.Kafka.SASL = KafkaSASL{Mechanism: "plain", Username: "u", PasswordFile: pw}
		}, want: []string{"kafka.sasl.mechanism"}},
		{name: "unknown mechanism", mutate: func(c *Config) { on(c); c.Kafka.SASL.Mechanism = "gssapi" },
			want: []string{"kafka.sasl.mechanism"}},
		{name: "work distribution", mutate: func(c *Config) { on(c); c.Kafka.StatusTopic = ""; c.Kafka.Work.Enabled = true }},
		{name: "work without brokers", mutate: func(c *Config) { c.Kafka.Work.Enabled = true }, want: []string{"kafka.work.enabled"}},
		{name: "work settings", mutate: func(c *Config) {
			on(c)
			c.Kafka.Intake.Topic, c.Kafka.Intake.DeadLetterTopic = "dxhub.intake", "dxhub.intake.dlq"
			c.Kafka.Work = KafkaWork{Enabled: true, Topic: "dxhub.status", Group: "dxhub-intake", MaxBlock: 0,
				SessionTimeout: 10 * time.Minute, HeartbeatInterval: 0}
		}, want: []string{"kafka.work.group", "kafka.work.heartbeatInterval", "kafka.work.maxBlock", "kafka.work.sessionTimeout", "kafka.work.topic"}},
		{name: "work heartbeat after session", mutate: func(c *Config) {
			on(c)
			c.Kafka.Work.Enabled, c.Kafka.Work.SessionTimeout, c.Kafka.Work.HeartbeatInterval = true, 6*time.Second, 6*time.Second
		}, want: []string{"kafka.work.heartbeatInterval"}},
		{name: "credentials without mechanism", mutate: func(c *Config) { on(c); c.Kafka.SASL.Username = "u" },
			want: []string{"kafka.sasl.mechanism"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(c)
			var got []string
			for _, fe := range FieldErrors(c.Validate()) {
				got = append(got, fe.Key)
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("problem keys = %v, want %v (%v)", got, tc.want, c.Validate())
			}
		})
	}
}

func TestKafkaFromFile(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kafka-pw"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	def, _ := os.ReadFile("default.yaml")
	path := filepath.Join(dir, "dxhub.yaml")
	extra := `
kafka:
  brokers: [k1.example:9093, k2.example:9093]
  tls: {caFile: ca.pem}
  sasl: {mechanism: scram-sha-512, username: dxhub, passwordFile: kafka-pw}
  intake: {topic: dxhub.intake, deadLetterTopic: dxhub.intake.dlq}
  writer: {batchTimeout: 5ms}
`
	if err := os.WriteFile(path, append(def, []byte(extra)...), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DXHUB_KAFKA_STATUSTOPIC", "lk.status")
	t.Setenv("DXHUB_KAFKA_WRITER_ACKS", "leader")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	k := c.Kafka
	if !k.Enabled() || !slices.Equal(k.Brokers, []string{"k1.example:9093", "k2.example:9093"}) || k.StatusTopic != "lk.status" ||
		k.Intake != (KafkaIntake{Topic: "dxhub.intake", Group: "dxhub-intake", DeadLetterTopic: "dxhub.intake.dlq"}) ||
		k.Writer != (KafkaWriter{BatchTimeout: 5 * time.Millisecond, Acks: "leader"}) ||
		k.TLS.CAFile != filepath.Join(dir, "ca.pem") || k.SASL.PasswordFile != filepath.Join(dir, "kafka-pw") {
		t.Fatalf("kafka = %+v", k)
	}
	if pw, err := k.Password(); err != nil || pw != "s3cret" {
		t.Fatalf("password %q %v", pw, err)
	}
	if d := Default().Kafka; d.Enabled() {
		t.Fatalf("the embedded default has Kafka brokers: %v", d.Brokers)
	}
}
