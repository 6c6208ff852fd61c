// Package config loads, defaults and validates the dxhub configuration
// (DESIGN §6).
//
// A configuration is ONE YAML file (camelCase keys; see example.yaml for every
// key) plus DXHUB_* environment overrides. Load("") uses the embedded default
// (default.yaml): one tenant (Stadt Köln), the demo portal, the universal
// application service and a route to the hub's own XTA mailbox — enough to run
// the full loop on one machine.
//
// # Environment overrides
//
// Every scalar key outside the lists can be overridden: the variable name is
// DXHUB_ followed by the key path in upper case with "." replaced by "_", e.g.
// DXHUB_HUB_LISTEN for hub.listen and DXHUB_LIMITS_MAXBODYBYTES for
// limits.maxBodyBytes. This works whether or not the key is in the file.
// DXHUB_STANDARDS_DIR (the variable the test kit uses) is an alias for
// DXHUB_HUB_STANDARDSDIR. EnvOverrides lists all variables.
//
// The lists (tenants, portals, services, endpoints) and the fields of their
// elements can NOT be overridden from the environment: viper has no notion of
// list indices. Secrets belong in files instead (portals[].apiKeyFile), larger
// route sets in directory.file. DXHUB_* variables that match no key are ignored
// and reported by (*Config).IgnoredEnv so the caller can warn about typos.
//
// # Paths
//
// Files the configuration refers to (directory.file, portals[].apiKeyFile,
// mailbox.messages) are resolved against the directory of the config file
// unless absolute or set from the environment. The runtime directories
// hub.dataDir and hub.standardsDir are used as given (relative to the working
// directory), so the default ./var lands where dxhub is started.
//
// # Validation
//
// Load only parses: unknown keys and values of the wrong type are errors there.
// (*Config).Validate checks the meaning and returns every problem at once as
// *FieldError values joined with errors.Join; FieldErrors splits them again.
//
// Validate also reads API key files that Load has not read, so call it before
// sharing the *Config between goroutines; afterwards the lookups (Tenant,
// Portal, PortalByAPIKey, Service, …) only read and are safe for concurrent use.
//
// Collections are lists of structs, never maps keyed by IDs, because viper folds
// map keys to lower case (GO-LIBRARIES §1.4).
package config

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // hub.timezone must load on hosts without a zoneinfo database
)

//go:embed default.yaml
var defaultYAML []byte

// DemoAPIKey is the API key of the embedded default's demo portal. A portal
// still using it is insecure; see InsecureDemoPortals.
const DemoAPIKey = "demo-key"

// EnvPrefix starts every environment override.
const EnvPrefix = "DXHUB_"

// Config is the whole dxhub configuration.
type Config struct {
	Hub       Hub        `mapstructure:"hub"`
	Limits    Limits     `mapstructure:"limits"`
	Workers   Workers    `mapstructure:"workers"`
	Retry     Retry      `mapstructure:"retry"`
	Tenants   []Tenant   `mapstructure:"tenants"`
	Portals   []Portal   `mapstructure:"portals"`
	Services  []Service  `mapstructure:"services"`
	Directory Directory  `mapstructure:"directory"`
	Endpoints []Endpoint `mapstructure:"endpoints"`
	Mailbox   Mailbox    `mapstructure:"mailbox"`
	Antivirus Antivirus  `mapstructure:"antivirus"` // clamd scan of intake (antivirus.go)
	Retention Retention  `mapstructure:"retention"` // payload purge (retention.go)
	DVDV      DVDV       `mapstructure:"dvdv"`
	XTA       XTA        `mapstructure:"xta"`
	OSCI      OSCI       `mapstructure:"osci"`
	// Reliability: circuit breakers and per-endpoint concurrency (reliability.go).
	Reliability Reliability `mapstructure:"reliability"`
	// Tracing: OpenTelemetry spans and trace IDs in logs (tracing.go).
	Tracing Tracing `mapstructure:"tracing"`
	// Store: the database, SQLite or PostgreSQL (store.go).
	Store Store `mapstructure:"store"`
	// Kafka: status topic and intake connector (kafka.go).
	Kafka Kafka `mapstructure:"kafka"`
	// Admin: the admin web UI under /admin/ (admin.go).
	Admin Admin `mapstructure:"admin"`

	// source is the config file ("" for the embedded default); ignoredEnv
	// lists DXHUB_* variables that matched no key.
	source     string
	ignoredEnv []string
}

