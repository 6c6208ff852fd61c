package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// clearEnv blanks every DXHUB_* variable for the test (viper ignores empty
// values), so the developer's environment cannot leak into results.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, EnvPrefix) {
			t.Setenv(name, "")
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// errKeys returns the sorted keys of the FieldErrors in err.
func errKeys(err error) []string {
	var keys []string
	for _, fe := range FieldErrors(err) {
		keys = append(keys, fe.Key)
	}
	slices.Sort(keys)
	return keys
}

func TestDefault(t *testing.T) {
	clearEnv(t)
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("embedded default does not validate:\n%v", err)
	}
	d := defaults()
	if c.Hub != d.Hub || c.Limits != d.Limits || c.Workers != d.Workers || c.Retry != d.Retry {
		t.Errorf("embedded default changes scalar defaults:\n got %+v %+v %+v %+v", c.Hub, c.Limits, c.Workers, c.Retry)
	}
	if got := c.Tenants; len(got) != 1 || got[0] != (Tenant{AGS: "05315000", Name: "Stadt Köln", DVDVKey: "ags:05315000"}) {
		t.Errorf("tenants = %+v", got)
	}
	p, ok := c.Portal("demo-portal")
	if !ok || p.Secret() != DemoAPIKey || !slices.Equal(p.Tenants, []string{"05315000"}) || len(c.Portals) != 1 {
		t.Errorf("portals = %+v", c.Portals)
	}
	if got := c.InsecureDemoPortals(); !slices.Equal(got, []string{"demo-portal"}) {
		t.Errorf("InsecureDemoPortals() = %v", got)
	}
	s, ok := c.Service("universeller-antrag")
	if !ok || s.Standard != "xbau-kernmodul-1.3.0" || s.MessageType != "universellerAntrag.antrag.1200" || s.SLA != 72*time.Hour {
		t.Errorf("services = %+v", c.Services)
	}
	wantEP := Endpoint{ReaderKey: "ags:05315000", ServiceURI: s.ServiceURI, Transport: TransportXTAMailbox}
	if len(c.Endpoints) != len(c.Services) || !reflect.DeepEqual(c.Endpoints[0], wantEP) {
		t.Errorf("endpoints = %+v; want %+v", c.Endpoints, wantEP)
	}
	if c.ListenAddr() != "127.0.0.1:8080" || c.BaseURL() != "http://127.0.0.1:8080" {
		t.Errorf("ListenAddr, BaseURL = %q, %q", c.ListenAddr(), c.BaseURL())
	}

	loaded, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, c) {
		t.Errorf("Load(\"\") = %+v\nwant Default() = %+v", loaded, c)
	}
	if !strings.Contains(string(DefaultYAML()), "demo-key") {
		t.Error("DefaultYAML does not return the embedded file")
	}
}

func TestExampleValidates(t *testing.T) {
	clearEnv(t)
	c, err := Load("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("example.yaml does not validate:\n%v", err)
	}
	if len(c.InsecureDemoPortals()) != 0 {
		t.Errorf("example uses the demo key: %v", c.InsecureDemoPortals())
	}
	// The key file is relative to example.yaml; the directory file is merged.
	if _, ok := c.PortalByAPIKey("k3y-f0r-the-fachportal-7c1d9e2a5b"); !ok {
		t.Error("apiKeyFile of fachportal-bauen not read")
	}
	var readers []string
	for _, e := range c.Endpoints {
		readers = append(readers, e.ReaderKey)
	}
	if want := []string{"ags:05315000", "ags:05334002", "ags:05314000", "ags:05111000"}; !slices.Equal(readers, want) {
		t.Errorf("endpoint readers = %v; want %v", readers, want)
	}
}

