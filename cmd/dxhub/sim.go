package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dxhub/dxhub/xoev"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("give a simulator: fachverfahren, xta-server or osci-intermediary")
	}
	switch args[0] {
	case "fachverfahren":
		return simFachverfahren(ctx, args[1:], stdout, stderr)
	case "xta-server":
		return simXTAServer(ctx, args[1:], stdout, stderr)
	case "osci-intermediary":
		return simOSCIIntermediary(ctx, args[1:], stdout, stderr)
	}
	return usagef("unknown simulator %q (known: fachverfahren, xta-server, osci-intermediary)", args[0])
}

// simFachverfahren plays a Fachverfahren against the hub's XTA server: the
// Leser cycle (checkAccountActive → getStatusList → getMessage → close) for
// every waiting message, then the replies an authority sends back.
func simFachverfahren(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim fachverfahren", stderr)
	base := fs.String("hub", envOr("DXHUB_URL", "http://127.0.0.1:8080"), "base URL of the hub's XTA server")
	identity := fs.String("identity", "ags:05315000", "the Fachverfahren's organisation key (selects the mailbox)")
	out := fs.String("out", "", "directory to save fetched messages and attachments (default: a temporary directory)")
	replies := fs.String("reply", "1120,1170", "replies to send for each message: 1120, 1170, 1100 (comma-separated; empty: none)")
	status := fs.String("status", "18", "statusbauportal code of the 1170 reply (18 = Unterlagen vollständig)")
	caseNo := fs.String("aktenzeichen", "", "the authority's Aktenzeichen to put into the replies")
	max := fs.Int("max", 50, "maximum number of messages to fetch")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %v", fs.Args())
	}
	var kinds []string
	for _, k := range strings.Split(*replies, ",") {
		switch k = strings.TrimSpace(k); k {
		case "":
		case "1120", "1170", "1100":
			kinds = append(kinds, k)
		default:
			return usagef("unknown reply %q (known: 1120, 1170, 1100)", k)
		}
	}
	dir := *out
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "dxhub-fachverfahren-"); err != nil {
			return err
		}
	}
	c := xtatest.New(*base, *identity, nil)
	if err := c.CheckAccountActive(ctx); err != nil {
		return fmt.Errorf("checkAccountActive: %w", err)
	}
	list, err := c.GetStatusList(ctx, *max)
	if err != nil {
		return fmt.Errorf("getStatusList: %w", err)
	}
	fmt.Fprintf(stdout, "%d message(s) waiting for %s\n", len(list), *identity)
	for _, meta := range list {
		msgDir := filepath.Join(dir, safeFileName(meta.MessageID))
		if err := os.MkdirAll(msgDir, 0o750); err != nil {
			return err
		}
		c.AttachmentDir = msgDir
		m, err := c.GetMessage(ctx, meta.MessageID)
		if err != nil {
			return fmt.Errorf("getMessage %s: %w", meta.MessageID, err)
		}
		file := filepath.Join(msgDir, "message.xml")
		if err := os.WriteFile(file, m.Message, 0o640); err != nil {
			return err
		}
		// Persist before close: close is the acknowledgement.
		if err := c.Close(ctx, meta.MessageID); err != nil {
			return fmt.Errorf("close %s: %w", meta.MessageID, err)
		}
		fmt.Fprintf(stdout, "fetched %s (%s, %d attachment(s)) → %s\n", meta.MessageID, meta.MessageType.Code, len(m.Attachments), file)
		for _, a := range m.Attachments {
			fmt.Fprintf(stdout, "  attachment %s  %d bytes  sha256 %s\n", a.Filename, a.Bytes, a.SHA256)
		}
		if len(kinds) == 0 {
			continue
		}
		ref, err := xoev.ParseInbound(m.Message)
		if err != nil {
			return fmt.Errorf("parse fetched message: %w", err)
		}
		for _, k := range kinds {
			doc, err := buildReply(k, ref, m.Message, *status, *caseNo)
			if err != nil {
				return fmt.Errorf("build %s: %w", k, err)
			}
			rmeta := xta.MessageMeta{
				MessageID: "urn:de:xta:messageid:fachverfahren:" + doc.UUID,
				AuthorKey: *identity, AuthorType: "xoev", ReaderKey: ref.Header.AuthorKey, ReaderType: "xoev",
				Service:          meta.Service,
				BusinessScenario: meta.BusinessScenario,
				MessageType: xta.Code{Code: doc.RootElement, ListURI: "urn:de:payloadSchema:elementName",
					ListVersionID: "1.0"},
				PayloadSchema: doc.Namespace,
				InReplyTo:     []string{meta.MessageID},
			}
			if err := c.SendMessage(ctx, rmeta, doc.XML); err != nil {
				return fmt.Errorf("sendMessage %s: %w", k, err)
			}
			fmt.Fprintf(stdout, "  replied %s (%s)\n", doc.RootElement, doc.UUID)
		}
	}
	return nil
}

func buildReply(kind string, ref xoev.Inbound, original []byte, status, caseNo string) (xoev.Document, error) {
	r := xoev.Reply{Created: time.Now(), Reference: ref.Reference, CaseNumber: caseNo}
	switch kind {
	case "1120":
		r.Text = "Ihr Antrag ist bei uns eingegangen."
		return xoev.BuildReceipt1120(ref.Header, r)
	case "1170":
		return xoev.BuildStatus1170(ref.Header, status, time.Time{}, r)
	default:
		return xoev.BuildRejection1100(ref.Header, original,
			[]xoev.Reason{{Code: "X001", Text: "Die Nachricht ist nicht schemakonform."}}, r)
	}
}

func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ':' || r == '\\' {
			return '_'
		}
		return r
	}, s)
}