// Hub holds the process-wide settings.
type Hub struct {
	// Listen is the HTTP listen address, host:port.
	Listen string `mapstructure:"listen"`
	// BaseURL is the public base URL used in statusUrl and WSDL addresses;
	// empty means "http://" + Listen (see (*Config).BaseURL).
	BaseURL string `mapstructure:"baseURL"`
	// DataDir holds the SQLite database and blobs.
	DataDir string `mapstructure:"dataDir"`
	// StandardsDir holds the XÖV/XTA schema sets and code lists; empty means
	// auto-detect (the caller looks for ../shared/standards).
	StandardsDir string `mapstructure:"standardsDir"`
	// AuthorKey is the hub's own DVDV organisation key, the author of
	// outbound messages (e.g. "kop:0500000001").
	AuthorKey string `mapstructure:"authorKey"`
	// AuthorName is the hub's name in message headers.
	AuthorName string `mapstructure:"authorName"`
	// Timezone is an IANA zone name for schedules and German dates.
	Timezone string `mapstructure:"timezone"`
	// LogLevel is one of debug, info, warn, error.
	LogLevel string `mapstructure:"logLevel"`
	// LogFormat is text or json.
	LogFormat string `mapstructure:"logFormat"`
	// DebugListen, when set (host:port, keep it on 127.0.0.1), serves Go's
	// pprof profiles under /debug/pprof/ on a listener of its own.
	DebugListen string `mapstructure:"debugListen"`
	// TLS serves the main listener over HTTPS (portals.go).
	TLS HubTLS `mapstructure:"tls"`
}

// Limits bound what intake accepts.
type Limits struct {
	MaxBodyBytes       Size `mapstructure:"maxBodyBytes"`       // whole request
	MaxJSONBytes       Size `mapstructure:"maxJSONBytes"`       // the submission JSON document
	MaxAttachmentBytes Size `mapstructure:"maxAttachmentBytes"` // one attachment
	MaxAttachments     int  `mapstructure:"maxAttachments"`
	MaxJSONDepth       int  `mapstructure:"maxJSONDepth"`
	// All attachments of one submission together, and the XML limits (limits.go).
	MaxTotalAttachmentBytes Size          `mapstructure:"maxTotalAttachmentBytes"`
	XML                     XMLLimits     `mapstructure:"xml"`
	Inbound                 InboundLimits `mapstructure:"inbound"`
}

// Workers configures the pipeline workers that lease due jobs. Count 0 makes
// an intake-only process.
type Workers struct {
	Count        int           `mapstructure:"count"`
	Lease        time.Duration `mapstructure:"lease"`
	PollInterval time.Duration `mapstructure:"pollInterval"`
}

// Retry is the delivery retry policy (DESIGN §4): exponential backoff from
// InitialBackoff by Multiplier up to MaxBackoff, ±Jitter (a fraction), until
// MaxAttempts or MaxAge is reached.
type Retry struct {
	InitialBackoff time.Duration `mapstructure:"initialBackoff"`
	MaxBackoff     time.Duration `mapstructure:"maxBackoff"`
	Multiplier     float64       `mapstructure:"multiplier"`
	Jitter         float64       `mapstructure:"jitter"`
	MaxAttempts    int           `mapstructure:"maxAttempts"`
	MaxAge         time.Duration `mapstructure:"maxAge"`
}

// Tenant is a municipality the hub serves, keyed by its AGS
// (Amtlicher Gemeindeschlüssel, 8 digits).
type Tenant struct {
	AGS     string `mapstructure:"ags"`
	Name    string `mapstructure:"name"`
	DVDVKey string `mapstructure:"dvdvKey"` // e.g. "ags:05315000"
}

// Portal is an online-service portal allowed to submit for some tenants. It
// authenticates with an API key given inline (APIKey) or in a file
// (APIKeyFile), exactly one of the two.
type Portal struct {
	ID         string   `mapstructure:"id"`
	Name       string   `mapstructure:"name"`
	APIKey     string   `mapstructure:"apiKey"`
	APIKeyFile string   `mapstructure:"apiKeyFile"`
	Tenants    []string `mapstructure:"tenants"` // AGS of the tenants it may submit for
	// Webhook, if its URL is set, receives every status event of the portal's
	// submissions, signed with HMAC-SHA512 (see connectors/webhook).
	Webhook Webhook `mapstructure:"webhook"`
	// RateLimit bounds the portal's API requests; beyond it the hub answers
	// 429 with Retry-After. Zero perSecond means unlimited.
	RateLimit RateLimit `mapstructure:"rateLimit"`
	// ClientCert binds the portal to its TLS client certificate (portals.go).
	ClientCert PortalClientCert `mapstructure:"clientCert"`

	// fileKey is the trimmed content of APIKeyFile once read; fileErr the
	// reason it could not be read; keyHash the key's SHA-256 once
	// DropPortalSecrets dropped the plaintext.
	fileKey string
	fileErr error
	keyHash [sha256.Size]byte
}

