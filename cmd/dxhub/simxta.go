package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dxhub/dxhub/internal/standards"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

// simXTAServer runs a fake REMOTE XTA 2 server (xtatest: an XTA server over
// an in-memory mailbox) for testing dxhub as XTA client, with fault
// injection: `dxhub sim xta-server -fault sendMessage=timeout -fault
// sendMessage=soap:9030`. Faults are consumed in order, one per request of
// that operation. It runs until ctx is cancelled.
func simXTAServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim xta-server", stderr)
	listen := fs.String("listen", "127.0.0.1:8090", "listen address (host:port)")
	accounts := fs.String("accounts", "kop:0500000001,ags:05315000", "organisation keys with an account (comma-separated)")
	mtom := fs.Bool("mtom", false, "answer getMessage/sendMessageSync always with MTOM/XOP (else: mirror the request)")
	identity := fs.String("identity", "xtatest", "XTAServerIdentity and sender part of issued message IDs")
	openReports := fs.Int("open-reports", 0, "transport reports stay open (status 0) for this many polls")
	stdFlag := fs.String("standards", envOr("DXHUB_STANDARDS_DIR", ""), "standards directory (with xta2-v3/); empty: auto-detect")
	var faults faultFlags
	fs.Var(&faults, "fault", "inject a fault: OPERATION=refuse|unavailable[:SECONDS]|timeout|soap:CODE|corrupt (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %v", fs.Args())
	}
	stdDir, err := standards.Locate(*stdFlag)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	var keys []string
	for _, k := range strings.Split(*accounts, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	b := xtatest.NewMemoryBackend(keys...)
	b.OpenReports, b.Identity = *openReports, *identity
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := xta.NewServer(b, xta.Config{WSDLDir: filepath.Join(stdDir, "xta2-v3"), BaseURL: base, MTOM: *mtom,
		ServerIdentity: *identity, Logger: log})
	if err != nil {
		ln.Close()
		return err
	}
	mux := http.NewServeMux()
	srv.Mount(mux)
	f := &xtatest.Faults{Next: mux}
	for _, fl := range faults {
		f.Inject(fl.action, fl.fault)
	}
	hs := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "fake XTA server at %s (WSDL %s%s?wsdl), accounts %s, %d fault(s) queued\n",
		base, base, xta.PathManagement, strings.Join(keys, ", "), len(faults))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		for _, r := range b.Received() {
			fmt.Fprintf(stdout, "received %s from %s for %s (%d attachment(s))\n", r.Meta.MessageID, r.Meta.AuthorKey, r.Meta.ReaderKey, len(r.Attachments))
		}
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

type faultFlag struct {
	action string
	fault  xtatest.Fault
}

type faultFlags []faultFlag

func (f *faultFlags) String() string { return fmt.Sprint(len(*f)) }

// Set parses OPERATION=KIND, e.g. sendMessage=soap:9030.
func (f *faultFlags) Set(v string) error {
	op, kind, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want OPERATION=KIND, got %q", v)
	}
	var action string
	for _, a := range []string{xta.ActionCheckAccountActive, xta.ActionLookupService, xta.ActionCreateMessageID, xta.ActionGetTransportReport,
		xta.ActionCancelMessage, xta.ActionSendMessage, xta.ActionSendMessageSync, xta.ActionGetStatusList, xta.ActionGetNextStatusList,
		xta.ActionGetMessage, xta.ActionGetNextMessage, xta.ActionClose} {
		if strings.EqualFold(xta.OpName(a), op) {
			action = a
		}
	}
	if action == "" {
		return fmt.Errorf("unknown operation %q (use the WSDL names, e.g. sendMessage)", op)
	}
	name, arg, _ := strings.Cut(kind, ":")
	var flt xtatest.Fault
	switch name {
	case "refuse":
		flt.Kind = xtatest.Refuse
	case "unavailable":
		flt.Kind, flt.RetryAfter = xtatest.Unavailable, 30
		if arg != "" {
			n, err := strconv.Atoi(arg)
			if err != nil || n < 0 {
				return fmt.Errorf("unavailable:%s: seconds must be a non-negative integer", arg)
			}
			flt.RetryAfter = n
		}
	case "timeout":
		flt.Kind = xtatest.TimeoutAfterReceipt
	case "soap":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 9000 || n > 9999 {
			return fmt.Errorf("soap:%s: want an XTA Fehlernummer 9000–9999", arg)
		}
		flt.Kind, flt.Code = xtatest.SOAPFault, n
	case "corrupt":
		flt.Kind = xtatest.Corrupt
	default:
		return fmt.Errorf("unknown fault %q (refuse, unavailable[:s], timeout, soap:CODE, corrupt)", kind)
	}
	*f = append(*f, faultFlag{action: action, fault: flt})
	return nil
}
