package store

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/routing"
)

// TestRetentionPurge runs the retention purge on every backend with an
// injected clock: only finished submissions past their service's period
// lose their payloads, shared blobs stay while a kept submission uses them,
// a dry run changes nothing, and metadata, history and audit stay.
func TestRetentionPurge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		bs, err := blob.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		put := func(content string) routing.Attachment {
			ref, err := bs.Put(ctx, strings.NewReader(content), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			return routing.Attachment{Filename: "f.pdf", ContentType: "application/pdf", Size: ref.Size, SHA256: ref.SHA256, BlobKey: ref.Key}
		}
		exists := func(a routing.Attachment) bool {
			f, err := bs.Open(a.BlobKey)
			if err == nil {
				f.Close()
			}
			return err == nil
		}
		shared, own1, own3, bescheid := put("%PDF shared plan"), put("%PDF own 1"), put("%PDF own 3 longer"), put("%PDF Bescheid")
		create := func(id, service string, atts ...routing.Attachment) {
			ns := newSub(id)
			ns.Service = service
			ns.Attachments = nil
			for i, a := range atts {
				a.ID = id + "-a" + string(rune('1'+i))
				ns.Attachments = append(ns.Attachments, a)
			}
			if _, _, err := s.CreateSubmission(ctx, ns); err != nil {
				t.Fatal(err)
			}
		}
		event := func(id string, st routing.Status, at time.Time) {
			if err := s.AppendEvent(ctx, id, routing.StatusEvent{Status: st, Time: at, Source: routing.SourceXOEV}); err != nil {
				t.Fatal(err)
			}
		}
		const svc, keep = "universeller-antrag", "keep-forever"
		// s1: decided, with a Bescheid back; s2 shares a blob with s1 and is
		// only delivered; s3 rejected; s4 failed with an open dead letter;
		// s5 of a service that keeps payloads; s6 decided recently.
		create("s1", svc, shared, own1)
		deliverToMailbox(t, s, "s1")
		if err := s.ReceiveInbound(ctx, routing.InboundRecord{TransportID: "in-1", Transport: routing.TransportXTAMailbox,
			ReceivedAt: t0.Add(time.Hour), SubmissionID: "s1", Payload: []byte("<bescheid/>"), Attachments: []routing.Attachment{bescheid}},
			[]routing.StatusEvent{{Status: routing.StatusDecided, Time: t0.Add(time.Hour), Source: routing.SourceXOEV}}); err != nil {
			t.Fatal(err)
		}
		create("s2", svc, shared)
		deliverToMailbox(t, s, "s2")
		create("s3", svc, own3)
		if err := s.Terminate(ctx, "s3", routing.StatusEvent{Status: routing.StatusRejected, Time: t0, Source: routing.SourceXOEV}, ""); err != nil {
			t.Fatal(err)
		}
		create("s4", svc)
		if err := s.Terminate(ctx, "s4", routing.StatusEvent{Status: routing.StatusFailed, Time: t0, Source: routing.SourceHub}, "retries exhausted"); err != nil {
			t.Fatal(err)
		}
		create("s5", keep)
		if err := s.Terminate(ctx, "s5", routing.StatusEvent{Status: routing.StatusRejected, Time: t0, Source: routing.SourceXOEV}, ""); err != nil {
			t.Fatal(err)
		}
		create("s6", svc)
		if err := s.Terminate(ctx, "s6", routing.StatusEvent{Status: routing.StatusRejected, Time: t0.Add(9 * 24 * time.Hour), Source: routing.SourceXOEV}, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.ReceiveInbound(ctx, routing.InboundRecord{TransportID: "in-orphan", Transport: routing.TransportXTAMailbox,
			ReceivedAt: t0, Payload: []byte("<unbekannt/>")}, nil); err != nil {
			t.Fatal(err)
		}

		now := t0.Add(10 * 24 * time.Hour)
		policy := RetentionPolicy{Now: now, Default: 7 * 24 * time.Hour, Actor: "operator test",
			Period: func(service string) time.Duration {
				if service == keep {
					return 0
				}
				return 7 * 24 * time.Hour
			}}

		// Dry run: the report, and nothing changes.
		dry := policy
		dry.DryRun = true
		rep, err := s.Purge(ctx, dry, bs)
		if err != nil {
			t.Fatal(err)
		}
		wantBytes := int64(7+4+11) + shared.Size + own1.Size + bescheid.Size + // s1: form, message, inbound, 3 attachments
			int64(7) + own3.Size // s3: form, attachment
		if !rep.DryRun || rep.Submissions != 2 || rep.Attachments != 4 || rep.SkippedUnfinished != 2 || rep.BlobsDeleted != 3 ||
			rep.BlobBytes != own1.Size+own3.Size+bescheid.Size || rep.UnmatchedInbound != 1 || rep.Bytes != wantBytes+12 ||
			len(rep.Items) != 2 || rep.Items[0].SubmissionID != "s3" || rep.Items[1].SubmissionID != "s1" {
			t.Fatalf("dry run: %+v (want %d bytes)", rep, wantBytes+12)
		}
		if sub, _ := s.GetSubmission(ctx, "s1"); string(sub.Form) != `{"a":1}` || !exists(own1) {
			t.Fatalf("dry run changed s1: %s", sub.Form)
		}
		if p, _ := s.PayloadPurgeOf(ctx, "s1"); p != nil {
			t.Fatalf("dry run recorded a purge: %+v", p)
		}
		if a, _ := s.AuditEntries(ctx, 0); len(a) != 0 {
			t.Fatalf("dry run audited: %+v", a)
		}

		// The purge.
		rep2, err := s.Purge(ctx, policy, bs)
		if err != nil {
			t.Fatal(err)
		}
		rep.DryRun = false
		if rep2.Submissions != rep.Submissions || rep2.Bytes != rep.Bytes || rep2.BlobsDeleted != 3 || rep2.BlobBytes != rep.BlobBytes ||
			rep2.SkippedUnfinished != 2 || rep2.UnmatchedInbound != 1 {
			t.Fatalf("purge %+v\ndry run %+v", rep2, rep)
		}
		if exists(own1) || exists(own3) || exists(bescheid) || !exists(shared) {
			t.Fatalf("blob files: own1 %v own3 %v bescheid %v shared %v", exists(own1), exists(own3), exists(bescheid), exists(shared))
		}
		sub, err := s.GetSubmission(ctx, "s1")
		if err != nil || string(sub.Form) != "null" || sub.Status != routing.StatusDecided || len(sub.Attachments) != 2 ||
			sub.Attachments[1].SHA256 != own1.SHA256 {
			t.Fatalf("s1 after purge: %+v %v", sub, err)
		}
		if m, err := s.MessageByUUID(ctx, "uuid-s1"); err != nil || len(m.XML) != 0 {
			t.Fatalf("message after purge: %q %v", m.XML, err)
		}
		p, err := s.PayloadPurgeOf(ctx, "s1")
		if err != nil || p == nil || !p.PurgedAt.Equal(now) || p.Attachments != 3 || p.Reason != "retention 168h0m0s" {
			t.Fatalf("purge record %+v %v", p, err)
		}
		evs, _ := s.Events(ctx, "s1")
		last := evs[len(evs)-1]
		wantDetail := "payload purged (retention 168h0m0s): form data (7 bytes), XÖV and inbound message bodies (15 bytes), 3 attachments (" +
			itoa(shared.Size+own1.Size+bescheid.Size) + " bytes); metadata and history kept"
		if last.Status != routing.StatusDecided || last.Source != routing.SourceHub || last.Detail != wantDetail || !last.Time.Equal(now) {
			t.Fatalf("purge event %+v\nwant detail %s", last, wantDetail)
		}
		tr, err := s.Trace(ctx, "s1")
		if err != nil || len(tr.Events) != len(evs) || len(tr.Inbound) != 1 || tr.PayloadPurge == nil || tr.PayloadPurge.Bytes != p.Bytes {
			t.Fatalf("trace after purge: %+v %v", tr, err)
		}
		for _, id := range []string{"s2", "s4", "s5", "s6"} {
			if p, _ := s.PayloadPurgeOf(ctx, id); p != nil {
				t.Fatalf("%s purged", id)
			}
			if sub, _ := s.GetSubmission(ctx, id); string(sub.Form) != `{"a":1}` {
				t.Fatalf("%s lost its form", id)
			}
		}
		audit, _ := s.AuditEntries(ctx, 0)
		if len(audit) != 1 || audit[0].Action != "retention.purge" || audit[0].Actor != "operator test" ||
			audit[0].Detail != "purged payloads of 2 submissions (4 attachments, "+itoa(rep2.Bytes)+" bytes), 1 unmatched inbound and 0 OSCI inbox bodies; 3 blob files ("+itoa(rep2.BlobBytes)+" bytes) deleted" {
			t.Fatalf("audit %+v", audit)
		}
		if _, err := s.VerifyAudit(ctx); err != nil {
			t.Fatal(err)
		}

		// Nothing left: no changes, no audit entry.
		if rep3, err := s.Purge(ctx, policy, bs); err != nil || rep3.Submissions != 0 || rep3.BlobsDeleted != 0 || rep3.Bytes != 0 {
			t.Fatalf("second purge %+v %v", rep3, err)
		}
		if a, _ := s.AuditEntries(ctx, 0); len(a) != 1 {
			t.Fatalf("empty purge audited: %d entries", len(a))
		}

		// s2 finishes; a week later its payload goes, and with it the
		// shared blob nobody keeps any more.
		event("s2", routing.StatusDecided, now)
		later := policy
		later.Now = now.Add(8 * 24 * time.Hour)
		laterDry := later
		laterDry.DryRun = true
		if d, err := s.Purge(ctx, laterDry, bs); err != nil || d.Submissions != 2 || d.BlobsDeleted != 1 || d.BlobBytes != shared.Size || !exists(shared) {
			t.Fatalf("later dry run %+v %v", d, err)
		}
		rep4, err := s.Purge(ctx, later, bs)
		if err != nil || rep4.Submissions != 2 || rep4.BlobsDeleted != 1 || exists(shared) {
			t.Fatalf("later purge %+v %v, shared blob exists %v", rep4, err, exists(shared))
		}

		// --before purges a service that keeps payloads by configuration,
		// but still not the open dead letter.
		before := RetentionPolicy{Now: later.Now, Before: t0.Add(24 * time.Hour), Actor: "operator test"}
		rep5, err := s.Purge(ctx, before, bs)
		if err != nil || rep5.Submissions != 1 || rep5.Items[0].SubmissionID != "s5" || rep5.SkippedUnfinished != 1 {
			t.Fatalf("purge --before %+v %v", rep5, err)
		}
		if p, _ := s.PayloadPurgeOf(ctx, "s5"); p == nil || p.Reason != "before 2026-11-24T09:00:00Z" {
			t.Fatalf("s5 record %+v", p)
		}
	})
}

