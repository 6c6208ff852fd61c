package main

// dxhub replay: re-drive a stored submission through the current (or an
// older) mapping profile. A dry run prints a unified diff between the stored
// outbound message and the one the replay would send; a real replay files
// the new message with a new nachrichtenUUID, linked to the one it
// supersedes, and queues it for routing (a new transport ID) and delivery.
//
// Exit codes: 0 done (dry run: diff printed), 1 failure (unknown submission,
// not replayable, a worker holds it right now, unknown profile version,
// mapping errors — listed on stderr), 2 usage.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/connectors/mapping"
	"github.com/dxhub/dxhub/internal/standards"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xoev"
)

// replayOutput is the --json answer.
type replayOutput struct {
	SubmissionID        string `json:"submissionId"`
	DryRun              bool   `json:"dryRun"`
	Seq                 int    `json:"seq"`
	ProfileVersion      string `json:"profileVersion,omitempty"`
	PreviousMessageUUID string `json:"previousNachrichtenUUID,omitempty"`
	PreviousTransportID string `json:"previousTransportId,omitempty"`
	MessageUUID         string `json:"nachrichtenUUID"`
	// Changed says whether the new message differs from the stored one in
	// more than its nachrichtenUUID.
	Changed bool   `json:"changed"`
	Diff    string `json:"diff,omitempty"`
	Queued  bool   `json:"queued"`
}

func cmdReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, open := storeFlags("replay", stderr)
	version := fs.String("profile-version", "", "map with this profile version (services[].profileVersions); default: the current profile")
	dryRun := fs.Bool("dry-run", false, "print the diff between the stored and the new message; change nothing")
	reason := fs.String("reason", "", "why the submission is replayed (required unless --dry-run; recorded in its history)")
	if err := parseFlags(fs.FlagSet, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("give exactly one submission ID")
	}
	if !*dryRun && strings.TrimSpace(*reason) == "" {
		return usagef("a replay needs --reason TEXT (or use --dry-run)")
	}
	cfgPath := fs.Lookup("config").Value.String()
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	id := fs.Arg(0)
	sub, err := st.GetSubmission(ctx, id)
	if errors.Is(err, routing.ErrNotFound) {
		return fmt.Errorf("unknown submission %s", id)
	}
	if err != nil {
		return err
	}
	if sub.Status == routing.StatusReceived {
		return fmt.Errorf("%s is not mapped yet; the pipeline maps it with the current profile", id)
	}
	svc, ok := cfg.Service(sub.Service)
	if !ok {
		return fmt.Errorf("service %s of %s is no longer configured", sub.Service, id)
	}
	tenant, ok := cfg.Tenant(sub.Tenant)
	if !ok {
		return fmt.Errorf("tenant %s of %s is no longer configured", sub.Tenant, id)
	}
	mapper, profVersion, closeMapper, err := replayMapper(cfg, svc, *version)
	if err != nil {
		return err
	}
	defer closeMapper()

	seq, err := st.NextReplaySeq(ctx, id)
	if err != nil {
		return err
	}
	msg, err := mapper.Map(ctx, routing.MapInput{Submission: sub, ReaderKey: tenant.DVDVKey, ReaderName: tenant.Name,
		AuthorKey: cfg.Hub.AuthorKey, AuthorName: cfg.Hub.AuthorName, Created: sub.ReceivedAt})
	if err != nil {
		if fes := xoev.AsFieldErrors(err); len(fes) > 0 {
			for _, fe := range fes {
				fmt.Fprintf(stderr, "%s: %s\n", fe.Field, fe.Reason)
			}
			return fmt.Errorf("mapping with profile version %q failed: %d field error(s)", profVersion, len(fes))
		}
		return fmt.Errorf("mapping with profile version %q failed: %w", profVersion, err)
	}
	msg.SubmissionID = sub.ID
	if msg.Service == "" {
		msg.Service = svc.ServiceURI
	}
	newUUID := replayUUID(sub.ID, seq)
	if msg.XML, err = reidentify(msg.XML, msg.UUID, newUUID); err != nil {
		return err
	}
	oldUUID := msg.UUID
	msg.UUID = newUUID

	out := replayOutput{SubmissionID: id, DryRun: *dryRun, Seq: seq, ProfileVersion: profVersion, MessageUUID: newUUID}
	var storedXML []byte
	prev, err := st.CurrentOutbound(ctx, id)
	switch {
	case err == nil:
		storedXML, out.PreviousMessageUUID = prev.XML, prev.UUID
	case errors.Is(err, routing.ErrNotFound):
	default:
		return err
	}
	if d, err := st.GetDelivery(ctx, id); err == nil {
		out.PreviousTransportID = d.TransportID
	}
	stripIDs := func(b []byte, ids ...string) string {
		s := string(b)
		for _, x := range ids {
			if x != "" {
				s = strings.ReplaceAll(s, x, "")
			}
		}
		return s
	}
	out.Changed = stripIDs(storedXML, out.PreviousMessageUUID, oldUUID) != stripIDs(msg.XML, newUUID)
	label := "replay " + strconv.Itoa(seq)
	if profVersion != "" {
		label += " (profile version " + profVersion + ")"
	}
	out.Diff = unifiedDiff("stored "+out.PreviousMessageUUID, label+" "+newUUID, string(storedXML), string(msg.XML), 3)

	if !*dryRun {
		rp, err := st.Replay(ctx, store.ReplayRequest{SubmissionID: id, Seq: seq, Message: msg, ProfileVersion: profVersion,
			Reason: strings.TrimSpace(*reason), Operator: operatorName(), Now: time.Now()})
		if err != nil {
			return err
		}
		out.PreviousMessageUUID, out.PreviousTransportID, out.Queued = rp.PreviousMessageUUID, rp.PreviousTransportID, true
		audit(ctx, st, stderr, "submission.replay", id, fmt.Sprintf("new message %s: %s", newUUID, strings.TrimSpace(*reason)))
	}
	if *fs.json {
		return writeJSON(stdout, out)
	}
	fmt.Fprint(stdout, out.Diff)
	if !out.Changed {
		fmt.Fprintln(stdout, "(no change besides the nachrichtenUUID)")
	}
	if *dryRun {
		fmt.Fprintf(stdout, "dry run: nothing changed; a replay would send %s\n", newUUID)
		return nil
	}
	fmt.Fprintf(stdout, "replay %d of %s: new message %s", seq, id, newUUID)
	if out.PreviousMessageUUID != "" {
		fmt.Fprintf(stdout, " supersedes %s", out.PreviousMessageUUID)
		if out.PreviousTransportID != "" {
			fmt.Fprintf(stdout, " (%s)", out.PreviousTransportID)
		}
	}
	fmt.Fprintln(stdout, "; queued for routing under a new transport ID and delivery (a running hub picks it up)")
	return nil
}

