package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/internal/loadgen"
	"github.com/dxhub/dxhub/internal/standards"
)

// benchScenario is one measured run of `dxhub bench`.
type benchScenario struct {
	Name        string
	Attachment  int64
	PadJSON     int
	Count       int
	Concurrency int
	HalfRate    bool // paced at half the full-path throughput of the closed-loop run before it
	// IntakeOnly runs the hub as an intake-only process (workers.count 0):
	// it measures durable intake (202 after the group commit) without the
	// pipeline competing for the cores.
	IntakeOnly bool
	// Recipients > 1 spreads the submissions over that many tenants (the
	// first of benchRecipients), each with its own Fachverfahren clients,
	// as a hub serving several municipalities sees them.
	Recipients int
	OSCI       bool // delivered over OSCI 1.2 through an intermediary (bench_osci.go)
}

// defaultScenarios are the payload sizes issue 8 asks for: a 10 KB JSON
// submission, and submissions with a 1 MB and a 100 MB attachment; then the
// 10 KB submission delivered over OSCI 1.2 with both crypto levels.
func defaultScenarios(scale float64) []benchScenario {
	n := func(v int) int { return max(int(float64(v)*scale), 1) }
	return []benchScenario{
		{Name: "10 KB JSON, durable intake only", PadJSON: 10_000, Count: n(8000), Concurrency: 64, IntakeOnly: true},
		{Name: "10 KB JSON", PadJSON: 10_000, Count: n(4000), Concurrency: 32},
		{Name: "10 KB JSON, 12 recipients", PadJSON: 10_000, Count: n(4000), Concurrency: 32, Recipients: 12},
		{Name: "10 KB JSON at 50 % of max", PadJSON: 10_000, Count: n(2000), Concurrency: 32, HalfRate: true},
		{Name: "1 MB attachment", Attachment: 1_000_000, Count: n(300), Concurrency: 8},
		{Name: "100 MB attachment", Attachment: 100_000_000, Count: n(3), Concurrency: 1},
		{Name: osciScenarioName, PadJSON: 10_000, Count: n(1000), Concurrency: 16, OSCI: true},
	}
}

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	hubURL := fs.String("hub", "", "drive this running hub (default: start a fresh `dxhub serve` per scenario, embedded default)")
	apiKey := fs.String("api-key", "", "portal API key for --hub")
	pid := fs.Int("pid", 0, "with --hub: the hub's process ID on this machine, to measure its CPU and memory")
	only := fs.String("scenarios", "", "comma-separated scenario names to run (\"intake\", \"10KB\", \"10KB-12\", \"half\", \"1MB\", \"100MB\", \"OSCI\"); default all")
	scale := fs.Float64("scale", 1, "multiply every scenario's submission count (0.1 for a quick look)")
	fachverfahren := fs.Int("fachverfahren", 2, "parallel Fachverfahren mailbox clients")
	out := fs.String("out", "", "write the results with the machine description as Markdown to this file (e.g. BENCHMARKS.md)")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	cluster := fs.String("cluster", "", "measure a cluster curve instead (bench_cluster.go): process counts, e.g. 1,2,3")
	recipients := fs.Int("recipients", 12, "with --cluster: recipients (tenants) the submissions are spread over")
	partitions := fs.Int("partitions", 24, "with --cluster: partitions of the work topic")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the bench process itself (load generator, Fachverfahren, OSCI intermediary) to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *cluster != "" {
		return cmdBenchCluster(ctx, *cluster, *hubURL, *scale, *recipients, *partitions, *fachverfahren, *out, *asJSON, args, stdout, stderr)
	}
	if *hubURL != "" && *apiKey == "" {
		return usagef("--hub needs --api-key")
	}
	sample, err := benchSample()
	if err != nil {
		return err
	}
	var results []benchResult
	var lastMax float64
	for _, sc := range defaultScenarios(*scale) {
		if !benchSelected(*only, sc) {
			continue
		}
		if (sc.OSCI || sc.IntakeOnly || sc.Recipients > 1) && *hubURL != "" {
			fmt.Fprintf(stderr, "bench: %s: skipped with --hub (the scenario configures its own hub)\n", sc.Name)
			continue
		}
		rate := 0.0
		if sc.HalfRate {
			if lastMax == 0 {
				continue // needs the closed-loop 10 KB run before it
			}
			rate = lastMax / 2
		}
		fmt.Fprintf(stderr, "bench: %s: %d submissions, %d clients…\n", sc.Name, sc.Count, sc.Concurrency)
		res, err := runScenario(ctx, sc, rate, *hubURL, *apiKey, *pid, *fachverfahren, sample, stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
		if !sc.HalfRate && !sc.IntakeOnly && sc.Recipients <= 1 && sc.Attachment == 0 && !sc.OSCI {
			lastMax = res.Throughput
		}
		results = append(results, benchResult{Scenario: sc.Name, Result: res})
	}
	if len(results) == 0 {
		return usagef("no scenario matches --scenarios %q", *only)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	table := benchTable(results)
	fmt.Fprint(stdout, table)
	if *out != "" {
		doc := benchDocument(results, table, append([]string{"dxhub", "bench"}, args...))
		// Keep the cluster curve of `dxhub bench --cluster` in the file.
		if old, err := os.ReadFile(*out); err == nil {
			if i := strings.Index(string(old), clusterHeading+"\n"); i >= 0 {
				doc = replaceSection(doc, clusterHeading, string(old[i:]))
			}
		}
		if err := os.WriteFile(*out, []byte(doc), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "bench: results written to", *out)
	}
	return nil
}

type benchResult struct {
	Scenario string
	loadgen.Result
}

func benchSelected(only string, sc benchScenario) bool {
	if only == "" {
		return true
	}
	key := "10KB"
	switch {
	case sc.IntakeOnly:
		key = "intake"
	case sc.Recipients > 1:
		key = "10KB-" + strconv.Itoa(sc.Recipients)
	case sc.OSCI:
		key = "OSCI"
	case sc.HalfRate:
		key = "half"
	case sc.Attachment >= 100_000_000:
		key = "100MB"
	case sc.Attachment > 0:
		key = "1MB"
	}
	for _, s := range strings.Split(only, ",") {
		if strings.EqualFold(strings.TrimSpace(s), key) {
			return true
		}
	}
	return false
}

// benchSample is the submission posted: the repository's sample
// universeller-antrag, or a built-in equivalent when run elsewhere.
func benchSample() (map[string]any, error) {
	const sample = `{
	  "tenant": "05315000", "service": "universeller-antrag",
	  "applicant": {"mailbox": "bundid-erika-mustermann", "name": "Erika Mustermann",
	    "address": {"street": "Heidestraße", "houseNumber": "17", "postalCode": "51147", "city": "Köln", "country": "DE"},
	    "email": "erika.mustermann@example.org"},
	  "form": {
	    "applicant": {"firstName": "Erika", "lastName": "Mustermann", "salutation": "Frau"},
	    "grundstuecke": [{"anschrift": {"strasse": "Heidestraße", "hausnummer": "17", "postleitzahl": "51147", "ort": "Köln"},
	      "bundesland": "05", "flurstuecke": [{"gemarkung": "053102", "flur": "7", "zaehler": "123", "nenner": "4"}]}]
	  }
	}`
	var sub map[string]any
	if err := json.Unmarshal([]byte(sample), &sub); err != nil {
		return nil, fmt.Errorf("bench: sample submission: %w", err)
	}
	return sub, nil
}

// runScenario measures one scenario, on a fresh hub unless hubURL is given.
func runScenario(ctx context.Context, sc benchScenario, rate float64, hubURL, apiKey string, pid, fv int,
	sample map[string]any, stderr io.Writer) (loadgen.Result, error) {
	if sc.OSCI {
		return runOSCIScenario(ctx, sc, fv, sample, stderr)
	}
	o := loadgen.Options{
		BaseURL: hubURL, APIKey: apiKey, Submission: sample, ReaderKey: "ags:05315000",
		Count: sc.Count, Concurrency: sc.Concurrency, Rate: rate, Attachment: sc.Attachment, PadJSON: sc.PadJSON,
		Fachverfahren: fv, Final: "acknowledged", IntakeOnly: sc.IntakeOnly,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if pid > 0 {
		o.Probe = loadgen.ProcProbe{PID: pid}
	}
	if hubURL == "" {
		var tweaks []func(map[string]any) error
		if sc.IntakeOnly {
			tweaks = append(tweaks, func(doc map[string]any) error {
				doc["workers"] = map[string]any{"count": 0}
				return nil
			})
		}
		if sc.Recipients > 1 {
			tenants := benchRecipients[:sc.Recipients]
			tweaks = append(tweaks, func(doc map[string]any) error { return setBenchTenants(doc, tenants) })
			for _, ags := range tenants {
				o.Recipients = append(o.Recipients, loadgen.Recipient{Tenant: ags, ReaderKey: "ags:" + ags})
			}
		}
		child, err := startBenchHub(ctx, stderr, tweaks...)
		if err != nil {
			return loadgen.Result{}, err
		}
		defer child.stop()
		o.BaseURL, o.APIKey, o.Events = child.base, child.apiKey, child.tracker
		o.Probe = loadgen.ProcProbe{PID: child.cmd.Process.Pid}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	return loadgen.Run(ctx, o)
}

// benchChild is a `dxhub serve` child process on a temporary data directory,
// with a portal whose webhook is the bench's event tracker.
type benchChild struct {
	cmd     *exec.Cmd
	base    string
	apiKey  string
	tracker *loadgen.Tracker
	hook    *http.Server
	dir     string
	done    chan struct{}
}

// benchExecutable is the dxhub binary started as the measured hub (tests
// point it at the binary they built).
var benchExecutable = os.Executable

// tweaks adjust the configuration document before it is written.
func startBenchHub(ctx context.Context, stderr io.Writer, tweaks ...func(doc map[string]any) error) (*benchChild, error) {
	exe, err := benchExecutable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dxhub-bench-hub-")
	if err != nil {
		return nil, err
	}
	h := &benchChild{dir: dir, apiKey: randomHex(16), done: make(chan struct{})}
	secret := randomHex(32)
	h.tracker = loadgen.NewTracker(secret)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	h.hook = &http.Server{Handler: h.tracker, ReadHeaderTimeout: 10 * time.Second}
	go h.hook.Serve(ln)
	cfgFile := filepath.Join(dir, "dxhub.yaml")
	if err := writeBenchConfig(cfgFile, h.apiKey, "http://"+ln.Addr().String()+"/events", secret, tweaks...); err != nil {
		h.stop()
		return nil, err
	}
	hubLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.stop()
		return nil, err
	}
	addr := hubLn.Addr().String()
	hubLn.Close()
	if err := h.spawn(ctx, exe, cfgFile, filepath.Join(dir, "data"), addr, stderr); err != nil {
		h.stop()
		return nil, err
	}
	return h, nil
}

// spawn starts `dxhub serve` and waits for its ready line.
func (h *benchChild) spawn(ctx context.Context, exe, cfgFile, dataDir, addr string, stderr io.Writer, env ...string) error {
	h.done = make(chan struct{})
	h.cmd = exec.Command(exe, "serve", "--config", cfgFile, "--data", dataDir, "--listen", addr)
	h.cmd.Env = append(os.Environ(), "DXHUB_HUB_LOGLEVEL=warn")
	if os.Getenv("DXHUB_STANDARDS_DIR") == "" {
		if std, err := standards.Locate(""); err == nil {
			h.cmd.Env = append(h.cmd.Env, "DXHUB_STANDARDS_DIR="+std)
		}
	}
	h.cmd.Env = append(h.cmd.Env, env...)
	h.cmd.Stderr = stderr
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := h.cmd.Start(); err != nil {
		h.cmd = nil
		return err
	}
	go func() { h.cmd.Wait(); close(h.done) }()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "dxhub ready on "); ok {
				ready <- v
			}
		}
	}()
	timeout := time.NewTimer(2 * time.Minute)
	defer timeout.Stop()
	select {
	case h.base = <-ready:
		return nil
	case <-h.done:
		return errors.New("the hub exited before it was ready (its log is above)")
	case <-timeout.C:
		return errors.New("the hub was not ready after 2 minutes")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *benchChild) stop() {
	if h.cmd != nil && h.cmd.Process != nil {
		h.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.done:
		case <-time.After(30 * time.Second):
			h.cmd.Process.Kill()
			<-h.done
		}
	}
	if h.hook != nil {
		h.hook.Close()
	}
	os.RemoveAll(h.dir)
}

