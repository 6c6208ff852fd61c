package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// EnvOverride names the environment variable(s) that override one key.
type EnvOverride struct {
	Key     string   // key path as written in YAML, e.g. "limits.maxBodyBytes"
	Env     string   // e.g. "DXHUB_LIMITS_MAXBODYBYTES"
	Aliases []string // further variables, consulted when Env is unset
}

// envAliases are extra variable names for some keys, first match wins after
// the canonical name.
var envAliases = map[string][]string{
	// The test kit (internal/testenv) and the lead's tooling use this name.
	"hub.standardsDir": {"DXHUB_STANDARDS_DIR"},
}

// EnvOverrides lists every key that can be overridden from the environment:
// all scalar leaves of Config outside the lists, in declaration order.
func EnvOverrides() []EnvOverride {
	var out []EnvOverride
	var walk func(t reflect.Type, path []string)
	walk = func(t reflect.Type, path []string) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("mapstructure")
			if !f.IsExported() || tag == "" || tag == "-" {
				continue
			}
			p := append(slices.Clone(path), tag)
			switch f.Type.Kind() {
			case reflect.Struct:
				walk(f.Type, p)
			case reflect.Slice, reflect.Map:
				// Lists cannot be addressed element by element from the
				// environment; see the package documentation.
			default:
				key := strings.Join(p, ".")
				out = append(out, EnvOverride{
					Key:     key,
					Env:     EnvPrefix + strings.ToUpper(strings.Join(p, "_")),
					Aliases: envAliases[key],
				})
			}
		}
	}
	walk(reflect.TypeFor[Config](), nil)
	return out
}

// load decodes one YAML document over the defaults, optionally with the
// environment, then resolves files (API keys, directory) relative to source.
func load(source string, data []byte, useEnv bool) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}

	// fromEnv maps lower-cased keys to the variable that set them.
	fromEnv := map[string]string{}
	var ignored []string
	if useEnv {
		known := map[string]bool{}
		for _, o := range EnvOverrides() {
			names := append([]string{o.Env}, o.Aliases...)
			// Explicit binding (not AutomaticEnv) makes env-only keys reach
			// Unmarshal and leaves list keys untouched by stray variables.
			if err := v.BindEnv(append([]string{o.Key}, names...)...); err != nil {
				return nil, fmt.Errorf("bind %s: %w", o.Env, err)
			}
			for _, n := range names {
				known[n] = true
			}
			for _, n := range names {
				if os.Getenv(n) != "" {
					fromEnv[strings.ToLower(o.Key)] = n
					break
				}
			}
		}
		for _, kv := range os.Environ() {
			name, val, _ := strings.Cut(kv, "=")
			if strings.HasPrefix(name, EnvPrefix) && val != "" && !known[name] {
				ignored = append(ignored, name)
			}
		}
		slices.Sort(ignored)
	}

	c := defaults()
	if err := v.UnmarshalExact(&c, viper.DecodeHook(decodeHook)); err != nil {
		return nil, decodeErrors(err, "", fromEnv)
	}
	c.source = source
	c.ignoredEnv = ignored

	for i := range c.Services {
		if c.Services[i].SLA == 0 {
			c.Services[i].SLA = DefaultSLA
		}
	}

	baseDir := ""
	if source != "" {
		baseDir = filepath.Dir(source)
	}
	c.Directory.File = resolvePath(baseDir, c.Directory.File, fromEnv["directory.file"] != "")
	c.Mailbox.Messages = resolvePath(baseDir, c.Mailbox.Messages, fromEnv["mailbox.messages"] != "")
	c.DVDV.CertFile = resolvePath(baseDir, c.DVDV.CertFile, fromEnv["dvdv.certfile"] != "")
	c.DVDV.KeyFile = resolvePath(baseDir, c.DVDV.KeyFile, fromEnv["dvdv.keyfile"] != "")
	c.DVDV.CAFile = resolvePath(baseDir, c.DVDV.CAFile, fromEnv["dvdv.cafile"] != "")
	c.Mailbox.CertFile = resolvePath(baseDir, c.Mailbox.CertFile, fromEnv["mailbox.certfile"] != "")
	c.Mailbox.KeyFile = resolvePath(baseDir, c.Mailbox.KeyFile, fromEnv["mailbox.keyfile"] != "")
	c.Mailbox.CAFile = resolvePath(baseDir, c.Mailbox.CAFile, fromEnv["mailbox.cafile"] != "")
	c.XTA.resolvePaths(baseDir, fromEnv)
	c.resolvePortalPaths(baseDir, fromEnv)
	c.OSCI.resolvePaths(baseDir, fromEnv)
	for i := range c.Services {
		if pr := c.Services[i].Profile; pr != "" && !strings.HasPrefix(pr, BuiltinProfilePrefix) {
			c.Services[i].Profile = resolvePath(baseDir, pr, false)
		}
	}
	for i := range c.Portals {
		p := &c.Portals[i]
		if p.APIKeyFile != "" {
			p.APIKeyFile = resolvePath(baseDir, p.APIKeyFile, false)
			p.fileKey, p.fileErr = readKeyFile(p.APIKeyFile)
		}
		if w := &p.Webhook; w.SecretFile != "" {
			w.SecretFile = resolvePath(baseDir, w.SecretFile, false)
			w.fileSecret, w.fileErr = readKeyFile(w.SecretFile)
		}
	}
	c.Kafka.resolvePaths(baseDir, fromEnv)
	c.Tracing.resolvePaths(baseDir, fromEnv)

	if c.Directory.File != "" {
		eps, err := loadDirectoryFile(c.Directory.File)
		if err != nil {
			return nil, err
		}
		c.Endpoints = append(c.Endpoints, eps...)
	}
	return &c, nil
}

