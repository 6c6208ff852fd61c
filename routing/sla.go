package routing

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Unfetched is a delivered message its reader has not fetched yet.
type Unfetched struct {
	SubmissionID string
	Service      string
	ReaderKey    string
	TransportID  string
	DeliveredAt  time.Time
	Alerted      bool // the SLA breach was already reported
}

// SLAStore is what the SLA monitor needs.
type SLAStore interface {
	UnfetchedDeliveries(ctx context.Context, before time.Time, limit int) ([]Unfetched, error)
	MarkSLABreach(ctx context.Context, submissionID string, ev StatusEvent) (bool, error)
	ExpireDelivery(ctx context.Context, submissionID string, ev StatusEvent) (bool, error)
}

// SLAMonitor watches delivered messages that their reader does not fetch in
// time (DESIGN §4 Deadlines): past the service's SLA it records a status
// event and raises an alert (an ERROR log line with alert=sla_breach, and
// OnBreach); past the optional expiry it withdraws the message (status
// expired).
type SLAMonitor struct {
	Store      SLAStore
	SLA        map[string]time.Duration // per service id; DefaultSLA otherwise
	Expiry     map[string]time.Duration // per service id; 0/absent: never
	DefaultSLA time.Duration
	Clock      Clock
	Logger     *slog.Logger
	OnBreach   func(submissionID, readerKey string, overdue time.Duration)
}

// RunOnce checks every unfetched delivery once; it returns the number of new
// breaches and expiries.
func (m *SLAMonitor) RunOnce(ctx context.Context) (breaches, expiries int, err error) {
	now := m.Clock.Now()
	minSLA := m.DefaultSLA
	for _, d := range m.SLA {
		minSLA = min(minSLA, d)
	}
	list, err := m.Store.UnfetchedDeliveries(ctx, now.Add(-minSLA), 10000)
	if err != nil {
		return 0, 0, err
	}
	log := m.Logger
	if log == nil {
		log = slog.Default()
	}
	for _, u := range list {
		age := now.Sub(u.DeliveredAt)
		if exp := m.Expiry[u.Service]; exp > 0 && age >= exp {
			ok, err := m.Store.ExpireDelivery(ctx, u.SubmissionID, StatusEvent{Status: StatusExpired, Time: now, Source: SourceHub,
				Detail: fmt.Sprintf("not fetched by %s within %s; withdrawn from the mailbox", u.ReaderKey, exp), Evidence: u.TransportID})
			if err != nil {
				return breaches, expiries, err
			}
			if ok {
				expiries++
				log.Error("message expired unfetched", "alert", "sla_expired", "submission", u.SubmissionID, "reader", u.ReaderKey)
			}
			continue
		}
		sla, ok := m.SLA[u.Service]
		if !ok || sla <= 0 {
			sla = m.DefaultSLA
		}
		if u.Alerted || age < sla {
			continue
		}
		ok, err = m.Store.MarkSLABreach(ctx, u.SubmissionID, StatusEvent{Status: StatusDelivered, Time: now, Source: SourceHub,
			Detail:   fmt.Sprintf("SLA breach: not fetched by %s within %s (delivered %s ago)", u.ReaderKey, sla, age.Round(time.Minute)),
			Evidence: u.TransportID})
		if err != nil {
			return breaches, expiries, err
		}
		if ok {
			breaches++
			log.Error("message not fetched within its SLA", "alert", "sla_breach", "submission", u.SubmissionID,
				"reader", u.ReaderKey, "sla", sla, "age", age)
			if m.OnBreach != nil {
				m.OnBreach(u.SubmissionID, u.ReaderKey, age-sla)
			}
		}
	}
	return breaches, expiries, nil
}
