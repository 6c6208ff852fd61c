package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/dxhub/dxhub/internal/blob"
)

// cmdPurge runs the retention purge once (the job serve runs on
// retention.schedule): payloads of finished submissions past their service's
// retention period, or with --before of every finished submission last
// changed before DATE. --dry-run lists what would go and changes nothing.
func cmdPurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("purge", stderr)
	path := fs.String("config", "", "configuration file (default: the embedded default)")
	data := fs.String("data", "", "data directory (overrides hub.dataDir)")
	asJSON := fs.Bool("json", false, "print JSON")
	dry := fs.Bool("dry-run", false, "list what would be purged; change nothing")
	beforeArg := fs.String("before", "", "purge every finished submission last changed before DATE (2006-01-02 in hub.timezone, or RFC 3339) instead of the retention periods")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("purge takes no arguments")
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	loc, err := cfg.Location()
	if err != nil {
		return err
	}
	var before time.Time
	if *beforeArg != "" {
		if before, err = parseBefore(*beforeArg, loc); err != nil {
			return usagef("--before: %v", err)
		}
	}
	dir := cfg.Hub.DataDir
	if *data != "" {
		dir = *data
	}
	st, err := openExistingStore(ctx, cfg, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	blobs, err := blob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		return err
	}
	policy := retentionPolicy(cfg, time.Now())
	policy.DryRun, policy.Before, policy.Actor = *dry, before, operatorName()+" (dxhub purge)"
	rep, err := st.Purge(ctx, policy, blobs)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	verb := "purged"
	if rep.DryRun {
		verb = "dry run, nothing changed; would purge"
	}
	fmt.Fprintf(stdout, "%s payloads of %d submissions: %d bytes (form %d, XÖV messages %d, inbound %d, attachments %d in %d files); %d blob files, %d bytes",
		verb, rep.Submissions, rep.Bytes-rep.UnmatchedBytes, rep.FormBytes, rep.MessageBytes, rep.InboundBytes, rep.AttachmentBytes, rep.Attachments,
		rep.BlobsDeleted, rep.BlobBytes)
	fmt.Fprintf(stdout, "; %d unmatched inbound and %d OSCI inbox bodies (%d bytes)\n", rep.UnmatchedInbound, rep.OSCIInbox, rep.UnmatchedBytes)
	if rep.SkippedUnfinished > 0 {
		fmt.Fprintf(stdout, "kept: %d submissions past their retention period that are not finished (not terminal, pending delivery or open dead letter)\n", rep.SkippedUnfinished)
	}
	if len(rep.Items) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBMISSION\tSERVICE\tSTATUS\tLAST CHANGE\tATTACHMENTS\tBYTES")
	for _, it := range rep.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\n", it.SubmissionID, it.Service, it.Status, it.UpdatedAt.In(loc).Format(time.RFC3339),
			it.Attachments, it.Bytes)
	}
	return tw.Flush()
}

// parseBefore reads --before: a date (midnight in loc) or an RFC 3339 time.
func parseBefore(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (2006-01-02) nor an RFC 3339 time", s)
	}
	return t, nil
}
