package xoev

import (
	"context"
	"strings"
	"testing"
	"time"
)

// mapped1200 maps the full golden case and parses it back as the Fachverfahren would.
func mapped1200(t testing.TB) (Document, Inbound) {
	t.Helper()
	m := newTestMapper(t)
	doc, err := m.Map(context.Background(), loadCase(t, "testdata/golden/full.json"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := ParseInbound(doc.XML)
	if err != nil {
		t.Fatal(err)
	}
	return doc, in
}

var replyTime = time.Date(2026, 11, 24, 8, 15, 0, 0, time.FixedZone("CET", 3600))

// builtReplies builds one 1100, one 1120 and one 1170 per status code for the 1200.
func builtReplies(t testing.TB) (Document, map[string]Document) {
	t.Helper()
	doc, in := mapped1200(t)
	r := Reply{Created: replyTime, Reference: in.Reference, CaseNumber: "63-AZ-2026/0815", Text: "Ihr Antrag ist eingegangen."}
	out := map[string]Document{}
	d, err := BuildReceipt1120(in.Header, r)
	if err != nil {
		t.Fatal(err)
	}
	out["1120"] = d
	if d, err = BuildAktenzeichen1121(in.Header, r); err != nil {
		t.Fatal(err)
	}
	out["1121"] = d
	for c := range StatusBauportal {
		d, err := BuildStatus1170(in.Header, c, time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), Reply{Created: replyTime, Reference: in.Reference, Text: "Begründung " + c})
		if err != nil {
			t.Fatal(err)
		}
		out["1170-"+c] = d
	}
	d, err = BuildRejection1100(in.Header, doc.XML, []Reason{{Code: "X001", Text: "Schema verletzt"}, {Code: "A004"}}, Reply{Created: replyTime})
	if err != nil {
		t.Fatal(err)
	}
	out["1100"] = d
	return doc, out
}

func TestRepliesValidateAndParse(t *testing.T) {
	req, replies := builtReplies(t)
	ctx := context.Background()
	for name, d := range replies {
		t.Run(name, func(t *testing.T) {
			if err := shared.validator.Validate(ctx, d.XML); err != nil {
				t.Fatalf("%v\n%s", err, d.XML)
			}
			in, err := ParseInbound(d.XML)
			if err != nil {
				t.Fatal(err)
			}
			h := in.Header
			if h.UUID != d.UUID || h.TypeCode != d.TypeCode || h.TypeListURI != ListKernmodulNachrichten || h.TypeListVersion != "3.0" {
				t.Errorf("header = %+v, document %s/%s", h, d.UUID, d.TypeCode)
			}
			if !h.Created.Equal(replyTime) || h.Standard != StandardKernmodul || h.Version != VersionKernmodul {
				t.Errorf("header = %+v", h)
			}
			// The reply goes back: the 1200's author is the reader.
			if h.ReaderKey != "kop:0500000001" || h.AuthorKey != "ags:05315000" || h.AuthorName != "Stadt Köln, Bauaufsichtsamt" {
				t.Errorf("parties = %+v", h)
			}
			if in.RefMessageUUID != req.UUID || in.RefTypeCode != "1200" {
				t.Errorf("reference = %q/%q, want %q/1200", in.RefMessageUUID, in.RefTypeCode, req.UUID)
			}
			switch {
			case name == "1100":
				if in.Kind != KindRejected || len(in.Reasons) != 2 || in.Reasons[0].Code != "X001" || in.Reasons[0].Text != "Schema verletzt" || in.Reasons[1].Meaning == "" {
					t.Errorf("1100 = %+v", in)
				}
				if !strings.Contains(in.Detail, "X001 Die Nachricht ist nicht valide") || string(in.RejectedMessage) != string(req.XML) {
					t.Errorf("1100 detail %q / rejected message %d bytes", in.Detail, len(in.RejectedMessage))
				}
			case name == "1120":
				if in.Kind != KindAcknowledged || in.Reference != req.ReferenceUUID || in.CaseNumber != "63-AZ-2026/0815" || in.Detail != "Eingangsbestätigung: Ihr Antrag ist eingegangen." {
					t.Errorf("1120 = %+v", in)
				}
			case name == "1121":
				if in.Kind != KindAcknowledged || in.Reference != req.ReferenceUUID || in.CaseNumber != "63-AZ-2026/0815" || in.Detail != "Aktenzeichen zugewiesen" {
					t.Errorf("1121 = %+v", in)
				}
			default:
				c := strings.TrimPrefix(name, "1170-")
				want := StatusBauportal[c]
				if in.Kind != want.Kind || in.StatusCode != c || in.StatusListURI != ListStatusBauportal || in.Deadline != "2026-12-31" {
					t.Errorf("1170 = %+v, want kind %s", in, want.Kind)
				}
				if wantDetail := want.Name + " (Frist 2026-12-31): Begründung " + c; in.Detail != wantDetail {
					t.Errorf("detail = %q, want %q", in.Detail, wantDetail)
				}
			}
		})
	}
}

func TestStatusKinds(t *testing.T) {
	// Spot checks of the documented table.
	for code, kind := range map[string]Kind{"14": KindAcknowledged, "22": KindAcknowledged, "10": KindDecided, "04": KindDecided, "20": KindDecided, "57": KindRejected, "17": KindInProgress, "08": KindInProgress, "59": KindInProgress} {
		if got := StatusBauportal[code].Kind; got != kind {
			t.Errorf("status %s: kind %s, want %s", code, got, kind)
		}
	}
}

func TestReplyUUIDsAreDeterministic(t *testing.T) {
	_, in := mapped1200(t)
	a, err := BuildStatus1170(in.Header, "10", time.Time{}, Reply{Created: replyTime})
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildStatus1170(in.Header, "10", time.Time{}, Reply{Created: replyTime.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := BuildStatus1170(in.Header, "17", time.Time{}, Reply{Created: replyTime})
	if err != nil {
		t.Fatal(err)
	}
	if a.UUID != b.UUID || a.UUID == c.UUID {
		t.Errorf("UUIDs: same status %s/%s, other status %s", a.UUID, b.UUID, c.UUID)
	}
	d, err := BuildStatus1170(in.Header, "10", time.Time{}, Reply{Created: replyTime, UUID: "0b7c0f7e-1111-4222-8333-944455556666"})
	if err != nil || d.UUID != "0b7c0f7e-1111-4222-8333-944455556666" {
		t.Errorf("explicit UUID: %v %s", err, d.UUID)
	}
}

func TestReplyErrors(t *testing.T) {
	_, in := mapped1200(t)
	r := Reply{Created: replyTime}
	if _, err := BuildStatus1170(in.Header, "99", time.Time{}, r); !IsPermanent(err) || !strings.Contains(err.Error(), "statusbauportal") {
		t.Errorf("unknown status code: %v", err)
	}
	if _, err := BuildRejection1100(in.Header, []byte("<x/>"), []Reason{{Code: "Q123"}}, r); err == nil || !strings.Contains(err.Error(), "Q123") || !strings.Contains(err.Error(), ListFehlerkennzahlen) {
		t.Errorf("unknown Fehlerkennzahl: %v", err)
	}
	if _, err := BuildRejection1100(in.Header, []byte("<x/>"), nil, r); err == nil {
		t.Error("1100 without reasons accepted")
	}
	if _, err := BuildReceipt1120(in.Header, Reply{}); err == nil {
		t.Error("zero Created accepted")
	}
	if _, err := BuildAktenzeichen1121(in.Header, Reply{Created: replyTime, CaseNumber: " "}); err == nil || !strings.Contains(err.Error(), "Aktenzeichen") {
		t.Errorf("1121 without Aktenzeichen: %v", err)
	}
	h := in.Header
	h.AuthorKey = "Portal 1"
	if _, err := BuildReceipt1120(h, r); err == nil || !strings.Contains(err.Error(), "sch-xbau-001") {
		t.Errorf("bad DVDV key: %v", err)
	}
	if _, err := BuildReceipt1120(in.Header, Reply{Created: replyTime, Reference: "not-a-uuid"}); err == nil {
		t.Error("non-UUID reference accepted")
	}
}
