package antivirus_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/antivirus"
	"github.com/dxhub/dxhub/internal/antivirus/clamdtest"
)

// TestClamdProtocol runs PING and zINSTREAM against a real clamd over both
// of its sockets.
func TestClamdProtocol(t *testing.T) {
	srv := clamdtest.Start(t, 1<<20)
	marker := []byte(clamdtest.Marker)
	// The marker straddles the boundary of two 16-byte chunks, so clamd
	// only finds it if the framing joins the chunks into one stream.
	split := append(bytes.Repeat([]byte("%PDF-1.7 "), 2)[:10], marker...)
	for _, addr := range []string{"unix:" + srv.Socket, srv.Socket, "tcp://" + srv.TCPAddr, srv.TCPAddr} {
		t.Run(addr, func(t *testing.T) {
			c, err := antivirus.New(addr, antivirus.Options{Timeout: 10 * time.Second, MaxStreamBytes: srv.StreamMaxLength, ChunkBytes: 16})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := c.Ping(ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			for _, tc := range []struct {
				name string
				data []byte
				sig  string
			}{
				{"clean pdf", []byte("%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n"), ""},
				{"empty stream", nil, ""},
				{"eicar", clamdtest.EICAR(), clamdtest.EICARSignature},
				{"eicar plus one byte is another file", append(clamdtest.EICAR(), 'x'), ""},
				{"marker across chunks", split, clamdtest.MarkerSignature},
				{"marker deep in 900 KiB", append(bytes.Repeat([]byte{0x20}, 900<<10), marker...), clamdtest.MarkerSignature},
			} {
				res, err := c.Scan(ctx, bytes.NewReader(tc.data))
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if res.Infected != (tc.sig != "") || res.Signature != tc.sig || res.Bytes != int64(len(tc.data)) {
					t.Errorf("%s: got %+v, want signature %q and %d bytes", tc.name, res, tc.sig, len(tc.data))
				}
			}
		})
	}
}

func TestClamdSizeLimits(t *testing.T) {
	srv := clamdtest.Start(t, 64<<10)
	ctx := context.Background()
	big := bytes.Repeat([]byte("A"), 200<<10)

	// The client's limit: the stream is not sent beyond it.
	c, _ := antivirus.New(srv.Socket, antivirus.Options{MaxStreamBytes: 64 << 10, ChunkBytes: 8 << 10})
	res, err := c.Scan(ctx, bytes.NewReader(big))
	if !errors.Is(err, antivirus.ErrTooLarge) || err.Error() != "antivirus: stream exceeds the scanner's size limit: more than 65536 bytes" {
		t.Fatalf("client limit: %+v, %v", res, err)
	}
	// A client that believes in a larger limit than clamd's: clamd's own
	// refusal comes back as ErrTooLarge too.
	c, _ = antivirus.New(srv.Socket, antivirus.Options{MaxStreamBytes: 1 << 20, ChunkBytes: 8 << 10})
	if _, err := c.Scan(ctx, bytes.NewReader(big)); !errors.Is(err, antivirus.ErrTooLarge) {
		t.Fatalf("clamd limit: %v", err)
	}
	// Exactly at the limit is fine.
	if res, err := c.Scan(ctx, bytes.NewReader(big[:64<<10])); err != nil || res.Infected {
		t.Fatalf("at the limit: %+v, %v", res, err)
	}
}

func TestClamdUnavailable(t *testing.T) {
	srv := clamdtest.Start(t, 0)
	c, _ := antivirus.New(srv.Socket, antivirus.Options{Timeout: 2 * time.Second})
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Stop(t)
	if err := c.Ping(ctx); !errors.Is(err, antivirus.ErrUnavailable) || !strings.Contains(err.Error(), "dial unix "+srv.Socket) {
		t.Fatalf("Ping after stop: %v", err)
	}
	if _, err := c.Scan(ctx, strings.NewReader("x")); !errors.Is(err, antivirus.ErrUnavailable) {
		t.Fatalf("Scan after stop: %v", err)
	}

	// A peer that accepts and never answers: the timeout ends the scan.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		conn, err := l.Accept()
		if err == nil {
			accepted <- conn
		}
	}()
	c, _ = antivirus.New(l.Addr().String(), antivirus.Options{Timeout: 300 * time.Millisecond})
	_, err = c.Scan(ctx, strings.NewReader("hello"))
	if !errors.Is(err, antivirus.ErrUnavailable) || !strings.Contains(err.Error(), "i/o timeout") {
		t.Fatalf("silent peer: %v", err)
	}
	(<-accepted).Close()

	// A cancelled context ends a scan at once.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Scan(cctx, strings.NewReader("hello")); !errors.Is(err, antivirus.ErrUnavailable) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestReadErrorIsNotUnavailable(t *testing.T) {
	srv := clamdtest.Start(t, 0)
	c, _ := antivirus.New(srv.Socket, antivirus.Options{})
	boom := errors.New("disk gone")
	_, err := c.Scan(context.Background(), io.MultiReader(strings.NewReader("abc"), errReader{boom}))
	if !errors.Is(err, boom) || errors.Is(err, antivirus.ErrUnavailable) {
		t.Fatalf("got %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		line    string
		want    antivirus.Result
		wantErr error
		errText string
	}{
		{"stream: OK", antivirus.Result{}, nil, ""},
		{"stream: OK\x00", antivirus.Result{}, nil, ""},
		{"stream: Win.Test.EICAR_HDB-1 FOUND", antivirus.Result{Infected: true, Signature: "Win.Test.EICAR_HDB-1"}, nil, ""},
		{"1: stream: Eicar-Test-Signature FOUND", antivirus.Result{Infected: true, Signature: "Eicar-Test-Signature"}, nil, ""},
		{"INSTREAM size limit exceeded. ERROR", antivirus.Result{}, antivirus.ErrTooLarge,
			"antivirus: stream exceeds the scanner's size limit: clamd: INSTREAM size limit exceeded. ERROR"},
		{"stream: Can't allocate memory ERROR", antivirus.Result{}, antivirus.ErrScanner,
			"antivirus: clamd reported an error: Can't allocate memory"},
		{"", antivirus.Result{}, antivirus.ErrUnavailable, "antivirus: clamd unavailable: empty reply"},
		{"PONG", antivirus.Result{}, antivirus.ErrUnavailable, `antivirus: clamd unavailable: unexpected reply "PONG"`},
		{"stream:  FOUND", antivirus.Result{}, antivirus.ErrUnavailable, `antivirus: clamd unavailable: unexpected reply "stream:  FOUND"`},
		{"stream: UNKNOWN COMMAND", antivirus.Result{}, antivirus.ErrUnavailable, `antivirus: clamd unavailable: unexpected reply "stream: UNKNOWN COMMAND"`},
	} {
		got, err := antivirus.ParseReply(tc.line)
		if got != tc.want || !errors.Is(err, tc.wantErr) || (err != nil && err.Error() != tc.errText) || (err == nil && tc.wantErr != nil) {
			t.Errorf("ParseReply(%q) = %+v, %v; want %+v, %v %q", tc.line, got, err, tc.want, tc.wantErr, tc.errText)
		}
	}
}

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]string{
		"unix:/run/clamav/clamd.ctl":   "unix /run/clamav/clamd.ctl",
		"unix:///run/clamav/clamd.ctl": "unix /run/clamav/clamd.ctl",
		"/run/clamav/clamd.ctl":        "unix /run/clamav/clamd.ctl",
		"tcp://127.0.0.1:3310":         "tcp 127.0.0.1:3310",
		"clamav.internal:3310":         "tcp clamav.internal:3310",
		"clamav.internal":              "error",
		"unix:":                        "error",
		"":                             "error",
	} {
		n, a, err := antivirus.ParseAddress(in)
		got := n + " " + a
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("ParseAddress(%q) = %q (%v), want %q", in, got, err, want)
		}
	}
}

// FuzzParseReply: whatever a (hostile or broken) peer answers, the parser
// neither panics nor reports an infection without a signature, and a clean
// verdict is only "OK".
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"stream: OK", "stream: X FOUND", "INSTREAM size limit exceeded. ERROR",
		"stream: lstat() failed ERROR", "1: stream: OK", "PONG", "", ": FOUND", "stream: \x00 FOUND"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		res, err := antivirus.ParseReply(line)
		if err != nil {
			if res.Infected {
				t.Fatalf("error with an infected result: %q", line)
			}
			return
		}
		if res.Infected && (res.Signature == "" || strings.ContainsAny(res.Signature, "\x00\n")) {
			t.Fatalf("bad signature %q from %q", res.Signature, line)
		}
		if !res.Infected && !strings.HasSuffix(strings.TrimRight(line, "\x00\r\n"), ": OK") {
			t.Fatalf("clean verdict from %q", line)
		}
	})
}
