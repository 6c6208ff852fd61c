package kafka

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/dxhub/dxhub/routing"
)

type fuzzPartition struct{ committed []int64 }

func (p *fuzzPartition) ID() int                                { return 0 }
func (p *fuzzPartition) Fetch(context.Context) (Message, error) { panic("not used") }
func (p *fuzzPartition) Commit(_ context.Context, m Message) error {
	p.committed = append(p.committed, m.Offset)
	return nil
}

type fuzzHandler struct{ ids []string }

func (h *fuzzHandler) Handle(_ context.Context, id string) (routing.WorkResult, error) {
	h.ids = append(h.ids, id)
	return routing.WorkDuplicate, nil
}

// FuzzWorkRecord: any work topic record value is either handed to the
// handler with its submission ID (a valid record) or skipped; either way its
// offset is committed exactly once and nothing panics.
func FuzzWorkRecord(f *testing.F) {
	valid, _ := json.Marshal(WorkRecord{Schema: WorkSchema, SubmissionID: "0193-abc", Recipient: "ags:05315000 urn:svc"})
	for _, seed := range [][]byte{valid, []byte(`{}`), []byte(`{"schema":"urn:dxhub:schema:work:1"}`), []byte("\x00\xff"), nil,
		[]byte(`{"schema":"urn:dxhub:schema:work:1","submissionId":7}`)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		p, h := &fuzzPartition{}, &fuzzHandler{}
		c := &WorkConsumer{Handler: h, Logger: slog.New(slog.DiscardHandler)}
		if !c.Process(context.Background(), p, Message{Offset: 42, Value: value}) {
			t.Fatal("Process gave up without a cancelled context")
		}
		if len(p.committed) != 1 || p.committed[0] != 42 {
			t.Fatalf("committed %v, want [42]", p.committed)
		}
		var rec WorkRecord
		ok := json.Unmarshal(value, &rec) == nil && rec.Schema == WorkSchema && rec.SubmissionID != ""
		if ok != (len(h.ids) == 1) || (ok && h.ids[0] != rec.SubmissionID) {
			t.Fatalf("valid=%v, handled %v", ok, h.ids)
		}
	})
}
