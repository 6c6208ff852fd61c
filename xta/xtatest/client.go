// Package xtatest is the Fachverfahren side of XTA 2 v3 for tests and
// simulations: Client speaks to an XTA server as Leser (checkAccountActive,
// getStatusList, getMessage, close) and Autor (sendMessage) over HTTP with
// WS-Addressing headers, and MemoryBackend is an in-memory xta.Backend.
//
// Faults come back as errors wrapping *xta.Fault, whose Code is the XTA
// Fehlernummer (errors.As).
package xtatest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dxhub/dxhub/xta"
	"github.com/google/uuid"
)

// Client is an XTA Fachverfahren client acting for one organisation key.
type Client struct {
	base   string
	author string
	hc     *http.Client
	// AttachmentDir is where GetMessage writes attachments; empty means a new
	// directory under os.TempDir() per message (the caller removes it).
	AttachmentDir string
	// MaxMessageBytes bounds the XÖV message kept in memory (default 16 MiB);
	// MaxResponseBytes bounds a whole response (default 128 MiB).
	MaxMessageBytes  int64
	MaxResponseBytes int64
}

// New returns a client for the server at baseURL (the ports are at
// baseURL+xta.PathMsgBox etc.) acting as authorKey (e.g. "ags:05315000").
// A nil httpClient means http.DefaultClient.
func New(baseURL, authorKey string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), author: authorKey, hc: httpClient}
}

// Attachment describes a fetched attachment written to Path.
type Attachment struct {
	xta.ContentHeader
	Path   string
	Bytes  int64  // bytes written
	SHA256 string // hex digest of the bytes
}

// FetchedMessage is the result of GetMessage.
type FetchedMessage struct {
	Meta        xta.MessageMeta
	Message     []byte
	MessageInfo xta.ContentHeader
	Attachments []Attachment
	// Dir holds the attachment files.
	Dir string
}

// CheckAccountActive calls checkAccountActive; nil means the account is active.
func (c *Client) CheckAccountActive(ctx context.Context) error {
	_, err := c.call(ctx, xta.PathManagement, xta.ActionCheckAccountActive, nil, nil)
	return err
}

// GetStatusList calls getStatusList with ListForm=MessageMetaData and
// maxListItems=max (max <= 0 leaves it to the server).
func (c *Client) GetStatusList(ctx context.Context, max int) ([]xta.MessageMeta, error) {
	env, err := c.call(ctx, xta.PathMsgBox, xta.ActionGetStatusList, nil, func(x *xta.Writer) {
		attrs := []string{"ListForm", "MessageMetaData"}
		if max > 0 {
			attrs = append(attrs, "maxListItems", strconv.Itoa(max))
		}
		x.Start("osci:MsgBoxStatusListRequest", attrs...)
		x.End("osci:MsgBoxStatusListRequest")
	})
	if err != nil {
		return nil, err
	}
	if env.HeaderBlock(xta.NSOSCI, "MsgBoxResponse") == nil {
		return nil, errors.New("xtatest: getStatusList: response lacks osci:MsgBoxResponse")
	}
	if len(env.Body) != 1 || !env.Body[0].Is(xta.NSOSCI, "MsgStatusList") {
		return nil, errors.New("xtatest: getStatusList: response body is not osci:MsgStatusList")
	}
	var out []xta.MessageMeta
	for _, el := range env.Body[0].ChildrenNamed(xta.NSOSCIMeta, "MessageMetaData") {
		m, err := xta.ParseMessageMetaData(el)
		if err != nil {
			return nil, fmt.Errorf("xtatest: getStatusList: %w", err)
		}
		out = append(out, m)
	}
	return out, nil
}

