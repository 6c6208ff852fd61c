// Package loadgen drives a running hub through its whole path and measures
// it: portals post submissions (intake), the hub maps, validates, routes and
// delivers them into the built-in XTA mailbox, simulated Fachverfahren fetch
// and close each message and answer with a 1120 Eingangsbestätigung over
// XTA, and the run waits until the portal has seen the resulting status
// event. It is the engine of `dxhub bench` (issue 8).
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dxhub/dxhub/internal/loop"
	"github.com/dxhub/dxhub/xoev"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

// Options describe one run.
type Options struct {
	BaseURL string // the hub, e.g. "http://127.0.0.1:8080"
	APIKey  string // the portal's API key
	// Submission is the JSON document posted (tenant, service, reference,
	// applicant, form); each request gets its own reference.
	Submission map[string]any
	// ReaderKey is the Fachverfahren's XTA identity ("ags:05315000").
	ReaderKey string
	// Recipients, if set, spread the submissions over several recipients:
	// submission n goes to tenant Recipients[n%len], and each recipient's
	// reader has its own Fachverfahren clients (ReaderKey is then unused).
	Recipients []Recipient
	// BaseURLs, if set, are several hub processes of one cluster: portals
	// post submission n to BaseURLs[n%len], Fachverfahren client i polls
	// BaseURLs[i%len]; status polls use BaseURL.
	BaseURLs []string
	// Count submissions are posted by Concurrency portal clients, closed loop
	// (each posts its next as soon as the last one was accepted) unless Rate
	// paces them (submissions per second over all clients).
	Count       int
	Concurrency int
	Rate        float64
	// Attachment is the size of one attachment per submission (0: none, the
	// JSON alone is posted). PadJSON pads the form data to about that many
	// bytes.
	Attachment int64
	PadJSON    int
	// Fachverfahren is the number of parallel mailbox clients (default 2).
	Fachverfahren int
	// Reader, if set, replaces the XTA mailbox clients: each of the
	// Fachverfahren workers runs Reader(ctx, i) until ctx ends (e.g. an
	// OSCIFachverfahren fetching from an intermediary).
	Reader func(ctx context.Context, i int) error
	// Final is the status that completes a submission ("acknowledged", what
	// the hub makes of the 1120).
	Final string
	// IntakeOnly measures durable intake alone: no Fachverfahren run and the
	// run ends when every POST was answered (202 = committed), so Throughput
	// is the intake rate and there are no end-to-end latencies. Meant for a
	// hub without pipeline workers (workers.count 0, an intake-only process).
	IntakeOnly bool
	// Events tells when a submission reached Final; nil polls the status API.
	Events *Tracker
	// Probe samples the hub's CPU time and memory (nil: not measured).
	Probe Probe
	// DBProbe samples the database server (PostgreSQL: the postmaster and
	// its backends; nil: not measured).
	DBProbe Probe
	// ReaderProbe samples the process running the simulated Fachverfahren
	// (and, for OSCI, the intermediary); nil: not measured.
	ReaderProbe Probe
	// AttachmentDir is where the Fachverfahren spool fetched attachments
	// (deleted after each message).
	AttachmentDir string
	HTTPClient    *http.Client
	Logger        *slog.Logger
}

// Probe samples the measured process.
type Probe interface {
	Sample() (cpu time.Duration, peakRSS int64, err error)
}

// Recipient is one tenant (AGS, as submitted) and its reader's XTA identity.
type Recipient struct{ Tenant, ReaderKey string }

// Probes are several processes measured as one: CPU summed, peak RSS the
// largest of them.
type Probes []Probe

// Sample samples every probe.
func (ps Probes) Sample() (time.Duration, int64, error) {
	var cpu time.Duration
	var rss int64
	for _, p := range ps {
		c, r, err := p.Sample()
		if err != nil {
			return 0, 0, err
		}
		cpu += c
		rss = max(rss, r)
	}
	return cpu, rss, nil
}

// Result is the outcome of one run.
type Result struct {
	Attachment   int64
	Count        int
	Completed    int
	Concurrency  int
	Rate         float64 // the pacing asked for; 0 = closed loop
	IntakeOnly   bool    // Options.IntakeOnly: Throughput and EndToEnd are empty
	Duration     time.Duration
	Throughput   float64 // completed submissions per second, full path
	IntakeRate   float64 // accepted submissions per second while posting
	Intake       Percentiles
	EndToEnd     Percentiles
	HubCPU       time.Duration
	CPUPerSub    time.Duration
	PeakRSS      int64
	IntakeErrors int
	// DBCPU is the database server's CPU time during the run (DBProbe).
	DBCPU       time.Duration
	DBCPUPerSub time.Duration
	// ReaderCPU is the ReaderProbe process's CPU time during the run.
	ReaderCPU       time.Duration `json:",omitempty"`
	ReaderCPUPerSub time.Duration `json:",omitempty"`
}

