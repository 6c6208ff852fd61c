package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/dxhub/dxhub/internal/store"
)

// cmdAudit lists or verifies the hash-chained audit log. verify exits 1 and
// names the first entry where the chain breaks.
func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "verify") {
		return usagef("give a subcommand: list | verify")
	}
	sub, args := args[0], args[1:]
	fs, open := storeFlags("audit "+sub, stderr)
	limit := fs.Int("limit", 0, "list: at most this many entries, the newest (0: all)")
	actor := fs.String("actor", "", `list: only this actor ("portal demo-portal"; a trailing * matches a prefix: "portal *")`)
	action := fs.String("action", "", `list: only this action ("submission.read"; "xta.*")`)
	submission := fs.String("submission", "", "list: only entries about this submission")
	if err := parseFlags(fs.FlagSet, args); err != nil {
		return err
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if sub == "verify" {
		n, err := st.VerifyAudit(ctx)
		var te *store.AuditTamperError
		if errors.As(err, &te) {
			if *fs.json {
				writeJSON(stdout, map[string]any{"ok": false, "entry": te.ID, "reason": te.Reason})
			}
			return fmt.Errorf("TAMPERED: %w", err)
		}
		if err != nil {
			return err
		}
		head := ""
		if all, err := st.AuditEntries(ctx, 0); err == nil && len(all) > 0 {
			head = all[len(all)-1].Hash
		}
		if *fs.json {
			return writeJSON(stdout, map[string]any{"ok": true, "entries": n, "head": head})
		}
		fmt.Fprintf(stdout, "audit log intact: %d entries, head hash %s\n", n, head)
		fmt.Fprintln(stdout, "(record the head hash elsewhere: only an outside copy reveals entries cut off at the end)")
		return nil
	}
	entries, err := st.AuditList(ctx, store.AuditQuery{Actor: *actor, Action: *action, SubmissionID: *submission, Limit: *limit})
	if err != nil {
		return err
	}
	if *fs.json {
		return writeJSON(stdout, entries)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tACTOR\tACTION\tSUBMISSION\tDETAIL")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.Local().Format(time.RFC3339), e.Actor, e.Action, e.SubmissionID, e.Detail)
	}
	return tw.Flush()
}

// audit records an operator action; a failure to record is reported but does
// not undo the action, which is already committed.
func audit(ctx context.Context, st *store.Store, stderr io.Writer, action, submissionID, detail string) {
	if err := st.AppendAudit(ctx, store.AuditEntry{At: time.Now(), Actor: operatorName(), Action: action,
		SubmissionID: submissionID, Detail: detail}); err != nil {
		fmt.Fprintf(stderr, "dxhub: warning: could not write the audit log: %v\n", err)
	}
}
