package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a number of bytes. In the YAML file and in environment variables it is
// written as a whole number of bytes ("1048576") or with a unit ("1MiB", "200 MB");
// see ParseSize.
type Size int64

// Size units. The IEC units (KiB, MiB, …) are powers of 1024, the SI units
// (kB, MB, …) powers of 1000.
const (
	Byte Size = 1
	KiB  Size = 1 << 10
	MiB  Size = 1 << 20
	GiB  Size = 1 << 30
	TiB  Size = 1 << 40
	KB   Size = 1000
	MB   Size = 1000 * KB
	GB   Size = 1000 * MB
	TB   Size = 1000 * GB
)

// sizeUnits maps the lower-cased unit suffixes ParseSize accepts to their factor.
var sizeUnits = map[string]Size{
	"": Byte, "b": Byte,
	"kib": KiB, "mib": MiB, "gib": GiB, "tib": TiB,
	"kb": KB, "mb": MB, "gb": GB, "tb": TB,
}

// sizeUnitNames lists the units for error messages and String, largest first
// within each family, IEC before SI.
var sizeUnitNames = []struct {
	name string
	size Size
}{
	{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB},
	{"TB", TB}, {"GB", GB}, {"MB", MB}, {"kB", KB},
}

const sizeSyntax = "a whole number of bytes, optionally followed by a unit (B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)"

// SizeError reports a string that ParseSize cannot read.
type SizeError struct {
	Input  string
	Reason string
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("invalid size %q: %s", e.Input, e.Reason)
}

// ParseSize reads a size: a whole, non-negative number with an optional unit,
// with or without a space between them. Units are case-insensitive: "B";
// IEC "KiB", "MiB", "GiB", "TiB" (powers of 1024); SI "kB", "MB", "GB", "TB"
// (powers of 1000). Fractions ("1.5GiB"), signs and overflowing values are
// rejected with a *SizeError.
func ParseSize(s string) (Size, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, &SizeError{Input: s, Reason: "empty; expected " + sizeSyntax}
	}
	i := 0
	for i < len(in) && in[i] >= '0' && in[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, &SizeError{Input: s, Reason: "expected " + sizeSyntax}
	}
	digits, unit := in[:i], strings.TrimSpace(in[i:])
	if strings.HasPrefix(unit, ".") || strings.HasPrefix(unit, ",") {
		return 0, &SizeError{Input: s, Reason: "fractions are not supported; use a smaller unit (e.g. 1536MiB instead of 1.5GiB)"}
	}
	factor, ok := sizeUnits[strings.ToLower(unit)]
	if !ok {
		return 0, &SizeError{Input: s, Reason: fmt.Sprintf("unknown unit %q; expected %s", unit, sizeSyntax)}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt64/int64(factor) {
		return 0, &SizeError{Input: s, Reason: "too large"}
	}
	return Size(n) * factor, nil
}

// String formats the size with the largest unit that divides it exactly
// ("110MiB", "5MB"), or as bytes ("1234B"). ParseSize reads it back.
func (s Size) String() string {
	if s > 0 {
		for _, u := range sizeUnitNames {
			if s%u.size == 0 {
				return strconv.FormatInt(int64(s/u.size), 10) + u.name
			}
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// Int64 returns the size in bytes.
func (s Size) Int64() int64 { return int64(s) }

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseSize.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
