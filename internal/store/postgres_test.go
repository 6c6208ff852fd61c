package store

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestOpenPostgresErrors(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{"postgres://dxhub:geheim@db:notaport/dxhub", "host=db password=geheim port=x", "postgres://%zz:geheim@db/x"} {
		_, err := OpenPostgres(ctx, dsn, PostgresOptions{})
		if !errors.Is(err, ErrBadDSN) || strings.Contains(err.Error(), "geheim") {
			t.Errorf("OpenPostgres(%q) = %v; want ErrBadDSN without the password", dsn, err)
		}
	}
	// A port nobody listens on: the error names host and database, not the password.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = OpenPostgres(ctx, "postgres://dxhub:geheim@"+addr+"/hubdb?connect_timeout=5", PostgresOptions{})
	if err == nil || !strings.Contains(err.Error(), "hubdb") || strings.Contains(err.Error(), "geheim") {
		t.Fatalf("connect to closed port: %v", err)
	}
}
