package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

func TestDVDVCache(t *testing.T) {
	forEachBackend(t, testDVDVCache)
}

func testDVDVCache(t *testing.T, openTest func(*testing.T) *Store) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Date(2026, 3, 2, 10, 0, 0, 123000, time.UTC)
	pos := DVDVCacheEntry{Kind: "service", Key: "ags:05315000 urn:s", Value: []byte(`{"id":1}`), Server: "https://a",
		FetchedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	neg := DVDVCacheEntry{Kind: "service", Key: "ags:1 urn:s", Value: []byte("ignored"), Negative: true, Detail: "ungültig",
		FetchedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
	ver := DVDVCacheEntry{Kind: "verify", Key: "ab Kat", Value: []byte("true"), FetchedAt: now, ExpiresAt: now}
	for _, e := range []DVDVCacheEntry{pos, neg, ver} {
		if err := s.DVDVCachePut(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DVDVCachePut(ctx, DVDVCacheEntry{Kind: "service"}); err == nil {
		t.Fatal("entry without key accepted")
	}
	got, err := s.DVDVCacheGet(ctx, "service", pos.Key)
	if err != nil || string(got.Value) != `{"id":1}` || !got.FetchedAt.Equal(now) || got.Server != "https://a" || got.Negative {
		t.Fatalf("get = %+v, %v", got, err)
	}
	got, _ = s.DVDVCacheGet(ctx, "service", neg.Key)
	if !got.Negative || got.Value != nil || got.Detail != "ungültig" {
		t.Fatalf("negative = %+v", got)
	}
	// Replace.
	pos.Value, pos.ExpiresAt = []byte(`{"id":2}`), now.Add(time.Hour)
	if err := s.DVDVCachePut(ctx, pos); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.DVDVCacheGet(ctx, "service", pos.Key); string(got.Value) != `{"id":2}` || !got.ExpiresAt.Equal(pos.ExpiresAt) {
		t.Fatalf("replaced = %+v", got)
	}
	if l, err := s.DVDVCacheList(ctx, ""); err != nil || len(l) != 3 || l[0].Key != "ags:05315000 urn:s" {
		t.Fatalf("list = %+v, %v", l, err)
	}
	if l, _ := s.DVDVCacheList(ctx, "verify"); len(l) != 1 {
		t.Fatalf("list verify = %d", len(l))
	}
	if ok, err := s.DVDVCacheDelete(ctx, "service", neg.Key); !ok || err != nil {
		t.Fatalf("delete = %v, %v", ok, err)
	}
	if ok, _ := s.DVDVCacheDelete(ctx, "service", neg.Key); ok {
		t.Fatal("deleted twice")
	}
	if _, err := s.DVDVCacheGet(ctx, "service", neg.Key); !errors.Is(err, routing.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if n, err := s.DVDVCachePurge(ctx, "verify"); n != 1 || err != nil {
		t.Fatalf("purge verify = %d, %v", n, err)
	}
	if n, _ := s.DVDVCachePurge(ctx, ""); n != 1 {
		t.Fatalf("purge all = %d", n)
	}
}
