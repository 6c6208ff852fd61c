package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestPutOpenDelete(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("dxhub"), 300_000)
	ref, err := s.Put(context.Background(), bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if ref.SHA256 != hex.EncodeToString(sum[:]) || ref.Size != int64(len(data)) {
		t.Fatalf("ref = %+v", ref)
	}
	f, err := s.Open(ref.Key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	if err := s.Delete(ref.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ref.Key); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open after delete: %v", err)
	}
}

func TestPutLimit(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	tests := []struct {
		name    string
		size    int
		limit   int64
		wantErr error
	}{
		{"under", 10, 11, nil},
		{"exact", 11, 11, nil},
		{"over", 12, 11, ErrTooLarge},
		{"unlimited", 1000, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Put(context.Background(), bytes.NewReader(make([]byte, tt.size)), tt.limit)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	left, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	if len(left) != 0 {
		t.Fatalf("temporary files left behind: %d", len(left))
	}
}

func TestInvalidKey(t *testing.T) {
	s, _ := Open(t.TempDir())
	for _, k := range []string{"", "../etc/passwd", "ZZ", string(make([]byte, 64))} {
		if _, err := s.Open(k); err == nil {
			t.Errorf("Open(%q) succeeded", k)
		}
	}
}

func TestPutCancelled(t *testing.T) {
	s, _ := Open(t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, bytes.NewReader(make([]byte, 10)), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}
