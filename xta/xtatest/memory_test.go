package xtatest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/xta"
)

func TestMemoryBackend(t *testing.T) {
	ctx := context.Background()
	b := NewMemoryBackend("ags:1")
	yes := true
	open := xta.Selector{NewEntry: &yes}
	for _, id := range []string{"m1", "m2", "m3"} {
		b.Deliver(xta.MessageMeta{MessageID: id, ReaderKey: "ags:1"}, Blob{ContentType: "application/xml", Data: []byte("<a/>")})
	}
	if ok, _ := b.AccountActive(ctx, "ags:1"); !ok {
		t.Error("account ags:1 not active")
	}
	if ok, _ := b.AccountActive(ctx, "ags:2"); ok {
		t.Error("account ags:2 active")
	}
	list, pending, err := b.StatusList(ctx, "ags:1", xta.ListQuery{Selector: open, Limit: 2})
	if err != nil || len(list) != 2 || pending != 1 || list[0].MessageID != "m1" {
		t.Fatalf("StatusList = %v, %d, %v", list, pending, err)
	}
	if err := b.Close(ctx, "ags:1", "m1"); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx, "ags:1", "m1"); err != nil {
		t.Errorf("second close: %v", err)
	}
	if err := b.Close(ctx, "ags:2", "m2"); !errors.Is(err, xta.ErrUnknownMessage) {
		t.Errorf("close in foreign box: %v", err)
	}
	if _, err := b.Fetch(ctx, "ags:1", "nope"); !errors.Is(err, xta.ErrUnknownMessage) {
		t.Errorf("fetch unknown: %v", err)
	}
	list, pending, _ = b.StatusList(ctx, "ags:1", xta.ListQuery{Selector: open, Limit: 10})
	if len(list) != 2 || pending != 0 || list[0].MessageID != "m2" {
		t.Errorf("after close: %v, %d", list, pending)
	}
	in := &xta.InboundMessage{Meta: xta.MessageMeta{MessageID: "r1"}, Message: xta.Content{
		ContentType: "application/xml",
		Open:        func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("<r/>")), nil },
	}}
	if err := b.Receive(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := b.Receive(ctx, in); !errors.Is(err, xta.ErrDuplicateMessage) {
		t.Errorf("duplicate receive: %v", err)
	}
	if got := b.Received(); len(got) != 1 || string(got[0].Message.Data) != "<r/>" {
		t.Errorf("Received = %+v", got)
	}
	b.Fail = func(op string) error { return errors.New(op + " down") }
	if _, _, err := b.StatusList(ctx, "ags:1", xta.ListQuery{Limit: 1}); err == nil || err.Error() != "StatusList down" {
		t.Errorf("injected error: %v", err)
	}
}
