package main

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/dxhub/dxhub/config"
)

// multiTenantYAML is the embedded default configuration with the given
// tenants (AGS) instead of its one: each tenant's reader (ags:<AGS>) fetches
// universeller-antrag from the built-in XTA mailbox, and the demo portal may
// submit for all of them. The cluster test and `dxhub bench --cluster` use
// it to spread the load over several recipients.
func multiTenantYAML(tenants []string) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(config.DefaultYAML(), &doc); err != nil {
		return nil, fmt.Errorf("embedded default: %w", err)
	}
	var ts, eps []any
	var uri string
	for _, s := range doc["services"].([]any) {
		if m := s.(map[string]any); m["id"] == "universeller-antrag" {
			uri, _ = m["serviceURI"].(string)
		}
	}
	if uri == "" {
		return nil, fmt.Errorf("embedded default has no universeller-antrag service")
	}
	allowed := make([]any, len(tenants))
	for i, ags := range tenants {
		ts = append(ts, map[string]any{"ags": ags, "name": "Kommune " + ags, "dvdvKey": "ags:" + ags})
		eps = append(eps, map[string]any{"readerKey": "ags:" + ags, "serviceURI": uri, "transport": "xta-mailbox"})
		allowed[i] = ags
	}
	doc["tenants"], doc["endpoints"] = ts, eps
	portals := doc["portals"].([]any)
	for _, p := range portals {
		p.(map[string]any)["tenants"] = allowed
	}
	return yaml.Marshal(doc)
}
