package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/tracing"
)

// traceOutput is `dxhub trace --json`: the store's trace plus the trace ID
// of the submission and its kept spans.
type traceOutput struct {
	store.Trace
	TraceID string       `json:"traceId,omitempty"`
	Spans   []store.Span `json:"spans"`
}

// traceIDOf returns the trace ID in a W3C traceparent ("" if invalid).
func traceIDOf(traceParent string) string {
	if sc := tracing.ParseTraceParent(traceParent); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}

// spanKeyAttributes are shown in the text tree, in this order, when present.
var spanKeyAttributes = []string{
	"intake.transport", "dxhub.portal", "xoev.root", "xoev.nachrichten_uuid", "route.transport", "route.endpoint",
	"delivery.attempt", "delivery.transport", "delivery.endpoint", "delivery.outcome", "inbound.transport",
	"inbound.type_code", "inbound.status", "status.event", "status.value", "webhook.url", "http.response.status_code",
}

// printSpans writes the spans as a tree (children under their parent, in
// start order): name, start, duration, status and key attributes.
func printSpans(w io.Writer, traceID string, spans []store.Span, loc *time.Location) {
	if traceID == "" && len(spans) == 0 {
		return // not traced (tracing was off at intake)
	}
	if traceID != "" {
		fmt.Fprintf(w, "trace ID        %s\n", traceID)
	}
	if len(spans) == 0 {
		fmt.Fprintln(w, "spans           none kept (tracing.local off, sampled out, or not yet flushed)")
		return
	}
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanID] = true
	}
	children := map[string][]store.Span{}
	var roots []store.Span
	for _, s := range spans {
		if s.ParentSpanID != "" && ids[s.ParentSpanID] {
			children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
		} else {
			roots = append(roots, s)
		}
	}
	fmt.Fprintln(w, "spans")
	var walk func(s store.Span, prefix string, last bool, depth int)
	walk = func(s store.Span, prefix string, last bool, depth int) {
		branch, next := "├─ ", "│  "
		if last {
			branch, next = "└─ ", "   "
		}
		if depth == 0 {
			branch, next = "", ""
		}
		status := s.StatusCode
		if status == "" {
			status = "unset"
		}
		line := fmt.Sprintf("  %s%s%s  %s  %s  %s", prefix, branch, s.Name, s.Start.In(loc).Format("15:04:05.000"),
			s.End.Sub(s.Start).Round(time.Microsecond), status)
		if s.StatusMessage != "" {
			line += " (" + s.StatusMessage + ")"
		}
		var kv []string
		for _, k := range spanKeyAttributes {
			if v, ok := s.Attributes[k]; ok && v != "" {
				kv = append(kv, k+"="+v)
			}
		}
		if len(kv) > 0 {
			line += "  " + strings.Join(kv, " ")
		}
		if s.TraceID != traceID && traceID != "" {
			line += "  [trace " + s.TraceID + "]"
		}
		fmt.Fprintln(w, line)
		kids := children[s.SpanID]
		for i, c := range kids {
			walk(c, prefix+next, i == len(kids)-1, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, "", true, 0)
	}
}
