// Package webhook pushes every status event to the submitting portal's
// webhook URL (DESIGN §1 step 7): one POST per event, in order per submission,
// retried with backoff until the portal answers 2xx.
//
// Each request carries
//
//	Content-Type:     application/json
//	Dxhub-Event-Id:   <event id>              (stable across retries: receivers de-duplicate by it)
//	Dxhub-Timestamp:  <Unix seconds>
//	Dxhub-Signature:  sha512=<hex HMAC-SHA512(secret, timestamp + "." + body)>
//
// A receiver verifies with the shared secret, e.g.
//
//	printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha512 -hmac "$SECRET"
//
// and rejects timestamps older than a few minutes (Verify does both).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dxhub/dxhub/internal/loop"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

// Header names.
const (
	HeaderEventID   = "Dxhub-Event-Id"
	HeaderTimestamp = "Dxhub-Timestamp"
	HeaderSignature = "Dxhub-Signature"
)

// Payload is the JSON body of one call.
type Payload struct {
	EventID      int64          `json:"eventId"`
	SubmissionID string         `json:"submissionId"`
	Reference    string         `json:"reference"`
	Status       routing.Status `json:"status"`
	Time         time.Time      `json:"time"`
	Source       routing.Source `json:"source"`
	Detail       string         `json:"detail,omitempty"`
	Evidence     string         `json:"evidence,omitempty"`
}

// Sign returns the hex HMAC-SHA512 of timestamp + "." + body.
func Sign(secret string, timestamp int64, body []byte) string {
	m := hmac.New(sha512.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verification errors.
var (
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrStale        = errors.New("webhook: timestamp outside the tolerance")
)

// Verify checks a received call: the signature header against the body and
// the timestamp against now ± tolerance. Receivers in Go can use it as is.
func Verify(secret, timestampHeader, signatureHeader string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(strings.TrimSpace(timestampHeader), 10, 64)
	if err != nil {
		return fmt.Errorf("webhook: bad %s header: %w", HeaderTimestamp, err)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s", ErrStale, d)
	}
	got, ok := strings.CutPrefix(strings.TrimSpace(signatureHeader), "sha512=")
	if !ok {
		return fmt.Errorf("%w: %s must start with sha512=", ErrBadSignature, HeaderSignature)
	}
	want := Sign(secret, ts, body)
	if !hmac.Equal([]byte(strings.ToLower(got)), []byte(want)) {
		return ErrBadSignature
	}
	return nil
}

// Target is one portal's webhook.
type Target struct {
	URL    string
	Secret string
}

// Store is what the dispatcher needs.
type Store interface {
	PendingWebhooks(ctx context.Context, portals []string, now time.Time, limit int) ([]store.WebhookEvent, error)
	WebhooksDelivered(ctx context.Context, marks []store.WebhookMark) error
	WebhookFailed(ctx context.Context, eventID int64, attempts int, next time.Time, reason string) error
}

// Dispatcher sends pending events to their portals.
type Dispatcher struct {
	Store   Store
	Targets map[string]Target // by portal ID
	Client  *http.Client      // default: 10 s timeout
	// Retry gives the backoff between attempts (MaxAttempts and MaxAge are
	// ignored: a webhook is retried until the portal acknowledges it).
	Retry  routing.RetryPolicy
	Clock  routing.Clock
	Logger *slog.Logger
	// Tracer, if set, traces each call as a span of the submission's trace
	// (the Client's transport adds the traceparent header).
	Tracer routing.Tracer
}

func (d *Dispatcher) now() time.Time {
	if d.Clock == nil {
		return time.Now()
	}
	return d.Clock.Now()
}

// RunOnce sends every event that is due and returns how many calls it made.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	portals := make([]string, 0, len(d.Targets))
	for p := range d.Targets {
		portals = append(portals, p)
	}
	calls := 0
	for {
		pending, err := d.Store.PendingWebhooks(ctx, portals, d.now(), 100)
		if err != nil || len(pending) == 0 {
			return calls, err
		}
		// The page holds at most one event per submission (its oldest unsent
		// one), so its 2xx can be recorded together after the page: one
		// write transaction per page instead of one commit per event. The
		// next page is read only after they are recorded, so order per
		// submission holds; a crash in between re-sends them (receivers
		// de-duplicate by event ID, as after any crash between 2xx and mark).
		var delivered []store.WebhookMark
		var sendErr error
		for _, w := range pending {
			calls++
			mark, err := d.send(ctx, w)
			if err != nil {
				sendErr = err
				break
			}
			if mark != nil {
				delivered = append(delivered, *mark)
			}
		}
		if err := d.Store.WebhooksDelivered(ctx, delivered); err != nil {
			return calls, err
		}
		if sendErr != nil {
			return calls, sendErr
		}
		if len(delivered) == 0 {
			return calls, nil // everything due failed; wait for the backoff
		}
	}
}

// send makes one call; a 2xx yields the mark for the caller to record, a
// failure is recorded here with the next attempt's time.
func (d *Dispatcher) send(ctx context.Context, w store.WebhookEvent) (*store.WebhookMark, error) {
	t := d.Targets[w.PortalID]
	body, err := json.Marshal(Payload{EventID: w.Event.ID, SubmissionID: w.Event.SubmissionID, Reference: w.Reference,
		Status: w.Event.Status, Time: w.Event.Time, Source: w.Event.Source, Detail: w.Event.Detail, Evidence: w.Event.Evidence})
	if err != nil {
		return nil, err
	}
	now := d.now()
	ts := now.Unix()
	attempts := w.Attempts + 1
	ctx, span := routing.StartStage(ctx, d.Tracer, routing.StageWebhook, routing.Submission{ID: w.Event.SubmissionID, PortalID: w.PortalID, TraceParent: w.TraceParent})
	defer span.End()
	span.SetAttribute("status.event", w.Event.ID)
	span.SetAttribute("status.value", string(w.Event.Status))
	span.SetAttribute("webhook.attempt", attempts)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("webhook: portal %s: %w", w.PortalID, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEventID, strconv.FormatInt(w.Event.ID, 10))
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, "sha512="+Sign(t.Secret, ts, body))
	client := d.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	reason := ""
	var retryAfter time.Duration
	switch {
	case err != nil:
		reason = err.Error()
	default:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		span.SetAttribute("http.response.status_code", resp.StatusCode)
		if resp.StatusCode/100 == 2 {
			return &store.WebhookMark{EventID: w.Event.ID, Attempts: attempts, At: d.now()}, nil
		}
		reason = "HTTP " + resp.Status
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			retryAfter = time.Duration(s) * time.Second
		}
	}
	next := d.now().Add(d.Retry.Delay(attempts, retryAfter))
	span.Fail(reason)
	d.logger().WarnContext(ctx, "webhook call failed; will retry", "portal", w.PortalID, "event", w.Event.ID, "attempt", attempts,
		"reason", reason, "next", next)
	return nil, d.Store.WebhookFailed(ctx, w.Event.ID, attempts, next, reason)
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.Default()
	}
	return d.Logger
}

// Run dispatches until ctx ends, every interval or when woken.
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration, wake <-chan struct{}) {
	loop.Run(ctx, interval, wake, func(ctx context.Context) error { _, err := d.RunOnce(ctx); return err },
		func(err error) { d.logger().Error("webhook: dispatch failed", "err", err) })
}
