package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// startNode starts `dxhub serve --config FILE` with env overrides, like
// startHub, but reports a failed start as an error so that a background
// goroutine (the cluster test's chaos loop) can restart a process without
// calling t.Fatal off the test goroutine.
func startNode(t *testing.T, cfgFile, dataDir, addr string, env ...string) (*hubProcess, error) {
	t.Helper()
	h, _, err := launchServe(t, []string{"--config", cfgFile, "--data", dataDir, "--listen", addr}, env...)
	return h, err
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
