// Command dxhub is the data-exchange hub: one binary that runs the whole loop
// (intake → XÖV → routing → XTA delivery → back-channel) on its embedded
// default, plus the operator and test tools around it.
//
// Exit codes: 0 ok, 1 failure, 2 usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

var version = "dev"

// usageError makes run exit with code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the hub (embedded default unless --config is given)", cmdServe},
		{"submit", "post JSON submission files to a running hub and print their IDs", cmdSubmit},
		{"status", "print the status and history of a submission", cmdStatus},
		{"check-config", "validate a configuration without starting anything", cmdCheckConfig},
		{"sim", "run a protocol simulator: sim fachverfahren | xta-server | osci-intermediary", cmdSim},
		{"validate", "validate XÖV files against the deployed schemas and transport rules", cmdValidate},
		{"map", "dry run: print the XÖV message a submission would produce (or its errors)", cmdMap},
		{"replay", "re-map a stored submission (--profile-version, --dry-run diff) and send it as a new, linked message", cmdReplay},
		{"schema", "print the JSON Schema of a service's submission (--list: the services)", cmdSchema},
		{"dvdv", "DVDV directory: lookup ORGKEY SERVICEURI, cache list|purge", cmdDVDV},
		{"admin", "admin UI accounts: admin user add NAME --tenant AGS | passwd NAME | disable NAME | list", cmdAdmin},
		{"deadletter", "list, show, retry or drop dead letters (--json for scripts)", cmdDeadLetter},
		{"purge", "retention: delete payloads of finished submissions past their period (--dry-run, --before DATE, --json)", cmdPurge},
		{"trace", "every ID, attempt and status event of one submission", cmdTrace},
		{"audit", "the hash-chained audit log of operator actions and data access: list [--actor A] [--submission ID] | verify (exit 1 if tampered)", cmdAudit},
		{"portal", "portal API keys: key create | rotate | revoke | list (secrets shown once, stored hashed)", cmdPortal},
		{"bench", "measure the full path (intake → XTA → 1120 → webhook): throughput, latency, CPU, memory", cmdBench},
		{"xta", "XTA tools: xta leser [--once] picks up replies from remote XTA mailboxes", cmdXTA},
		{"version", "print the version", func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			fmt.Fprintln(stdout, "dxhub", version)
			return nil
		}},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var ue usageError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "dxhub %s: %s\n", c.name, ue.msg)
			return 2
		default:
			fmt.Fprintf(stderr, "dxhub %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "dxhub: unknown command %q\n\n", args[0])
	printUsage(stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: dxhub <command> [flags] [args]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'dxhub <command> -h' for a command's flags.")
}

// flagSet is a flag.FlagSet with the common --json switch.
type flagSet struct {
	*flag.FlagSet
	json *bool
}

// newFlags returns a flag set whose parse errors become usage errors.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("dxhub "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}