// GetMessage fetches one message. The XÖV message is returned in memory, the
// attachments are streamed to files in AttachmentDir (or a new temp dir)
// with their SHA-256 computed on the way.
func (c *Client) GetMessage(ctx context.Context, messageID string) (*FetchedMessage, error) {
	dir := c.AttachmentDir
	if dir == "" {
		d, err := os.MkdirTemp("", "xtatest-msg-*")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	fm := &FetchedMessage{Dir: dir}
	maxMsg := c.MaxMessageBytes
	if maxMsg <= 0 {
		maxMsg = 16 << 20
	}
	sink := func(index int, h xta.ContentHeader, r io.Reader) error {
		if index == 0 {
			b, err := io.ReadAll(io.LimitReader(r, maxMsg+1))
			if err != nil {
				return err
			}
			if int64(len(b)) > maxMsg {
				return fmt.Errorf("message exceeds %d bytes", maxMsg)
			}
			fm.Message, fm.MessageInfo = b, h
			return nil
		}
		name := fmt.Sprintf("%03d-%s", index, safeName(h.Filename))
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		hash := sha256.New()
		n, err := io.Copy(io.MultiWriter(f, hash), r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		fm.Attachments = append(fm.Attachments, Attachment{ContentHeader: h, Path: path, Bytes: n, SHA256: hex.EncodeToString(hash.Sum(nil))})
		return nil
	}
	env, err := c.callStream(ctx, xta.PathMsgBox, xta.ActionGetMessage, nil, func(x *xta.Writer) {
		x.Start("osci:MsgBoxFetchRequest")
		x.Start("osci:MsgSelector")
		x.Elem("wsa:MessageID", messageID)
		x.End("osci:MsgSelector")
		x.End("osci:MsgBoxFetchRequest")
	}, sink)
	if err != nil {
		return nil, err
	}
	mmd := env.HeaderBlock(xta.NSOSCIMeta, "MessageMetaData")
	if mmd == nil {
		return nil, errors.New("xtatest: getMessage: response lacks oscimeta:MessageMetaData")
	}
	if fm.Meta, err = xta.ParseMessageMetaData(mmd); err != nil {
		return nil, fmt.Errorf("xtatest: getMessage: %w", err)
	}
	if fm.MessageInfo.ContentType == "" {
		return nil, errors.New("xtatest: getMessage: response has no xta:Message")
	}
	for _, a := range fm.Attachments {
		if a.Size > 0 && a.Size != a.Bytes {
			return nil, fmt.Errorf("xtatest: getMessage: attachment %s: size says %d, got %d bytes", a.Filename, a.Size, a.Bytes)
		}
	}
	return fm, nil
}

func safeName(s string) string {
	s = filepath.Base(strings.ReplaceAll(s, "\\", "/"))
	if s == "." || s == "/" || s == "" || s == ".." {
		return "attachment"
	}
	return s
}

// Close acknowledges messageID (close with LastMsgReceived).
func (c *Client) Close(ctx context.Context, messageID string) error {
	_, err := c.call(ctx, xta.PathMsgBox, xta.ActionClose, nil, func(x *xta.Writer) {
		x.Start("osci:MsgBoxCloseRequest", "MsgBoxRequestID", "urn:uuid:"+uuid.NewString())
		x.Elem("osci:LastMsgReceived", messageID)
		x.End("osci:MsgBoxCloseRequest")
	})
	return err
}

// SendMessage sends an XÖV message with attachments (sendMessage). meta's
// AuthorKey defaults to the client's key. The request is streamed: each
// attachment is read from its Open and base64-encoded on the fly.
func (c *Client) SendMessage(ctx context.Context, meta xta.MessageMeta, messageXML []byte, attachments ...xta.Content) error {
	if meta.AuthorKey == "" {
		meta.AuthorKey = c.author
	}
	msg := xta.Content{
		ContentType: "application/xml", Encoding: "UTF-8", Filename: "nachricht.xml", Size: int64(len(messageXML)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(messageXML)), nil },
	}
	contents := append([]xta.Content{msg}, attachments...)
	_, err := c.callStream(ctx, xta.PathSend, xta.ActionSendMessage, func(x *xta.Writer) {
		x.WriteMessageMetaData(meta)
	}, func(x *xta.Writer) {
		x.Start("xta:GenericContentContainer")
		x.Start("xta:ContentContainer")
		for i, ct := range contents {
			name := "xta:Attachment"
			if i == 0 {
				name = "xta:Message"
			}
			if err := writeContent(x, name, ct); err != nil {
				x.Fail(err)
				return
			}
		}
		x.End("xta:ContentContainer")
		x.End("xta:GenericContentContainer")
	}, nil)
	return err
}

func writeContent(x *xta.Writer, name string, c xta.Content) error {
	attrs := []string{"contentType", c.ContentType}
	if c.Filename != "" {
		attrs = append(attrs, "filename", c.Filename)
	}
	if c.Encoding != "" {
		attrs = append(attrs, "encoding", c.Encoding)
	}
	if c.Size > 0 {
		attrs = append(attrs, "size", strconv.FormatInt(c.Size, 10))
	}
	rc, err := c.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	x.Start(name, attrs...)
	enc := base64.NewEncoder(base64.StdEncoding, x)
	if _, err := io.Copy(enc, rc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	x.End(name)
	return x.Err()
}

// call performs a request whose response is parsed whole.
func (c *Client) call(ctx context.Context, path, action string, headers, body func(x *xta.Writer)) (*xta.Envelope, error) {
	return c.callStream(ctx, path, action, headers, body, nil)
}

// callStream sends a request (streamed through a pipe) and parses the
// response, streaming container contents to sink when it is not nil.
func (c *Client) callStream(ctx context.Context, path, action string, headers, body func(x *xta.Writer), sink xta.ContentSink) (*xta.Envelope, error) {
	op := opName(action)
	endpoint := c.base + path
	msgID := "urn:uuid:" + uuid.NewString()
	pr, pw := io.Pipe()
	go func() {
		x := xta.NewWriter(pw)
		x.StartEnvelope(xta.Addressing{Action: action, MessageID: msgID, To: endpoint}, func(x *xta.Writer) {
			if action != xta.ActionSendMessage {
				x.WriteParty("oscimeta:Author", c.author, "")
			}
			if headers != nil {
				headers(x)
			}
		})
		if body != nil {
			body(x)
		}
		x.EndEnvelope()
		pw.CloseWithError(x.Flush())
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, pr)
	if err != nil {
		pr.Close()
		return nil, err
	}
	req.Header.Set("Content-Type", xta.ContentTypeSOAP12+`; action="`+action+`"`)
	resp, err := c.hc.Do(req)
	pr.Close()
	if err != nil {
		return nil, fmt.Errorf("xtatest: %s: %w", op, err)
	}
	defer resp.Body.Close()
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/soap+xml" {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("xtatest: %s: HTTP %d with Content-Type %q: %q", op, resp.StatusCode, resp.Header.Get("Content-Type"), snippet)
	}
	lim := c.MaxResponseBytes
	if lim <= 0 {
		lim = 128 << 20
	}
	if sink == nil {
		sink = func(int, xta.ContentHeader, io.Reader) error {
			return errors.New("unexpected content container in response")
		}
	}
	env, err := xta.ParseContainerEnvelope(resp.Body, xta.Limits{MaxBytes: lim}, sink)
	if err != nil {
		return nil, fmt.Errorf("xtatest: %s: parse response (HTTP %d): %w", op, resp.StatusCode, err)
	}
	if f := xta.FaultFromBody(env.Body); f != nil {
		return nil, fmt.Errorf("xtatest: %s: %w", op, f)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("xtatest: %s: HTTP %d without a SOAP fault", op, resp.StatusCode)
	}
	a := env.Addressing()
	if a.RelatesTo != msgID {
		return nil, fmt.Errorf("xtatest: %s: wsa:RelatesTo %q does not match request %q", op, a.RelatesTo, msgID)
	}
	if a.Action != action {
		return nil, fmt.Errorf("xtatest: %s: response wsa:Action %q, want %q", op, a.Action, action)
	}
	return env, nil
}

func opName(action string) string {
	switch action {
	case xta.ActionCheckAccountActive:
		return "checkAccountActive"
	case xta.ActionGetStatusList:
		return "getStatusList"
	case xta.ActionGetMessage:
		return "getMessage"
	case xta.ActionClose:
		return "close"
	case xta.ActionSendMessage:
		return "sendMessage"
	}
	return action
}
