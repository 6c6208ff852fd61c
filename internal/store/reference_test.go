package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// mapAndRoute saves an outbound message carrying ref for submission id and
// routes it to reader.
func mapAndRoute(t testing.TB, s *Store, id, ref, reader string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := s.CreateSubmission(ctx, newSub(id)); err != nil {
		t.Fatal(err)
	}
	msg := routing.Message{SubmissionID: id, UUID: "uuid-" + id, Standard: "XBau-Kernmodul", Version: "1.3.0", TypeCode: "1200",
		RootElement: "universellerAntrag.antrag.1200", Namespace: "ns", Service: "urn:s", XML: []byte("<x/>"), ApplicationReference: ref}
	if err := s.SaveMapped(ctx, msg, routing.StatusEvent{Status: routing.StatusValidated, Time: at, Source: routing.SourceHub}); err != nil {
		t.Fatal(err)
	}
	d := routing.Delivery{SubmissionID: id, MessageUUID: msg.UUID, TransportID: "urn:de:xta:messageid:dxhub:" + id,
		Route:         routing.Route{ReaderKey: reader, ServiceURI: "urn:s", Transport: routing.TransportXTAMailbox},
		NextAttemptAt: at, CreatedAt: at}
	if err := s.SaveRoute(ctx, d, routing.StatusEvent{Status: routing.StatusRouted, Time: at, Source: routing.SourceHub}); err != nil {
		t.Fatal(err)
	}
}

func TestSubmissionByApplicationReference(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		const ref = "6f1c3f0e-6d2a-4c59-9f59-2b1f5a2d9a01"
		mapAndRoute(t, s, "koeln-1", ref, "ags:05315000", t0)
		// Another authority's submission that (by a portal's reuse) carries the same reference.
		mapAndRoute(t, s, "bonn-1", ref, "ags:05314000", t0.Add(time.Minute))
		mapAndRoute(t, s, "koeln-2", "0b6c8d8e-1111-4c59-9f59-2b1f5a2d9a02", "ags:05315000", t0)
		// A message mapped without a reference (e.g. before migration 0008) never matches "".
		mapAndRoute(t, s, "koeln-3", "", "ags:05315000", t0)

		msg, err := s.OutboundMessage(ctx, "koeln-1")
		if err != nil || msg.ApplicationReference != ref {
			t.Fatalf("stored reference = %q %v, want %q", msg.ApplicationReference, err, ref)
		}
		tests := []struct {
			name, reader, ref, want string
		}{
			{"own submission", "ags:05315000", ref, "koeln-1"},
			{"quoted in upper case", "AGS:05315000", "6F1C3F0E-6D2A-4C59-9F59-2B1F5A2D9A01", "koeln-1"},
			{"same reference, other authority", "ags:05314000", ref, "bonn-1"},
			{"second submission", "ags:05315000", "0b6c8d8e-1111-4c59-9f59-2b1f5a2d9a02", "koeln-2"},
			{"other authority cannot reach it", "ags:05314000", "0b6c8d8e-1111-4c59-9f59-2b1f5a2d9a02", ""},
			{"unknown authority", "ags:09162000", ref, ""},
			{"unknown reference", "ags:05315000", "00000000-0000-4000-8000-000000000000", ""},
			{"empty reference", "ags:05315000", "", ""},
			{"empty reader", "", ref, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.SubmissionByApplicationReference(ctx, tt.reader, tt.ref)
				if tt.want == "" {
					if !errors.Is(err, routing.ErrNotFound) {
						t.Fatalf("got %q, %v; want ErrNotFound", got, err)
					}
					return
				}
				if err != nil || got != tt.want {
					t.Fatalf("got %q, %v; want %q", got, err, tt.want)
				}
			})
		}
	})
}

// TestApplicationReferenceLookupUsesIndex: the lookup is served by the
// partial index of migration 0008, not by scanning every message (XML
// included) per reply.
func TestApplicationReferenceLookupUsesIndex(t *testing.T) {
	s := openSQLiteTest(t)
	rows, err := s.db.Query("EXPLAIN QUERY PLAN "+applicationReferenceQuery, "x", "y", "y")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	joined := strings.Join(plan, "; ")
	if !strings.Contains(joined, "messages_application_reference") || strings.Contains(joined, "SCAN m") {
		t.Fatalf("query plan: %s", joined)
	}
}

