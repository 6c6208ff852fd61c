package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// TestAdminAccountsAndSessions: operator accounts, sessions and login
// throttling of the admin UI, on every backend.
func TestAdminAccountsAndSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		if err := s.CreateAdminUser(ctx, AdminUser{Name: "alice", PasswordHash: "h1", Tenants: []string{"05315000", "05111000", "05315000"},
			Created: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAdminUser(ctx, AdminUser{Name: "staff", PasswordHash: "h2", Global: true, Created: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAdminUser(ctx, AdminUser{Name: "alice", PasswordHash: "x", Created: t0}); !errors.Is(err, ErrAdminUserExists) {
			t.Fatalf("duplicate: %v", err)
		}
		u, err := s.AdminUserByName(ctx, "alice")
		if err != nil || u.PasswordHash != "h1" || u.Global || len(u.Tenants) != 2 || u.Tenants[0] != "05111000" ||
			!u.MaySee("05315000") || u.MaySee("09162000") || u.Disabled() || !u.Created.Equal(t0) {
			t.Fatalf("alice = %+v %v", u, err)
		}
		if _, err := s.AdminUserByName(ctx, "nobody"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
		all, err := s.AdminUsers(ctx)
		if err != nil || len(all) != 2 || all[1].Name != "staff" || !all[1].Global || !all[1].MaySee("09162000") {
			t.Fatalf("users = %+v %v", all, err)
		}

		// Sessions: create, find, touch, purge by idle and by age.
		for i, h := range []string{"tok1", "tok2", "tok3"} {
			if err := s.CreateAdminSession(ctx, AdminSession{TokenHash: h, User: "alice", CSRF: "c-" + h,
				Created: t0.Add(time.Duration(i) * time.Hour), LastSeen: t0.Add(time.Duration(i) * time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		ses, su, err := s.AdminSessionByHash(ctx, "tok2")
		if err != nil || ses.User != "alice" || ses.CSRF != "c-tok2" || !ses.Created.Equal(t0.Add(time.Hour)) || su.Name != "alice" {
			t.Fatalf("session = %+v %+v %v", ses, su, err)
		}
		if err := s.TouchAdminSession(ctx, "tok1", t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		// Idle since before 1h50: tok2 (seen at 1h); created before 0h30: tok1.
		if n, err := s.PurgeAdminSessions(ctx, t0.Add(110*time.Minute), t0.Add(30*time.Minute)); err != nil || n != 2 {
			t.Fatalf("purge = %d %v", n, err)
		}
		if _, _, err := s.AdminSessionByHash(ctx, "tok3"); err != nil {
			t.Fatalf("tok3 purged: %v", err)
		}
		if err := s.DeleteAdminSession(ctx, "tok3"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.AdminSessionByHash(ctx, "tok3"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("deleted session: %v", err)
		}

		// A new password or disabling ends the account's sessions.
		s.CreateAdminSession(ctx, AdminSession{TokenHash: "tok4", User: "alice", CSRF: "c", Created: t0, LastSeen: t0})
		if err := s.SetAdminPassword(ctx, "alice", "h3", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.AdminSessionByHash(ctx, "tok4"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("session after passwd: %v", err)
		}
		s.CreateAdminSession(ctx, AdminSession{TokenHash: "tok5", User: "alice", CSRF: "c", Created: t0, LastSeen: t0})
		if err := s.DisableAdminUser(ctx, "alice", t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.AdminUserByName(ctx, "alice"); u.PasswordHash != "h3" || !u.DisabledAt.Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("alice after passwd+disable = %+v", u)
		}
		if _, _, err := s.AdminSessionByHash(ctx, "tok5"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("session after disable: %v", err)
		}
		if err := s.DisableAdminUser(ctx, "nobody", t0); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("disable unknown: %v", err)
		}

		// Throttling: 3 failures within 10 min lock for 15 min; an old
		// window starts anew.
		p := LoginThrottle{Max: 3, Window: 10 * time.Minute, Lockout: 15 * time.Minute}
		for i, at := range []time.Duration{0, 11 * time.Minute, 12 * time.Minute} { // the first is outside the window
			if until, err := s.RecordAdminLoginFailure(ctx, "name:alice", t0.Add(at), p); err != nil || !until.IsZero() {
				t.Fatalf("failure %d: %v %v", i, until, err)
			}
		}
		until, err := s.RecordAdminLoginFailure(ctx, "name:alice", t0.Add(13*time.Minute), p)
		if err != nil || !until.Equal(t0.Add(28*time.Minute)) {
			t.Fatalf("lock = %v %v", until, err)
		}
		if got, err := s.AdminLoginLockedUntil(ctx, t0.Add(20*time.Minute), "addr:127.0.0.1", "name:alice"); err != nil || !got.Equal(until) {
			t.Fatalf("locked until = %v %v", got, err)
		}
		// A failure while locked keeps the lock.
		if got, _ := s.RecordAdminLoginFailure(ctx, "name:alice", t0.Add(21*time.Minute), p); !got.Equal(until) {
			t.Fatalf("lock during lock = %v", got)
		}
		if got, _ := s.AdminLoginLockedUntil(ctx, t0.Add(29*time.Minute), "name:alice"); !got.IsZero() {
			t.Fatalf("lock after lockout = %v", got)
		}
		s.RecordAdminLoginFailure(ctx, "name:mallory", t0.Add(25*time.Minute), p)
		// At 28 min alice's lock still holds; mallory's window is fresh.
		if n, err := s.PurgeAdminLoginFailures(ctx, t0.Add(20*time.Minute), t0.Add(27*time.Minute)); err != nil || n != 0 {
			t.Fatalf("purge during lock = %d %v", n, err)
		}
		if n, err := s.PurgeAdminLoginFailures(ctx, t0.Add(20*time.Minute), t0.Add(30*time.Minute)); err != nil || n != 1 {
			t.Fatalf("purge = %d %v", n, err)
		}
		if err := s.ClearAdminLoginFailures(ctx, "name:mallory"); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.PurgeAdminLoginFailures(ctx, t0.Add(time.Hour), t0.Add(time.Hour)); n != 0 {
			t.Fatalf("cleared key still there: %d", n)
		}
	})
}

// TestAdminTenantQueries: every admin query returns only the tenant's rows.
func TestAdminTenantQueries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		other := newSub("b1")
		other.Tenant, other.Reference = "05111000", "REF-100%_x"
		for _, ns := range []routing.NewSubmission{newSub("s1"), newSub("s2"), other} {
			if _, _, err := s.CreateSubmission(ctx, ns); err != nil {
				t.Fatal(err)
			}
		}
		deliverToMailbox(t, s, "s1")
		for _, id := range []string{"s2", "b1"} { // dead letters: delivery failed permanently
			msg := routing.Message{SubmissionID: id, UUID: "uuid-" + id, Standard: "XBau-Kernmodul", Version: "1.3.0",
				TypeCode: "1200", RootElement: "r", Namespace: "ns", Service: "urn:s", XML: []byte("<x/>")}
			if err := s.SaveMapped(ctx, msg, routing.StatusEvent{Status: routing.StatusValidated, Time: t0, Source: routing.SourceHub}); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveRoute(ctx, routing.Delivery{SubmissionID: id, MessageUUID: msg.UUID, TransportID: "urn:x:" + id,
				Route:         routing.Route{ReaderKey: "ags:05315000", ServiceURI: "urn:s", Transport: routing.TransportXTA, Endpoint: "https://x"},
				NextAttemptAt: t0, CreatedAt: t0}, routing.StatusEvent{Status: routing.StatusRouted, Time: t0, Source: routing.SourceHub}); err != nil {
				t.Fatal(err)
			}
			d, err := s.GetDelivery(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			ev := routing.StatusEvent{Status: routing.StatusFailed, Time: t0, Source: routing.SourceHub}
			if err := s.RecordAttempt(ctx, routing.AttemptResult{Delivery: d, Number: 1, Started: t0, Finished: t0,
				Outcome: routing.Outcome{Kind: routing.Permanent, Reason: "refused"}, Dead: true, Event: &ev}); err != nil {
				t.Fatal(err)
			}
		}

		rows, total, err := s.AdminSubmissions(ctx, AdminSubmissionFilter{Tenant: "05315000"})
		if err != nil || total != 2 || len(rows) != 2 {
			t.Fatalf("list = %+v %d %v", rows, total, err)
		}
		for _, c := range []struct {
			f    AdminSubmissionFilter
			want []string
		}{
			{AdminSubmissionFilter{Tenant: "05315000", Status: "failed"}, []string{"s2"}},
			{AdminSubmissionFilter{Tenant: "05315000", Query: "REF-S1"}, []string{"s1"}}, // case-insensitive part of the reference
			{AdminSubmissionFilter{Tenant: "05315000", Query: "s2"}, []string{"s2"}},
			{AdminSubmissionFilter{Tenant: "05315000", Query: "b1"}, nil}, // another tenant's ID
			{AdminSubmissionFilter{Tenant: "05315000", Query: "%"}, nil},  // LIKE wildcards are literal
			{AdminSubmissionFilter{Tenant: "05111000", Query: "100%_"}, []string{"b1"}},
			{AdminSubmissionFilter{Tenant: "05315000", Limit: 1, Offset: 1}, []string{"s1"}},
		} {
			rows, _, err := s.AdminSubmissions(ctx, c.f)
			var got []string
			for _, r := range rows {
				got = append(got, r.ID)
			}
			if err != nil || len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
				t.Errorf("%+v: %v %v, want %v", c.f, got, err, c.want)
			}
		}
		counts, err := s.AdminStatusCounts(ctx, "05315000")
		if err != nil || len(counts) != 2 || counts[routing.StatusFailed] != 1 {
			t.Fatalf("counts = %v %v", counts, err)
		}
		if err := s.CheckSubmissionTenant(ctx, "05315000", "b1"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("foreign submission: %v", err)
		}
		if _, err := s.AdminTrace(ctx, "05111000", "s1"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("foreign trace: %v", err)
		}
		if tr, err := s.AdminTrace(ctx, "05315000", "s1"); err != nil || tr.Submission.ID != "s1" {
			t.Fatalf("trace: %v", err)
		}
		dls, err := s.AdminDeadLetters(ctx, "05315000", false)
		if err != nil || len(dls) != 1 || dls[0].SubmissionID != "s2" {
			t.Fatalf("dead letters = %+v %v", dls, err)
		}
		routes, err := s.AdminRoutes(ctx, "05315000")
		if err != nil || len(routes) != 2 || routes[0].Transport != "xta" || routes[0].Dead != 1 || routes[1].Deliveries != 1 ||
			routes[1].Transport != "xta-mailbox" {
			t.Fatalf("routes = %+v %v", routes, err)
		}
		for _, e := range []DVDVCacheEntry{
			{Kind: "service", Key: "ags:05315000 urn:s", Value: []byte(`{}`), Server: "https://dvdv", FetchedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			{Kind: "service", Key: "ags:05315000 urn:t", Negative: true, Detail: "no entry", FetchedAt: t0, ExpiresAt: t0},
			{Kind: "service", Key: "ags:053150001 urn:s", Value: []byte(`{}`), FetchedAt: t0, ExpiresAt: t0},
			{Kind: "service", Key: "ags:05111000 urn:s", Value: []byte(`{}`), FetchedAt: t0, ExpiresAt: t0},
			{Kind: "authority", Key: "ags:05315000 x", Value: []byte(`{}`), FetchedAt: t0, ExpiresAt: t0},
		} {
			if err := s.DVDVCachePut(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		cached, err := s.AdminCachedRoutes(ctx, "AGS:05315000")
		if err != nil || len(cached) != 2 || cached[0].ServiceURI != "urn:s" || cached[0].Negative || cached[0].Server != "https://dvdv" ||
			!cached[1].Negative || cached[1].Detail != "no entry" || !cached[0].ExpiresAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("cached routes = %+v %v", cached, err)
		}
		un, err := s.AdminUnfetched(ctx, "05315000", t0.Add(time.Hour), 0)
		if err != nil || len(un) != 1 || un[0].SubmissionID != "s1" || un[0].State != "delivered" || !un[0].AlertedAt.IsZero() {
			t.Fatalf("unfetched = %+v %v", un, err)
		}
		if un, _ := s.AdminUnfetched(ctx, "05315000", t0.Add(-time.Hour), 0); len(un) != 0 {
			t.Fatalf("unfetched before delivery = %+v", un)
		}
	})
}
