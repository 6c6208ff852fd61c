package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/robfig/cron/v3"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/connectors/xtabox"
	"github.com/dxhub/dxhub/connectors/xtaclient"
	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/routing"
)

// cmdXTA dispatches the XTA tools: `dxhub xta leser`.
func cmdXTA(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("usage: dxhub xta leser [--once] [--config FILE] [--data DIR]")
	}
	switch args[0] {
	case "leser":
		return cmdXTALeser(ctx, args[1:], stdout, stderr)
	}
	return usagef("unknown xta command %q (want: leser)", args[0])
}

// cmdXTALeser runs the configured Leser jobs (xta.client.leser): with --once
// every job once, now, for cron or tests; otherwise on their schedules until
// interrupted. It works next to a running hub (the SQLite store is shared).
// Exit code 1 when a job failed or left messages in a remote mailbox.
func cmdXTALeser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("xta leser", stderr)
	path := fs.String("config", "", "configuration file (default: the embedded default)")
	dataDir := fs.String("data", "", "data directory (overrides hub.dataDir)")
	once := fs.Bool("once", false, "run every Leser job once and exit")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %v", fs.Args())
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	if *dataDir != "" {
		cfg.Hub.DataDir = *dataDir
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if len(cfg.XTA.Client.Leser) == 0 {
		return errors.New("no Leser jobs configured (xta.client.leser)")
	}
	log := newLogger(cfg, stderr)
	if err := os.MkdirAll(cfg.Hub.DataDir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	blobs, err := blob.Open(filepath.Join(cfg.Hub.DataDir, "blobs"))
	if err != nil {
		return err
	}
	clock := routing.SystemClock{}
	opts, err := xtaClientOptions(cfg, log, clock)
	if err != nil {
		return err
	}
	out, err := xtaclient.New(st, xtabox.BlobStore{Store: blobs}, opts)
	if err != nil {
		return err
	}
	tenants := map[string]routing.Tenant{}
	for _, t := range cfg.Tenants {
		tenants[t.AGS] = routing.Tenant{AGS: t.AGS, Name: t.Name, DVDVKey: t.DVDVKey}
	}
	back := &routing.BackChannel{Store: st, Parser: inboundParser(cfg), Tenants: tenants, Clock: clock, Logger: log}
	inbox := xtaclient.Inbox{Receiver: back, Blobs: blobs, MaxAttachmentBytes: cfg.Limits.MaxAttachmentBytes.Int64()}
	jobs := leserJobs(cfg)

	if *once {
		failed := 0
		for _, r := range out.RunLeser(ctx, jobs, inbox) {
			fmt.Fprintf(stdout, "leser %s as %s: %d message(s) fetched and closed\n", r.Job.Endpoint, r.Job.Identity, r.Closed)
			if r.Err != nil {
				failed++
				fmt.Fprintf(stdout, "  error: %v\n", r.Err)
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d Leser jobs failed or left messages in the remote mailbox", failed, len(jobs))
		}
		return nil
	}
	loc, err := cfg.Location()
	if err != nil {
		return err
	}
	c := cron.New(cron.WithLocation(loc), cron.WithChain(cron.Recover(cronLogger{log}), cron.SkipIfStillRunning(cronLogger{log})))
	for i, j := range jobs {
		if _, err := c.AddFunc(j.Schedule, func() { out.RunLeser(ctx, []xtaclient.LeserJob{j}, inbox) }); err != nil {
			return &config.FieldError{Key: fmt.Sprintf("xta.client.leser[%d].schedule", i), Problem: err.Error()}
		}
	}
	c.Start()
	fmt.Fprintf(stdout, "dxhub xta leser: %d job(s) scheduled; Ctrl-C stops\n", len(jobs))
	<-ctx.Done()
	<-c.Stop().Done()
	return nil
}
