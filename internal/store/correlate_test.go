package store

import (
	"context"
	"errors"
	"testing"

	"github.com/dxhub/dxhub/routing"
)

// TestCorrelateMessageUUID: the one-read correlation finds the same
// submission as SubmissionByMessageUUID (any letter case, outbound messages
// only), with the fields GetSubmissionHead has, on every backend.
func TestCorrelateMessageUUID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		if _, _, err := s.CreateSubmission(ctx, newSub("s1")); err != nil {
			t.Fatal(err)
		}
		deliverToMailbox(t, s, "s1")
		head, err := s.GetSubmissionHead(ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.CorrelateMessageUUID(ctx, "UUID-S1")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != head.ID || got.PortalID != head.PortalID || got.Tenant != head.Tenant || got.Service != head.Service ||
			got.Reference != head.Reference || got.Status != head.Status || got.TraceParent != head.TraceParent ||
			!got.ReceivedAt.Equal(head.ReceivedAt) || !got.UpdatedAt.Equal(head.UpdatedAt) {
			t.Fatalf("correlated = %+v, head = %+v", got, head)
		}
		// An inbound message with a known UUID is not a message of ours.
		if err := s.ReceiveInbound(ctx, routing.InboundRecord{TransportID: "urn:in:1", Transport: routing.TransportXTAMailbox,
			ReceivedAt: t0, MessageUUID: "uuid-in-1", SubmissionID: "s1", Payload: []byte("<r/>")}, nil); err != nil {
			t.Fatal(err)
		}
		for _, uuid := range []string{"uuid-in-1", "nope", ""} {
			if _, err := s.CorrelateMessageUUID(ctx, uuid); !errors.Is(err, routing.ErrNotFound) {
				t.Fatalf("correlate %q: %v", uuid, err)
			}
		}
	})
}

// BenchmarkCorrelateReceipt: what the back-channel reads to correlate a
// receipt with its submission: the two lookups it used to make
// (SubmissionByMessageUUID, then GetSubmissionHead, which also reads the
// attachments) against CorrelateMessageUUID's one statement.
func BenchmarkCorrelateReceipt(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		if _, _, err := s.CreateSubmission(ctx, newSub("s1")); err != nil {
			b.Fatal(err)
		}
		deliverToMailbox(b, s, "s1")
		b.Run("uuid+head", func(b *testing.B) {
			for b.Loop() {
				id, err := s.SubmissionByMessageUUID(ctx, "UUID-S1")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.GetSubmissionHead(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("correlate", func(b *testing.B) {
			for b.Loop() {
				if _, err := s.CorrelateMessageUUID(ctx, "UUID-S1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
