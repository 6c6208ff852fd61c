package routing_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/routing"
)

// mapParser returns canned reports by payload.
type mapParser map[string]routing.InboundReport

func (m mapParser) ParseInbound(p []byte) (routing.InboundReport, error) {
	r, ok := m[string(p)]
	if !ok {
		return routing.InboundReport{}, errors.New("not XML")
	}
	return r, nil
}

// TestBackChannel runs on the real store, which correlates a receipt in one
// read (routing.MessageCorrelator), and on a store that only has
// routing.InboundStore's lookups: the outcome is the same.
func TestBackChannel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(routing.InboundStore) routing.InboundStore
	}{
		{"correlator", func(s routing.InboundStore) routing.InboundStore { return s }},
		{"inbound store only", func(s routing.InboundStore) routing.InboundStore { return inboundOnly{s} }},
	} {
		t.Run(tc.name, func(t *testing.T) { testBackChannel(t, tc.store) })
	}
}

func testBackChannel(t *testing.T, wrap func(routing.InboundStore) routing.InboundStore) {
	ctx := context.Background()
	e := newEnv(t, fakeMapper{}, nil)
	e.submit(t, "s1")
	e.run(t) // delivered; its message UUID is uuid-s1
	if _, ok := wrap(e.store).(routing.MessageCorrelator); ok != (wrap(e.store) == routing.InboundStore(e.store)) {
		t.Fatalf("the real store must implement routing.MessageCorrelator, the wrapper must not")
	}
	bc := &routing.BackChannel{Store: wrap(e.store), Clock: e.clock,
		Tenants: map[string]routing.Tenant{"05315000": {AGS: "05315000", DVDVKey: "ags:05315000"}},
		Parser: mapParser{
			"1120":    {MessageUUID: "r1", TypeCode: "1120", RootElement: "eingangsbestaetigung", ReferencedUUID: "UUID-S1", Status: routing.StatusAcknowledged, Detail: "Eingang bestätigt"},
			"1205":    {MessageUUID: "r2", TypeCode: "1205", RootElement: "bescheid", ReferencedUUID: "uuid-s1"},
			"orphan":  {MessageUUID: "r3", TypeCode: "1120", ReferencedUUID: "no-such-uuid", Status: routing.StatusAcknowledged},
			"noref":   {MessageUUID: "r4", TypeCode: "1120", Status: routing.StatusAcknowledged},
			"foreign": {MessageUUID: "r5", TypeCode: "1100", ReferencedUUID: "uuid-s1", Status: routing.StatusRejected},
		}}
	tests := []struct {
		name, payload, author string
		wantErr               error
		wantSub, wantNote     string
	}{
		{"receipt applied", "1120", "ags:05315000", nil, "s1", ""},
		{"unknown kind kept", "1205", "ags:05315000", nil, "s1", "not a known back-channel message"},
		{"unknown reference kept", "orphan", "ags:05315000", nil, "", "unknown message no-such-uuid"},
		{"no reference kept", "noref", "ags:05315000", nil, "", "no reference"},
		{"other authority not applied", "foreign", "ags:05314000", nil, "", "is not the reader"},
		{"malformed refused", "garbage", "ags:05315000", routing.ErrMalformedInbound, "", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := bc.Receive(ctx, routing.Inbound{TransportID: fmt.Sprint("urn:in:", i), Transport: routing.TransportXTAMailbox,
				AuthorKey: tt.author, Payload: []byte(tt.payload)})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if rec.SubmissionID != tt.wantSub {
				t.Errorf("submission = %q, want %q", rec.SubmissionID, tt.wantSub)
			}
			if tt.wantNote == "" && rec.Note != "" || tt.wantNote != "" && !strings.Contains(rec.Note, tt.wantNote) {
				t.Errorf("note = %q, want %q", rec.Note, tt.wantNote)
			}
		})
	}
	// The same transport ID again is a duplicate and changes nothing.
	if _, err := bc.Receive(ctx, routing.Inbound{TransportID: "urn:in:0", AuthorKey: "ags:05315000", Payload: []byte("1120")}); !errors.Is(err, routing.ErrDuplicate) {
		t.Fatalf("duplicate err = %v", err)
	}
	hist := e.statuses(t, "s1")
	if got := fmt.Sprint(hist); got != "[received validated routed delivered acknowledged]" {
		t.Fatalf("history = %s (only the receipt may apply, once)", got)
	}
}

// inboundOnly hides every method of the store but routing.InboundStore's.
type inboundOnly struct{ routing.InboundStore }

// refStore adds correlation by application reference to the real store;
// refs is keyed by "readerKey ref" (the lookup is scoped to the reader).
type refStore struct {
	routing.InboundStore
	refs map[string]string
}

func (r refStore) SubmissionByApplicationReference(_ context.Context, readerKey, ref string) (string, error) {
	if id, ok := r.refs[readerKey+" "+ref]; ok {
		return id, nil
	}
	return "", fmt.Errorf("reference %s for %s: %w", ref, readerKey, routing.ErrNotFound)
}

// TestBackChannelApplicationReference: a message that names no message (XBau
// 1121 Aktenzeichen) is correlated by the application reference when the
// store can, and kept with a note when it cannot.
func TestBackChannelApplicationReference(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, fakeMapper{}, nil)
	e.submit(t, "s1")
	e.run(t)
	parser := mapParser{
		"1121":    {MessageUUID: "r1", TypeCode: "1121", ApplicationReference: "ref-s1", Status: routing.StatusAcknowledged, Detail: "Aktenzeichen zugewiesen"},
		"unknown": {MessageUUID: "r2", TypeCode: "1121", ApplicationReference: "ref-other", Status: routing.StatusAcknowledged},
	}
	tenants := map[string]routing.Tenant{"05315000": {AGS: "05315000", DVDVKey: "ags:05315000"}}
	withRefs := &routing.BackChannel{Store: refStore{e.store, map[string]string{"ags:05315000 ref-s1": "s1"}}, Clock: e.clock, Tenants: tenants, Parser: parser}
	plain := &routing.BackChannel{Store: inboundOnly{e.store}, Clock: e.clock, Tenants: tenants, Parser: parser}
	for i, tt := range []struct {
		name, payload, author string
		bc                    *routing.BackChannel
		wantSub, wantNote     string
	}{
		{"correlated by reference", "1121", "ags:05315000", withRefs, "s1", ""},
		{"unknown reference kept", "unknown", "ags:05315000", withRefs, "", "unknown application reference ref-other"},
		{"other authority's reference not found", "1121", "ags:05314000", withRefs, "", "unknown application reference ref-s1"},
		{"no author not correlated", "1121", "", withRefs, "", "from an unknown author"},
		{"store without reference lookup", "1121", "ags:05315000", plain, "", "no reference"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := tt.bc.Receive(ctx, routing.Inbound{TransportID: fmt.Sprint("urn:ref:", i), Transport: routing.TransportXTAMailbox,
				AuthorKey: tt.author, Payload: []byte(tt.payload)})
			if err != nil {
				t.Fatal(err)
			}
			if rec.SubmissionID != tt.wantSub || (tt.wantNote == "") != (rec.Note == "") || !strings.Contains(rec.Note, tt.wantNote) {
				t.Errorf("record = %+v, want submission %q note %q", rec, tt.wantSub, tt.wantNote)
			}
		})
	}
	if got := fmt.Sprint(e.statuses(t, "s1")); got != "[received validated routed delivered acknowledged]" {
		t.Fatalf("history = %s", got)
	}
}
