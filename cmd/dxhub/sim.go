package main

import (
	"context"
	"io"
	"strings"
)

func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("give a simulator: fachverfahren, xta-server or osci-intermediary")
	}
	switch args[0] {
	case "fachverfahren":
		return simFachverfahren(ctx, args[1:], stdout, stderr)
	case "xta-server":
		return simXTAServer(ctx, args[1:], stdout, stderr)
	case "osci-intermediary":
		return simOSCIIntermediary(ctx, args[1:], stdout, stderr)
	}
	return usagef("unknown simulator %q (known: fachverfahren, xta-server, osci-intermediary)", args[0])
}

// simFachverfahren is in simfv.go.

func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ':' || r == '\\' {
			return '_'
		}
		return r
	}, s)
}
