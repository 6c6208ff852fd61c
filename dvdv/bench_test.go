package dvdv_test

import (
	"context"
	"testing"

	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/routing"
)

// BenchmarkResolveCached measures Resolve answered from a fresh cache entry.
func BenchmarkResolveCached(b *testing.B) {
	ctx := context.Background()
	clock := newClock()
	_, url := startServer(b, clock)
	r := newResolver(b, newClient(b, clock, url), clock, nil, nil)
	if _, err := r.Resolve(ctx, koeln, serviceURI); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Resolve(ctx, koeln, serviceURI); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveUncached measures a full DVDV lookup against dvdvtest over
// HTTP on 127.0.0.1 (token cached): findservicedescription, decoding, route
// mapping with certificate parsing.
func BenchmarkResolveUncached(b *testing.B) {
	ctx := context.Background()
	clock := newClock()
	_, url := startServer(b, clock)
	r := newResolver(b, newClient(b, clock, url), clock, nil, nil)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.InvalidateRoute(ctx, koeln, serviceURI); err != nil {
			b.Fatal(err)
		}
		rt, err := r.Resolve(ctx, koeln, serviceURI)
		if err != nil || rt.Transport != routing.TransportOSCI {
			b.Fatal(rt, err)
		}
	}
	if st := r.Stats(); st.Hits != 0 {
		b.Fatalf("uncached benchmark hit the cache: %+v", st)
	}
}

// BenchmarkFileDirectory is the embedded default's resolver, for comparison.
func BenchmarkFileDirectory(b *testing.B) {
	d, err := dvdv.NewFileDirectory("bench", []dvdv.Entry{{ReaderKey: koeln, ServiceURI: serviceURI, Transport: "xta-mailbox"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Resolve(ctx, koeln, serviceURI); err != nil {
			b.Fatal(err)
		}
	}
}