// replayMapper builds the mapper for one service with the chosen profile
// version: the current profile (services[].profile) unless version names one
// of services[].profileVersions (or the current one's profileVersion).
func replayMapper(cfg *config.Config, svc config.Service, profVersion string) (routing.Mapper, string, func(), error) {
	nop := func() {}
	loc, err := cfg.Location()
	if err != nil {
		return nil, "", nop, err
	}
	stdDir, err := standards.Locate(cfg.Hub.StandardsDir)
	if err != nil {
		return nil, "", nop, err
	}
	log := slog.New(slog.DiscardHandler)
	if svc.Profile == "" {
		if profVersion != "" {
			return nil, "", nop, usagef("service %s has no mapping profile (built-in Go mapping); --profile-version does not apply", svc.ID)
		}
		art := map[string]string{}
		if svc.ArtDesAntrags != "" {
			art[svc.ID] = svc.ArtDesAntrags
		}
		x, err := xoev.Open(xoev.Config{StandardsDir: stdDir, ServiceArtDesAntrags: art, Location: loc, Logger: log,
			Product: xoev.Product{Name: "dxhub", Version: version}})
		if err != nil {
			return nil, "", nop, fmt.Errorf("xoev: %w", err)
		}
		return mapping.Mapper{X: x}, "", func() { x.Close() }, nil
	}
	var (
		chosen *xoev.Profile
		seen   []string
	)
	for _, ref := range append([]string{svc.Profile}, cfg.ProfileVersionRefs(svc)...) {
		name, data, err := config.ReadProfileRef(svc, ref)
		if err != nil {
			return nil, "", nop, err
		}
		p, err := xoev.LoadProfile(name, data)
		if err != nil {
			return nil, "", nop, err
		}
		if profVersion == "" || p.ProfileVersion == profVersion {
			chosen = p
			break
		}
		seen = append(seen, strconv.Quote(p.ProfileVersion))
	}
	if chosen == nil {
		return nil, "", nop, fmt.Errorf("service %s has no profile version %q (have %s; add older ones to services[].profileVersions)",
			svc.ID, profVersion, strings.Join(seen, ", "))
	}
	e, err := xoev.OpenEngine(xoev.Config{StandardsDir: stdDir, Location: loc, Logger: log,
		Product: xoev.Product{Name: "dxhub", Version: version}})
	if err != nil {
		return nil, "", nop, fmt.Errorf("xoev: %w", err)
	}
	if err := e.Register(svc.ID, chosen); err != nil {
		e.Close()
		return nil, "", nop, err
	}
	return mapping.Mapper{E: e}, chosen.ProfileVersion, func() { e.Close() }, nil
}

