package loadgen

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dxhub/dxhub/connectors/webhook"
)

// Tracker is a portal's webhook endpoint: it verifies each status event's
// HMAC signature, as a portal must, and remembers when each submission
// reached each status, so the run sees completions without polling.
type Tracker struct {
	secret string

	mu      sync.Mutex
	reached map[string]map[string]time.Time // submission → status → first seen
	waiters map[string][]chan struct{}
	bad     int
}

// NewTracker returns a webhook receiver for events signed with secret.
func NewTracker(secret string) *Tracker {
	return &Tracker{secret: secret, reached: map[string]map[string]time.Time{}, waiters: map[string][]chan struct{}{}}
}

// ServeHTTP accepts one signed event (and answers 401 to a bad signature).
func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := webhook.Verify(t.secret, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), body, now, 5*time.Minute); err != nil {
		t.mu.Lock()
		t.bad++
		t.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	t.mu.Lock()
	st := t.reached[p.SubmissionID]
	if st == nil {
		st = map[string]time.Time{}
		t.reached[p.SubmissionID] = st
	}
	if _, seen := st[string(p.Status)]; !seen {
		st[string(p.Status)] = now
	}
	for _, c := range t.waiters[p.SubmissionID] {
		close(c)
	}
	delete(t.waiters, p.SubmissionID)
	t.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// Wait returns when submission id was first seen in status.
func (t *Tracker) Wait(ctx context.Context, id, status string) (time.Time, error) {
	for {
		t.mu.Lock()
		if at, ok := t.reached[id][status]; ok {
			t.mu.Unlock()
			return at, nil
		}
		c := make(chan struct{})
		t.waiters[id] = append(t.waiters[id], c)
		t.mu.Unlock()
		select {
		case <-c:
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// BadSignatures counts events refused for their signature.
func (t *Tracker) BadSignatures() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.bad
}

// ProcProbe samples a local process through /proc (Linux): CPU time spent
// (user + system) and peak resident set size (VmHWM).
type ProcProbe struct{ PID int }

// Sample reads the process's CPU time and peak RSS.
func (p ProcProbe) Sample() (time.Duration, int64, error) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields of the whole line, in clock ticks (100 Hz).
	s := string(stat)
	rest := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(rest) < 13 {
		return 0, 0, io.ErrUnexpectedEOF
	}
	ut, _ := strconv.ParseInt(rest[11], 10, 64)
	st, _ := strconv.ParseInt(rest[12], 10, 64)
	cpu := time.Duration(ut+st) * (time.Second / 100)
	status, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/status")
	if err != nil {
		return 0, 0, err
	}
	var hwm int64
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				hwm = kb * 1024
			}
		}
	}
	return cpu, hwm, nil
}

// TreeProbe samples a process and its children (a PostgreSQL postmaster and
// its backends): CPU time of the process, of its live children and of its
// reaped children (cutime, cstime); peak RSS of the process itself.
type TreeProbe struct{ PID int }

// Sample reads the CPU time of the process tree.
func (p TreeProbe) Sample() (time.Duration, int64, error) {
	self, err := procStat(p.PID)
	if err != nil {
		return 0, 0, err
	}
	ticks := self.utime + self.stime + self.cutime + self.cstime
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == p.PID {
			continue
		}
		st, err := procStat(pid)
		if err != nil || st.ppid != int64(p.PID) {
			continue // gone meanwhile, or not a child
		}
		ticks += st.utime + st.stime
	}
	_, rss, err := ProcProbe{PID: p.PID}.Sample()
	return time.Duration(ticks) * (time.Second / 100), rss, err
}

type stat struct{ ppid, utime, stime, cutime, cstime int64 }

func procStat(pid int) (stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, err
	}
	s := string(b)
	// Fields after the parenthesised command name: state (3), ppid (4), …,
	// utime (14), stime (15), cutime (16), cstime (17).
	rest := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(rest) < 15 {
		return stat{}, io.ErrUnexpectedEOF
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(rest[i], 10, 64); return v }
	return stat{ppid: n(1), utime: n(11), stime: n(12), cutime: n(13), cstime: n(14)}, nil
}
