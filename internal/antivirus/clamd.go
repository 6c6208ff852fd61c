// Package antivirus is a client of ClamAV's clamd daemon: PING and INSTREAM
// (zINSTREAM framing) over a unix socket or TCP, with timeouts and a size
// limit matching clamd's StreamMaxLength. Intake uses it to scan attachments
// before a submission is accepted.
//
// The protocol (clamd(8)): the client sends "zINSTREAM\x00", then the data in
// chunks, each a 4-byte big-endian length followed by that many bytes, and a
// zero-length chunk at the end. clamd answers one NUL-terminated line:
//
//	stream: OK
//	stream: Eicar-Test-Signature FOUND
//	INSTREAM size limit exceeded. ERROR
//	stream: Can't allocate memory ERROR
//
// "zPING\x00" is answered with "PONG".
package antivirus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Defaults of Options.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultMaxStreamBytes = 25 << 20 // clamd's StreamMaxLength default (25M)
	DefaultChunkBytes     = 64 << 10
	maxReplyBytes         = 4 << 10
)

var (
	// ErrUnavailable marks a scan that could not be done: clamd is not
	// reachable, timed out, closed the connection or answered something that
	// is not a clamd reply.
	ErrUnavailable = errors.New("antivirus: clamd unavailable")
	// ErrTooLarge marks a stream longer than Options.MaxStreamBytes, or one
	// clamd refused with "INSTREAM size limit exceeded".
	ErrTooLarge = errors.New("antivirus: stream exceeds the scanner's size limit")
	// ErrScanner marks an ERROR reply of clamd for the stream.
	ErrScanner = errors.New("antivirus: clamd reported an error")
)

// Result is the verdict on one stream.
type Result struct {
	// Infected is true when clamd found a signature; Signature names it
	// (e.g. "Eicar-Test-Signature" or "Win.Test.EICAR_HDB-1").
	Infected  bool
	Signature string
	// Bytes is the number of bytes sent to clamd.
	Bytes int64
}

// Options configures a Client.
type Options struct {
	// Timeout bounds one whole command (connect, send, reply); 0 means
	// DefaultTimeout. A context deadline that comes earlier wins.
	Timeout time.Duration
	// MaxStreamBytes is the largest stream sent; set it to clamd's
	// StreamMaxLength. Longer streams give ErrTooLarge without being sent
	// beyond the limit. 0 means DefaultMaxStreamBytes.
	MaxStreamBytes int64
	// ChunkBytes is the size of one INSTREAM chunk; 0 means 64 KiB.
	ChunkBytes int
}

// Client talks to one clamd. It is safe for concurrent use: every command
// opens its own connection.
type Client struct {
	network, address string
	opts             Options
	dialer           net.Dialer
}

// New returns a client for address: "unix:/run/clamav/clamd.ctl",
// "tcp://127.0.0.1:3310", an absolute socket path, or host:port.
func New(address string, opts Options) (*Client, error) {
	network, addr, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxStreamBytes <= 0 {
		opts.MaxStreamBytes = DefaultMaxStreamBytes
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = DefaultChunkBytes
	}
	return &Client{network: network, address: addr, opts: opts}, nil
}

// ParseAddress splits a clamd address into network ("unix" or "tcp") and
// address.
func ParseAddress(address string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(address, "unix:"):
		network, addr = "unix", strings.TrimPrefix(strings.TrimPrefix(address, "unix:"), "//")
	case strings.HasPrefix(address, "tcp://"):
		network, addr = "tcp", strings.TrimPrefix(address, "tcp://")
	case strings.HasPrefix(address, "/"):
		network, addr = "unix", address
	default:
		network, addr = "tcp", address
	}
	if addr == "" {
		return "", "", fmt.Errorf("antivirus: empty clamd address %q", address)
	}
	if network == "tcp" {
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			return "", "", fmt.Errorf("antivirus: clamd address %q is neither unix:/path, /path nor host:port", address)
		}
	}
	return network, addr, nil
}

// Address returns the network and address the client dials.
func (c *Client) Address() string { return c.network + ":" + c.address }

// MaxStreamBytes returns the stream size limit.
func (c *Client) MaxStreamBytes() int64 { return c.opts.MaxStreamBytes }

// conn dials clamd with the command deadline set.
func (c *Client) conn(ctx context.Context) (net.Conn, func(), error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	conn, err := c.dialer.DialContext(ctx, c.network, c.address)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("%w: dial %s: %v", ErrUnavailable, c.Address(), err)
	}
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	// Cancelling ctx (the caller gave up) interrupts blocked reads and writes.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return conn, func() { stop(); cancel(); _ = conn.Close() }, nil
}

// Ping sends zPING and expects PONG.
func (c *Client) Ping(ctx context.Context) error {
	conn, done, err := c.conn(ctx)
	if err != nil {
		return err
	}
	defer done()
	if _, err := conn.Write([]byte("zPING\x00")); err != nil {
		return fmt.Errorf("%w: send PING: %v", ErrUnavailable, err)
	}
	line, err := readReply(conn)
	if err != nil {
		return err
	}
	if line != "PONG" {
		return fmt.Errorf("%w: PING answered %q instead of PONG", ErrUnavailable, clip(line))
	}
	return nil
}