// TestExampleHasEveryKey fails when a key is added to Config without being
// shown in example.yaml.
func TestExampleHasEveryKey(t *testing.T) {
	b, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var missing []string
	var walk func(typ reflect.Type, node any, path string)
	walk = func(typ reflect.Type, node any, path string) {
		switch typ.Kind() {
		case reflect.Struct:
			if typ == reflect.TypeFor[time.Duration]() {
				return
			}
			m, _ := node.(map[string]any)
			for i := range typ.NumField() {
				f := typ.Field(i)
				tag := f.Tag.Get("mapstructure")
				if tag == "" {
					continue
				}
				v, ok := m[tag]
				if !ok {
					missing = append(missing, joinKey(path, tag))
					continue
				}
				walk(f.Type, v, joinKey(path, tag))
			}
		case reflect.Slice:
			if typ.Elem().Kind() != reflect.Struct {
				return
			}
			// Every field must appear in at least one element.
			list, _ := node.([]any)
			merged := map[string]any{}
			for _, el := range list {
				if m, ok := el.(map[string]any); ok {
					deepMerge(merged, m)
				}
			}
			walk(typ.Elem(), merged, path+"[]")
		}
	}
	walk(reflect.TypeFor[Config](), doc, "")
	if len(missing) > 0 {
		t.Errorf("example.yaml lacks keys: %v", missing)
	}
}

func TestEnvOverridesList(t *testing.T) {
	got := withoutKeys(EnvOverrides(), "tracing.") // TestTracingEnvOverrides checks those
	byKey := map[string]EnvOverride{}
	for _, o := range got {
		byKey[o.Key] = o
		for _, list := range []string{"tenants", "portals", "services", "endpoints"} {
			if strings.HasPrefix(o.Key, list) {
				t.Errorf("list key %q must not be overridable", o.Key)
			}
		}
	}
	if len(got) != 131 {
		t.Errorf("got %d overrides; want 131 (hub 12, limits 13, workers 3, retry 6, directory 1, mailbox 7, dvdv 16, xta 20, osci 12, reliability 4, store 5, kafka 18, admin 6, antivirus 5, retention 3)", len(got))
	}
	for key, env := range map[string]string{
		"hub.listen":          "DXHUB_HUB_LISTEN",
		"hub.baseURL":         "DXHUB_HUB_BASEURL",
		"limits.maxBodyBytes": "DXHUB_LIMITS_MAXBODYBYTES",
		"retry.jitter":        "DXHUB_RETRY_JITTER",
		"directory.file":      "DXHUB_DIRECTORY_FILE",
		"mailbox.messages":    "DXHUB_MAILBOX_MESSAGES",
	} {
		if byKey[key].Env != env {
			t.Errorf("%s: env %q; want %q", key, byKey[key].Env, env)
		}
	}
	if a := byKey["hub.standardsDir"].Aliases; !slices.Equal(a, []string{"DXHUB_STANDARDS_DIR"}) {
		t.Errorf("hub.standardsDir aliases = %v", a)
	}
}