// loadDirectoryFile reads a YAML document with a top-level `endpoints:` list.
func loadDirectoryFile(path string) ([]Endpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &FieldError{Key: "directory.file", Problem: err.Error()}
	}
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(b)); err != nil {
		return nil, &FieldError{Key: "directory.file", Problem: fmt.Sprintf("parse %s: %v", path, err)}
	}
	var doc struct {
		Endpoints []Endpoint `mapstructure:"endpoints"`
	}
	if err := v.UnmarshalExact(&doc, viper.DecodeHook(decodeHook)); err != nil {
		return nil, decodeErrors(err, path+":", nil)
	}
	for i := range doc.Endpoints {
		doc.Endpoints[i].origin = fmt.Sprintf("%s:endpoints[%d]", path, i)
	}
	return doc.Endpoints, nil
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	sizeType     = reflect.TypeFor[Size]()
)

// decodeHook converts sizes and durations and refuses the silent conversions
// weak typing would otherwise make: a YAML number into a string (an unquoted
// AGS such as 05315000 is read as an octal number), a bare number into a
// duration (60 would mean 60ns), a fraction into an integer.
func decodeHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	rv := reflect.ValueOf(data)
	isInt := rv.CanInt() || rv.CanUint()
	isFloat := rv.CanFloat()
	switch {
	case to == sizeType:
		switch {
		case rv.Kind() == reflect.String:
			return ParseSize(rv.String())
		case rv.CanInt():
			if rv.Int() < 0 {
				return nil, fmt.Errorf("invalid size %d: must not be negative", rv.Int())
			}
			return Size(rv.Int()), nil
		case rv.CanUint():
			if rv.Uint() > math.MaxInt64 {
				return nil, fmt.Errorf("invalid size %d: too large", rv.Uint())
			}
			return Size(rv.Uint()), nil
		case isFloat:
			f := rv.Float()
			if f < 0 || f != math.Trunc(f) || f >= math.MaxInt64 {
				return nil, fmt.Errorf("invalid size %v: expected %s", f, sizeSyntax)
			}
			return Size(f), nil
		}
	case to == durationType:
		switch {
		case rv.Kind() == reflect.String:
			d, err := time.ParseDuration(strings.TrimSpace(rv.String()))
			if err != nil {
				return nil, fmt.Errorf("invalid duration %q: expected a Go duration such as \"200ms\", \"30s\", \"5m\" or \"72h\"", rv.String())
			}
			return d, nil
		case isInt || isFloat:
			if rv.IsZero() {
				return time.Duration(0), nil
			}
			return nil, fmt.Errorf("duration %v has no unit: write e.g. \"%vs\"", data, data)
		}
	case to.Kind() == reflect.String:
		if isInt || isFloat || rv.Kind() == reflect.Bool {
			return nil, fmt.Errorf("expected a string, got the %s %v: quote the value in YAML (unquoted, 05315000 is read as an octal number)", rv.Kind(), data)
		}
	case to.Kind() >= reflect.Int && to.Kind() <= reflect.Uint64:
		if isFloat && rv.Float() != math.Trunc(rv.Float()) {
			return nil, fmt.Errorf("expected a whole number, got %v", data)
		}
	}
	return data, nil
}

// decodeErrors turns mapstructure's errors into FieldErrors: one per unknown
// key, one per bad value. prefix is put before every key (for files other
// than the config itself); fromEnv names the variable behind a key, if any.
func decodeErrors(err error, prefix string, fromEnv map[string]string) error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		de, ok := e.(*mapstructure.DecodeError)
		if !ok {
			switch x := e.(type) {
			case interface{ Unwrap() []error }:
				for _, y := range x.Unwrap() {
					walk(y)
				}
			case interface{ Unwrap() error }:
				// Descend through wrappers such as mapstructure's "decoding
				// failed due to…" only when they hold decode errors.
				var inner *mapstructure.DecodeError
				if in := x.Unwrap(); in != nil && errors.As(in, &inner) {
					walk(in)
					return
				}
				out = append(out, &FieldError{Key: strings.TrimSuffix(prefix, ":"), Problem: e.Error()})
			default:
				out = append(out, &FieldError{Key: strings.TrimSuffix(prefix, ":"), Problem: e.Error()})
			}
			return
		}
		inner := de.Unwrap()
		if j, ok := inner.(interface{ Unwrap() []error }); ok {
			walk(j.(error))
			return
		}
		if inner == nil {
			out = append(out, &FieldError{Key: prefix + de.Name(), Problem: de.Error()})
			return
		}
		msg := inner.Error()
		if keys, ok := strings.CutPrefix(msg, "has invalid keys: "); ok {
			for k := range strings.SplitSeq(keys, ", ") {
				out = append(out, &FieldError{Key: prefix + joinKey(de.Name(), k), Problem: "unknown key"})
			}
			return
		}
		if env := fromEnv[strings.ToLower(de.Name())]; env != "" {
			msg += " (from " + env + ")"
		}
		out = append(out, &FieldError{Key: prefix + de.Name(), Problem: msg})
	}
	walk(err)
	return errors.Join(out...)
}

func joinKey(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}
