package loadgen

import (
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

type fixedProbe struct {
	cpu time.Duration
	rss int64
	err error
}

func (p fixedProbe) Sample() (time.Duration, int64, error) { return p.cpu, p.rss, p.err }

func TestProbesSumCPUAndTakeLargestRSS(t *testing.T) {
	cpu, rss, err := Probes{fixedProbe{cpu: time.Second, rss: 10}, fixedProbe{cpu: 2 * time.Second, rss: 30},
		fixedProbe{cpu: 3 * time.Second, rss: 20}}.Sample()
	if err != nil || cpu != 6*time.Second || rss != 30 {
		t.Fatalf("Sample = %s, %d, %v", cpu, rss, err)
	}
	boom := errors.New("gone")
	if _, _, err := (Probes{fixedProbe{}, fixedProbe{err: boom}}).Sample(); !errors.Is(err, boom) {
		t.Fatalf("error = %v", err)
	}
}

// The process-tree probe counts the CPU time of children that have exited
// (PostgreSQL backends come and go) as well as the process's own.
func TestTreeProbeCountsChildren(t *testing.T) {
	probe := TreeProbe{PID: os.Getpid()}
	before, rss, err := probe.Sample()
	if err != nil || rss <= 0 {
		t.Fatalf("sample: %s %d %v", before, rss, err)
	}
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	child := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	after, _, err := probe.Sample()
	if err != nil {
		t.Fatal(err)
	}
	// /proc counts in clock ticks (10 ms): allow one tick of rounding.
	if after-before < child-10*time.Millisecond {
		t.Fatalf("tree CPU grew by %s, the child alone used %s", after-before, child)
	}
	if _, _, err := (TreeProbe{PID: 1 << 30}).Sample(); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}
