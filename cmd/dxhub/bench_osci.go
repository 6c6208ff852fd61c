package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/dxhub/dxhub/internal/loadgen"
	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/osci/oscitest"
)

// osciScenarioName is the OSCI scenario's row in the table.
const osciScenarioName = "10 KB JSON over OSCI (content + transport crypto)"

// osciBenchService is the service whose endpoint the OSCI scenario moves
// from the built-in XTA mailbox to OSCI.
const osciBenchService = "urn:xoev-de:xbau-kernmodul:universellerAntrag"

// osciBenchMailboxSchedule is how often the hub fetches its OSCI mailbox in
// the scenario (the production default is every 5 minutes; cron's finest
// step is a second), and osciBenchMailboxMax how many deliveries one run may
// fetch.
const (
	osciBenchMailboxSchedule = "@every 1s"
	osciBenchMailboxMax      = 2000
)

// runOSCIScenario measures the full path over OSCI 1.2: the bench runs an
// OSCI intermediary (osci/oscitest) on 127.0.0.1 and the simulated
// Fachverfahren (loadgen.OSCIFachverfahren) in its own process, with fresh
// test key pairs; the hub child is the embedded default with the
// universeller-antrag endpoint of Köln switched to transport osci through
// that intermediary (contents signed by the hub and encrypted for the
// Fachverfahren; every order signed by the sender and encrypted for the
// intermediary, every response signed by the intermediary and encrypted for
// the sender). The Fachverfahren answer with a 1120 stored in the hub's OSCI
// mailbox at the same intermediary; the hub's mailbox job fetches it and the
// back-channel makes it the status acknowledged, which completes the
// submission (as in the XTA scenarios). The bench process's CPU (intermediary,
// Fachverfahren, portals and webhook receiver) is reported as ReaderCPU.
func runOSCIScenario(ctx context.Context, sc benchScenario, fv int, sample map[string]any, stderr io.Writer) (loadgen.Result, error) {
	dir, err := os.MkdirTemp("", "dxhub-bench-osci-")
	if err != nil {
		return loadgen.Result{}, err
	}
	defer os.RemoveAll(dir)
	files, err := simOSCIKeys(filepath.Join(dir, "keys"), 24*time.Hour)
	if err != nil {
		return loadgen.Result{}, fmt.Errorf("osci test keys: %w", err)
	}
	inter, err := loadOSCIIdentity(files["intermediary"], xmlsec.UsageEncryption)
	if err != nil {
		return loadgen.Result{}, err
	}
	reader, err := loadOSCIIdentity(files["reader"], xmlsec.UsageEncryption)
	if err != nil {
		return loadgen.Result{}, err
	}
	hubSig, err := loadOSCIIdentity(files["hub-signature"], xmlsec.UsageSignature)
	if err != nil {
		return loadgen.Result{}, err
	}
	hubEnc, err := loadOSCIIdentity(files["hub-cipher"], xmlsec.UsageEncryption)
	if err != nil {
		return loadgen.Result{}, err
	}
	readerPEM, err := os.ReadFile(files["reader"].CertFile)
	if err != nil {
		return loadgen.Result{}, err
	}
	im, err := oscitest.Start(oscitest.Options{Identity: inter, DiscardExchanges: true})
	if err != nil {
		return loadgen.Result{}, fmt.Errorf("osci intermediary: %w", err)
	}
	defer im.Close()

	tweak := func(doc map[string]any) error {
		eps, _ := doc["endpoints"].([]any)
		found := false
		for _, e := range eps {
			m, ok := e.(map[string]any)
			if !ok || m["serviceURI"] != osciBenchService {
				continue
			}
			m["transport"] = "osci"
			m["url"] = "https://fachverfahren.koeln.example/osci"
			m["intermediary"] = im.URL
			m["encryptionCert"] = string(readerPEM)
			found = true
		}
		if !found {
			return errors.New("bench: the embedded default has no endpoint for " + osciBenchService)
		}
		pair := func(name string) map[string]any {
			return map[string]any{"certFile": files[name].CertFile, "keyFile": files[name].KeyFile}
		}
		doc["osci"] = map[string]any{
			"signing":    pair("hub-signature"),
			"decryption": pair("hub-cipher"),
			"intermediaries": []any{map[string]any{"url": im.URL,
				"cipherCertFile": files["intermediary"].CertFile, "signatureCertFile": files["intermediary"].CertFile}},
			"mailbox": map[string]any{"intermediary": im.URL, "schedule": osciBenchMailboxSchedule, "max": osciBenchMailboxMax},
		}
		return nil
	}
	child, err := startBenchHub(ctx, stderr, tweak)
	if err != nil {
		return loadgen.Result{}, err
	}
	defer child.stop()

	reading := &loadgen.OSCIFachverfahren{Intermediary: im.URL, IntermediaryCert: inter.Cert, Identity: reader,
		HubSigner: hubSig.Cert, HubCipher: hubEnc.Cert, ReaderKey: "ags:05315000",
		HTTP: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: fv + 4}}}
	o := loadgen.Options{
		BaseURL: child.base, APIKey: child.apiKey, Events: child.tracker, Submission: sample, ReaderKey: "ags:05315000",
		Count: sc.Count, Concurrency: sc.Concurrency, PadJSON: sc.PadJSON,
		Fachverfahren: fv, Reader: reading.Run, Final: "acknowledged",
		Probe:       loadgen.ProcProbe{PID: child.cmd.Process.Pid},
		ReaderProbe: loadgen.ProcProbe{PID: os.Getpid()},
		Logger:      slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	res, err := loadgen.Run(ctx, o)
	if err == nil && reading.Handled() < int64(res.Completed) {
		err = fmt.Errorf("the Fachverfahren answered %d deliveries for %d completed submissions", reading.Handled(), res.Completed)
	}
	return res, err
}

// osciNote adds, below the table, the CPU the bench process spent on the
// OSCI side (intermediary and Fachverfahren) of each OSCI row.
func osciNote(b io.Writer, rs []benchResult) {
	for _, r := range rs {
		if r.ReaderCPU > 0 {
			fmt.Fprintf(b, "\n%s: the bench process (OSCI intermediary, Fachverfahren, portals, webhook receiver) used %.1f ms CPU per submission.\n",
				r.Scenario, float64(r.ReaderCPUPerSub)/float64(time.Millisecond))
		}
	}
}

// osciParagraph explains the OSCI row in BENCHMARKS.md.
func osciParagraph(b io.Writer, rs []benchResult) {
	for _, r := range rs {
		if r.Scenario != osciScenarioName {
			continue
		}
		fmt.Fprint(b, `The OSCI row delivers the same 10 KB submission over OSCI-Transport 1.2 instead: the hub is configured
with transport osci for Köln's universeller-antrag through an OSCI test intermediary (osci/oscitest) that the
bench runs on 127.0.0.1 with fresh test key pairs. Both crypto levels are on: the content is signed by the hub
and encrypted for the Fachverfahren (RSA-OAEP, AES-GCM); every order (getMessageId, storeDelivery, fetchDelivery,
…) is signed by its sender and encrypted for the intermediary, every response signed by the intermediary and
encrypted for the sender. Simulated Fachverfahren fetch their deliveries, decrypt and verify them, and store a
signed and encrypted 1120 in the hub's OSCI mailbox; the hub's mailbox job (every second in the bench, every
5 minutes by default) fetches it, and the back-channel makes it the status `+"`acknowledged`"+`, which completes the
submission as in the XTA rows. End-to-end latency therefore includes up to a second of waiting for that job.

`)
		return
	}
}

// startCPUProfile profiles the bench process into file until stop.
func startCPUProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