// Percentiles of a latency sample.
type Percentiles struct{ P50, P95, P99, Max time.Duration }

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Percentiles{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: s[len(s)-1]}
}

// Run performs one measured run.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Count <= 0 || o.Concurrency <= 0 {
		return Result{}, errors.New("loadgen: count and concurrency must be positive")
	}
	if o.Fachverfahren <= 0 {
		o.Fachverfahren = 2
	}
	if o.Final == "" {
		o.Final = "acknowledged"
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency + o.Fachverfahren + 4}}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.AttachmentDir == "" {
		dir, err := os.MkdirTemp("", "dxhub-bench-")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(dir)
		o.AttachmentDir = dir
	}
	form, err := o.formJSON()
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var cpu0, db0, rd0 time.Duration
	if o.Probe != nil {
		if cpu0, _, err = o.Probe.Sample(); err != nil {
			return Result{}, fmt.Errorf("loadgen: probe: %w", err)
		}
	}
	if o.DBProbe != nil {
		if db0, _, err = o.DBProbe.Sample(); err != nil {
			return Result{}, fmt.Errorf("loadgen: database probe: %w", err)
		}
	}

	if o.ReaderProbe != nil {
		if rd0, _, err = o.ReaderProbe.Sample(); err != nil {
			return Result{}, fmt.Errorf("loadgen: reader probe: %w", err)
		}
	}

	// The Fachverfahren work until the run ends: o.Fachverfahren clients
	// per reader.
	readers := []string{o.ReaderKey}
	switch {
	case o.IntakeOnly:
		readers = nil
	case len(o.Recipients) > 0:
		readers = readers[:0]
		for _, r := range o.Recipients {
			readers = append(readers, r.ReaderKey)
		}
	}
	fvErr := make(chan error, o.Fachverfahren*len(readers))
	var fvWG sync.WaitGroup
	for r, reader := range readers {
		for i := range o.Fachverfahren {
			fvWG.Add(1)
			go func() {
				defer fvWG.Done()
				work := func() error { return o.fachverfahren(ctx, o.hub(r*o.Fachverfahren+i), reader, i) }
				if o.Reader != nil {
					work = func() error { return o.Reader(ctx, r*o.Fachverfahren+i) }
				}
				if err := work(); err != nil && ctx.Err() == nil {
					fvErr <- err
					cancel()
				}
			}()
		}
	}

	// The portals.
	type posted struct {
		id       string
		start    time.Time
		accepted time.Time
	}
	subs := make([]posted, o.Count)
	var next atomic.Int64
	var intakeErrs atomic.Int64
	var pace <-chan time.Time
	if o.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
		defer t.Stop()
		pace = t.C
	}
	begin := time.Now()
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= o.Count || ctx.Err() != nil {
					return
				}
				if pace != nil {
					select {
					case <-pace:
					case <-ctx.Done():
						return
					}
				}
				start := time.Now()
				id, err := o.post(ctx, form, i)
				if err != nil {
					intakeErrs.Add(1)
					o.Logger.Warn("bench: submission not accepted", "n", i, "err", err)
					continue
				}
				subs[i] = posted{id: id, start: start, accepted: time.Now()}
			}
		}()
	}
	wg.Wait()
	postedAll := time.Now()

	// Wait for every accepted submission's final status.
	res := Result{Attachment: o.Attachment, Count: o.Count, Concurrency: o.Concurrency, Rate: o.Rate,
		IntakeOnly: o.IntakeOnly, IntakeErrors: int(intakeErrs.Load())}
	var intake, e2e []time.Duration
	var last time.Time // when the last submission completed
	if o.IntakeOnly {
		last = postedAll
	}
	for _, s := range subs {
		if s.id == "" {
			continue
		}
		if !o.IntakeOnly {
			done, err := o.waitFinal(ctx, s.id)
			if err != nil {
				select {
				case ferr := <-fvErr:
					return res, fmt.Errorf("loadgen: fachverfahren: %w", ferr)
				default:
				}
				return res, fmt.Errorf("loadgen: waiting for %s: %w", s.id, err)
			}
			e2e = append(e2e, done.Sub(s.start))
			if done.After(last) {
				last = done
			}
		}
		intake = append(intake, s.accepted.Sub(s.start))
		res.Completed++
	}
	cancel()
	fvWG.Wait()
	if res.Completed == 0 {
		return res, errors.New("loadgen: no submission completed")
	}
	res.Duration = last.Sub(begin)
	if !o.IntakeOnly { // nothing went past intake otherwise
		res.Throughput = float64(res.Completed) / res.Duration.Seconds()
	}
	res.IntakeRate = float64(res.Completed) / postedAll.Sub(begin).Seconds()
	res.Intake, res.EndToEnd = percentiles(intake), percentiles(e2e)
	if o.Probe != nil {
		cpu1, rss, err := o.Probe.Sample()
		if err != nil {
			return res, fmt.Errorf("loadgen: probe: %w", err)
		}
		res.HubCPU, res.PeakRSS = cpu1-cpu0, rss
		res.CPUPerSub = res.HubCPU / time.Duration(res.Completed)
	}
	if o.DBProbe != nil {
		db1, _, err := o.DBProbe.Sample()
		if err != nil {
			return res, fmt.Errorf("loadgen: database probe: %w", err)
		}
		res.DBCPU = db1 - db0
		res.DBCPUPerSub = res.DBCPU / time.Duration(res.Completed)
	}
	if o.ReaderProbe != nil {
		rd1, _, err := o.ReaderProbe.Sample()
		if err != nil {
			return res, fmt.Errorf("loadgen: reader probe: %w", err)
		}
		res.ReaderCPU = rd1 - rd0
		res.ReaderCPUPerSub = res.ReaderCPU / time.Duration(res.Completed)
	}
	return res, nil
}

