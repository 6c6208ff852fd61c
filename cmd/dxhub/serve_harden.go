package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/connectors/mapping"
	"github.com/dxhub/dxhub/connectors/portal"
	"github.com/dxhub/dxhub/internal/antivirus"
	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/xoev"
)

// Hardening wiring (issue #9): the XML limits of the hardened reader, the
// optional clamd scan of intake, and the retention purge job.

// applyXMLLimits sets limits.xml for every XML parsed from outside through
// internal/xmlsec (OSCI, decrypted contents).
func applyXMLLimits(cfg *config.Config) {
	x := cfg.Limits.XML // zero values: xmlsec's defaults (SetLimits fills them)
	xmlsec.SetLimits(xmlsec.Limits{MaxDepth: x.MaxDepth, MaxElements: x.MaxElements,
		MaxAttrBytes: x.MaxAttrBytes.Int64(), MaxTextBytes: x.MaxTextBytes.Int64()})
}

// inboundParser parses XÖV back-channel messages within limits.inbound.
func inboundParser(cfg *config.Config) mapping.Parser {
	in := cfg.Limits.Inbound
	return mapping.Parser{Limits: xoev.InboundLimits{MaxBytes: in.MaxBytes.Int64(), MaxDepth: in.MaxDepth, MaxElements: in.MaxElements}}
}

// newScanner returns the intake's virus scanner, nil without
// antivirus.clamd.address. It does not need clamd to be up: a scan that
// cannot reach it follows antivirus.onError.
func newScanner(ctx context.Context, cfg *config.Config, blobs *blob.Store, log *slog.Logger) (portal.Scanner, error) {
	av := cfg.Antivirus
	if !av.Enabled() {
		return nil, nil
	}
	c, err := antivirus.New(av.Clamd.Address, antivirus.Options{Timeout: av.Clamd.Timeout, MaxStreamBytes: av.Clamd.MaxStreamBytes.Int64()})
	if err != nil {
		return nil, fmt.Errorf("antivirus.clamd.address: %w", err)
	}
	if err := c.Ping(ctx); err != nil {
		log.Warn("antivirus: clamd does not answer PING at start-up", "address", c.Address(), "onError", av.OnError, "err", err)
	} else {
		log.Info("antivirus: scanning intake attachments with clamd", "address", c.Address(), "onError", av.OnError)
	}
	return &portal.ClamdScanner{Client: c, FailOpen: av.OnError == config.AntivirusAccept, Logger: log,
		Open: func(key string) (io.ReadCloser, error) { return blobs.Open(key) }}, nil
}

// retentionPolicy is the purge policy of cfg at now (retention.default,
// services[].retention).
func retentionPolicy(cfg *config.Config, now time.Time) store.RetentionPolicy {
	return store.RetentionPolicy{Now: now, Default: cfg.Retention.Default, Period: cfg.RetentionFor, Actor: "retention job",
		BlobGrace: cfg.Retention.BlobGrace}
}

// scheduleRetention registers the purge job on retention.schedule. It runs
// only when some period is configured.
func (h *hub) scheduleRetention(ctx context.Context, jobs *cron.Cron, now func() time.Time) error {
	enabled := h.cfg.Retention.Default > 0
	for _, s := range h.cfg.Services {
		enabled = enabled || s.Retention > 0
	}
	if !enabled {
		return nil
	}
	_, err := jobs.AddFunc(h.cfg.Retention.Schedule, func() {
		rep, err := h.store.Purge(ctx, retentionPolicy(h.cfg, now()), h.blobs)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Error("retention purge failed", "err", err)
			}
			return
		}
		h.log.Info("retention purge", "submissions", rep.Submissions, "bytes", rep.Bytes, "blobs", rep.BlobsDeleted,
			"blobBytes", rep.BlobBytes, "unmatched", rep.UnmatchedInbound+rep.OSCIInbox, "keptUnfinished", rep.SkippedUnfinished)
	})
	if err != nil {
		return fmt.Errorf("retention.schedule: %w", err)
	}
	return nil
}
