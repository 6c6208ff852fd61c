package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// TestReadAndHousekeepingPaths covers, on every backend, the store methods
// the other tests leave out: job due times, XTA mailbox queries and reports,
// SLA breach and expiry, webhooks, Postfach attachments, trace.
func TestReadAndHousekeepingPaths(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if d := s.Dialect(); !strings.HasSuffix(t.Name(), "/"+string(d)) {
			t.Fatalf("dialect %s in %s", d, t.Name())
		}
		const reader = "ags:05315000"
		for _, id := range []string{"s1", "s2"} {
			if _, _, err := s.CreateSubmission(ctx, newSub(id)); err != nil {
				t.Fatal(err)
			}
			deliverToMailbox(t, s, id)
		}
		tid1, tid2 := "urn:de:xta:messageid:dxhub:s1", "urn:de:xta:messageid:dxhub:s2"

		// Messages.
		m, err := s.MessageByUUID(ctx, "uuid-s1")
		if err != nil || string(m.XML) != "<x/>" || m.SubmissionID != "s1" {
			t.Fatalf("message = %+v %v", m, err)
		}
		if m, err := s.CurrentOutbound(ctx, "s2"); err != nil || m.UUID != "uuid-s2" {
			t.Fatalf("current outbound = %q %v", m.UUID, err)
		}
		if _, err := s.MessageByUUID(ctx, "nope"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("unknown message: %v", err)
		}
		if n, err := s.NextReplaySeq(ctx, "s1"); err != nil || n != 1 {
			t.Fatalf("next replay = %d %v", n, err)
		}
		if ok, err := s.BlobReferenced(ctx, "abc"); err != nil || !ok {
			t.Fatalf("blob referenced = %v %v", ok, err)
		}
		if ok, err := s.BlobReferenced(ctx, "nope"); err != nil || ok {
			t.Fatalf("unknown blob referenced = %v %v", ok, err)
		}

		// XTA mailbox queries (both delivered at t0: ordered by transport ID).
		items, rest, err := s.MailboxQuery(ctx, reader, MailboxQuery{Limit: 1})
		if err != nil || len(items) != 1 || rest != 1 || items[0].TransportID != tid1 || items[0].XMLSize != 4 ||
			len(items[0].Attachments) != 1 {
			t.Fatalf("page 1 = %+v rest %d %v", items, rest, err)
		}
		items, rest, err = s.MailboxQuery(ctx, reader, MailboxQuery{Limit: 5, AfterTime: items[0].DeliveredAt, AfterID: items[0].TransportID})
		if err != nil || len(items) != 1 || rest != 0 || items[0].TransportID != tid2 {
			t.Fatalf("page 2 = %+v rest %d %v", items, rest, err)
		}
		unfetched := false
		items, _, err = s.MailboxQuery(ctx, reader, MailboxQuery{Limit: 5, TransportIDs: []string{strings.ToUpper(tid2)},
			Fetched: &unfetched, From: t0, To: t0})
		if err != nil || len(items) != 1 || items[0].TransportID != tid2 {
			t.Fatalf("by id = %+v %v", items, err)
		}
		if _, n, err := s.MailboxQuery(ctx, reader, MailboxQuery{}); err != nil || n != 2 {
			t.Fatalf("count = %d %v", n, err)
		}
		if closed, err := s.MailboxClose(ctx, reader, strings.ToUpper(tid1), t0.Add(time.Minute)); err != nil || !closed {
			t.Fatalf("close = %v %v", closed, err)
		}
		if closed, err := s.MailboxClose(ctx, reader, tid1, t0.Add(2*time.Minute)); err != nil || closed {
			t.Fatalf("second close = %v %v", closed, err)
		}
		fetched := true
		if items, _, err := s.MailboxQuery(ctx, reader, MailboxQuery{Limit: 5, Fetched: &fetched}); err != nil || len(items) != 1 ||
			!items[0].FetchedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("fetched = %+v %v", items, err)
		}

		// SLA: s2 stays unfetched.
		un, err := s.UnfetchedDeliveries(ctx, t0.Add(time.Hour), 10)
		if err != nil || len(un) != 1 || un[0].SubmissionID != "s2" || un[0].Alerted || un[0].Service != "universeller-antrag" {
			t.Fatalf("unfetched = %+v %v", un, err)
		}
		breach := routing.StatusEvent{Status: routing.StatusDelivered, Time: t0.Add(time.Hour), Source: routing.SourceHub, Detail: "SLA"}
		for i, want := range []bool{true, false} {
			if ok, err := s.MarkSLABreach(ctx, "s2", breach); err != nil || ok != want {
				t.Fatalf("breach %d = %v %v", i, ok, err)
			}
		}
		if un, _ := s.UnfetchedDeliveries(ctx, t0.Add(time.Hour), 10); len(un) != 1 || !un[0].Alerted {
			t.Fatalf("unfetched after breach = %+v", un)
		}
		expire := routing.StatusEvent{Status: routing.StatusExpired, Time: t0.Add(2 * time.Hour), Source: routing.SourceHub}
		for i, want := range []bool{true, false} {
			if ok, err := s.ExpireDelivery(ctx, "s2", expire); err != nil || ok != want {
				t.Fatalf("expire %d = %v %v", i, ok, err)
			}
		}
		if sub, _ := s.GetSubmission(ctx, "s2"); sub.Status != routing.StatusExpired {
			t.Fatalf("s2 status = %s", sub.Status)
		}

		// Inbound reply with an attachment, its XTA report and Postfach delivery.
		rec := routing.InboundRecord{TransportID: "urn:in:r1", Transport: routing.TransportXTAMailbox, ReceivedAt: t0.Add(3 * time.Hour),
			AuthorKey: reader, MessageUUID: "UUID-S1", TypeCode: "1120", SubmissionID: "s1", Classification: "reply",
			Payload: []byte("<quittung/>"), Attachments: []routing.Attachment{{ID: "cid1", Filename: "bescheid.pdf",
				ContentType: "application/pdf", Size: 10, SHA256: "ff", BlobKey: "ff"}}}
		ack := routing.StatusEvent{Status: routing.StatusAcknowledged, Time: rec.ReceivedAt, Source: routing.SourceXOEV, Evidence: "1120 uuid-s1"}
		if err := s.ReceiveInbound(ctx, rec, []routing.StatusEvent{ack}); err != nil {
			t.Fatal(err)
		}
		r, err := s.XTAReportSource(ctx, strings.ToUpper(tid1))
		if err != nil || !r.Outbound || r.Size != 4+3 || len(r.Receipts) != 1 || string(r.Receipts[0].Payload) != "<quittung/>" ||
			!r.FetchedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("outbound report = %+v %v", r, err)
		}
		if r, err := s.XTAReportSource(ctx, "URN:IN:R1"); err != nil || r.Outbound || r.Size != int64(len("<quittung/>")) ||
			r.AuthorKey != reader || r.Message.SubmissionID != "s1" {
			t.Fatalf("inbound report = %+v %v", r, err)
		}
		if _, err := s.XTAReportSource(ctx, "urn:none"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("unknown report: %v", err)
		}
		pending, err := s.PendingNotifications(ctx, []routing.Status{routing.StatusAcknowledged}, 10)
		if err != nil || len(pending) != 1 || len(pending[0].Attachments) != 1 || pending[0].Attachments[0].Filename != "bescheid.pdf" {
			t.Fatalf("pending = %+v %v", pending, err)
		}
		pm := PostfachMessage{Handle: "mb-1", EventID: pending[0].Event.ID, SubmissionID: "s1", Status: routing.StatusAcknowledged,
			Title: "Bescheid", Body: "b", Created: t0.Add(4 * time.Hour), Attachments: []PostfachAttachment{{Filename: "bescheid.pdf",
				ContentType: "application/pdf", Size: 10, SHA256: "ff", BlobKey: "ff"}}}
		if err := s.PostfachDeliver(ctx, pm); err != nil {
			t.Fatal(err)
		}
		msgs, err := s.PostfachMessages(ctx, "mb-1", "")
		if err != nil || len(msgs) != 1 || len(msgs[0].Attachments) != 1 {
			t.Fatalf("postfach = %+v %v", msgs, err)
		}
		if a, err := s.PostfachAttachment(ctx, "mb-1", "p1", msgs[0].ID, 1); err != nil || a.BlobKey != "ff" {
			t.Fatalf("postfach attachment = %+v %v", a, err)
		}
		if _, err := s.PostfachAttachment(ctx, "mb-1", "p2", msgs[0].ID, 1); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("other portal's attachment: %v", err)
		}
		recv, err := s.PendingNotifications(ctx, []routing.Status{routing.StatusReceived}, 10)
		if err != nil || len(recv) != 2 {
			t.Fatalf("pending received = %+v %v", recv, err)
		}
		if err := s.MarkNotified(ctx, recv[0].Event.ID, t0); err != nil {
			t.Fatal(err)
		}
		if recv, _ := s.PendingNotifications(ctx, []routing.Status{routing.StatusReceived}, 10); len(recv) != 1 {
			t.Fatalf("pending after mark = %+v", recv)
		}

		// Webhooks: the oldest unsent event per submission, retried when due.
		now := t0.Add(5 * time.Hour)
		hooks, err := s.PendingWebhooks(ctx, []string{"p1", "p9"}, now, 10)
		if err != nil || len(hooks) != 2 || hooks[0].Event.Status != routing.StatusReceived || hooks[0].PortalID != "p1" {
			t.Fatalf("webhooks = %+v %v", hooks, err)
		}
		if err := s.WebhookDelivered(ctx, hooks[0].Event.ID, 1, now); err != nil {
			t.Fatal(err)
		}
		if err := s.WebhookFailed(ctx, hooks[1].Event.ID, 1, now.Add(time.Hour), "503 Service Unavailable"); err != nil {
			t.Fatal(err)
		}
		hooks, err = s.PendingWebhooks(ctx, []string{"p1"}, now, 10)
		if err != nil || len(hooks) != 1 || hooks[0].Event.SubmissionID != "s1" || hooks[0].Event.Status != routing.StatusValidated {
			t.Fatalf("webhooks after one round = %+v %v", hooks, err)
		}
		if hooks, _ := s.PendingWebhooks(ctx, []string{"p1"}, now.Add(time.Hour), 10); len(hooks) != 2 || hooks[1].Attempts != 1 {
			t.Fatalf("webhooks after retry delay = %+v", hooks)
		}

		// Trace.
		tr, err := s.Trace(ctx, "s1")
		if err != nil || len(tr.Messages) != 1 || tr.Delivery == nil || len(tr.Inbound) != 1 || tr.Inbound[0].TypeCode != "1120" ||
			len(tr.Attempts) != 1 || tr.Events[len(tr.Events)-1].Status != routing.StatusAcknowledged {
			t.Fatalf("trace = %+v %v", tr, err)
		}

		// Job due times: none, then unleased, then leased, then finished.
		if at, err := s.NextJobAt(ctx); err != nil || !at.IsZero() {
			t.Fatalf("next job with empty queue = %v %v", at, err)
		}
		if _, _, err := s.CreateSubmission(ctx, newSub("s3")); err != nil {
			t.Fatal(err)
		}
		if at, err := s.NextJobAt(ctx); err != nil || !at.Equal(t0) {
			t.Fatalf("next job = %v %v", at, err)
		}
		if ids, err := s.ClaimJobs(ctx, "w", t0, time.Minute, 5); err != nil || len(ids) != 1 {
			t.Fatalf("claim = %v %v", ids, err)
		}
		if at, err := s.NextJobAt(ctx); err != nil || !at.Equal(t0.Add(time.Minute)) {
			t.Fatalf("next job while leased = %v %v", at, err)
		}
		if err := s.FinishJob(ctx, "s3"); err != nil {
			t.Fatal(err)
		}
		if at, err := s.NextJobAt(ctx); err != nil || !at.IsZero() {
			t.Fatalf("next job after finish = %v %v", at, err)
		}

		// Prepared statements are rebound too.
		stmt, err := s.db.PrepareContext(ctx, `SELECT count(*) FROM submissions WHERE id = ? OR id = ?`)
		if err != nil {
			t.Fatal(err)
		}
		defer stmt.Close()
		var n int
		if err := stmt.QueryRowContext(ctx, "s1", "s3").Scan(&n); err != nil || n != 2 {
			t.Fatalf("prepared count = %d %v", n, err)
		}
	})
}

