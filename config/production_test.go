package config

import (
	"strings"
	"testing"
)

// deploy/production.yaml is a template for real hosts: every key must be
// known and every value valid; only the files it names (certificates,
// secrets, schema bundles) are missing on a test machine.
func TestProductionExampleIsValidButForItsFiles(t *testing.T) {
	c, err := Load("../deploy/production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatal("expected the missing files to be reported")
	}
	for _, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "configuration is invalid") {
			continue
		}
		if !strings.Contains(line, "no such file or directory") {
			t.Errorf("problem other than a missing file: %s", line)
		}
	}
	if c.Store.Driver != StorePostgres || len(c.Kafka.Brokers) != 3 || c.XTA.Server.Listen == "" || c.Portals[0].RateLimit.PerSecond != 200 {
		t.Fatalf("production example not read as written: %+v", c.Store)
	}
}