// BenchmarkSubmissionByApplicationReference looks up one reference among
// 5,000 routed submissions.
func BenchmarkSubmissionByApplicationReference(b *testing.B) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "hub.db"), Options{Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 5000
	refs := make([]string, n)
	for i := range refs {
		refs[i] = fmt.Sprintf("6f1c3f0e-6d2a-4c59-9f59-%012d", i)
		mapAndRoute(b, s, fmt.Sprintf("s%05d", i), refs[i], "ags:05315000", t0)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.SubmissionByApplicationReference(ctx, "ags:05315000", refs[i%n]); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReplayCarriesApplicationReference: a submission whose message was
// stored without a reference (mapped before migration 0008) becomes reachable
// by reference once a replay stores the re-mapped message, which carries it.
func TestReplayCarriesApplicationReference(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		const ref = "0b6c8d8e-2222-4c59-9f59-2b1f5a2d9a03"
		mapAndRoute(t, s, "old-1", "", "ags:05315000", t0)
		if _, err := s.SubmissionByApplicationReference(ctx, "ags:05315000", ref); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("before the replay: %v, want ErrNotFound", err)
		}
		msg := routing.Message{SubmissionID: "old-1", UUID: "uuid-old-1-replay", Standard: "XBau-Kernmodul", Version: "1.3.0",
			TypeCode: "1200", RootElement: "universellerAntrag.antrag.1200", Namespace: "ns", Service: "urn:s", XML: []byte("<x r='1'/>"),
			ApplicationReference: strings.ToUpper(ref)}
		if _, err := s.Replay(ctx, ReplayRequest{SubmissionID: "old-1", Seq: 1, Message: msg, Reason: "re-map", Operator: "test",
			Now: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if id, err := s.SubmissionByApplicationReference(ctx, "ags:05315000", ref); err != nil || id != "old-1" {
			t.Fatalf("after the replay: %q %v", id, err)
		}
	})
}

// TestMigration0008Backfill runs the backfill of migration 0008 over messages
// stored without a reference (as before the migration): a 1200 or 0200 whose
// portal reference is a UUID gets it (lower-case); other references, other
// message types and inbound messages stay without.
func TestMigration0008Backfill(t *testing.T) {
	ctx := context.Background()
	s := openSQLiteTest(t)
	body, err := migrations.ReadFile("migrations/0008_application_reference.sql")
	if err != nil {
		t.Fatal(err)
	}
	_, backfill, ok := strings.Cut(string(body), "-- Backfill")
	if !ok {
		t.Fatal("migration 0008 has no backfill section")
	}
	backfill = backfill[strings.IndexByte(backfill, '\n'):] // the rest of the marker's comment line
	const uuidRef = "6F1C3F0E-6D2A-4C59-9F59-2B1F5A2D9A01"
	for _, c := range []struct{ id, reference, root string }{
		{"uuid-1200", " " + uuidRef + " ", "universellerAntrag.antrag.1200"},
		{"uuid-0200", "0b6c8d8e-1111-4c59-9f59-2b1f5a2d9a02", "baugenehmigung.antrag.0200"},
		{"plain-ref", "AZ-4711", "universellerAntrag.antrag.1200"},
		{"xdomea", "0b6c8d8e-3333-4c59-9f59-2b1f5a2d9a04", "Abgabe.Abgabe.0401"},
	} {
		sub := newSub(c.id)
		sub.Reference = c.reference
		if _, _, err := s.CreateSubmission(ctx, sub); err != nil {
			t.Fatal(err)
		}
		msg := routing.Message{SubmissionID: c.id, UUID: "uuid-" + c.id, Standard: "X", Version: "1", TypeCode: "1200",
			RootElement: c.root, Namespace: "ns", Service: "urn:s", XML: []byte("<x/>")}
		if err := s.SaveMapped(ctx, msg, routing.StatusEvent{Status: routing.StatusValidated, Time: t0, Source: routing.SourceHub}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.db.ExecContext(ctx, backfill); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"uuid-1200": strings.ToLower(uuidRef), "uuid-0200": "0b6c8d8e-1111-4c59-9f59-2b1f5a2d9a02",
		"plain-ref": "", "xdomea": ""} {
		m, err := s.OutboundMessage(ctx, id)
		if err != nil || m.ApplicationReference != want {
			t.Errorf("%s: reference %q, %v; want %q", id, m.ApplicationReference, err, want)
		}
	}
}

// openSQLiteTest opens a fresh SQLite store, for tests of SQLite specifics
// (query plans, the SQLite migration's own SQL).
func openSQLiteTest(t *testing.T) *Store {
	t.Helper()
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "hub.db"), Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