// TestHostileText: NUL bytes and invalid UTF-8 (say, in a remote server's
// error text) never fail a write. SQLite keeps them as given; PostgreSQL's
// TEXT cannot hold them, so each offending byte is stored as U+FFFD.
func TestHostileText(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		ns := newSub("h1")
		ns.Reference = "ref\x00\xff"
		ns.IdempotencyKey, ns.BodyHash = "key\xfe", "h"
		if _, _, err := s.CreateSubmission(ctx, ns); err != nil {
			t.Fatal(err)
		}
		again := newSub("h2")
		again.IdempotencyKey, again.BodyHash = "key\xfe", "h"
		if sub, created, err := s.CreateSubmission(ctx, again); err != nil || created || sub.ID != "h1" {
			t.Fatalf("idempotent replay with a hostile key = %s %v %v", sub.ID, created, err)
		}
		sub, err := s.GetSubmission(ctx, "h1")
		if err != nil {
			t.Fatal(err)
		}
		want := "ref\x00\xff"
		if s.Dialect() == DialectPostgres {
			want = "ref\uFFFD\uFFFD"
		}
		if sub.Reference != want {
			t.Fatalf("reference = %q, want %q", sub.Reference, want)
		}
		if err := s.AppendEvent(ctx, "h1", routing.StatusEvent{Status: routing.StatusValidated, Time: t0, Source: routing.SourceHub,
			Detail: "remote said \x00\xc3("}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCreatePremapped: a submission accepted with its message mapped at
// intake is stored as validated, with the message and both events, in one
// transaction; a replay of its idempotency key returns it unchanged.
func TestCreatePremapped(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		ns := newSub("p1")
		ns.IdempotencyKey, ns.BodyHash = "k1", "h1"
		at := ns.ReceivedAt.Add(time.Millisecond)
		ns.Premapped = &routing.Premapped{
			Message: routing.Message{UUID: "uuid-p1", Standard: "XBau-Kernmodul", Version: "1.3.0", TypeCode: "1200",
				RootElement: "universellerAntrag.antrag.1200", Namespace: "urn:test", Service: "urn:svc", XML: []byte("<p/>")},
			Event: routing.StatusEvent{Status: routing.StatusValidated, Time: at, Source: routing.SourceHub, Detail: "mapped", Evidence: "uuid-p1"},
		}
		sub, created, err := s.CreateSubmission(ctx, ns)
		if err != nil || !created || sub.Status != routing.StatusValidated {
			t.Fatalf("create = %+v %v %v", sub, created, err)
		}
		got, err := s.GetSubmission(ctx, "p1")
		if err != nil || got.Status != routing.StatusValidated {
			t.Fatalf("stored = %+v %v", got, err)
		}
		m, err := s.OutboundMessage(ctx, "p1")
		if err != nil || m.UUID != "uuid-p1" || m.SubmissionID != "p1" || string(m.XML) != "<p/>" {
			t.Fatalf("message = %+v %v", m, err)
		}
		evs, err := s.Events(ctx, "p1")
		if err != nil || len(evs) != 2 || evs[0].Status != routing.StatusReceived || evs[1].Status != routing.StatusValidated ||
			evs[1].Evidence != "uuid-p1" {
			t.Fatalf("events = %+v %v", evs, err)
		}
		again, created, err := s.CreateSubmission(ctx, ns)
		if err != nil || created || again.ID != "p1" {
			t.Fatalf("replay = %+v %v %v", again, created, err)
		}
		if evs, _ := s.Events(ctx, "p1"); len(evs) != 2 {
			t.Errorf("the replay added events: %+v", evs)
		}
	})
}

