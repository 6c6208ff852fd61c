// Package clamdtest starts a real ClamAV clamd for tests, with a signature
// database of its own (the machine has no network for freshclam): the EICAR
// test file by its MD5 hash (.hdb) and a body signature (.ndb) that matches
// Marker anywhere in a stream. clamd reports them as
// "Eicar-Test-Signature.UNOFFICIAL" and "Dxhub.Test.Marker.UNOFFICIAL".
//
// A missing clamd binary fails the test (install the Debian package
// clamav-daemon, `make deps`); it is never skipped.
package clamdtest

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/antivirus"
)

// Signature names as clamd reports them for the test database.
const (
	EICARSignature  = "Eicar-Test-Signature.UNOFFICIAL"
	MarkerSignature = "Dxhub.Test.Marker.UNOFFICIAL"
	// Marker is matched by the body signature wherever it occurs.
	Marker = "DXHUB-AV-TEST-MARKER-7f3a"
)

// EICAR returns the EICAR anti-virus test file (68 bytes). It is assembled at
// run time so no scanner flags the test sources themselves.
func EICAR() []byte {
	return []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$` + "EICAR-STANDARD-" + "ANTIVIRUS-TEST-FILE!$H+H*")
}

// Server is a running clamd.
type Server struct {
	// Socket is the unix socket path, TCPAddr the 127.0.0.1:port listener.
	Socket  string
	TCPAddr string
	// StreamMaxLength is clamd's INSTREAM limit in bytes.
	StreamMaxLength int64
	cmd             *exec.Cmd
	log             string
}

// Start runs clamd with the test database, a unix socket and a TCP socket on
// 127.0.0.1, StreamMaxLength streamMax bytes (0: 1 MiB), and waits until it
// answers PING (polling until a deadline). It is stopped by t.Cleanup.
func Start(t testing.TB, streamMax int64) *Server {
	t.Helper()
	bin, err := exec.LookPath("clamd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/clamd"); serr == nil {
			bin = "/usr/sbin/clamd"
		} else {
			t.Fatalf("clamd is not installed (Debian package clamav-daemon; run `make deps`): %v", err)
		}
	}
	if streamMax <= 0 {
		streamMax = 1 << 20
	}
	// A short directory: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "clamd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	eicar := EICAR()
	sum := md5.Sum(eicar)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(db, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("dxhub-test.hdb", fmt.Sprintf("%s:%d:Eicar-Test-Signature\n", hex.EncodeToString(sum[:]), len(eicar)))
	write("dxhub-test.ndb", fmt.Sprintf("Dxhub.Test.Marker:0:*:%s\n", hex.EncodeToString([]byte(Marker))))

	port := freePort(t)
	s := &Server{
		Socket:          filepath.Join(dir, "clamd.sock"),
		TCPAddr:         fmt.Sprintf("127.0.0.1:%d", port),
		StreamMaxLength: streamMax,
		log:             filepath.Join(dir, "clamd.log"),
	}
	conf := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(conf, []byte(strings.Join([]string{
		"LocalSocket " + s.Socket,
		fmt.Sprintf("TCPSocket %d", port),
		"TCPAddr 127.0.0.1",
		"Foreground yes",
		"DatabaseDirectory " + db,
		fmt.Sprintf("StreamMaxLength %d", streamMax),
		"LogFile " + s.log,
		"",
	}, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "-c", conf)
	out, err := os.Create(filepath.Join(dir, "clamd.out"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start clamd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait(); out.Close() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-exited
	})

	c, err := antivirus.New(s.Socket, antivirus.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = c.Ping(ctx); last == nil {
			return s
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "clamd.out"))
			t.Fatalf("clamd exited before answering PING (%v):\n%s", err, b)
		case <-ctx.Done():
			b, _ := os.ReadFile(filepath.Join(dir, "clamd.out"))
			t.Fatalf("clamd did not answer PING within 60 s: %v\n%s", last, b)
		case <-tick.C:
		}
	}
}

// Stop kills clamd and waits until its socket refuses connections, to test
// what intake does when the scanner is down.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	_ = s.cmd.Process.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := net.DialTimeout("unix", s.Socket, time.Second)
		if err != nil {
			return
		}
		conn.Close()
		select {
		case <-ctx.Done():
			t.Fatal("clamd still accepts connections 30 s after kill")
		case <-tick.C:
		}
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