// writeBenchConfig writes the embedded default configuration with the demo
// portal replaced by one with a random key and the bench's webhook.
func writeBenchConfig(path, apiKey, hookURL, secret string, tweaks ...func(doc map[string]any) error) error {
	var doc map[string]any
	if err := yaml.Unmarshal(config.DefaultYAML(), &doc); err != nil {
		return fmt.Errorf("bench: embedded default: %w", err)
	}
	doc["portals"] = []any{map[string]any{
		"id": "bench-portal", "name": "dxhub bench", "apiKey": apiKey, "tenants": []any{"05315000"},
		"webhook": map[string]any{"url": hookURL, "secret": secret},
	}}
	for _, t := range tweaks {
		if err := t(doc); err != nil {
			return err
		}
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func benchTable(rs []benchResult) string {
	var b strings.Builder
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
	}
	fmt.Fprintln(&b, "| scenario | submissions | clients | full path /s | intake /s | intake p50 / p95 / p99 ms | end to end p50 / p95 / p99 ms | hub CPU per submission | hub peak RSS |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		name := r.Scenario
		if r.Rate > 0 {
			name += fmt.Sprintf(" (paced at %.0f/s)", r.Rate)
		}
		cpu, rss := "–", "–"
		if r.HubCPU > 0 {
			cpu = fmt.Sprintf("%s ms", ms(r.CPUPerSub))
			rss = fmt.Sprintf("%.0f MiB", float64(r.PeakRSS)/(1<<20))
		}
		rate := func(v float64) string {
			if v < 10 {
				return strconv.FormatFloat(v, 'f', 2, 64)
			}
			return strconv.FormatFloat(v, 'f', 0, 64)
		}
		full, e2e := rate(r.Throughput), ms(r.EndToEnd.P50)+" / "+ms(r.EndToEnd.P95)+" / "+ms(r.EndToEnd.P99)
		if r.IntakeOnly {
			full, e2e = "–", "–"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s / %s / %s | %s | %s | %s |\n",
			name, r.Completed, r.Concurrency, full, rate(r.IntakeRate),
			ms(r.Intake.P50), ms(r.Intake.P95), ms(r.Intake.P99), e2e, cpu, rss)
	}
	osciNote(&b, rs)
	return b.String()
}

func benchDocument(rs []benchResult, table string, argv []string) string {
	var b strings.Builder
	fmt.Fprintln(&b, "# dxhub benchmarks")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "Measured %s with `%s` (via `make bench`).\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), strings.Join(argv, " "))
	fmt.Fprintln(&b, "## Machine")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "- CPU: %s, %d cores visible to Go\n", cpuModel(), runtime.NumCPU())
	fmt.Fprintf(&b, "- Memory: %s\n", memTotal())
	fmt.Fprintf(&b, "- OS: %s/%s, kernel %s; %s\n", runtime.GOOS, runtime.GOARCH, kernel(), runtime.Version())
	fmt.Fprintln(&b, "- Hub: the embedded default (SQLite with synchronous=FULL and group commit, built-in XTA mailbox), a fresh")
	fmt.Fprintln(&b, "  `dxhub serve` process per scenario; load generator and Fachverfahren clients run on the same machine.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "## Full path")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Each submission: HTTP intake (mapping to XBau Kernmodul 1200 + in-process XSD validation, committed, 202) →")
	fmt.Fprintln(&b, "routing → built-in XTA mailbox → a Fachverfahren client lists, fetches and closes it over XTA 2 and answers")
	fmt.Fprintln(&b, "with a 1120 Eingangsbestätigung (sendMessage) → the hub turns it into the status `acknowledged` → the portal's")
	fmt.Fprintln(&b, "webhook receives the signed event. End-to-end latency runs from the POST to that webhook call; CPU is the")
	fmt.Fprintln(&b, "hub process's user + system time divided by the submissions; peak RSS is the hub's VmHWM.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "The \"durable intake only\" row runs the hub as an intake-only process (`workers.count: 0`): 64 portal")
	fmt.Fprintln(&b, "clients post until every POST was answered; a 202 comes after the group commit (synchronous=FULL), so it")
	fmt.Fprintln(&b, "measures durable intake without the pipeline competing for the cores. The other 10 KB rows go to one")
	fmt.Fprintln(&b, "recipient (Köln) with 2 Fachverfahren clients, except \"12 recipients\": the same load spread over 12")
	fmt.Fprintln(&b, "tenants, each with its own reader and 2 Fachverfahren clients, as a hub serving several municipalities")
	fmt.Fprintln(&b, "sees it.")
	fmt.Fprintln(&b)
	osciParagraph(&b, rs)
	fmt.Fprint(&b, table)
	return b.String()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown"
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
				return fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	return "unknown"
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
