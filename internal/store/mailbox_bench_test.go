package store

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/dxhub/dxhub/routing"
)

// mailboxBacklog delivers n submissions with a 10 KB message each to the
// mailbox of ags:05315000 and closes the first fetched of them.
func mailboxBacklog(b *testing.B, s *Store, n, fetched int) []routing.Delivery {
	b.Helper()
	ctx := context.Background()
	xml := append([]byte("<x>"), append(bytes.Repeat([]byte("a"), 10<<10), []byte("</x>")...)...)
	out := make([]routing.Delivery, n)
	for i := range n {
		id := fmt.Sprintf("mb%05d", i)
		if _, _, err := s.CreateSubmission(ctx, newSub(id)); err != nil {
			b.Fatal(err)
		}
		msg := routing.Message{SubmissionID: id, UUID: "uuid-" + id, Standard: "XBau-Kernmodul", Version: "1.3.0", TypeCode: "1200",
			RootElement: "universellerAntrag.antrag.1200", Namespace: "ns", Service: "urn:s", XML: xml}
		if err := s.SaveMapped(ctx, msg, routing.StatusEvent{Status: routing.StatusValidated, Time: t0, Source: routing.SourceHub}); err != nil {
			b.Fatal(err)
		}
		d := routing.Delivery{SubmissionID: id, MessageUUID: msg.UUID, TransportID: "urn:de:xta:messageid:dxhub:" + id,
			Route:         routing.Route{ReaderKey: "ags:05315000", ServiceURI: "urn:s", Transport: routing.TransportXTAMailbox},
			NextAttemptAt: t0, CreatedAt: t0}
		if err := s.SaveRoute(ctx, d, routing.StatusEvent{Status: routing.StatusRouted, Time: t0, Source: routing.SourceHub}); err != nil {
			b.Fatal(err)
		}
		d, err := s.GetDelivery(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		ev := routing.StatusEvent{Status: routing.StatusDelivered, Time: t0, Source: routing.SourceHub}
		if err := s.RecordAttempt(ctx, routing.AttemptResult{Delivery: d, Number: 1, Started: t0, Finished: t0,
			Outcome: routing.Outcome{Kind: routing.Delivered}, Done: true, Event: &ev}); err != nil {
			b.Fatal(err)
		}
		if i < fetched {
			if _, err := s.MailboxClose(ctx, "ags:05315000", d.TransportID, t0); err != nil {
				b.Fatal(err)
			}
		}
		out[i] = d
	}
	return out
}

// BenchmarkMailboxList: one XTA status-list page (50 entries with their
// attachments and the remaining count) over a backlog of 1,000 unfetched
// 10 KB messages.
func BenchmarkMailboxList(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		mailboxBacklog(b, s, 1000, 0)
		b.ResetTimer()
		for b.Loop() {
			items, remaining, err := s.MailboxQuery(ctx, "ags:05315000", MailboxQuery{Limit: 50})
			if err != nil || len(items) != 50 || remaining != 950 {
				b.Fatalf("page = %d, remaining %d, %v", len(items), remaining, err)
			}
		}
	})
}

// BenchmarkMailboxSubmissionID: the access audit's lookup of a message by
// transport ID in a reader's history of 1,000 delivered messages.
func BenchmarkMailboxSubmissionID(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		ds := mailboxBacklog(b, s, 1000, 500)
		b.ResetTimer()
		i := 0
		for b.Loop() {
			d := ds[i%len(ds)]
			i++
			if id, err := s.MailboxSubmissionID(ctx, "ags:05315000", d.TransportID); err != nil || id != d.SubmissionID {
				b.Fatalf("id = %q, %v", id, err)
			}
		}
	})
}

// BenchmarkMailboxPollAfterHistory: the Fachverfahren's poll (getStatusList
// of open messages, default page of 100) on a mailbox holding 1,000 fetched
// messages and 10 open ones: the page must not cost the reader's history.
func BenchmarkMailboxPollAfterHistory(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		mailboxBacklog(b, s, 1010, 1000)
		open := false
		// with the attachment rows, and as xtabox lists: their sizes only
		for _, sizesOnly := range []bool{false, true} {
			b.Run(fmt.Sprint("sizesOnly=", sizesOnly), func(b *testing.B) {
				for b.Loop() {
					items, remaining, err := s.MailboxQuery(ctx, "ags:05315000",
						MailboxQuery{Fetched: &open, Limit: 100, SizesOnly: sizesOnly})
					if err != nil || len(items) != 10 || remaining != 0 {
						b.Fatalf("page = %d, remaining %d, %v", len(items), remaining, err)
					}
				}
			})
		}
	})
}

// BenchmarkMailboxGet: getMessage's read of one 10 KB message with its
// attachment rows.
func BenchmarkMailboxGet(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		ds := mailboxBacklog(b, s, 20, 0)
		i := 0
		for b.Loop() {
			d := ds[i%len(ds)]
			i++
			it, err := s.MailboxGet(ctx, "ags:05315000", d.TransportID)
			if err != nil || len(it.Attachments) != 1 {
				b.Fatalf("get = %+v %v", it.Attachments, err)
			}
		}
	})
}
