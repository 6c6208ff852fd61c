package portal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/dxhub/dxhub/internal/antivirus"
	"github.com/dxhub/dxhub/routing"
)

// ClamdScanner is the Scanner of a clamd daemon: it streams an attachment
// from the blob store to clamd (zINSTREAM).
//
// FailOpen decides what happens when clamd cannot be asked (down, timeout,
// clamd error): false (the default, fail closed) refuses the submission with
// 503 and Retry-After; true logs an ERROR with alert=antivirus_unavailable and
// accepts it unscanned. An attachment larger than the client's MaxStreamBytes
// is refused with 413 when failing closed and accepted unscanned otherwise.
type ClamdScanner struct {
	Client   *antivirus.Client
	Open     func(key string) (io.ReadCloser, error)
	FailOpen bool
	Logger   *slog.Logger
}

var _ Scanner = (*ClamdScanner)(nil)

// ScanAttachment implements Scanner.
func (c *ClamdScanner) ScanAttachment(ctx context.Context, a routing.Attachment) error {
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	if a.Size > c.Client.MaxStreamBytes() {
		err := fmt.Errorf("%w (%d bytes, antivirus.clamd.maxStreamBytes is %d)", ErrScanTooLarge, a.Size, c.Client.MaxStreamBytes())
		return c.unscanned(ctx, log, a, err)
	}
	f, err := c.Open(a.BlobKey)
	if err != nil {
		return fmt.Errorf("portal: open attachment %s for scanning: %w", a.ID, err)
	}
	defer f.Close()
	res, err := c.Client.Scan(ctx, f)
	switch {
	case err == nil && res.Infected:
		return &InfectedError{Signature: res.Signature}
	case err == nil:
		return nil
	case errors.Is(err, antivirus.ErrTooLarge):
		return c.unscanned(ctx, log, a, fmt.Errorf("%w: %v", ErrScanTooLarge, err))
	}
	return c.unscanned(ctx, log, a, err)
}

func (c *ClamdScanner) unscanned(ctx context.Context, log *slog.Logger, a routing.Attachment, err error) error {
	if !c.FailOpen {
		return err
	}
	log.ErrorContext(ctx, "antivirus: attachment accepted unscanned (antivirus.onError: accept)", "filename", a.Filename,
		"sha256", a.SHA256, "error", err, "alert", "antivirus_unavailable")
	return nil
}
