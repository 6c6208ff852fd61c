package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/internal/xmlsec/xmlsectest"
	"github.com/dxhub/dxhub/osci"
	"github.com/dxhub/dxhub/osci/oscitest"
)

// simOSCIIdentities are the key pairs `dxhub sim osci-intermediary` keeps in
// its data directory: the intermediary's own (cipher and signature), and
// demo identities for a hub and an addressee so that a hub can be pointed at
// the simulator without a PKI.
var simOSCIIdentities = []struct{ name, what string }{
	{"intermediary", "the intermediary (cipher and signature certificate)"},
	{"hub-signature", "the hub's signature identity (osci.signing)"},
	{"hub-cipher", "the hub's cipher identity (osci.decryption)"},
	{"reader", "an addressee (its certificate is the DVDV encryptionCert of an OSCI route)"},
}

// simOSCIIntermediary runs the oscitest OSCI 1.2 intermediary as a
// standalone server: `dxhub sim osci-intermediary -listen 127.0.0.1:8091
// -data ./osci-sim -fault storeDelivery=9809`. The key pairs live in -data
// (created on the first run, reused afterwards so a configured hub keeps
// working across restarts); deliveries are kept in memory and listed on exit.
// Faults are consumed in order, one per matching order. It runs until ctx is
// cancelled.
func simOSCIIntermediary(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim osci-intermediary", stderr)
	listen := fs.String("listen", "127.0.0.1:8091", "listen address (host:port)")
	data := fs.String("data", "osci-sim", "directory with the key pairs (created when missing)")
	validity := fs.Duration("validity", 365*24*time.Hour, "validity of newly created certificates")
	var faults osciFaultFlags
	fs.Var(&faults, "fault", "inject a fault: ORDER=9xxx|3xxx|unavailable[:SECONDS]|timeout|corrupt|slow:DURATION|stall|badsig|refuse (repeatable; ORDER e.g. storeDelivery, or any)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %v", fs.Args())
	}
	if *validity <= 0 {
		return usagef("-validity must be positive")
	}
	files, err := simOSCIKeys(*data, *validity)
	if err != nil {
		return err
	}
	inter, err := loadOSCIIdentity(files["intermediary"], xmlsec.UsageEncryption)
	if err != nil {
		return fmt.Errorf("intermediary identity in %s: %w", *data, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	im, err := oscitest.New(oscitest.Options{Identity: inter})
	if err != nil {
		return err
	}
	for _, f := range faults {
		im.Inject(f)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String() + "/osci"
	mux := http.NewServeMux()
	mux.Handle("/osci", im)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "OSCI test intermediary at %s, %d fault(s) queued\n", url, len(faults))
	for _, id := range simOSCIIdentities {
		fmt.Fprintf(stdout, "  %s: %s %s\n", id.what, files[id.name].CertFile, files[id.name].KeyFile)
	}
	fmt.Fprintf(stdout, `hub configuration:
  osci:
    signing:    {certFile: %s, keyFile: %s}
    decryption: {certFile: %s, keyFile: %s}
    intermediaries:
      - {url: %s, cipherCertFile: %s, signatureCertFile: %s}
    mailbox: {intermediary: %s}
`, files["hub-signature"].CertFile, files["hub-signature"].KeyFile, files["hub-cipher"].CertFile, files["hub-cipher"].KeyFile,
		url, files["intermediary"].CertFile, files["intermediary"].CertFile, url)
	log.Info("osci-intermediary listening", "url", url, "data", *data)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
		im.Release()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		for _, d := range im.Deliveries() {
			state := "waiting"
			if d.Card.Reception != nil {
				state = "fetched " + d.Card.Reception.Plain.UTC().Format(time.RFC3339)
			}
			to := ""
			if d.Addressee != nil {
				to = d.Addressee.Subject.CommonName
			}
			fmt.Fprintf(stdout, "delivery %s for %q: %q, %d attachment(s), %s\n", d.MessageID, to, d.Subject, len(d.Attachments), state)
		}
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// simOSCIKeys returns the key pair files in dir, creating the missing ones
// (self-signed RSA 2048 with signature and key-encipherment usage).
func simOSCIKeys(dir string, validity time.Duration) (map[string]config.OSCIKeyPair, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, err
	}
	out := map[string]config.OSCIKeyPair{}
	now := time.Now()
	for _, id := range simOSCIIdentities {
		p := config.OSCIKeyPair{CertFile: filepath.Join(abs, id.name+".crt"), KeyFile: filepath.Join(abs, id.name+".key")}
		out[id.name] = p
		_, cerr := os.Stat(p.CertFile)
		_, kerr := os.Stat(p.KeyFile)
		switch {
		case cerr == nil && kerr == nil:
			continue
		case cerr == nil || kerr == nil:
			return nil, fmt.Errorf("%s: only one of %s and %s exists; remove it to have a new pair created", dir, p.CertFile, p.KeyFile)
		case !errors.Is(cerr, os.ErrNotExist):
			return nil, cerr
		}
		gen := xmlsectest.MustNew("dxhub sim osci "+id.name, xmlsectest.Options{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validity)})
		if err := os.WriteFile(p.KeyFile, gen.KeyPEM, 0o600); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p.CertFile, gen.CertPEM, 0o644); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// osciFaultFlags are -fault values of sim osci-intermediary.
type osciFaultFlags []oscitest.Fault

func (f *osciFaultFlags) String() string { return fmt.Sprint(len(*f)) }

// Set parses ORDER=FAULT, e.g. storeDelivery=9809 or any=unavailable:60.
func (f *osciFaultFlags) Set(v string) error {
	order, kind, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want ORDER=FAULT, got %q", v)
	}
	var flt oscitest.Fault
	if !strings.EqualFold(order, "any") {
		for _, k := range []osci.Kind{osci.GetMessageID, osci.StoreDelivery, osci.FetchProcessCard, osci.FetchDelivery,
			osci.MediateDelivery, osci.InitDialog, osci.ExitDialog} {
			if strings.EqualFold(string(k), order) {
				flt.Kind = k
			}
		}
		if flt.Kind == "" {
			return fmt.Errorf("unknown order %q (getMessageId, storeDelivery, fetchProcessCard, fetchDelivery, mediateDelivery, initDialog, exitDialog, any)", order)
		}
	}
	name, arg, _ := strings.Cut(kind, ":")
	switch {
	case len(name) == 4 && (name[0] == '9' || name[0] == '3') && arg == "":
		if _, err := strconv.Atoi(name); err != nil {
			return fmt.Errorf("%s: a Feedback code is four digits", name)
		}
		flt.Code = name
	case name == "unavailable":
		flt.HTTPStatus, flt.RetryAfter = http.StatusServiceUnavailable, 30
		if arg != "" {
			n, err := strconv.Atoi(arg)
			if err != nil || n < 0 {
				return fmt.Errorf("unavailable:%s: seconds must be a non-negative integer", arg)
			}
			flt.RetryAfter = n
		}
	case name == "timeout":
		flt.TimeoutAfterReceipt = true
	case name == "corrupt":
		flt.Corrupt = true
	case name == "slow":
		d, err := time.ParseDuration(arg)
		if err != nil || d <= 0 {
			return fmt.Errorf("slow:%s: want a positive duration such as 5s", arg)
		}
		flt.Delay = d
	case name == "stall":
		flt.Stall = true
	case name == "badsig":
		flt.BreakSignature = true
	case name == "refuse":
		flt.Refuse = true
	default:
		return fmt.Errorf("unknown fault %q (9xxx, 3xxx, unavailable[:s], timeout, corrupt, slow:DURATION, stall, badsig, refuse)", kind)
	}
	if arg != "" && name != "unavailable" && name != "slow" {
		return fmt.Errorf("fault %q takes no argument", name)
	}
	*f = append(*f, flt)
	return nil
}
