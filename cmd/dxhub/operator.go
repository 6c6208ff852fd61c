package main

// Operator commands that work on the hub's store directly (also while the hub
// runs: SQLite in WAL mode allows a second process). Output is for people, or
// JSON with --json for cron jobs and runbooks.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

// storeFlags adds --config and --data and returns an opener for the store.
func storeFlags(name string, stderr io.Writer) (*flagSet, func(ctx context.Context) (*store.Store, error)) {
	fs := newFlags(name, stderr)
	path := fs.String("config", "", "configuration file (default: the embedded default)")
	data := fs.String("data", "", "data directory (overrides hub.dataDir)")
	asJSON := fs.Bool("json", false, "print JSON")
	f := &flagSet{FlagSet: fs, json: asJSON}
	return f, func(ctx context.Context) (*store.Store, error) {
		cfg, err := loadConfig(*path)
		if err != nil {
			return nil, err
		}
		dir := cfg.Hub.DataDir
		if *data != "" {
			dir = *data
		}
		return openExistingStore(ctx, cfg, dir)
	}
}

func operatorName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "operator " + u.Username
	}
	return "operator"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdDeadLetter(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("give a subcommand: list, show ID, retry ID, drop ID --reason TEXT")
	}
	sub, args := args[0], args[1:]
	fs, open := storeFlags("deadletter "+sub, stderr)
	all := fs.Bool("all", false, "list: include resolved dead letters")
	reason := fs.String("reason", "", "drop: why the dead letter is dropped (required)")
	if err := parseFlags(fs.FlagSet, args); err != nil {
		return err
	}
	rest := fs.Args()
	switch sub {
	case "list":
		if len(rest) != 0 {
			return usagef("list takes no arguments")
		}
	case "show", "retry":
		if len(rest) != 1 {
			return usagef("%s needs exactly one submission ID", sub)
		}
	case "drop":
		if len(rest) != 1 || strings.TrimSpace(*reason) == "" {
			return usagef("drop needs exactly one submission ID and --reason")
		}
	default:
		return usagef("unknown subcommand %q (list, show, retry, drop)", sub)
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	switch sub {
	case "list":
		dls, err := st.DeadLetters(ctx, *all)
		if err != nil {
			return err
		}
		if *fs.json {
			if dls == nil {
				dls = []store.DeadLetter{}
			}
			return writeJSON(stdout, dls)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SUBMISSION\tSINCE\tTENANT\tSERVICE\tATTEMPTS\tREASON")
		for _, d := range dls {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", d.SubmissionID, d.Since.Local().Format(time.RFC3339), d.Tenant,
				d.Service, d.Attempts, d.Reason)
		}
		tw.Flush()
		fmt.Fprintf(stdout, "%d dead letter(s)\n", len(dls))
		return nil
	case "show":
		dl, err := st.DeadLetter(ctx, rest[0])
		if err != nil {
			return err
		}
		if *fs.json {
			return writeJSON(stdout, dl)
		}
		fmt.Fprintf(stdout, "submission  %s\nportal      %s (reference %s)\ntenant      %s\nservice     %s\nsince       %s\nreason      %s\n",
			dl.SubmissionID, dl.PortalID, dl.Reference, dl.Tenant, dl.Service, dl.Since.Local().Format(time.RFC3339), dl.Reason)
		if dl.TransportID != "" {
			fmt.Fprintf(stdout, "message ID  %s\nreader      %s %s\nattempts    %d\n", dl.TransportID, dl.ReaderKey, dl.Endpoint, dl.Attempts)
		}
		if !dl.ResolvedAt.IsZero() {
			fmt.Fprintf(stdout, "resolved    %s (%s)\n", dl.ResolvedAt.Local().Format(time.RFC3339), dl.Resolution)
		}
		return nil
	case "retry":
		resume, err := st.RetryDeadLetter(ctx, rest[0], operatorName(), now)
		if err != nil {
			return err
		}
		audit(ctx, st, stderr, "deadletter.retry", rest[0], "resumes at "+string(resume))
		if *fs.json {
			return writeJSON(stdout, map[string]string{"submissionId": rest[0], "resumesAt": string(resume)})
		}
		fmt.Fprintf(stdout, "%s queued again at stage %s (same message ID); a running hub picks it up\n", rest[0], resume)
		return nil
	default: // drop
		if err := st.DropDeadLetter(ctx, rest[0], operatorName(), *reason, now); err != nil {
			return err
		}
		audit(ctx, st, stderr, "deadletter.drop", rest[0], *reason)
		if *fs.json {
			return writeJSON(stdout, map[string]string{"submissionId": rest[0], "resolution": "dropped: " + *reason})
		}
		fmt.Fprintf(stdout, "%s dropped\n", rest[0])
		return nil
	}
}

