// Package loop runs the hub's outbox drains (Postfach, webhooks, Kafka):
// a pass now, then one per interval or whenever something wakes it.
package loop

import (
	"context"
	"time"
)

// Run calls once until ctx ends: immediately, then after every interval
// tick or wake-up signal. A failed pass is handed to onErr (never for the
// cancellation that ends the loop) and retried at the next turn.
func Run(ctx context.Context, interval time.Duration, wake <-chan struct{}, once func(context.Context) error, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := once(ctx); err != nil && ctx.Err() == nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
	}
}

// Sleep waits for d or until ctx ends, whichever is first, and returns ctx's
// error in the second case. It is the default of the injectable Wait hooks
// (tests pass a fake that returns at once).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
