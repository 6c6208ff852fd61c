package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"gopkg.in/yaml.v3"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/internal/loadgen"
	"github.com/dxhub/dxhub/internal/pgserver"
)

// multiTenantYAML is the embedded default configuration with the given
// tenants (AGS) instead of its one: each tenant's reader (ags:<AGS>) fetches
// universeller-antrag from the built-in XTA mailbox, and the demo portal may
// submit for all of them. The cluster test and `dxhub bench --cluster` use
// it to spread the load over several recipients.
func multiTenantYAML(tenants []string) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(config.DefaultYAML(), &doc); err != nil {
		return nil, fmt.Errorf("embedded default: %w", err)
	}
	if err := setBenchTenants(doc, tenants); err != nil {
		return nil, err
	}
	return yaml.Marshal(doc)
}

// setBenchTenants replaces the tenants of a configuration document (the
// embedded default) with the given AGS: each tenant's reader (ags:<AGS>)
// fetches universeller-antrag from the built-in XTA mailbox, and every portal
// may submit for all of them.
func setBenchTenants(doc map[string]any, tenants []string) error {
	var ts, eps []any
	var uri string
	for _, s := range doc["services"].([]any) {
		if m := s.(map[string]any); m["id"] == "universeller-antrag" {
			uri, _ = m["serviceURI"].(string)
		}
	}
	if uri == "" {
		return fmt.Errorf("embedded default has no universeller-antrag service")
	}
	allowed := make([]any, len(tenants))
	for i, ags := range tenants {
		ts = append(ts, map[string]any{"ags": ags, "name": "Kommune " + ags, "dvdvKey": "ags:" + ags})
		eps = append(eps, map[string]any{"readerKey": "ags:" + ags, "serviceURI": uri, "transport": "xta-mailbox"})
		allowed[i] = ags
	}
	doc["tenants"], doc["endpoints"] = ts, eps
	for _, p := range doc["portals"].([]any) {
		p.(map[string]any)["tenants"] = allowed
	}
	return nil
}

// clusterBench is `dxhub bench --cluster 1,2,3`: for each process count N a
// fresh database on one PostgreSQL (durable: fsync on), a fresh kfake broker
// over TCP in this process, and N `dxhub serve` processes sharing both (and
// one data directory), with Kafka work distribution on; the 10 KB JSON
// scenario runs against all N (portals and Fachverfahren spread over them,
// submissions spread over several recipients).
type clusterBench struct {
	counts     []int
	scale      float64
	recipients int
	partitions int
	fv         int
	stderr     io.Writer
}

// clusterPoint is one measured process count.
type clusterPoint struct {
	Processes int
	loadgen.Result
	BenchCPU time.Duration // this process: load generator, Fachverfahren, kfake broker
	// LoadAvg is the machine's 1-minute load average when the run ended
	// (above the number of cores: other jobs competed for them).
	LoadAvg float64
}

// benchRecipients are AGS of Nordrhein-Westfalen municipalities used as
// recipients (tenants) of the cluster bench.
var benchRecipients = []string{"05315000", "05314000", "05111000", "05334002", "05913000", "05113000", "05112000",
	"05114000", "05116000", "05117000", "05119000", "05120000"}