// hub returns the base URL of the hub that client or submission n uses.
func (o Options) hub(n int) string {
	if len(o.BaseURLs) == 0 {
		return o.BaseURL
	}
	return o.BaseURLs[n%len(o.BaseURLs)]
}

// formJSON is the submission document with the form padded to PadJSON.
func (o Options) formJSON() (map[string]any, error) {
	sub := map[string]any{}
	b, err := json.Marshal(o.Submission)
	if err != nil {
		return nil, fmt.Errorf("loadgen: submission: %w", err)
	}
	json.Unmarshal(b, &sub)
	if o.PadJSON > 0 {
		form, _ := sub["form"].(map[string]any)
		if form == nil {
			form = map[string]any{}
		}
		cur, _ := json.Marshal(sub)
		if pad := o.PadJSON - len(cur); pad > 0 {
			form["begruendung"] = strings.Repeat("Ausführliche Begründung des Antrags. ", pad/38+1)[:pad]
		}
		sub["form"] = form
	}
	return sub, nil
}

// post submits submission n and returns its ID.
func (o Options) post(ctx context.Context, sub map[string]any, n int) (string, error) {
	doc := make(map[string]any, len(sub)+1)
	for k, v := range sub {
		doc[k] = v
	}
	doc["reference"] = fmt.Sprintf("bench-%d-%08d", time.Now().UnixNano(), n)
	if len(o.Recipients) > 0 {
		doc["tenant"] = o.Recipients[n%len(o.Recipients)].Tenant
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	var body io.Reader = bytes.NewReader(js)
	ctype := "application/json"
	if o.Attachment > 0 {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		ctype = mw.FormDataContentType()
		go func() { pw.CloseWithError(writeMultipart(mw, js, n, o.Attachment)) }()
		body = pr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.hub(n)+"/v1/submissions", body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+o.APIKey)
	req.Header.Set("Content-Type", ctype)
	resp, err := o.HTTPClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(rb))
	}
	var acc struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(rb, &acc); err != nil || acc.ID == "" {
		return "", fmt.Errorf("202 without an id: %s", rb)
	}
	return acc.ID, nil
}

// writeMultipart streams the submission part and one generated PDF of size
// bytes; the attachment is never held in memory whole.
func writeMultipart(mw *multipart.Writer, js []byte, n int, size int64) error {
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="submission"`)
	h.Set("Content-Type", "application/json")
	pw, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := pw.Write(js); err != nil {
		return err
	}
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="anlage-%08d.pdf"`, n))
	h.Set("Content-Type", "application/pdf")
	if pw, err = mw.CreatePart(h); err != nil {
		return err
	}
	line := []byte(fmt.Sprintf("%%PDF-1.7 dxhub bench attachment %08d ………………………………………………………\n", n))
	var written int64
	for written < size {
		chunk := line
		if rest := size - written; rest < int64(len(chunk)) {
			chunk = chunk[:rest]
		}
		k, err := pw.Write(chunk)
		written += int64(k)
		if err != nil {
			return err
		}
	}
	return mw.Close()
}