// Secret returns the portal's effective API key: APIKey, or the content of
// APIKeyFile as read by Load or Validate.
func (p Portal) Secret() string {
	if p.APIKey != "" {
		return p.APIKey
	}
	return p.fileKey
}

// RateLimit is a token bucket: PerSecond requests on average, bursts of up
// to Burst (0: PerSecond rounded up).
type RateLimit struct {
	PerSecond float64 `mapstructure:"perSecond"`
	Burst     int     `mapstructure:"burst"`
}

// Webhook is a portal's status-event endpoint. The signing secret is given
// inline (Secret) or in a file (SecretFile), exactly one of the two.
type Webhook struct {
	URL        string `mapstructure:"url"`
	Secret     string `mapstructure:"secret"`
	SecretFile string `mapstructure:"secretFile"`

	fileSecret string
	fileErr    error
}

// SigningSecret returns the inline secret or the content of SecretFile.
func (w Webhook) SigningSecret() string {
	if w.Secret != "" {
		return w.Secret
	}
	return w.fileSecret
}

// Service is an online service (Leistung) and the XÖV message it produces.
type Service struct {
	ID          string `mapstructure:"id"`
	Name        string `mapstructure:"name"`
	Standard    string `mapstructure:"standard"`    // see KnownStandards
	MessageType string `mapstructure:"messageType"` // e.g. "universellerAntrag.antrag.1200"
	// ServiceURI is the DVDV service specification URI.
	ServiceURI string `mapstructure:"serviceURI"`
	// ArtDesAntrags is an optional default for the XBau "Art des Antrags".
	ArtDesAntrags string `mapstructure:"artDesAntrags"`
	// SLA is how long the reader may take to fetch a message before an alert;
	// 0 in the file means DefaultSLA.
	SLA time.Duration `mapstructure:"sla"`
	// Expiry withdraws a message its reader has not fetched within this time
	// (status expired); 0 means never. Must be longer than the SLA.
	Expiry time.Duration `mapstructure:"expiry"`
	// Retention is how long payloads of finished submissions are kept
	// (retention.go); 0 means retention.default.
	Retention time.Duration `mapstructure:"retention"`
	// ProfileVersions are older versions of Profile (same forms: builtin:NAME
	// or a file), kept selectable by `dxhub replay --profile-version`.
	ProfileVersions []string `mapstructure:"profileVersions"`
	// Profile is the declarative mapping profile (xoev.LoadProfile): a YAML
	// file relative to the config file, or "builtin:NAME" for a profile
	// shipped in the binary (config/profiles/NAME.yaml). Empty: the service
	// uses the built-in Go mapping of universellerAntrag.antrag.1200.
	Profile string `mapstructure:"profile"`
}

// BuiltinProfilePrefix marks a profile shipped in the binary.
const BuiltinProfilePrefix = "builtin:"

//go:embed profiles/*.yaml
var builtinProfiles embed.FS

// BuiltinProfiles returns the names of the profiles shipped in the binary.
func BuiltinProfiles() []string {
	entries, _ := fs.ReadDir(builtinProfiles, "profiles")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	return out
}

// ReadProfile returns the profile file of a service and a name for errors.
func ReadProfile(s Service) (name string, data []byte, err error) {
	if s.Profile == "" {
		return "", nil, fmt.Errorf("config: service %s has no profile", s.ID)
	}
	if n, ok := strings.CutPrefix(s.Profile, BuiltinProfilePrefix); ok {
		if !builtinProfileName.MatchString(n) {
			return "", nil, fmt.Errorf("config: service %s: invalid builtin profile name %q", s.ID, n)
		}
		data, err := builtinProfiles.ReadFile("profiles/" + n + ".yaml")
		if err != nil {
			return "", nil, fmt.Errorf("config: service %s: no builtin profile %q (have %s)", s.ID, n, strings.Join(BuiltinProfiles(), ", "))
		}
		return s.Profile, data, nil
	}
	data, err = os.ReadFile(s.Profile)
	if err != nil {
		return "", nil, fmt.Errorf("config: service %s profile: %w", s.ID, err)
	}
	return s.Profile, data, nil
}

var builtinProfileName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// DefaultSLA applies to services that set no sla (DESIGN §4: three days).
const DefaultSLA = 72 * time.Hour

