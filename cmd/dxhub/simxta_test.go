package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/xta"
)

func TestSimXTAServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- simXTAServer(ctx, []string{"-listen", "127.0.0.1:0", "-standards", testenv.MustStandardsDir(t),
			"-accounts", "kop:1,ags:05315000", "-fault", "checkAccountActive=soap:9012"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	fields := strings.Fields(line)
	base := fields[4]
	c := &xta.Client{Endpoints: xta.EndpointsAt(base), Author: "kop:1"}
	var f *xta.Fault
	if err := c.CheckAccountActive(ctx); !errors.As(err, &f) || f.Code != 9012 {
		t.Errorf("injected fault: %v", err)
	}
	if err := c.CheckAccountActive(ctx); err != nil {
		t.Errorf("after the fault: %v", err)
	}
	var ff faultFlags
	for _, bad := range []string{"x", "nope=refuse", "sendMessage=soap:1", "sendMessage=unavailable:-1", "sendMessage=explode"} {
		if ff.Set(bad) == nil {
			t.Errorf("-fault %s accepted", bad)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("simXTAServer: %v", err)
	}
}
