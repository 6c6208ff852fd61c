package main

// The crash test of issue 7: a load of submissions with attachments while the
// hub is killed with SIGKILL at random points and restarted; at the end every
// accepted submission is delivered, the receiving Fachverfahren saw every
// message at least once and processed each exactly once, and every history is
// complete and ordered.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xta/xtatest"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// wait pauses for d or until ctx ends (a retry back-off, not a test sleep).
func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func TestCrashUnderLoad(t *testing.T) {
	total := envInt("DXHUB_CRASH_SUBMISSIONS", 2000)
	kills := envInt("DXHUB_CRASH_KILLS", 5)
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("DXHUB_CRASH_SEED"), 10, 64); err == nil {
		seed = s
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("crash test: %d submissions, %d kills, seed %d (DXHUB_CRASH_SEED to repeat)", total, kills, seed)

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	data, addr := t.TempDir(), freeAddr(t)
	env := []string{"DXHUB_WORKERS_LEASE=2s", "DXHUB_HUB_LOGLEVEL=warn"}
	var hubMu sync.Mutex
	h := startHub(t, data, addr, env...)
	base := h.base

	// Kill points: random counts of accepted submissions, spread over the load.
	points := make([]int, kills)
	for i := range points {
		lo, hi := total*i/kills, total*(i+1)/kills
		points[i] = lo + rng.IntN(max(hi-lo-1, 1))
	}
	var accepted atomic.Int64
	killed := make(chan struct{}, kills)
	go func() {
		for i, p := range points {
			for int(accepted.Load()) < p && ctx.Err() == nil {
				wait(ctx, 5*time.Millisecond)
			}
			if ctx.Err() != nil {
				return
			}
			// Some kills land right after a commit, others a random moment later.
			wait(ctx, time.Duration(rng.IntN(40))*time.Millisecond)
			hubMu.Lock()
			h.kill()
			h = startHub(t, data, addr, env...)
			hubMu.Unlock()
			t.Logf("kill %d: SIGKILL after %d accepted submissions, restarted", i+1, accepted.Load())
			killed <- struct{}{}
		}
	}()

	// Portals: each submission has its own Idempotency-Key and is re-posted
	// until a 202 arrives (connection refused or reset while the hub is down).
	sample := readSample(t)
	ids := make([]string, total)
	sums := make([]string, total)
	var wg sync.WaitGroup
	next := atomic.Int64{}
	client := &http.Client{Timeout: 30 * time.Second}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total || ctx.Err() != nil {
					return
				}
				file := bytes.Repeat([]byte(fmt.Sprintf("%%PDF-1.4 Anlage %06d\n", i)), 100)
				sum := sha256.Sum256(file)
				sums[i] = hex.EncodeToString(sum[:])
				body, ctype := multipartBody(t, sample, fmt.Sprintf("anlage-%06d.pdf", i), file)
				for ctx.Err() == nil {
					id, err := postOnce(ctx, client, base, body, ctype, fmt.Sprintf("crash-%06d", i))
					if err == nil {
						ids[i] = id
						accepted.Add(1)
						break
					}
					wait(ctx, 20*time.Millisecond)
				}
			}
		}()
	}

	// The Fachverfahren: polls, fetches, processes each message ID once
	// (de-duplicating like a real receiver must), then closes.
	seen := map[string]int{}
	processed := map[string]string{} // message ID → attachment SHA-256
	var fvMu sync.Mutex
	fvDone := make(chan struct{})
	go func() {
		defer close(fvDone)
		fv := xtatest.New(base, "ags:05315000", &http.Client{Timeout: 30 * time.Second})
		fv.AttachmentDir = t.TempDir()
		for ctx.Err() == nil {
			fvMu.Lock()
			done := len(processed) >= total
			fvMu.Unlock()
			if done {
				return
			}
			list, err := fv.GetStatusList(ctx, 50)
			if err != nil || len(list) == 0 {
				wait(ctx, 20*time.Millisecond)
				continue
			}
			for _, meta := range list {
				m, err := fv.GetMessage(ctx, meta.MessageID)
				if err != nil {
					break
				}
				fvMu.Lock()
				seen[meta.MessageID]++
				if _, dup := processed[meta.MessageID]; !dup && len(m.Attachments) == 1 {
					processed[meta.MessageID] = m.Attachments[0].SHA256
				}
				fvMu.Unlock()
				os.Remove(m.Attachments[0].Path)
				if err := fv.Close(ctx, meta.MessageID); err != nil {
					break // the hub died between fetch and close: fetched again later
				}
			}
		}
	}()

	wg.Wait()
	for range kills {
		select {
		case <-killed:
		case <-ctx.Done():
			t.Fatal("timed out before all kills happened")
		}
	}
	select {
	case <-fvDone:
	case <-ctx.Done():
	}
	hubMu.Lock()
	h.kill()
	hubMu.Unlock()
	if ctx.Err() != nil {
		fvMu.Lock()
		t.Fatalf("timed out: %d accepted, %d processed", accepted.Load(), len(processed))
	}

	// Verify against the store: one submission per key, one delivery each,
	// complete ordered histories, attachments intact.
	st, err := store.OpenSQLite(context.Background(), filepath.Join(data, "dxhub.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	want := []routing.Status{routing.StatusReceived, routing.StatusValidated, routing.StatusRouted, routing.StatusDelivered, routing.StatusFetched}
	refetched := 0
	for _, n := range seen {
		if n > 1 {
			refetched++
		}
	}
	unique := map[string]bool{}
	for i, id := range ids {
		if id == "" {
			t.Fatalf("submission %d never accepted", i)
		}
		unique[id] = true
		d, err := st.GetDelivery(context.Background(), id)
		if err != nil {
			t.Fatalf("submission %d (%s): %v", i, id, err)
		}
		if got, ok := processed[d.TransportID]; !ok || got != sums[i] {
			t.Fatalf("submission %d: message %s processed=%v, attachment %s want %s", i, d.TransportID, ok, got, sums[i])
		}
		evs, err := st.Events(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var hist []routing.Status
		for _, e := range evs {
			hist = append(hist, e.Status)
		}
		if fmt.Sprint(hist) != fmt.Sprint(want) {
			t.Fatalf("submission %d (%s): history %v, want %v", i, id, hist, want)
		}
	}
	if len(unique) != total || len(processed) != total {
		t.Fatalf("%d unique submissions, %d processed messages, want %d", len(unique), len(processed), total)
	}
	t.Logf("accepted %d, delivered %d, processed exactly once %d, fetched more than once (closed after a crash) %d, kills %d",
		accepted.Load(), len(unique), len(processed), refetched, kills)
}

func multipartBody(t *testing.T, sub map[string]any, filename string, file []byte) ([]byte, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	js, _ := json.Marshal(sub)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="submission"`)
	h.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(h)
	pw.Write(js)
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filename))
	h.Set("Content-Type", "application/pdf")
	pw, _ = mw.CreatePart(h)
	pw.Write(file)
	mw.Close()
	return body.Bytes(), mw.FormDataContentType()
}

func postOnce(ctx context.Context, c *http.Client, base string, body []byte, ctype, key string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/submissions", bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer demo-key")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("%s: %s", resp.Status, b)
	}
	var a accepted
	if err := json.Unmarshal(b, &a); err != nil {
		return "", err
	}
	return a.ID, nil
}