// Directory points at an optional YAML file with more endpoints. Its shape is
// a document with a top-level `endpoints:` list, exactly like the config's
// endpoints (and like dvdv.LoadFile reads). Load merges its entries into
// Config.Endpoints after the file's own.
type Directory struct {
	File string `mapstructure:"file"`
}

// Endpoint maps a reader (DVDV organisation key) and a DVDV service URI to a
// transport, like one entry of a DVDV lookup.
type Endpoint struct {
	ReaderKey  string `mapstructure:"readerKey"`
	ServiceURI string `mapstructure:"serviceURI"`
	Transport  string `mapstructure:"transport"` // see Transports
	// URL is the XTA/OSCI addressee URL; required for xta and osci, empty
	// for xta-mailbox.
	URL string `mapstructure:"url"`
	// Intermediary is the OSCI intermediary URL (optional).
	Intermediary string `mapstructure:"intermediary"`
	// EncryptionCert and SignatureCert are the reader's certificates in PEM
	// (optional).
	EncryptionCert string `mapstructure:"encryptionCert"`
	SignatureCert  string `mapstructure:"signatureCert"`

	// origin is the key path prefix used in validation errors for entries
	// merged from directory.file ("" = endpoints[i] of the config itself).
	origin string
}

// Mailbox configures the citizen's Servicekonto Postfach: the texts, and the
// remote Postfach REST interface (BundID-style, mTLS). Without URL the hub
// keeps messages in its local Postfach (embedded default).
type Mailbox struct {
	// Messages is an optional YAML template file with the German Postfach
	// texts per status.
	Messages string `mapstructure:"messages"`
	// URL is the base URL of the Postfach REST interface.
	URL string `mapstructure:"url"`
	// CertFile/KeyFile are the hub's client certificate; CAFile the server CA.
	CertFile string `mapstructure:"certFile"`
	KeyFile  string `mapstructure:"keyFile"`
	CAFile   string `mapstructure:"caFile"`
	// Sender and ReplyAddress appear in every message.
	Sender       string `mapstructure:"sender"`
	ReplyAddress string `mapstructure:"replyAddress"`
}

// The transports an endpoint may name.
const (
	TransportXTAMailbox = "xta-mailbox"
	TransportXTA        = "xta"
	TransportOSCI       = "osci"
)

// Transports lists the valid values of endpoints[].transport.
func Transports() []string {
	return []string{TransportXTAMailbox, TransportXTA, TransportOSCI}
}

// knownStandards is the single list of XÖV standards (id-version) services may
// name. Later issues add xbau-2.6, xbau-2.3, xdomea-3.0.0 here.
var knownStandards = []string{
	"xbau-kernmodul-1.3.0",
	"xbau-2.6",
	"xbau-2.3",
	"xdomea-3.0.0",
}

// KnownStandards returns the standards services[].standard may name.
func KnownStandards() []string { return append([]string(nil), knownStandards...) }

// defaults returns the built-in values of every scalar key. Lists start empty:
// a config file brings its own tenants, portals, services and endpoints.
func defaults() Config {
	return Config{
		Antivirus:   DefaultAntivirus(),
		Retention:   DefaultRetention(),
		DVDV:        DefaultDVDV(),
		OSCI:        DefaultOSCI(),
		Reliability: DefaultReliability(),
		Tracing:     DefaultTracing(),
		Store:       DefaultStore(),
		Kafka:       DefaultKafka(),
		Admin:       DefaultAdmin(),
		Hub: Hub{
			Listen:     "127.0.0.1:8080",
			DataDir:    "./var",
			AuthorKey:  "kop:0500000001",
			AuthorName: "dxhub Kommunalportal",
			Timezone:   "Europe/Berlin",
			LogLevel:   "info",
			LogFormat:  "text",
		},
		Limits: Limits{
			MaxBodyBytes:       110 * MiB,
			MaxJSONBytes:       1 * MiB,
			MaxAttachmentBytes: 100 * MiB,
			MaxAttachments:     50,
			MaxJSONDepth:       32,

			MaxTotalAttachmentBytes: DefaultMaxTotalAttachmentBytes,
			XML:                     DefaultXMLLimits(),
			Inbound:                 DefaultInboundLimits(),
		},
		Workers: Workers{Count: 4, Lease: 60 * time.Second, PollInterval: 200 * time.Millisecond},
		Retry: Retry{
			InitialBackoff: 10 * time.Second,
			MaxBackoff:     time.Hour,
			Multiplier:     2.0,
			Jitter:         0.2,
			MaxAttempts:    20,
			MaxAge:         72 * time.Hour,
		},
	}
}