// replayUUID derives the nachrichtenUUID of a submission's n-th replay
// (UUIDv5): a dry run shows the ID the real replay will use.
func replayUUID(submissionID string, seq int) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:dxhub:replay:"+submissionID+":"+strconv.Itoa(seq))).String()
}

// reidentify gives the mapped document its new nachrichtenUUID: the
// (deterministic) UUID the mapping wrote into nachrichtenUUID elements is
// replaced there, and only there.
func reidentify(doc []byte, oldUUID, newUUID string) ([]byte, error) {
	re := regexp.MustCompile(`(<(?:[A-Za-z_][\w.-]*:)?nachrichtenUUID>)\s*` + regexp.QuoteMeta(oldUUID) + `\s*(</)`)
	n := 0
	out := re.ReplaceAllFunc(doc, func(m []byte) []byte {
		n++
		return re.ReplaceAll(m, []byte("${1}"+newUUID+"${2}"))
	})
	if n == 0 {
		return nil, fmt.Errorf("replay: the mapped message has no nachrichtenUUID %s to replace", oldUUID)
	}
	return out, nil
}

// unifiedDiff returns a unified diff (diff -u format, `context` lines around
// each change) from a to b, "" when they are equal.
func unifiedDiff(aName, bName, a, b string, context int) string {
	if a == b {
		return ""
	}
	x, y := splitLines(a), splitLines(b)
	if len(x)*len(y) > 16_000_000 { // 64 MB of LCS table
		return fmt.Sprintf("--- %s\n+++ %s\n(documents differ; too large for a line diff)\n", aName, bName)
	}
	// ops: ' ' keep, '-' delete from a, '+' insert from b (LCS).
	lcs := make([][]int32, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte
		ai   int // line index in a (keep, delete)
		bi   int // line index in b (keep, insert)
	}
	var ops []op
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ops = append(ops, op{' ', i, j})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', i, j})
			i++
		default:
			ops = append(ops, op{'+', i, j})
			j++
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", aName, bName)
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		// A hunk: from context lines before the change to context lines
		// after the last change that is at most 2*context keeps away.
		start := max(0, k-context)
		end := k
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*context {
				end = min(end+context, len(ops))
				break
			}
			end = run
		}
		aStart, bStart, aLen, bLen := ops[start].ai, ops[start].bi, 0, 0
		for _, o := range ops[start:end] {
			switch o.kind {
			case ' ':
				aLen++
				bLen++
			case '-':
				aLen++
			case '+':
				bLen++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(aStart, aLen), hunkRange(bStart, bLen))
		for _, o := range ops[start:end] {
			switch o.kind {
			case ' ':
				out.WriteString(" " + x[o.ai] + "\n")
			case '-':
				out.WriteString("-" + x[o.ai] + "\n")
			case '+':
				out.WriteString("+" + y[o.bi] + "\n")
			}
		}
		k = end
	}
	return out.String()
}

// hunkRange formats "start,len" the way diff -u does (1-based; an empty
// range names the line before it).
func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	if n == 1 {
		return strconv.Itoa(start + 1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
