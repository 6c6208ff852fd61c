// Package blob stores attachment bytes as content-addressed files under
// <data>/blobs. Writers stream: bytes go through a SHA-256 hash into a temporary
// file, which is fsynced and renamed to its hash, so a blob is either complete
// or absent and never held whole in memory.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ErrTooLarge is returned by Put when the stream exceeds its limit.
var ErrTooLarge = errors.New("blob exceeds size limit")

// Ref identifies a stored blob.
type Ref struct {
	Key    string // the hex SHA-256; also the file name
	Size   int64
	SHA256 string // hex, equal to Key
}

// Store is a directory of blobs.
type Store struct {
	dir string
}

// Open creates the directory if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o750); err != nil {
		return nil, fmt.Errorf("blob: create %s: %w", dir, err)
	}
	return &Store{dir: dir}, nil
}

// Dir returns the root directory.
func (s *Store) Dir() string { return s.dir }

// Put streams r into the store. If more than limit bytes arrive it stops reading,
// removes the partial file and returns ErrTooLarge. A limit <= 0 means no limit.
func (s *Store) Put(ctx context.Context, r io.Reader, limit int64) (Ref, error) {
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "put-*")
	if err != nil {
		return Ref{}, fmt.Errorf("blob: temp file: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	src := r
	if limit > 0 {
		src = io.LimitReader(r, limit+1)
	}
	n, err := io.Copy(io.MultiWriter(tmp, h), ctxReader{ctx, src})
	if err != nil {
		return Ref{}, fmt.Errorf("blob: write: %w", err)
	}
	if limit > 0 && n > limit {
		return Ref{}, fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit)
	}
	if err := tmp.Sync(); err != nil {
		return Ref{}, fmt.Errorf("blob: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return Ref{}, fmt.Errorf("blob: close: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	final := s.path(sum)
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return Ref{}, fmt.Errorf("blob: mkdir: %w", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return Ref{}, fmt.Errorf("blob: rename: %w", err)
	}
	done = true
	if err := syncDir(filepath.Dir(final)); err != nil {
		return Ref{}, err
	}
	return Ref{Key: sum, Size: n, SHA256: sum}, nil
}

// Open returns a reader for the blob with the given key.
func (s *Store) Open(key string) (*os.File, error) {
	if !validKey(key) {
		return nil, fmt.Errorf("blob: invalid key %q", key)
	}
	f, err := os.Open(s.path(key))
	if err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", key, err)
	}
	return f, nil
}

// Delete removes a blob; a missing blob is not an error. Callers make sure no
// committed row still references it (blobs are shared by content).
func (s *Store) Delete(key string) error {
	if !validKey(key) {
		return fmt.Errorf("blob: invalid key %q", key)
	}
	if err := os.Remove(s.path(key)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	return nil
}

func (s *Store) path(key string) string {
	return filepath.Join(s.dir, key[:2], key)
}

func validKey(key string) bool {
	if len(key) != 64 {
		return false
	}
	return strings.Trim(key, "0123456789abcdef") == ""
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("blob: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("blob: sync dir: %w", err)
	}
	return nil
}

// ctxReader stops a long copy when the request is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