// Default returns the embedded default configuration without environment
// overrides. It panics if default.yaml is broken, which the tests rule out.
func Default() *Config {
	c, err := load("", defaultYAML, false)
	if err != nil {
		panic("config: embedded default.yaml: " + err.Error())
	}
	return c
}

// DefaultYAML returns the embedded default configuration file.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Load reads the YAML file at path ("" = the embedded default) over the
// built-in defaults, applies the DXHUB_* environment overrides, reads
// portals' API key files and merges directory.file into Endpoints.
//
// Unknown keys and mistyped values are errors (FieldErrors naming the key).
// Load does not validate the meaning of the values: call Validate.
func Load(path string) (*Config, error) {
	if path == "" {
		c, err := load("", defaultYAML, true)
		if err != nil {
			return nil, fmt.Errorf("config: embedded default: %w", err)
		}
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := load(path, b, true)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Source returns the file the configuration was loaded from, "" for the
// embedded default.
func (c *Config) Source() string { return c.source }

// IgnoredEnv returns the DXHUB_* environment variables Load saw that match no
// configuration key (typos, or attempts to override list elements), sorted.
func (c *Config) IgnoredEnv() []string { return append([]string(nil), c.ignoredEnv...) }

// ListenAddr returns the HTTP listen address (hub.listen).
func (c *Config) ListenAddr() string { return c.Hub.Listen }

// BaseURL returns the public base URL without a trailing slash: hub.baseURL,
// or "http://" + hub.listen, with an unspecified host (":8080", "0.0.0.0",
// "::") replaced by localhost.
func (c *Config) BaseURL() string {
	if c.Hub.BaseURL != "" {
		return strings.TrimRight(c.Hub.BaseURL, "/")
	}
	scheme := "http://"
	if c.Hub.TLS.Enabled() {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(c.Hub.Listen)
	if err != nil {
		return scheme + c.Hub.Listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return scheme + net.JoinHostPort(host, port)
}

// Location loads hub.timezone.
func (c *Config) Location() (*time.Location, error) {
	return time.LoadLocation(c.Hub.Timezone)
}

// SlogLevel returns hub.logLevel as a slog.Level (info for unknown values,
// which Validate rejects).
func (c *Config) SlogLevel() slog.Level {
	switch c.Hub.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Tenant returns the tenant with the given AGS.
func (c *Config) Tenant(ags string) (Tenant, bool) {
	for _, t := range c.Tenants {
		if t.AGS == ags {
			return t, true
		}
	}
	return Tenant{}, false
}

// Portal returns the portal with the given ID.
func (c *Config) Portal(id string) (Portal, bool) {
	for _, p := range c.Portals {
		if p.ID == id {
			return p, true
		}
	}
	return Portal{}, false
}

// PortalByAPIKey returns the portal whose API key is key. It compares SHA-256
// digests in constant time and always looks at every portal, so timing tells
// neither the key's length nor which portal came close. An empty key matches
// nothing.
func (c *Config) PortalByAPIKey(key string) (Portal, bool) {
	if key == "" {
		return Portal{}, false
	}
	want := sha256.Sum256([]byte(key))
	var found Portal
	ok := 0
	for _, p := range c.Portals {
		have, set := p.APIKeyHash()
		match := subtle.ConstantTimeCompare(want[:], have[:]) & boolInt(set)
		if match == 1 && ok == 0 {
			found = p
		}
		ok |= match
	}
	return found, ok == 1
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Service returns the service with the given ID.
func (c *Config) Service(id string) (Service, bool) {
	for _, s := range c.Services {
		if s.ID == id {
			return s, true
		}
	}
	return Service{}, false
}

// InsecureDemoPortals returns the IDs of the portals whose API key is still
// DemoAPIKey. The caller should warn loudly at startup when it is not empty.
func (c *Config) InsecureDemoPortals() []string {
	var ids []string
	demo := sha256.Sum256([]byte(DemoAPIKey))
	for _, p := range c.Portals {
		if h, ok := p.APIKeyHash(); ok && h == demo {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

// resolvePath joins a relative path from the config file with the file's
// directory. Paths from the environment (fromEnv) and from the embedded default
// (baseDir "") stay relative to the working directory.
func resolvePath(baseDir, p string, fromEnv bool) string {
	if p == "" || fromEnv || baseDir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(baseDir, p)
}

// readKeyFile reads a portal's API key file, trimming surrounding white space
// (a trailing newline is the norm).
func readKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	k := strings.TrimSpace(string(b))
	if k == "" {
		return "", fmt.Errorf("file %s is empty", path)
	}
	return k, nil
}
