package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/connectors/portal"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

// cmdPortal manages portal credentials: dxhub portal key create|rotate|revoke|list.
func cmdPortal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "give a subcommand: key create --portal ID [--tenants AGS,…] [--expires DURATION] | " +
		"key rotate KEYID [--grace DURATION] | key revoke KEYID --reason TEXT | key list [--portal ID]"
	if len(args) < 2 || args[0] != "key" {
		return usagef(usage)
	}
	sub, args := args[1], args[2:]
	fs := newFlags("portal key "+sub, stderr)
	path := fs.String("config", "", "configuration file (default: the embedded default)")
	data := fs.String("data", "", "data directory (overrides hub.dataDir)")
	asJSON := fs.Bool("json", false, "print JSON")
	var (
		portalID, tenants, reason *string
		expires, grace            *time.Duration
	)
	switch sub {
	case "create":
		portalID = fs.String("portal", "", "the portal the key authenticates (required)")
		tenants = fs.String("tenants", "", "comma-separated AGS the key is limited to (default: every tenant of the portal)")
		expires = fs.Duration("expires", 0, "the key expires after this long (0: never)")
	case "rotate":
		grace = fs.Duration("grace", 24*time.Hour, "how long the old key keeps working next to the new one")
		expires = fs.Duration("expires", 0, "the new key expires after this long (0: never)")
	case "revoke":
		reason = fs.String("reason", "", "why the key is revoked (required)")
	case "list":
		portalID = fs.String("portal", "", "only this portal's keys")
	default:
		return usagef(usage)
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	wantPos := 0
	if sub == "rotate" || sub == "revoke" {
		wantPos = 1
	}
	if len(pos) != wantPos {
		return usagef("portal key %s takes %d argument(s), got %q", sub, wantPos, pos)
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	dir := cfg.Hub.DataDir
	if *data != "" {
		dir = *data
	}
	// create may run before the first dxhub serve; the others need keys.
	st, err := openStoreIn(ctx, cfg, dir, sub == "create")
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now().UTC()
	switch sub {
	case "create":
		if *portalID == "" {
			return usagef("portal key create needs --portal ID")
		}
		scope, err := keyScope(cfg, *portalID, *tenants)
		if err != nil {
			return err
		}
		if *expires < 0 {
			return usagef("--expires must not be negative")
		}
		k, secret, err := newPortalKey(*portalID, scope, now, *expires)
		if err != nil {
			return err
		}
		if err := st.CreatePortalKey(ctx, k); err != nil {
			return err
		}
		audit(ctx, st, stderr, "portalkey.create", "", keyDetail(k))
		return printSecret(stdout, *asJSON, k, secret, "")
	case "rotate":
		old, err := st.PortalKey(ctx, keyIDArg(pos[0]))
		if errors.Is(err, routing.ErrNotFound) {
			return fmt.Errorf("no portal key %s (see dxhub portal key list)", pos[0])
		} else if err != nil {
			return err
		}
		if *grace < 0 || *expires < 0 {
			return usagef("--grace and --expires must not be negative")
		}
		if _, ok := cfg.Portal(old.PortalID); !ok {
			return fmt.Errorf("key %s%s belongs to portal %s, which is not configured", portal.KeyPrefix, old.ID, old.PortalID)
		}
		k, secret, err := newPortalKey(old.PortalID, old.Tenants, now, *expires)
		if err != nil {
			return err
		}
		until := now.Add(*grace)
		if err := st.RotatePortalKey(ctx, old.ID, k, until); err != nil {
			if errors.Is(err, store.ErrKeyInactive) {
				return fmt.Errorf("key %s%s is %s and cannot be rotated; create a new key", portal.KeyPrefix, old.ID, old.State(now))
			}
			return err
		}
		audit(ctx, st, stderr, "portalkey.rotate", "", fmt.Sprintf("%s replaces %s%s (valid until %s)", keyDetail(k),
			portal.KeyPrefix, old.ID, until.Format(time.RFC3339)))
		return printSecret(stdout, *asJSON, k, secret, fmt.Sprintf("the old key %s%s keeps working until %s",
			portal.KeyPrefix, old.ID, until.Format(time.RFC3339)))
	case "revoke":
		if strings.TrimSpace(*reason) == "" {
			return usagef("portal key revoke needs --reason TEXT")
		}
		id := keyIDArg(pos[0])
		err := st.RevokePortalKey(ctx, id, now, *reason)
		switch {
		case errors.Is(err, routing.ErrNotFound):
			return fmt.Errorf("no portal key %s (see dxhub portal key list)", pos[0])
		case errors.Is(err, store.ErrKeyInactive):
			return fmt.Errorf("key %s%s is already revoked", portal.KeyPrefix, id)
		case err != nil:
			return err
		}
		audit(ctx, st, stderr, "portalkey.revoke", "", fmt.Sprintf("%s%s: %s", portal.KeyPrefix, id, *reason))
		if *asJSON {
			return writeJSON(stdout, map[string]any{"id": id, "revokedAt": now})
		}
		fmt.Fprintf(stdout, "revoked %s%s; it is refused from now on (401 key-revoked)\n", portal.KeyPrefix, id)
		return nil
	}
	keys, err := st.PortalKeys(ctx, *portalID)
	if err != nil {
		return err
	}
	if *asJSON {
		type row struct {
			store.PortalKey
			State string `json:"state"`
		}
		out := make([]row, 0, len(keys))
		for _, k := range keys {
			out = append(out, row{k, k.State(now)})
		}
		return writeJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tPORTAL\tTENANTS\tSTATE\tCREATED\tEXPIRES\tLAST USED\tREPLACED BY")
	for _, k := range keys {
		ts := "all"
		if len(k.Tenants) > 0 {
			ts = strings.Join(k.Tenants, ",")
		}
		repl := ""
		if k.ReplacedBy != "" {
			repl = portal.KeyPrefix + k.ReplacedBy
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Prefix, k.PortalID, ts, k.State(now), fmtTime(k.CreatedAt),
			orDash(fmtTime(k.ExpiresAt)), orDash(fmtTime(k.LastUsedAt)), orDash(repl))
	}
	return tw.Flush()
}

// newPortalKey draws a key: the record to store and the secret to print once.
func newPortalKey(portalID string, tenants []string, now time.Time, expires time.Duration) (store.PortalKey, string, error) {
	g, err := portal.GenerateKey()
	if err != nil {
		return store.PortalKey{}, "", err
	}
	k := store.PortalKey{ID: g.ID, PortalID: portalID, Prefix: g.Prefix, Hash: g.Hash, Tenants: tenants,
		CreatedAt: now, CreatedBy: operatorName()}
	if expires > 0 {
		k.ExpiresAt = now.Add(expires)
	}
	return k, g.Secret, nil
}

// keyScope checks --tenants against the portal's configured tenants.
func keyScope(cfg *config.Config, portalID, list string) ([]string, error) {
	p, ok := cfg.Portal(portalID)
	if !ok {
		var ids []string
		for _, q := range cfg.Portals {
			ids = append(ids, q.ID)
		}
		return nil, fmt.Errorf("portal %q is not configured (portals: %s)", portalID, strings.Join(ids, ", "))
	}
	if list == "" {
		return nil, nil
	}
	var out []string
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if !slices.Contains(p.Tenants, t) {
			return nil, fmt.Errorf("portal %s is not configured for tenant %q (its tenants: %s)", portalID, t, strings.Join(p.Tenants, ", "))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func printSecret(w io.Writer, asJSON bool, k store.PortalKey, secret, note string) error {
	if asJSON {
		m := map[string]any{"id": k.ID, "prefix": k.Prefix, "portalId": k.PortalID, "tenants": k.Tenants, "apiKey": secret}
		if !k.ExpiresAt.IsZero() {
			m["expiresAt"] = k.ExpiresAt
		}
		if note != "" {
			m["note"] = note
		}
		return writeJSON(w, m)
	}
	scope := "every tenant of the portal"
	if len(k.Tenants) > 0 {
		scope = strings.Join(k.Tenants, ", ")
	}
	fmt.Fprintf(w, "key %s for portal %s, tenants: %s, expires: %s\n", k.Prefix, k.PortalID, scope, orDash(fmtTime(k.ExpiresAt)))
	if note != "" {
		fmt.Fprintln(w, note)
	}
	fmt.Fprintln(w, "API key (shown only now; the hub keeps only its SHA-256):")
	fmt.Fprintln(w, secret)
	return nil
}

func keyDetail(k store.PortalKey) string {
	s := k.Prefix + " for portal " + k.PortalID
	if len(k.Tenants) > 0 {
		s += " limited to " + strings.Join(k.Tenants, ",")
	}
	if !k.ExpiresAt.IsZero() {
		s += ", expires " + k.ExpiresAt.Format(time.RFC3339)
	}
	return s
}

// keyIDArg accepts a key ID with or without the dxhk_ prefix.
func keyIDArg(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), portal.KeyPrefix) }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseInterspersed parses flags before and after positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
