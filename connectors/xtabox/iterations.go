package xtabox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xta"
)

// IterationStore is the part of the store that keeps MsgBoxRequestID state.
type IterationStore interface {
	XTAIterationPut(ctx context.Context, it store.XTAIteration, now time.Time, maxPerReader int) error
	XTAIterationGet(ctx context.Context, requestID, reader string, now time.Time) (store.XTAIteration, error)
	XTAIterationAdvance(ctx context.Context, requestID string, cursorTime time.Time, cursorID string, expires time.Time) error
}

// Iterations keeps the built-in XTA server's getStatusList/getMessage
// iterations in the store, so getNextStatusList/getNextMessage continue
// them after a restart or in another process sharing the database.
type Iterations struct {
	Store IterationStore
	// MaxPerReader bounds the live iterations of one reader (default 1000);
	// the ones expiring first are dropped.
	MaxPerReader int
	Clock        routing.Clock
}

var _ xta.IterationStore = (*Iterations)(nil)

// selection is the stored form of an iteration's selector, list form and
// page size.
type selection struct {
	MessageIDs []string  `json:"messageIds,omitempty"`
	RelatesTo  []string  `json:"relatesTo,omitempty"`
	From       time.Time `json:"from,omitzero"`
	To         time.Time `json:"to,omitzero"`
	NewEntry   *bool     `json:"newEntry,omitempty"`
	Form       string    `json:"form,omitempty"`
	Limit      int       `json:"limit"`
}

func (is *Iterations) now() time.Time {
	if is.Clock == nil {
		return time.Now()
	}
	return is.Clock.Now()
}

// PutIteration implements xta.IterationStore.
func (is *Iterations) PutIteration(ctx context.Context, id string, it xta.Iteration, expires time.Time) error {
	sel, err := json.Marshal(selection{MessageIDs: it.Selector.MessageIDs, RelatesTo: it.Selector.RelatesTo,
		From: it.Selector.From, To: it.Selector.To, NewEntry: it.Selector.NewEntry, Form: it.Form, Limit: it.Limit})
	if err != nil {
		return err
	}
	limit := is.MaxPerReader
	if limit <= 0 {
		limit = 1000
	}
	return is.Store.XTAIterationPut(ctx, store.XTAIteration{RequestID: id, Reader: it.Reader, Selection: sel,
		CursorTime: it.Cursor.Delivery, CursorID: it.Cursor.MessageID, ExpiresAt: expires}, is.now(), limit)
}

// GetIteration implements xta.IterationStore.
func (is *Iterations) GetIteration(ctx context.Context, id, reader string, now time.Time) (xta.Iteration, bool, error) {
	row, err := is.Store.XTAIterationGet(ctx, id, reader, now)
	if errors.Is(err, routing.ErrNotFound) {
		return xta.Iteration{}, false, nil
	}
	if err != nil {
		return xta.Iteration{}, false, err
	}
	var sel selection
	if err := json.Unmarshal(row.Selection, &sel); err != nil {
		return xta.Iteration{}, false, fmt.Errorf("xtabox: iteration %s: %w", id, err)
	}
	return xta.Iteration{
		Reader: reader,
		Selector: xta.Selector{MessageIDs: sel.MessageIDs, RelatesTo: sel.RelatesTo, From: sel.From, To: sel.To,
			NewEntry: sel.NewEntry},
		Form: sel.Form, Limit: sel.Limit,
		Cursor: xta.Cursor{Delivery: row.CursorTime, MessageID: row.CursorID},
	}, true, nil
}

// AdvanceIteration implements xta.IterationStore.
func (is *Iterations) AdvanceIteration(ctx context.Context, id string, c xta.Cursor, expires time.Time) error {
	return is.Store.XTAIterationAdvance(ctx, id, c.Delivery, c.MessageID, expires)
}