// fachverfahren is mailbox client i of o.Fachverfahren of reader, polling
// the hub at base: it handles the messages whose ID hashes to i, so parallel
// clients never fetch the same one.
func (o Options) fachverfahren(ctx context.Context, base, reader string, i int) error {
	fv := xtatest.New(base, reader, o.HTTPClient)
	fv.AttachmentDir = o.AttachmentDir
	return pollWithBackoff(ctx, func() (int, error) {
		list, err := fv.GetStatusList(ctx, 100)
		if err != nil {
			return 0, fmt.Errorf("getStatusList: %w", err)
		}
		mine := 0
		for _, meta := range list {
			h := fnv.New32a()
			h.Write([]byte(meta.MessageID))
			if int(h.Sum32()%uint32(o.Fachverfahren)) != i {
				continue
			}
			mine++
			if err := o.handle(ctx, fv, reader, meta); err != nil {
				return mine, err
			}
		}
		return mine, nil
	})
}

// pollWithBackoff runs round until ctx ends or round fails. An idle client
// (a round that found nothing) backs off, 20 ms doubling to 500 ms, like a
// real Fachverfahren that polls on a schedule; found work resets it. (Tighter
// polling mostly measures the cost of empty status lists.)
func pollWithBackoff(ctx context.Context, round func() (found int, err error)) error {
	const minIdle, maxIdle = 20 * time.Millisecond, 500 * time.Millisecond
	wait := minIdle
	for ctx.Err() == nil {
		n, err := round()
		if err != nil {
			return err
		}
		if n > 0 {
			wait = minIdle
			continue
		}
		if loop.Sleep(ctx, wait) != nil {
			break
		}
		wait = min(2*wait, maxIdle)
	}
	return nil
}

// handle fetches, closes and answers one message with a 1120.
func (o Options) handle(ctx context.Context, fv *xtatest.Client, reader string, meta xta.MessageMeta) error {
	m, err := fv.GetMessage(ctx, meta.MessageID)
	if err != nil {
		return fmt.Errorf("getMessage %s: %w", meta.MessageID, err)
	}
	for _, a := range m.Attachments {
		os.Remove(a.Path)
	}
	if err := fv.Close(ctx, meta.MessageID); err != nil {
		return fmt.Errorf("close %s: %w", meta.MessageID, err)
	}
	ref, err := xoev.ParseInbound(m.Message)
	if err != nil {
		return fmt.Errorf("parse %s: %w", meta.MessageID, err)
	}
	doc, err := xoev.BuildReceipt1120(ref.Header, xoev.Reply{Created: time.Now(), Reference: ref.Reference, CaseNumber: "BENCH-1"})
	if err != nil {
		return fmt.Errorf("build 1120: %w", err)
	}
	rm := xta.MessageMeta{MessageID: "urn:de:xta:messageid:bench:" + doc.UUID, AuthorKey: reader, AuthorType: "xoev",
		ReaderKey: meta.AuthorKey, ReaderType: "xoev", Service: meta.Service, BusinessScenario: meta.BusinessScenario,
		MessageType:   xta.Code{Code: doc.RootElement, ListURI: "urn:de:payloadSchema:elementName", ListVersionID: "1.0"},
		PayloadSchema: doc.Namespace}
	if err := fv.SendMessage(ctx, rm, doc.XML); err != nil {
		return fmt.Errorf("send 1120: %w", err)
	}
	return nil
}

// waitFinal returns when submission id reached the final status.
func (o Options) waitFinal(ctx context.Context, id string) (time.Time, error) {
	if o.Events != nil {
		return o.Events.Wait(ctx, id, o.Final)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if t, ok, err := o.polled(ctx, id); err != nil || ok {
			return t, err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

func (o Options) polled(ctx context.Context, id string) (time.Time, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.BaseURL+"/v1/submissions/"+id, nil)
	if err != nil {
		return time.Time{}, false, err
	}
	req.Header.Set("Authorization", "Bearer "+o.APIKey)
	resp, err := o.HTTPClient.Do(req)
	if err != nil {
		return time.Time{}, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return time.Time{}, false, fmt.Errorf("status of %s: %s", id, resp.Status)
	}
	var st struct {
		Events []struct {
			Status string    `json:"status"`
			Time   time.Time `json:"time"`
		} `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return time.Time{}, false, err
	}
	for _, h := range st.Events {
		if h.Status == o.Final {
			return time.Now(), true, nil
		}
	}
	return time.Time{}, false, nil
}