// A blob queued by a purge whose file deletion did not happen (crash) is
// deleted by the next run; one that a new submission uses again is kept.
func TestRetentionBlobQueue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		bs, err := blob.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		ref1, _ := bs.Put(ctx, bytes.NewReader([]byte("one")), 100)
		ref2, _ := bs.Put(ctx, bytes.NewReader([]byte("two")), 100)
		for _, k := range []string{ref1.Key, ref2.Key} {
			if _, err := s.exec(ctx, `INSERT INTO purge_blobs (blob_key, size, queued_at) VALUES (?, 3, 0)`, k); err != nil {
				t.Fatal(err)
			}
		}
		ns := newSub("n1")
		ns.Attachments[0].BlobKey, ns.Attachments[0].Size = ref2.Key, 3
		if _, _, err := s.CreateSubmission(ctx, ns); err != nil {
			t.Fatal(err)
		}
		// Within the grace period a freshly written file is kept, and queued.
		rep, err := s.Purge(ctx, RetentionPolicy{Now: t0, BlobGrace: time.Hour}, bs)
		if err != nil || rep.BlobsDeleted != 0 {
			t.Fatalf("grace: %+v %v", rep, err)
		}
		rep, err = s.Purge(ctx, RetentionPolicy{Now: t0}, bs)
		if err != nil || rep.BlobsDeleted != 1 || rep.BlobBytes != 3 {
			t.Fatalf("%+v %v", rep, err)
		}
		if f, err := bs.Open(ref1.Key); err == nil {
			f.Close()
			t.Fatal("queued blob not deleted")
		}
		f, err := bs.Open(ref2.Key)
		if err != nil {
			t.Fatal("blob in use deleted")
		}
		f.Close()
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM purge_blobs`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("queue %d %v", n, err)
		}
		if a, _ := s.AuditEntries(ctx, 0); len(a) != 1 || a[0].Actor != "retention job" {
			t.Fatalf("audit %+v", a)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Two submissions purged together that share a blob: the dry run counts the
// file once as deleted, like the purge.
func TestRetentionSharedBlobDryRun(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		bs, err := blob.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := bs.Put(ctx, strings.NewReader("%PDF same"), 100)
		for _, id := range []string{"a", "b"} {
			ns := newSub(id)
			ns.Attachments[0].BlobKey, ns.Attachments[0].Size = ref.Key, ref.Size
			if _, _, err := s.CreateSubmission(ctx, ns); err != nil {
				t.Fatal(err)
			}
			if err := s.Terminate(ctx, id, routing.StatusEvent{Status: routing.StatusRejected, Time: t0, Source: routing.SourceHub}, ""); err != nil {
				t.Fatal(err)
			}
		}
		p := RetentionPolicy{Now: t0.Add(time.Hour), Before: t0.Add(time.Minute), DryRun: true}
		for _, dry := range []bool{true, false} {
			p.DryRun = dry
			rep, err := s.Purge(ctx, p, bs)
			if err != nil || rep.Submissions != 2 || rep.BlobsDeleted != 1 || rep.BlobBytes != ref.Size {
				t.Fatalf("dry run %v: %+v %v", dry, rep, err)
			}
		}
	})
}
