package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/testenv"
)

// startNode starts `dxhub serve --config FILE` with env overrides, like
// startHub, but reports a failed start as an error so that a background
// goroutine (the cluster test's chaos loop) can restart a process without
// calling t.Fatal off the test goroutine.
func startNode(t *testing.T, cfgFile, dataDir, addr string, env ...string) (*hubProcess, error) {
	t.Helper()
	cmd := exec.Command(binPath, "serve", "--config", cfgFile, "--data", dataDir, "--listen", addr)
	cmd.Env = append(os.Environ(), "DXHUB_STANDARDS_DIR="+testenv.MustStandardsDir(t), "DXHUB_WORKERS_POLLINTERVAL=50ms")
	cmd.Env = append(cmd.Env, env...)
	h := &hubProcess{cmd: cmd, logs: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = h.logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "dxhub ready on ") {
				ready <- strings.TrimPrefix(line, "dxhub ready on ")
			}
		}
	}()
	go func() { cmd.Wait(); close(h.done) }()
	t.Cleanup(func() {
		h.kill()
		if t.Failed() {
			t.Logf("hub %s logs (last 40 lines):\n%s", addr, tailLines(h.logs.String(), 40))
		}
	})
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	select {
	case h.base = <-ready:
		return h, nil
	case <-h.done:
		return nil, fmt.Errorf("hub %s exited before it was ready:\n%s", addr, tailLines(h.logs.String(), 40))
	case <-timeout.C:
		h.kill()
		return nil, fmt.Errorf("hub %s not ready after 60s:\n%s", addr, tailLines(h.logs.String(), 40))
	}
}

// terminate asks the process to shut down (SIGTERM) and waits for it; after
// grace it is killed and an error is returned, as it is when the process
// does not exit with status 0 (a graceful shutdown).
func (h *hubProcess) terminate(grace time.Duration) error {
	select {
	case <-h.done:
		return nil
	default:
	}
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-h.done:
		if code := h.cmd.ProcessState.ExitCode(); code != 0 {
			return fmt.Errorf("hub exited with status %d after SIGTERM", code)
		}
		return nil
	case <-timer.C:
		h.kill()
		return fmt.Errorf("hub did not stop within %s of SIGTERM", grace)
	}
}
