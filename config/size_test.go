package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    Size
		wantErr string // substring of the error; "" = success
	}{
		{in: "0", want: 0},
		{in: "1048576", want: MiB},
		{in: "123B", want: 123},
		{in: "123 b", want: 123},
		{in: "1KiB", want: 1024},
		{in: "200MiB", want: 200 * MiB},
		{in: "200 MiB", want: 200 * MiB},
		{in: "  110mib  ", want: 110 * MiB},
		{in: "3GiB", want: 3 << 30},
		{in: "2TiB", want: 2 << 40},
		{in: "5kB", want: 5000},
		{in: "5KB", want: 5000},
		{in: "7MB", want: 7_000_000},
		{in: "1GB", want: 1_000_000_000},
		{in: "1TB", want: 1_000_000_000_000},
		{in: "9223372036854775807", want: 9223372036854775807},
		{in: "8388607TiB", want: 8388607 << 40},
		{in: "", wantErr: "empty"},
		{in: "   ", wantErr: "empty"},
		{in: "MiB", wantErr: "expected a whole number"},
		{in: "-1", wantErr: "expected a whole number"},
		{in: "+1", wantErr: "expected a whole number"},
		{in: "1.5GiB", wantErr: "fractions are not supported"},
		{in: "1,5MB", wantErr: "fractions are not supported"},
		{in: "10 MiBs", wantErr: `unknown unit "MiBs"`},
		{in: "10X", wantErr: `unknown unit "X"`},
		{in: "1 2", wantErr: `unknown unit "2"`},
		{in: "9223372036854775808", wantErr: "too large"},
		{in: "8388608TiB", wantErr: "too large"},
		{in: "99999999999999999999999KiB", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr != "" {
				var se *SizeError
				if !errors.As(err, &se) {
					t.Fatalf("ParseSize(%q) = %v, %v; want *SizeError", tt.in, got, err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.in) {
					t.Fatalf("ParseSize(%q) error %q; want it to name the input and contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   Size
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1023, "1023B"},
		{1024, "1KiB"},
		{1000, "1kB"},
		{110 * MiB, "110MiB"},
		{1536 * MiB, "1536MiB"},
		{3 * GiB, "3GiB"},
		{5 * MB, "5MB"},
		{1234567, "1234567B"},
		{-5, "-5B"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Size(%d).String() = %q; want %q", int64(tt.in), got, tt.want)
		}
	}
}

func TestSizeText(t *testing.T) {
	var s Size
	if err := s.UnmarshalText([]byte("64KiB")); err != nil || s != 64*KiB {
		t.Fatalf("UnmarshalText(64KiB) = %d, %v", s, err)
	}
	if err := s.UnmarshalText([]byte("lots")); err == nil {
		t.Fatal("UnmarshalText(lots) succeeded")
	}
	b, err := (110 * MiB).MarshalText()
	if err != nil || string(b) != "110MiB" {
		t.Fatalf("MarshalText = %q, %v", b, err)
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "1", "110MiB", "200 MB", "1.5GiB", "-1", "9223372036854775807", "8388608TiB", "kB", " 7 tib "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseSize(in)
		if err != nil {
			var se *SizeError
			if !errors.As(err, &se) || se.Input != in {
				t.Fatalf("ParseSize(%q) error %v is not a *SizeError naming the input", in, err)
			}
			return
		}
		if got < 0 {
			t.Fatalf("ParseSize(%q) = %d < 0", in, got)
		}
		back, err := ParseSize(got.String())
		if err != nil || back != got {
			t.Fatalf("round trip of %q: String() = %q parses to %d, %v; want %d", in, got.String(), back, err, got)
		}
	})
}
