package xta

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
)

// sendState carries one sendMessage request through parsing: the metadata
// from the header, then the contents spooled (in memory up to
// spoolInMemory, else to temporary files) while the body is decoded.
type sendState struct {
	s        *Server
	meta     MessageMeta
	contents []Content
	files    []string
	seenBody bool
}

// begin runs after the header was parsed, before any content is read: it
// checks the metadata and the author's account so that a bad request is
// refused without spooling its payload.
func (st *sendState) begin(ctx context.Context, req *request) error {
	mmd := req.env.HeaderBlock(NSOSCIMeta, "MessageMetaData")
	if mmd == nil {
		return NewFault(CodeNoParameters, "sendMessage requires the oscimeta:MessageMetaData header")
	}
	meta, err := ParseMessageMetaData(mmd)
	if err != nil {
		return NewFault(CodeInvalidParameters, err.Error())
	}
	if req.author != "" && req.author != meta.AuthorKey {
		return NewFault(CodeInvalidParameters, fmt.Sprintf("oscimeta:Author header %q differs from MessageMetaData author %q", req.author, meta.AuthorKey))
	}
	req.author = meta.AuthorKey
	if err := st.s.checkAccount(ctx, req, meta.AuthorKey, "MessageMetaData/Originators/Author"); err != nil {
		return err
	}
	if req.action == ActionSendMessageSync {
		if _, ok := st.s.b.(SyncBackend); !ok {
			return NewFault(CodeServiceOnlyAsync, fmt.Sprintf("service %q is only available asynchronously (sendMessage)", meta.Service))
		}
	}
	st.meta = meta
	return nil
}

// body reads the body element (xta:GenericContentContainer) and spools its contents.
func (st *sendState) body(p *parser, start xml.StartElement) error {
	if st.seenBody {
		return paramErr("Body must contain exactly one xta:GenericContentContainer")
	}

	st.seenBody = true
	return p.streamContainer(start, st.spool)
}

// spoolInMemory is how much of one content is kept in memory; a larger
// content goes to a temporary file in SpoolDir. Replies and receipts are a
// few KB: a file per content (create, write, open, read, remove) was most of
// sendMessage's system calls.
const spoolInMemory = 64 << 10

func (st *sendState) spool(index int, h ContentHeader, r io.Reader) error {
	buf := make([]byte, spoolInMemory)
	k, err := io.ReadFull(r, buf)
	var n int64
	var open func() (io.ReadCloser, error)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		data := buf[:k]
		n = int64(k)
		open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	case err != nil:
		return spoolErr(index, h, err)
	default:
		f, err := os.CreateTemp(st.s.cfg.SpoolDir, "xta-in-*")
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		st.files = append(st.files, f.Name())
		n, err = io.Copy(f, io.MultiReader(bytes.NewReader(buf), r))
		if cerr := f.Close(); err == nil && cerr != nil {
			return fmt.Errorf("spool: %w", cerr)
		}
		if err != nil {
			return spoolErr(index, h, err)
		}
		name := f.Name()
		open = func() (io.ReadCloser, error) { return os.Open(name) }
	}
	if h.Size > 0 && h.Size != n {
		return paramErr("content %d (%s): size attribute says %d bytes, content has %d", index, h.Filename, h.Size, n)
	}
	for len(st.contents) <= index { // MTOM parts may arrive in any order
		st.contents = append(st.contents, Content{})
	}
	st.contents[index] = Content{
		ContentType: h.ContentType,
		ID:          h.ID,
		Filename:    h.Filename,
		Description: h.Description,
		Encoding:    h.Encoding,
		Size:        n,
		Open:        open,
	}
	return nil
}

// spoolErr classifies an error reading a content: the client's fault
// (malformed, too large, bad base64) or the server's.
func spoolErr(index int, h ContentHeader, err error) error {
	var pe *paramError
	var mbe *http.MaxBytesError
	if errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrMTOM) ||
		errors.As(err, &pe) || errors.As(err, &mbe) {
		return err
	}
	var cie base64.CorruptInputError
	if errors.As(err, &cie) {
		return paramErr("content %d (%s) is not valid base64: %v", index, h.Filename, err)
	}
	return fmt.Errorf("spool: %w", err)
}

// finish hands the message to the backend and answers only after it returned.
func (st *sendState) finish(ctx context.Context, w http.ResponseWriter, req *request) error {
	if len(st.contents) == 0 {
		return NewFault(CodeNoParameters, "sendMessage without xta:GenericContentContainer")
	}
	msg := &InboundMessage{Meta: st.meta, Message: st.contents[0], Attachments: st.contents[1:]}
	if msg.Meta.Size == 0 {
		for _, c := range st.contents {
			msg.Meta.Size += c.Size
		}
	}
	for i, c := range st.contents {
		if c.Open == nil {
			return paramErr("content %d missing", i)
		}
	}
	if req.action == ActionSendMessageSync {
		answer, err := st.s.b.(SyncBackend).ReceiveSync(ctx, msg)
		if err != nil {
			return st.receiveErr(err)
		}
		st.s.log.Info("xta: sendMessageSync answered", "author", st.meta.AuthorKey, "reader", st.meta.ReaderKey,
			"message_id", st.meta.MessageID, "answer", answer.Meta.MessageID)
		return st.s.streamMessage(w, req, answer, nil)
	}
	if err := st.s.b.Receive(ctx, msg); err != nil {
		return st.receiveErr(err)
	}
	st.s.log.Info("xta: sendMessage received", "author", st.meta.AuthorKey, "reader", st.meta.ReaderKey,
		"message_id", st.meta.MessageID, "attachments", len(msg.Attachments))
	return st.s.reply(w, req, nil, nil)
}

func (st *sendState) receiveErr(err error) error {
	switch {
	case errors.Is(err, ErrDuplicateMessage):
		return NewFault(CodeMessageIDUsed, fmt.Sprintf("MessageID %q was already used", st.meta.MessageID))
	case errors.Is(err, ErrSyncOnly):
		return NewFault(CodeServiceOnlySync, fmt.Sprintf("service %q is only available synchronously (sendMessageSync)", st.meta.Service))
	}
	return fmt.Errorf("receive %s: %w", st.meta.MessageID, err)
}

func (st *sendState) cleanup() {
	for _, f := range st.files {
		_ = os.Remove(f)
	}
}