func TestLoadEnv(t *testing.T) {
	const file = `
hub:
  listen: 127.0.0.1:9000
directory:
  file: dir.yaml
tenants:
  - ags: "05315000"
    name: Stadt Köln
    dvdvKey: ags:05315000
`
	const dirFile = `
endpoints:
  - readerKey: ags:05315000
    serviceURI: urn:a
    transport: xta-mailbox
`
	tests := []struct {
		name        string
		noFile      bool // Load("") instead of the file above
		env         map[string]string
		check       func(*Config) any // returns the value under test
		want        any
		wantIgnored []string
	}{
		{
			name:  "file key overridden",
			env:   map[string]string{"DXHUB_HUB_LISTEN": "0.0.0.0:9999"},
			check: func(c *Config) any { return c.ListenAddr() + " " + c.BaseURL() },
			want:  "0.0.0.0:9999 http://localhost:9999",
		},
		{
			name:  "file key without env",
			check: func(c *Config) any { return c.ListenAddr() },
			want:  "127.0.0.1:9000",
		},
		{
			name:  "env-only key",
			env:   map[string]string{"DXHUB_HUB_LOGLEVEL": "debug", "DXHUB_HUB_BASEURL": "https://hub.example/"},
			check: func(c *Config) any { return c.Hub.LogLevel + " " + c.BaseURL() },
			want:  "debug https://hub.example",
		},
		{
			name:  "nested size with unit",
			env:   map[string]string{"DXHUB_LIMITS_MAXBODYBYTES": "200MiB"},
			check: func(c *Config) any { return c.Limits.MaxBodyBytes },
			want:  200 * MiB,
		},
		{
			name:  "size in bytes",
			env:   map[string]string{"DXHUB_LIMITS_MAXJSONBYTES": "65536"},
			check: func(c *Config) any { return c.Limits.MaxJSONBytes },
			want:  64 * KiB,
		},
		{
			name:  "duration, int and float",
			env:   map[string]string{"DXHUB_WORKERS_LEASE": "2m", "DXHUB_WORKERS_COUNT": "8", "DXHUB_RETRY_JITTER": "0.5"},
			check: func(c *Config) any { return []any{c.Workers.Lease, c.Workers.Count, c.Retry.Jitter} },
			want:  []any{2 * time.Minute, 8, 0.5},
		},
		{
			name:  "alias DXHUB_STANDARDS_DIR",
			env:   map[string]string{"DXHUB_STANDARDS_DIR": "/opt/standards"},
			check: func(c *Config) any { return c.Hub.StandardsDir },
			want:  "/opt/standards",
		},
		{
			name:  "canonical name beats alias",
			env:   map[string]string{"DXHUB_STANDARDS_DIR": "/alias", "DXHUB_HUB_STANDARDSDIR": "/canonical"},
			check: func(c *Config) any { return c.Hub.StandardsDir },
			want:  "/canonical",
		},
		{
			name:   "embedded default with env",
			noFile: true,
			env:    map[string]string{"DXHUB_HUB_DATADIR": "/srv/dxhub", "DXHUB_RETRY_MAXATTEMPTS": "3"},
			check:  func(c *Config) any { return []any{c.Hub.DataDir, c.Retry.MaxAttempts, len(c.Tenants)} },
			want:   []any{"/srv/dxhub", 3, 1},
		},
		{
			name: "lists are not overridable and stray variables are reported",
			env: map[string]string{
				"DXHUB_TENANTS":          "- ags: '05111000'",
				"DXHUB_PORTALS_0_APIKEY": "secret",
				"DXHUB_HUB_LISTN":        "typo",
			},
			check:       func(c *Config) any { return []any{len(c.Tenants), c.Tenants[0].AGS, c.ListenAddr()} },
			want:        []any{1, "05315000", "127.0.0.1:9000"},
			wantIgnored: []string{"DXHUB_HUB_LISTN", "DXHUB_PORTALS_0_APIKEY", "DXHUB_TENANTS"},
		},
		{
			name: "file path from env is relative to the working directory",
			env:  map[string]string{"DXHUB_MAILBOX_MESSAGES": "texts.yaml"},
			check: func(c *Config) any {
				return []any{c.Mailbox.Messages, filepath.Base(c.Directory.File) == "dir.yaml" && filepath.IsAbs(c.Directory.File)}
			},
			want: []any{"texts.yaml", true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			path := writeFile(t, dir, "dxhub.yaml", file)
			writeFile(t, dir, "dir.yaml", dirFile)
			if tt.noFile {
				path = ""
			}
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v; want %v", got, tt.want)
			}
			if got := c.IgnoredEnv(); !slices.Equal(got, tt.wantIgnored) {
				t.Errorf("IgnoredEnv() = %v; want %v", got, tt.wantIgnored)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		env      map[string]string
		wantKeys []string
		wantMsg  []string // substrings of the whole error
	}{
		{
			name:     "unknown top-level key",
			file:     "hubb:\n  listen: x\n",
			wantKeys: []string{"hubb"},
			wantMsg:  []string{"hubb: unknown key"},
		},
		{
			name:     "unknown nested keys",
			file:     "hub:\n  listn: x\n  logLvl: debug\nlimits:\n  maxBody: 1\n",
			wantKeys: []string{"hub.listn", "hub.loglvl", "limits.maxbody"},
		},
		{
			name:     "unknown key in a list element",
			file:     "portals:\n  - id: a\n    apiKey: k\n    tenant: [\"05315000\"]\n",
			wantKeys: []string{"portals[0].tenant"},
		},
		{
			name:     "unquoted AGS",
			file:     "tenants:\n  - ags: 05315000\n    name: Köln\n    dvdvKey: ags:05315000\nportals:\n  - id: p\n    apiKey: k\n    tenants: [05315000]\n",
			wantKeys: []string{"portals[0].tenants[0]", "tenants[0].ags"},
			wantMsg:  []string{"quote the value"},
		},
		{
			name:     "duration without unit",
			file:     "workers:\n  lease: 60\n",
			wantKeys: []string{"workers.lease"},
			wantMsg:  []string{`write e.g. "60s"`},
		},
		{
			name:     "bad duration",
			file:     "retry:\n  maxAge: 3 days\n",
			wantKeys: []string{"retry.maxAge"},
			wantMsg:  []string{`invalid duration "3 days"`},
		},
		{
			name:     "bad size",
			file:     "limits:\n  maxBodyBytes: 1.5GiB\n  maxJSONBytes: -3\n  maxAttachmentBytes: lots\n",
			wantKeys: []string{"limits.maxAttachmentBytes", "limits.maxBodyBytes", "limits.maxJSONBytes"},
			wantMsg:  []string{"fractions are not supported", "must not be negative", `invalid size "lots"`},
		},
		{
			name:     "fraction into an integer",
			file:     "workers:\n  count: 2.5\n",
			wantKeys: []string{"workers.count"},
		},
		{
			name:     "bad env value names the variable",
			env:      map[string]string{"DXHUB_WORKERS_COUNT": "many"},
			wantKeys: []string{"workers.count"},
			wantMsg:  []string{"(from DXHUB_WORKERS_COUNT)"},
		},
		{
			name:     "bad env size",
			env:      map[string]string{"DXHUB_LIMITS_MAXBODYBYTES": "big"},
			wantKeys: []string{"limits.maxBodyBytes"},
			wantMsg:  []string{"DXHUB_LIMITS_MAXBODYBYTES"},
		},
		{
			name:     "missing directory file",
			file:     "directory:\n  file: nowhere.yaml\n",
			wantKeys: []string{"directory.file"},
			wantMsg:  []string{"nowhere.yaml"},
		},
		{
			name:    "YAML syntax error",
			file:    "hub: [\n",
			wantMsg: []string{"parse YAML"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := writeFile(t, t.TempDir(), "dxhub.yaml", tt.file)
			c, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", c)
			}
			if got := errKeys(err); !slices.Equal(got, tt.wantKeys) {
				t.Errorf("error keys = %q; want %q\nerror: %v", got, tt.wantKeys, err)
			}
			for _, m := range append(tt.wantMsg, path) {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
		})
	}
	t.Run("missing config file", func(t *testing.T) {
		if _, err := Load(filepath.Join(t.TempDir(), "absent.yaml")); err == nil || !strings.Contains(err.Error(), "absent.yaml") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestDirectoryMerge(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	base := `
directory:
  file: sub/dir.yaml
endpoints:
  - readerKey: ags:05315000
    serviceURI: urn:xoev-de:xbau-kernmodul:universellerAntrag
    transport: xta-mailbox
`
	t.Run("merged after the config's own", func(t *testing.T) {
		writeFile(t, dir, "sub/dir.yaml", `
endpoints:
  - readerKey: ags:05314000
    serviceURI: urn:xoev-de:xbau-kernmodul:universellerAntrag
    transport: xta-mailbox
  - readerKey: ags:05111000
    serviceURI: urn:xoev-de:xbau-kernmodul:universellerAntrag
    transport: xta
    url: https://xta.example/fv
`)
		c, err := Load(writeFile(t, dir, "dxhub.yaml", base))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if len(c.Endpoints) != 3 || c.Endpoints[0].ReaderKey != "ags:05315000" || c.Endpoints[2].Transport != TransportXTA {
			t.Fatalf("endpoints = %+v", c.Endpoints)
		}
		if want := filepath.Join(dir, "sub", "dir.yaml"); c.Directory.File != want {
			t.Errorf("directory.file = %q; want %q (relative to the config file)", c.Directory.File, want)
		}
	})
	t.Run("problems in merged entries name the file", func(t *testing.T) {
		dirPath := writeFile(t, dir, "sub/dir.yaml", `
endpoints:
  - readerKey: ags:05315000
    serviceURI: urn:xoev-de:xbau-kernmodul:universellerAntrag
    transport: xta
`)
		c, err := Load(writeFile(t, dir, "dxhub.yaml", base))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Validate()
		want := []string{dirPath + ":endpoints[0]", dirPath + ":endpoints[0].url"}
		if got := errKeys(err); !slices.Equal(got, want) {
			t.Fatalf("keys = %q; want %q\n%v", got, want, err)
		}
		if !strings.Contains(err.Error(), "(first at endpoints[0])") {
			t.Errorf("duplicate not explained: %v", err)
		}
	})
	t.Run("unknown key in the directory file", func(t *testing.T) {
		dirPath := writeFile(t, dir, "sub/dir.yaml", "endpoints:\n  - readerKey: ags:1\n    transprot: xta\n")
		_, err := Load(writeFile(t, dir, "dxhub.yaml", base))
		if got, want := errKeys(err), []string{dirPath + ":endpoints[0].transprot"}; !slices.Equal(got, want) {
			t.Fatalf("keys = %q; want %q\n%v", got, want, err)
		}
	})
	t.Run("repository sample directory", func(t *testing.T) {
		eps, err := loadDirectoryFile("../testdata/directory.yaml")
		if err != nil {
			t.Fatal(err)
		}
		c := Default()
		c.Endpoints = append(c.Endpoints, eps...)
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if len(eps) != 2 || eps[1].Transport != TransportXTA || eps[1].URL == "" {
			t.Fatalf("sample entries = %+v", eps)
		}
	})
}

func TestLookups(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "b.key", "  file-secret-0123\n")
	demoFile := writeFile(t, dir, "demo.key", DemoAPIKey+"\n")
	c := Default()
	c.Tenants = append(c.Tenants, Tenant{AGS: "05314000", Name: "Bonn", DVDVKey: "ags:05314000"})
	c.Portals = append(c.Portals,
		Portal{ID: "b", APIKeyFile: keyFile, Tenants: []string{"05314000"}},
		Portal{ID: "c", APIKey: "inline-secret-4567", Tenants: []string{"05314000"}},
	)
	if err := c.Validate(); err != nil { // reads b.key
		t.Fatal(err)
	}

	if tn, ok := c.Tenant("05314000"); !ok || tn.Name != "Bonn" {
		t.Errorf("Tenant(05314000) = %+v, %v", tn, ok)
	}
	if _, ok := c.Tenant("0531400"); ok {
		t.Error("Tenant found a prefix")
	}
	if _, ok := c.Service("universeller-antrag"); !ok {
		t.Error("Service not found")
	}
	if _, ok := c.Service("nope"); ok {
		t.Error("unknown service found")
	}
	if p, ok := c.Portal("c"); !ok || p.APIKey != "inline-secret-4567" {
		t.Errorf("Portal(c) = %+v, %v", p, ok)
	}
	for key, want := range map[string]string{
		"demo-key":            "demo-portal",
		"file-secret-0123":    "b",
		"inline-secret-4567":  "c",
		"inline-secret-456":   "",
		"inline-secret-45678": "",
		"":                    "",
		" file-secret-0123":   "",
	} {
		p, ok := c.PortalByAPIKey(key)
		if ok != (want != "") || p.ID != want {
			t.Errorf("PortalByAPIKey(%q) = %q, %v; want %q", key, p.ID, ok, want)
		}
	}

	// A portal reading the demo key from a file is flagged as well.
	c.Portals = append(c.Portals, Portal{ID: "d", APIKeyFile: demoFile, Tenants: []string{"05314000"}})
	_ = c.Validate() // duplicate API key is reported; the file is read
	if got := c.InsecureDemoPortals(); !slices.Equal(got, []string{"demo-portal", "d"}) {
		t.Errorf("InsecureDemoPortals() = %v", got)
	}

	for listen, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		":8080":          "http://localhost:8080",
		"0.0.0.0:80":     "http://localhost:80",
		"[::]:8080":      "http://localhost:8080",
		"[::1]:8443":     "http://[::1]:8443",
		"hub.local:9000": "http://hub.local:9000",
	} {
		c.Hub.Listen = listen
		if got := c.BaseURL(); got != want {
			t.Errorf("BaseURL() with listen %q = %q; want %q", listen, got, want)
		}
	}
	c.Hub.BaseURL = "https://dxhub.example.de/hub/"
	if got := c.BaseURL(); got != "https://dxhub.example.de/hub" {
		t.Errorf("BaseURL() = %q", got)
	}

	for level, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"} {
		c.Hub.LogLevel = level
		if got := c.SlogLevel().String(); got != want {
			t.Errorf("SlogLevel(%s) = %s", level, got)
		}
	}
	loc, err := c.Location()
	if err != nil || loc.String() != "Europe/Berlin" {
		t.Errorf("Location() = %v, %v", loc, err)
	}
	if c.Source() != "" {
		t.Errorf("Source() = %q", c.Source())
	}
}

func TestAPIKeyFileRelativeToConfig(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	writeFile(t, dir, "secrets/portal.key", "from-file-8899\n")
	path := writeFile(t, dir, "etc/dxhub.yaml", `
tenants:
  - {ags: "05315000", name: Köln, dvdvKey: "ags:05315000"}
portals:
  - id: p
    apiKeyFile: ../secrets/portal.key
    tenants: ["05315000"]
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source() != path {
		t.Errorf("Source() = %q", c.Source())
	}
	if p, ok := c.PortalByAPIKey("from-file-8899"); !ok || p.ID != "p" {
		t.Fatalf("PortalByAPIKey = %+v, %v (apiKeyFile %q)", p, ok, c.Portals[0].APIKeyFile)
	}
	// A file config without services or endpoints does not inherit the
	// embedded default's lists.
	if len(c.Services) != 0 || len(c.Endpoints) != 0 || len(c.Portals) != 1 {
		t.Errorf("lists leaked from the default: %+v", c)
	}
}

func TestLoadValueForms(t *testing.T) {
	clearEnv(t)
	path := writeFile(t, t.TempDir(), "dxhub.yaml", `
limits:
  maxBodyBytes: 1048576        # YAML integer
  maxJSONBytes: 64 KiB         # with a space
  maxAttachmentBytes: 5e5      # YAML float with a whole value
workers:
  pollInterval: 0              # zero needs no unit (and fails validation)
retry:
  multiplier: 3                # integer into float
services:
  - id: s
    standard: xbau-kernmodul-1.3.0
    messageType: m
    serviceURI: urn:s
    sla: 0                     # 0 = DefaultSLA
  - id: t
    standard: xbau-kernmodul-1.3.0
    messageType: m
    serviceURI: urn:t
    sla: 36h
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{c.Limits.MaxBodyBytes, c.Limits.MaxJSONBytes, c.Limits.MaxAttachmentBytes, c.Workers.PollInterval,
		c.Retry.Multiplier, c.Services[0].SLA, c.Services[1].SLA, c.Limits.MaxAttachments}
	want := []any{MiB, 64 * KiB, Size(500000), time.Duration(0), 3.0, DefaultSLA, 36 * time.Hour, 50}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v; want %v", got, want)
	}
	if keys := errKeys(c.Validate()); !slices.Equal(keys, []string{"workers.pollInterval"}) {
		t.Errorf("Validate keys = %q", keys)
	}
}

// deepMerge copies src into dst, merging nested maps key by key, so that a
// key counts as present if any list element has it at any depth.
func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		sv, sok := v.(map[string]any)
		dv, dok := dst[k].(map[string]any)
		if sok && dok {
			deepMerge(dv, sv)
			continue
		}
		if sok {
			cp := map[string]any{}
			deepMerge(cp, sv)
			dst[k] = cp
			continue
		}
		dst[k] = v
	}
}
