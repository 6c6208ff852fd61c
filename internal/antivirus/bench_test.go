package antivirus_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/dxhub/dxhub/internal/antivirus"
	"github.com/dxhub/dxhub/internal/antivirus/clamdtest"
)

// BenchmarkScan streams 1 MiB through a real clamd (unix socket, the test
// signature database) per iteration.
func BenchmarkScan(b *testing.B) {
	srv := clamdtest.Start(b, 4<<20)
	c, err := antivirus.New(srv.Socket, antivirus.Options{MaxStreamBytes: 4 << 20})
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte("%PDF-1.7 Lageplan Flurstück 123/4 "), (1<<20)/34)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if res, err := c.Scan(context.Background(), bytes.NewReader(data)); err != nil || res.Infected {
			b.Fatal(res, err)
		}
	}
}
