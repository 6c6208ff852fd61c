package loop

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A pass runs at once, again on every wake-up; failures go to onErr, the
// cancellation that ends the loop does not.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	wake := make(chan struct{})
	passes := make(chan int, 10)
	var errs []error
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, time.Hour, wake, func(ctx context.Context) error {
			n++
			passes <- n
			if n == 2 {
				return errors.New("store busy")
			}
			if n == 3 {
				cancel()
				return ctx.Err()
			}
			return nil
		}, func(err error) { errs = append(errs, err) })
	}()
	<-passes // the first pass runs without waiting for the interval
	wake <- struct{}{}
	<-passes
	wake <- struct{}{}
	<-passes
	<-done
	if len(errs) != 1 || errs[0].Error() != "store busy" {
		t.Fatalf("errors reported: %v", errs)
	}
}