func cmdTrace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, open := storeFlags("trace", stderr)
	if err := parseFlags(fs.FlagSet, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("give exactly one submission ID")
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	tr, err := st.Trace(ctx, fs.Arg(0))
	if errors.Is(err, routing.ErrNotFound) {
		return fmt.Errorf("unknown submission %s", fs.Arg(0))
	}
	if err != nil {
		return err
	}
	audit(ctx, st, stderr, "submission.trace", fs.Arg(0), "")
	spans, err := st.Spans(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if *fs.json {
		tr.Submission.Form = nil
		return writeJSON(stdout, traceOutput{Trace: tr, TraceID: traceIDOf(tr.Submission.TraceParent), Spans: spans})
	}
	s := tr.Submission
	ts := func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05.000") }
	fmt.Fprintf(stdout, "submission      %s  [%s]\nportal          %s, reference %s\ntenant/service  %s / %s\n",
		s.ID, s.Status, s.PortalID, s.Reference, s.Tenant, s.Service)
	for _, a := range s.Attachments {
		fmt.Fprintf(stdout, "attachment      %s  %s  %d bytes  sha256 %s\n", a.ID, a.Filename, a.Size, a.SHA256)
	}
	if p := tr.PayloadPurge; p != nil {
		fmt.Fprintf(stdout, "payload purged  %s  %s: %d attachments, %d bytes deleted; metadata and history kept\n", ts(p.PurgedAt), p.Reason, p.Attachments, p.Bytes)
	}
	for _, m := range tr.Messages {
		fmt.Fprintf(stdout, "XÖV message     %s  %s (%s %s)\n", m.UUID, m.RootElement, m.Standard, m.Version)
	}
	if d := tr.Delivery; d != nil {
		fmt.Fprintf(stdout, "transport ID    %s  via %s to %s %s\n", d.TransportID, d.Route.Transport, d.Route.ReaderKey, d.Route.Endpoint)
	}
	for _, r := range tr.Remote {
		fmt.Fprintf(stdout, "remote %-8s %s  at %s  state %s", r.Transport, r.ID, r.Endpoint, r.State)
		if r.Detail != "" {
			fmt.Fprintf(stdout, "  (%s)", r.Detail)
		}
		fmt.Fprintln(stdout)
	}
	for _, a := range tr.Attempts {
		fmt.Fprintf(stdout, "attempt %-7d %s  %-9s %s\n", a.Number, ts(a.Started), a.Outcome, a.Reason)
	}
	for _, in := range tr.Inbound {
		fmt.Fprintf(stdout, "inbound         %s  %s type %s from %s → %s %s\n", ts(in.ReceivedAt), in.TransportID, in.TypeCode,
			in.AuthorKey, in.Classification, in.Note)
	}
	for _, e := range tr.Events {
		fmt.Fprintf(stdout, "event           %s  %-12s %-5s %s", ts(e.Time), e.Status, e.Source, e.Detail)
		if e.Evidence != "" {
			fmt.Fprintf(stdout, "  [%s]", e.Evidence)
		}
		fmt.Fprintln(stdout)
	}
	for _, r := range tr.Replays {
		fmt.Fprintf(stdout, "replay %-8d %s  by %s: %s\n", r.Seq, ts(r.Created), r.Operator, r.Reason)
		fmt.Fprintf(stdout, "                new message %s", r.MessageUUID)
		if r.ProfileVersion != "" {
			fmt.Fprintf(stdout, " (profile version %s)", r.ProfileVersion)
		}
		if r.PreviousMessageUUID != "" {
			fmt.Fprintf(stdout, " supersedes %s", r.PreviousMessageUUID)
		}
		fmt.Fprintf(stdout, " (was %s)\n", r.PreviousStatus)
		if d := r.Superseded; d != nil {
			fmt.Fprintf(stdout, "                superseded transport ID %s via %s to %s %s, %s\n", d.TransportID, d.Transport,
				d.ReaderKey, d.Endpoint, d.State)
			for _, a := range d.Attempts {
				fmt.Fprintf(stdout, "                  attempt %d %s  %-9s %s\n", a.Number, ts(a.Started), a.Outcome, a.Reason)
			}
		}
	}
	if dl := tr.DeadLetter; dl != nil {
		fmt.Fprintf(stdout, "dead letter     since %s: %s %s\n", ts(dl.Since), dl.Reason, dl.Resolution)
	}
	printSpans(stdout, traceIDOf(tr.Submission.TraceParent), spans, time.Local)
	return nil
}