// Scan streams r to clamd with zINSTREAM and returns its verdict. A stream
// longer than MaxStreamBytes is not sent beyond the limit: Scan returns
// ErrTooLarge. Errors wrap ErrUnavailable, ErrTooLarge or ErrScanner, or are
// errors reading r.
func (c *Client) Scan(ctx context.Context, r io.Reader) (Result, error) {
	conn, done, err := c.conn(ctx)
	if err != nil {
		return Result{}, err
	}
	defer done()
	w := bufio.NewWriterSize(conn, c.opts.ChunkBytes+4)
	if _, err := w.WriteString("zINSTREAM\x00"); err != nil {
		return Result{}, fmt.Errorf("%w: send INSTREAM: %v", ErrUnavailable, err)
	}
	n, err := writeChunks(w, r, c.opts.ChunkBytes, c.opts.MaxStreamBytes)
	if err != nil {
		var we *writeError
		if errors.As(err, &we) {
			// clamd may close early and say why (size limit): prefer its word.
			if line, rerr := readReply(conn); rerr == nil {
				if res, perr := ParseReply(line); perr != nil {
					return Result{Bytes: n}, perr
				} else if res.Infected {
					res.Bytes = n
					return res, nil
				}
			}
			return Result{Bytes: n}, fmt.Errorf("%w: send stream: %v", ErrUnavailable, we.err)
		}
		return Result{Bytes: n}, err
	}
	if err := w.Flush(); err != nil {
		return Result{Bytes: n}, fmt.Errorf("%w: send stream: %v", ErrUnavailable, err)
	}
	line, err := readReply(conn)
	if err != nil {
		return Result{Bytes: n}, err
	}
	res, err := ParseReply(line)
	res.Bytes = n
	return res, err
}

// writeError marks a failure writing to clamd (as opposed to reading r).
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

// writeChunks frames r as INSTREAM chunks plus the terminating zero-length
// chunk, refusing streams over limit.
func writeChunks(w *bufio.Writer, r io.Reader, chunk int, limit int64) (int64, error) {
	buf := make([]byte, chunk)
	var total int64
	var hdr [4]byte
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			if total+int64(n) > limit {
				return total, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
			}
			binary.BigEndian.PutUint32(hdr[:], uint32(n))
			if _, err := w.Write(hdr[:]); err != nil {
				return total, &writeError{err}
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return total, &writeError{err}
			}
			total += int64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return total, fmt.Errorf("antivirus: read the stream to scan: %w", rerr)
		}
	}
	binary.BigEndian.PutUint32(hdr[:], 0)
	if _, err := w.Write(hdr[:]); err != nil {
		return total, &writeError{err}
	}
	return total, nil
}

// readReply reads one NUL- (or newline-) terminated reply line.
func readReply(conn net.Conn) (string, error) {
	b, err := io.ReadAll(io.LimitReader(conn, maxReplyBytes+1))
	if len(b) == 0 && err != nil {
		return "", fmt.Errorf("%w: read reply: %v", ErrUnavailable, err)
	}
	if len(b) > maxReplyBytes {
		return "", fmt.Errorf("%w: reply longer than %d bytes", ErrUnavailable, maxReplyBytes)
	}
	if i := bytes.IndexAny(b, "\x00\n"); i >= 0 {
		b = b[:i]
	} else if err != nil || len(b) == 0 {
		return "", fmt.Errorf("%w: connection closed without a reply", ErrUnavailable)
	}
	return string(b), nil
}

// ParseReply interprets one clamd scan reply line (without its terminator).
func ParseReply(line string) (Result, error) {
	line = strings.TrimRight(line, "\x00\r\n")
	if line == "" {
		return Result{}, fmt.Errorf("%w: empty reply", ErrUnavailable)
	}
	if strings.Contains(line, "size limit exceeded") {
		return Result{}, fmt.Errorf("%w: clamd: %s", ErrTooLarge, clip(line))
	}
	// Replies to a stream start with "stream: "; with IDSESSION an id
	// "<n>: " precedes it. A file path may contain ": ", so the verdict is
	// what follows the last ": ".
	i := strings.LastIndex(line, ": ")
	if i < 0 {
		return Result{}, fmt.Errorf("%w: unexpected reply %q", ErrUnavailable, clip(line))
	}
	verdict := line[i+2:]
	switch {
	case verdict == "OK":
		return Result{}, nil
	case strings.HasSuffix(verdict, " FOUND"):
		sig := strings.TrimSpace(strings.TrimSuffix(verdict, " FOUND"))
		if sig == "" || !printable(sig) {
			return Result{}, fmt.Errorf("%w: unexpected reply %q", ErrUnavailable, clip(line))
		}
		return Result{Infected: true, Signature: sig}, nil
	case strings.HasSuffix(verdict, " ERROR"):
		return Result{}, fmt.Errorf("%w: %s", ErrScanner, clip(strings.TrimSuffix(verdict, " ERROR")))
	}
	return Result{}, fmt.Errorf("%w: unexpected reply %q", ErrUnavailable, clip(line))
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
