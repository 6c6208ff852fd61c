package xta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// A request whose context was canceled (client gone, hub shutting down) is
// not an internal error worth an ERROR line; any other unexpected error is.
func TestClassifyUnexpected(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		wantLevel string
		wantText  string
	}{
		{"canceled", fmt.Errorf("status list: store: mailbox query: %w", context.Canceled), "level=INFO", "request canceled"},
		{"other", errors.New("disk on fire"), "level=ERROR", "internal server error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			s := &Server{log: slog.New(slog.NewTextHandler(&buf, nil))}
			f := s.classify(tc.err)
			if f.Code != CodeInternalError || f.Reason != tc.wantText {
				t.Errorf("fault = %d %q, want %d %q", f.Code, f.Reason, CodeInternalError, tc.wantText)
			}
			if !strings.Contains(buf.String(), tc.wantLevel) {
				t.Errorf("log %q lacks %s", buf.String(), tc.wantLevel)
			}
		})
	}
}
