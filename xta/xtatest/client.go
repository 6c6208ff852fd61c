// Package xtatest is the XTA 2 v3 test kit: Client is a Fachverfahren that
// speaks to an XTA server as Leser (checkAccountActive, getStatusList,
// getMessage, close) and Autor (sendMessage); MemoryBackend is an in-memory
// xta.Backend; RemoteServer is a fake remote XTA server (an XTA server over
// a MemoryBackend) with fault injection, for testing dxhub as XTA client.
//
// Faults come back as errors wrapping *xta.Fault, whose Code is the XTA
// Fehlernummer (errors.As).
package xtatest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/dxhub/dxhub/xta"
)

// Client is an XTA Fachverfahren client acting for one organisation key.
// It wraps xta.Client (reachable through XTA for the other operations).
type Client struct {
	c *xta.Client
	// AttachmentDir is where GetMessage writes attachments; empty means a new
	// directory under os.TempDir() per message (the caller removes it).
	AttachmentDir string
	// MaxMessageBytes bounds the XÖV message kept in memory (default 16 MiB);
	// MaxResponseBytes bounds a whole response (default 128 MiB).
	MaxMessageBytes  int64
	MaxResponseBytes int64
	// MTOM sends contents as MTOM/XOP parts instead of inline base64.
	MTOM bool
}

// New returns a client for the server at baseURL (the ports are at
// baseURL+xta.PathMsgBox etc.) acting as authorKey (e.g. "ags:05315000").
// A nil httpClient means http.DefaultClient.
func New(baseURL, authorKey string, httpClient *http.Client) *Client {
	c := &xta.Client{Endpoints: xta.EndpointsAt(baseURL), Author: authorKey}
	if httpClient != nil {
		c.HTTP = httpClient
	}
	return &Client{c: c}
}

// XTA returns the underlying protocol client, configured like this one.
func (c *Client) XTA() *xta.Client {
	c.c.MTOM = c.MTOM
	c.c.MaxResponseBytes = c.MaxResponseBytes
	return c.c
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
	return c.XTA().CheckAccountActive(ctx)
}

// GetStatusList calls getStatusList with ListForm=MessageMetaData and
// maxListItems=max (max <= 0 leaves it to the server).
func (c *Client) GetStatusList(ctx context.Context, max int) ([]xta.MessageMeta, error) {
	p, err := c.XTA().GetStatusList(ctx, max, nil)
	return p.Metas, err
}

// GetMessage fetches one message. The XÖV message is returned in memory, the
// attachments are streamed to files in AttachmentDir (or a new temp dir)
// with their SHA-256 computed on the way.
func (c *Client) GetMessage(ctx context.Context, messageID string) (*FetchedMessage, error) {
	fm, sink, err := c.fetchSink()
	if err != nil {
		return nil, err
	}
	r, err := c.XTA().GetMessage(ctx, messageID, sink)
	if err != nil {
		return nil, err
	}
	return fm, fm.finish(r.Meta)
}

// GetNextMessage fetches the next message of an iteration (requestID from
// getStatusList or getMessage), acknowledging received.
func (c *Client) GetNextMessage(ctx context.Context, requestID string, received ...string) (*FetchedMessage, xta.FetchResult, error) {
	fm, sink, err := c.fetchSink()
	if err != nil {
		return nil, xta.FetchResult{}, err
	}
	r, err := c.XTA().GetNextMessage(ctx, requestID, sink, received...)
	if err != nil {
		return nil, r, err
	}
	return fm, r, fm.finish(r.Meta)
}

func (fm *FetchedMessage) finish(meta xta.MessageMeta) error {
	fm.Meta = meta
	if fm.MessageInfo.ContentType == "" {
		return errors.New("xtatest: getMessage: response has no xta:Message")
	}
	for _, a := range fm.Attachments {
		if a.Size > 0 && a.Size != a.Bytes {
			return fmt.Errorf("xtatest: getMessage: attachment %s: size says %d, got %d bytes", a.Filename, a.Size, a.Bytes)
		}
	}
	return nil
}

func (c *Client) fetchSink() (*FetchedMessage, xta.ContentSink, error) {
	dir := c.AttachmentDir
	if dir == "" {
		d, err := os.MkdirTemp("", "xtatest-msg-*")
		if err != nil {
			return nil, nil, err
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
	return fm, sink, nil
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
	return c.XTA().Close(ctx, "", messageID)
}

// SendMessage sends an XÖV message with attachments (sendMessage). meta's
// AuthorKey defaults to the client's key. The request is streamed: each
// attachment is read from its Open and encoded (or sent as MTOM part) on the fly.
func (c *Client) SendMessage(ctx context.Context, meta xta.MessageMeta, messageXML []byte, attachments ...xta.Content) error {
	msg := xta.Content{
		ContentType: "application/xml", Encoding: "UTF-8", Filename: "nachricht.xml", Size: int64(len(messageXML)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(messageXML)), nil },
	}
	return c.XTA().SendMessage(ctx, meta, append([]xta.Content{msg}, attachments...))
}
