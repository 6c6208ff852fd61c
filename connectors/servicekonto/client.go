package servicekonto

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/dxhub/dxhub/internal/store"
)

// The REST interface of the citizen mailbox, modelled on the BundID Zentrales
// Bürgerpostfach (ZBP): messages are addressed by the mailbox handle the portal
// passed at intake; status reports feed the Antragsstatus monitor.
//
//	POST {base}/mailboxes/{handle}/messages   Message        → 201 (or 200/409: already there)
//	POST {base}/status-reports                StatusReport   → 201 (or 200/409)
//
// Both carry an Idempotency-Key (dxhub-event-<event id>), so the same status
// event is never stored twice even when a response is lost and the call is
// repeated.

// Message is a Postfach message.
type Message struct {
	Title        string       `json:"title"`
	Content      string       `json:"content"`
	Sender       string       `json:"sender"`
	Service      string       `json:"service"`
	ReplyAddress string       `json:"replyAddress,omitempty"`
	Reference    string       `json:"reference"`
	Attachments  []Attachment `json:"attachments,omitempty"`
}

// Attachment is a file for the citizen (e.g. a Bescheid PDF).
type Attachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"contentType"`
	Content     []byte `json:"content"` // base64 in JSON
}

// StatusReport is an Antragsstatusmeldung for the status monitor.
type StatusReport struct {
	Mailbox   string    `json:"mailbox"`
	Reference string    `json:"reference"`
	Service   string    `json:"service"`
	Status    string    `json:"status"`
	Text      string    `json:"text"`
	Time      time.Time `json:"time"`
}

// ClientConfig configures the REST client.
type ClientConfig struct {
	BaseURL string
	// CertFile/KeyFile are the hub's client certificate (mTLS); CAFile the
	// trusted server CA (empty: system roots).
	CertFile, KeyFile, CAFile string
	Sender                    string // shown as the sender of every message
	ReplyAddress              string
	Timeout                   time.Duration // per call, default 15 s
	RetryMax                  int           // retries of one call, default 3
	Logger                    *slog.Logger
	// Blobs opens the attachments that go with a message (a Bescheid
	// forwarded from the back-channel); MaxAttachmentBytes caps their sum
	// per message (default 20 MiB; larger ones are refused permanently).
	Blobs              Blobs
	MaxAttachmentBytes int64
	// WrapTransport, if set, wraps the HTTP transport (the wiring adds the
	// W3C trace context header to every call).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Client posts to the Servicekonto REST interface. It implements Sink.
type Client struct {
	base   *url.URL
	cfg    ClientConfig
	http   *retryablehttp.Client
	status bool // also send status reports
}

var _ Sink = (*Client)(nil)

// PermanentError is a refusal no retry can fix (4xx other than 408/409/429).
type PermanentError struct {
	Status int
	Body   string
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("servicekonto: refused with HTTP %d: %s", e.Status, e.Body)
}

// NewClient builds the client with mTLS from the configured files.
func NewClient(cfg ClientConfig) (*Client, error) {
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("servicekonto: base URL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("servicekonto: client certificate: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("servicekonto: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("servicekonto: %s holds no PEM certificate", cfg.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 3
	}
	rc := retryablehttp.NewClient()
	var rt http.RoundTripper = &http.Transport{TLSClientConfig: tlsCfg}
	if cfg.WrapTransport != nil {
		rt = cfg.WrapTransport(rt)
	}
	rc.HTTPClient = &http.Client{Timeout: cfg.Timeout, Transport: rt}
	rc.RetryMax = cfg.RetryMax
	rc.RetryWaitMin, rc.RetryWaitMax = 200*time.Millisecond, 5*time.Second
	rc.Logger = nil
	// Retry transport errors, 5xx, 408 and 429 (honouring Retry-After); keep
	// every other answer so its status and body reach the caller.
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if err != nil {
			return true, nil
		}
		return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout, nil
	}
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return &Client{base: base, cfg: cfg, http: rc, status: true}, nil
}

// Notify posts the Postfach message and the status report for an event.
func (c *Client) Notify(ctx context.Context, n store.Notification, title, body string) error {
	key := "dxhub-event-" + strconv.FormatInt(n.Event.ID, 10)
	msg := Message{Title: title, Content: body, Sender: c.cfg.Sender, Service: n.Submission.Service,
		ReplyAddress: c.cfg.ReplyAddress, Reference: n.Submission.Reference}
	atts, err := c.attachments(n)
	if err != nil {
		return err
	}
	msg.Attachments = atts
	if err := c.post(ctx, "mailboxes/"+url.PathEscape(n.Submission.Applicant.Mailbox)+"/messages", key+"-msg", msg); err != nil {
		return err
	}
	if !c.status {
		return nil
	}
	rep := StatusReport{Mailbox: n.Submission.Applicant.Mailbox, Reference: n.Submission.Reference,
		Service: n.Submission.Service, Status: string(n.Event.Status), Text: title, Time: n.Event.Time}
	return c.post(ctx, "status-reports", key+"-status", rep)
}

// attachments reads the files that go with the message and checks them
// against the SHA-256 recorded when they arrived.
func (c *Client) attachments(n store.Notification) ([]Attachment, error) {
	if len(n.Attachments) == 0 {
		return nil, nil
	}
	if c.cfg.Blobs == nil {
		return nil, errors.New("servicekonto: a message has attachments but the client has no blob store")
	}
	limit := c.cfg.MaxAttachmentBytes
	if limit <= 0 {
		limit = 20 << 20
	}
	var total int64
	out := make([]Attachment, 0, len(n.Attachments))
	for _, a := range n.Attachments {
		total += a.Size
		if total > limit {
			return nil, &PermanentError{Status: http.StatusRequestEntityTooLarge,
				Body: fmt.Sprintf("attachments of event %d exceed %d bytes", n.Event.ID, limit)}
		}
		f, err := c.cfg.Blobs.Open(a.BlobKey)
		if err != nil {
			return nil, fmt.Errorf("servicekonto: attachment %q: %w", a.Filename, err)
		}
		b, err := io.ReadAll(io.LimitReader(f, a.Size+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("servicekonto: attachment %q: %w", a.Filename, err)
		}
		if sum := sha256.Sum256(b); int64(len(b)) != a.Size || (a.SHA256 != "" && hex.EncodeToString(sum[:]) != a.SHA256) {
			return nil, fmt.Errorf("servicekonto: attachment %q does not match its recorded size and SHA-256", a.Filename)
		}
		out = append(out, Attachment{Filename: a.Filename, ContentType: a.ContentType, Content: b})
	}
	return out, nil
}

func (c *Client) post(ctx context.Context, path, key string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	u := c.base.JoinPath(path)
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("servicekonto: POST %s: %w", u.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode/100 == 2, resp.StatusCode == http.StatusConflict:
		return nil // created, or already there from an earlier attempt
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 429:
		return &PermanentError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(b))}
	default:
		return fmt.Errorf("servicekonto: POST %s: HTTP %d after retries: %s", u.Path, resp.StatusCode, bytes.TrimSpace(b))
	}
}

// IsPermanent reports whether err is a refusal that retrying cannot fix.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}