func parseCounts(v string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 16 {
			return nil, usagef("--cluster: %q is not a process count between 1 and 16", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func (cb clusterBench) run(ctx context.Context, sample map[string]any) ([]clusterPoint, error) {
	fmt.Fprintln(cb.stderr, "bench: starting PostgreSQL (durable: fsync on)…")
	pg, err := pgserver.Start(ctx, pgserver.Options{Durable: true})
	if err != nil {
		return nil, err
	}
	defer pg.Stop()
	pgPID, err := pg.PID()
	if err != nil {
		return nil, fmt.Errorf("postmaster pid: %w", err)
	}
	var out []clusterPoint
	for _, n := range cb.counts {
		count := max(int(2000*cb.scale), 1)
		fmt.Fprintf(cb.stderr, "bench: cluster of %d: %d submissions of 10 KB JSON, 32 clients, %d recipients…\n", n, count, cb.recipients)
		p, err := cb.point(ctx, pg, pgPID, n, count, sample)
		if err != nil {
			return out, fmt.Errorf("cluster of %d: %w", n, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func (cb clusterBench) point(ctx context.Context, pg *pgserver.Server, pgPID, n, count int, sample map[string]any) (clusterPoint, error) {
	dsn, err := pg.CreateDatabase(ctx, fmt.Sprintf("bench_%d_%d", n, time.Now().UnixNano()))
	if err != nil {
		return clusterPoint{}, err
	}
	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "dxhub.status"),
		kfake.SeedTopics(int32(cb.partitions), "dxhub.work"))
	if err != nil {
		return clusterPoint{}, fmt.Errorf("kfake: %w", err)
	}
	defer broker.Close()
	dir, err := os.MkdirTemp("", "dxhub-bench-cluster-")
	if err != nil {
		return clusterPoint{}, err
	}
	defer os.RemoveAll(dir)
	apiKey, secret := randomHex(16), randomHex(32)
	tracker := loadgen.NewTracker(secret)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return clusterPoint{}, err
	}
	hook := &http.Server{Handler: tracker, ReadHeaderTimeout: 10 * time.Second}
	go hook.Serve(ln)
	defer hook.Close()
	tenants := benchRecipients[:cb.recipients]
	cfgFile := filepath.Join(dir, "dxhub.yaml")
	if err := writeClusterBenchConfig(cfgFile, tenants, apiKey, "http://"+ln.Addr().String()+"/events", secret, dsn,
		broker.ListenAddrs()); err != nil {
		return clusterPoint{}, err
	}
	exe, err := benchExecutable()
	if err != nil {
		return clusterPoint{}, err
	}
	var hubs []*benchChild
	defer func() {
		for _, h := range hubs {
			h.stop()
		}
	}()
	var probes loadgen.Probes
	var bases []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return clusterPoint{}, err
		}
		addr := l.Addr().String()
		l.Close()
		h := &benchChild{}
		// One after the other: the first one migrates the database.
		if err := h.spawn(ctx, exe, cfgFile, filepath.Join(dir, "data"), addr, cb.stderr); err != nil {
			h.stop()
			return clusterPoint{}, err
		}
		hubs = append(hubs, h)
		probes = append(probes, loadgen.ProcProbe{PID: h.cmd.Process.Pid})
		bases = append(bases, h.base)
	}
	var rcpt []loadgen.Recipient
	for _, ags := range tenants {
		rcpt = append(rcpt, loadgen.Recipient{Tenant: ags, ReaderKey: "ags:" + ags})
	}
	self := loadgen.ProcProbe{PID: os.Getpid()}
	b0, _, err := self.Sample()
	if err != nil {
		return clusterPoint{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	res, err := loadgen.Run(rctx, loadgen.Options{
		BaseURL: bases[0], BaseURLs: bases, APIKey: apiKey, Submission: sample, Recipients: rcpt,
		Count: count, Concurrency: 32, PadJSON: 10_000, Fachverfahren: cb.fv, Final: "acknowledged", Events: tracker,
		Probe: probes, DBProbe: loadgen.TreeProbe{PID: pgPID},
		Logger: slog.New(slog.NewTextHandler(cb.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return clusterPoint{}, err
	}
	b1, _, err := self.Sample()
	if err != nil {
		return clusterPoint{}, err
	}
	return clusterPoint{Processes: n, Result: res, BenchCPU: b1 - b0, LoadAvg: loadAvg()}, nil
}

// loadAvg returns the 1-minute load average (0 if unknown).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// writeClusterBenchConfig writes the configuration of the cluster bench's
// hubs: the tenants, one portal with the bench's key and webhook, the
// PostgreSQL store and Kafka with work distribution.
func writeClusterBenchConfig(path string, tenants []string, apiKey, hookURL, secret, dsn string, brokers []string) error {
	y, err := multiTenantYAML(tenants)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(y, &doc); err != nil {
		return err
	}
	allowed := make([]any, len(tenants))
	for i, t := range tenants {
		allowed[i] = t
	}
	doc["portals"] = []any{map[string]any{
		"id": "bench-portal", "name": "dxhub bench", "apiKey": apiKey, "tenants": allowed,
		"webhook": map[string]any{"url": hookURL, "secret": secret},
	}}
	doc["store"] = map[string]any{"driver": "postgres", "dsn": dsn, "maxConns": 16}
	bs := make([]any, len(brokers))
	for i, b := range brokers {
		bs[i] = b
	}
	doc["kafka"] = map[string]any{
		"brokers": bs, "statusTopic": "dxhub.status",
		"writer": map[string]any{"batchTimeout": "5ms", "acks": "all"},
		"work":   map[string]any{"enabled": true, "topic": "dxhub.work", "group": "dxhub-work", "sessionTimeout": "10s", "heartbeatInterval": "1s"},
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// clusterTable renders the cluster curve.
func clusterTable(ps []clusterPoint) string {
	var b strings.Builder
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
	}
	fmt.Fprintln(&b, "| processes | submissions | full path /s | intake /s | intake p50 / p95 / p99 ms | end to end p50 / p95 / p99 ms | "+
		"CPU per submission: hubs / PostgreSQL / bench+kfake | cores busy: hubs / PostgreSQL / bench+kfake | peak RSS per hub | load average |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|---|")
	for _, p := range ps {
		wall := p.Duration.Seconds()
		busy := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds()/wall, 'f', 2, 64) }
		benchPer := time.Duration(0)
		if p.Completed > 0 {
			benchPer = p.BenchCPU / time.Duration(p.Completed)
		}
		fmt.Fprintf(&b, "| %d | %d | %.0f | %.0f | %s / %s / %s | %s / %s / %s | %s / %s / %s ms | %s / %s / %s | %.0f MiB | %.1f |\n",
			p.Processes, p.Completed, p.Throughput, p.IntakeRate,
			ms(p.Intake.P50), ms(p.Intake.P95), ms(p.Intake.P99), ms(p.EndToEnd.P50), ms(p.EndToEnd.P95), ms(p.EndToEnd.P99),
			ms(p.CPUPerSub), ms(p.DBCPUPerSub), ms(benchPer), busy(p.HubCPU), busy(p.DBCPU), busy(p.BenchCPU),
			float64(p.PeakRSS)/(1<<20), p.LoadAvg)
	}
	return b.String()
}

const clusterHeading = "## Cluster curve"

// clusterSection is the BENCHMARKS.md section of a cluster run.
func clusterSection(table string, argv []string, recipients, partitions, fv int) string {
	var b strings.Builder
	fmt.Fprintln(&b, clusterHeading)
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "Measured %s with `%s` (via `make bench-cluster`) on the machine above (%d cores visible to Go).\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), strings.Join(argv, " "), runtime.NumCPU())
	fmt.Fprintf(&b, "Per process count N: a fresh database on one PostgreSQL (Debian's, started by the bench, **fsync on**), a fresh\n"+
		"kfake broker over TCP inside the bench process (work topic with %d partitions, status topic), N `dxhub serve`\n"+
		"processes sharing both and one data directory, Kafka work distribution on (`kafka.work.enabled`). 32 portal clients\n"+
		"post 10 KB JSON submissions round-robin to the N processes, spread over %d recipients; %d Fachverfahren client(s)\n"+
		"per recipient poll the processes round-robin and answer each message with a 1120. Everything runs on this one\n"+
		"machine, so the processes compete for the same cores: \"cores busy\" is CPU time divided by the run's wall time\n"+
		"(hubs summed; PostgreSQL = postmaster and backends; bench+kfake = the load generator, the Fachverfahren and the\n"+
		"broker). \"Load average\" is the machine's 1-minute load average when the run ended: above the number of cores,\n"+
		"other jobs competed for them and throughput and latency are not representative (CPU per submission is the\n"+
		"steadier figure).\n\n", partitions, recipients, fv)
	fmt.Fprint(&b, table)
	return b.String()
}

// replaceSection puts section (starting with its "## " heading) into doc in
// place of the section with the same heading, or appends it.
func replaceSection(doc, heading, section string) string {
	i := strings.Index(doc, heading+"\n")
	if i < 0 {
		return strings.TrimRight(doc, "\n") + "\n\n" + section
	}
	rest := doc[i+len(heading):]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		return doc[:i] + section + "\n" + rest[j+1:]
	}
	return doc[:i] + section
}

func cmdBenchCluster(ctx context.Context, counts, hubURL string, scale float64, recipients, partitions, fv int, out string,
	asJSON bool, args []string, stdout, stderr io.Writer) error {
	if hubURL != "" {
		return usagef("--cluster starts its own hubs; it does not take --hub")
	}
	ns, err := parseCounts(counts)
	if err != nil {
		return err
	}
	if recipients < 1 || recipients > len(benchRecipients) {
		return usagef("--recipients must be between 1 and %d", len(benchRecipients))
	}
	if partitions < 1 || partitions > 1000 {
		return usagef("--partitions must be between 1 and 1000")
	}
	if fv < 1 {
		return usagef("--fachverfahren must be positive")
	}
	sample, err := benchSample()
	if err != nil {
		return err
	}
	// Several hub processes and the bench write to stderr concurrently.
	cb := clusterBench{counts: ns, scale: scale, recipients: recipients, partitions: partitions, fv: fv,
		stderr: &syncWriter{w: stderr}}
	points, err := cb.run(ctx, sample)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(points)
	}
	table := clusterTable(points)
	fmt.Fprint(stdout, table)
	if out != "" {
		section := clusterSection(table, append([]string{"dxhub", "bench"}, args...), recipients, partitions, fv)
		doc := "# dxhub benchmarks\n"
		if old, err := os.ReadFile(out); err == nil {
			doc = string(old)
		}
		if err := os.WriteFile(out, []byte(replaceSection(doc, clusterHeading, section)), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "bench: cluster curve written to", out)
	}
	return nil
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