// TestStatusEventMarksNoDeadlock: webhook, Postfach and Kafka marks of the
// same status events, from concurrent callers handing them over in opposite
// orders, all succeed: every multi-row mark locks its rows in ascending
// event ID (on PostgreSQL two processes' marks deadlocked, SQLSTATE 40P01,
// before they did).
func TestStatusEventMarksNoDeadlock(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		if _, _, err := s.CreateSubmission(ctx, newSub("d1")); err != nil {
			t.Fatal(err)
		}
		for i := range 30 {
			if err := s.AppendEvent(ctx, "d1", routing.StatusEvent{Status: routing.StatusInProgress, Time: t0.Add(time.Duration(i) * time.Second),
				Source: routing.SourceXOEV, Detail: "step"}); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := s.Events(ctx, "d1")
		if err != nil {
			t.Fatal(err)
		}
		var asc []int64
		for _, e := range evs {
			asc = append(asc, e.ID)
		}
		desc := slices.Clone(asc)
		slices.Reverse(desc)
		errs := make(chan error, 3*20)
		var wg sync.WaitGroup
		for round := range 20 {
			at := t0.Add(time.Duration(round) * time.Minute)
			wg.Add(3)
			go func() {
				defer wg.Done()
				marks := make([]WebhookMark, len(desc))
				for i, id := range desc {
					marks[i] = WebhookMark{EventID: id, Attempts: 1, At: at}
				}
				errs <- s.WebhooksDelivered(ctx, marks)
			}()
			go func() {
				defer wg.Done()
				errs <- s.KafkaPublished(ctx, asc, at)
			}()
			go func() {
				defer wg.Done()
				ms := make([]PostfachMessage, len(desc))
				for i, id := range desc {
					ms[i] = PostfachMessage{Handle: "mb-1", EventID: id, SubmissionID: "d1", Status: routing.StatusInProgress,
						Title: "t", Body: "b", Created: at}
				}
				errs <- s.PostfachDeliver(ctx, ms...)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}
