package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/dxhub/dxhub/internal/testpki"
)

// TestTLSAndSASL: a broker that requires TLS (server certificate from a
// private CA, client certificate required) and SASL; the writer and a
// consumer-group reader built from Config get through with the right
// credentials and are refused with a wrong password.
func TestTLSAndSASL(t *testing.T) {
	ca := testpki.NewCA(t, "Kafka Test CA")
	client := ca.Client(t, "dxhub")
	for _, mech := range []string{"plain", "scram-sha-256", "scram-sha-512"} {
		t.Run(mech, func(t *testing.T) {
			kmech := map[string]string{"plain": "PLAIN", "scram-sha-256": "SCRAM-SHA-256", "scram-sha-512": "SCRAM-SHA-512"}[mech]
			srvTLS := &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "kafka").TLS}, ClientAuth: tls.RequireAndVerifyClientCert,
				ClientCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "status"), kfake.TLS(srvTLS),
				kfake.EnableSASL(), kfake.Superuser(kmech, "dxhub", "s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tc, err := TLSConfig(ca.WriteCA(t), client.CertFile, client.KeyFile)
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{Brokers: c.ListenAddrs(), TLS: tc, SASLMechanism: mech, Username: "dxhub", Password: "s3cret",
				BatchTimeout: 5 * time.Millisecond}
			w, err := NewWriter(cfg, "status")
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if err := w.WriteMessages(testCtx(t), Message{Key: []byte("k"), Value: []byte(`{"a":1}`)}); err != nil {
				t.Fatalf("write over TLS+SASL %s: %v", mech, err)
			}
			r, err := NewReader(cfg, "status", "g")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			m, err := r.FetchMessage(testCtx(t))
			if err != nil || string(m.Value) != `{"a":1}` {
				t.Fatalf("read: %q %v", m.Value, err)
			}

			bad := cfg
			bad.Password = "wrong"
			bw, err := NewWriter(bad, "status")
			if err != nil {
				t.Fatal(err)
			}
			defer bw.Close()
			if err := bw.WriteMessages(testCtx(t), Message{Value: []byte("x")}); err == nil {
				t.Fatal("a wrong password was accepted")
			}
			untrusted := cfg
			untrusted.TLS = &tls.Config{RootCAs: x509.NewCertPool(), Certificates: tc.Certificates}
			uw, err := NewWriter(untrusted, "status")
			if err != nil {
				t.Fatal(err)
			}
			defer uw.Close()
			if err := uw.WriteMessages(testCtx(t), Message{Value: []byte("x")}); err == nil {
				t.Fatal("a broker certificate from an untrusted CA was accepted")
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := NewWriter(Config{}, "t"); err == nil {
		t.Error("writer without brokers")
	}
	if _, err := NewWriter(Config{Brokers: []string{"127.0.0.1:1"}, SASLMechanism: "gssapi"}, "t"); err == nil {
		t.Error("unknown SASL mechanism accepted")
	}
	if _, err := NewWriter(Config{Brokers: []string{"127.0.0.1:1"}, Acks: "2"}, "t"); err == nil {
		t.Error("unknown acks accepted")
	}
	if _, err := NewReader(Config{Brokers: []string{"127.0.0.1:1"}}, "t", ""); err == nil {
		t.Error("reader without group")
	}
	if _, err := TLSConfig("/nonexistent/ca.pem", "", ""); err == nil {
		t.Error("missing CA file accepted")
	}
}
