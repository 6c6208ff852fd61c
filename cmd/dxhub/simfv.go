package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dxhub/dxhub/xoev"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

// simReplies are the replies `dxhub sim fachverfahren` can send.
var simReplies = []string{"1120", "1121", "1170", "1100", "0201", "0205"}

// simFVOptions is the parsed command line of `dxhub sim fachverfahren`.
type simFVOptions struct {
	kinds         []string
	status        string
	caseNo        string
	referenceOnly bool
	findings      []xoev.Finding
	bescheid      []byte // the Bescheid PDF for 0205
	bescheidName  string
	rejected      bool // 0205: Ablehnung instead of Genehmigung
}

// simFachverfahren plays a Fachverfahren against the hub's XTA server: the
// Leser cycle (checkAccountActive → getStatusList → getMessage → close) for
// every waiting message, then the replies an authority sends back. With
// --cert/--key/--ca it talks to the hub's mTLS XTA listener.
func simFachverfahren(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim fachverfahren", stderr)
	base := fs.String("hub", envOr("DXHUB_URL", "http://127.0.0.1:8080"), "base URL of the hub's XTA server (https://… for the mTLS listener)")
	identity := fs.String("identity", "ags:05315000", "the Fachverfahren's organisation key (selects the mailbox)")
	out := fs.String("out", "", "directory to save fetched messages and attachments (default: a temporary directory)")
	replies := fs.String("reply", "1120,1170", "replies to send for each message, in order: "+strings.Join(simReplies, ", ")+" (comma-separated; empty: none)")
	status := fs.String("status", "18", "statusbauportal code of the 1170 reply (18 = Unterlagen vollständig)")
	caseNo := fs.String("aktenzeichen", "", "the authority's Aktenzeichen to put into the replies (1121: default derived from the message)")
	refOnly := fs.Bool("reference-only", false, "replies name the application only by bezug/referenz, not by the message they answer (bezugNachricht)")
	var befunde stringList
	fs.Var(&befunde, "befund", "0201: a finding CODE:TEXT (formelle-befunde code, e.g. 01:Der Lageplan fehlt.); any makes the application incomplete (repeatable)")
	bescheid := fs.String("bescheid", "", "0205: the Bescheid PDF to send with it (required for 0205)")
	denied := fs.Bool("ablehnung", false, "0205: the Bescheid refuses the application (default: Genehmigung)")
	certFile := fs.String("cert", "", "client certificate (PEM) for the hub's mTLS XTA listener")
	keyFile := fs.String("key", "", "private key (PEM) of --cert")
	caFile := fs.String("ca", "", "CA bundle (PEM) that verifies the hub's server certificate (default: system roots)")
	max := fs.Int("max", 50, "maximum number of messages to fetch")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %v", fs.Args())
	}
	o := simFVOptions{status: *status, caseNo: *caseNo, referenceOnly: *refOnly, rejected: *denied}
	for _, k := range strings.Split(*replies, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if !slices.Contains(simReplies, k) {
			return usagef("unknown reply %q (known: %s)", k, strings.Join(simReplies, ", "))
		}
		o.kinds = append(o.kinds, k)
	}
	for _, b := range befunde {
		c, text, ok := strings.Cut(b, ":")
		if !ok || strings.TrimSpace(c) == "" || strings.TrimSpace(text) == "" {
			return usagef("--befund %q: want CODE:TEXT", b)
		}
		o.findings = append(o.findings, xoev.Finding{Code: strings.TrimSpace(c), Description: strings.TrimSpace(text)})
	}
	if slices.Contains(o.kinds, "0205") {
		if *bescheid == "" {
			return usagef("reply 0205 needs --bescheid FILE (the Bescheid PDF)")
		}
		data, err := os.ReadFile(*bescheid)
		if err != nil {
			return usagef("--bescheid: %v", err)
		}
		o.bescheid, o.bescheidName = data, xoev.SanitizeFilename(filepath.Base(*bescheid), "application/pdf")
	} else if *bescheid != "" {
		return usagef("--bescheid is only used with reply 0205")
	}
	if (*certFile == "") != (*keyFile == "") {
		return usagef("--cert and --key go together")
	}
	var httpClient *http.Client
	if *certFile != "" || *caFile != "" {
		if !strings.HasPrefix(*base, "https://") {
			return usagef("--cert/--key/--ca need an https:// --hub URL (the hub's mTLS XTA listener)")
		}
		cfg, err := xta.ClientTLSConfig(*certFile, *keyFile, *caFile)
		if err != nil {
			return usagef("%v", err)
		}
		tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		httpClient = &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	}
	dir := *out
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "dxhub-fachverfahren-"); err != nil {
			return err
		}
	}
	c := xtatest.New(*base, *identity, httpClient)
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
		if len(o.kinds) == 0 {
			continue
		}
		ref, err := xoev.ParseInbound(m.Message)
		if err != nil {
			return fmt.Errorf("parse fetched message: %w", err)
		}
		for _, k := range o.kinds {
			doc, atts, err := o.build(k, ref, m.Message, time.Now())
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
			if err := c.SendMessage(ctx, rmeta, doc.XML, atts...); err != nil {
				return fmt.Errorf("sendMessage %s: %w", k, err)
			}
			fmt.Fprintf(stdout, "  replied %s (%s)\n", doc.RootElement, doc.UUID)
			for _, a := range atts {
				fmt.Fprintf(stdout, "    with %s (%d bytes)\n", a.Filename, a.Size)
			}
		}
	}
	return nil
}

// build makes one reply to the fetched message ref and the transport
// attachments that go with it (the Bescheid of a 0205).
func (o simFVOptions) build(kind string, ref xoev.Inbound, original []byte, now time.Time) (xoev.Document, []xta.Content, error) {
	r := xoev.Reply{Created: now, Reference: ref.Reference, CaseNumber: o.caseNo, ReferenceOnly: o.referenceOnly}
	if o.referenceOnly && ref.Reference == "" {
		return xoev.Document{}, nil, fmt.Errorf("--reference-only: the fetched message %s carries no application reference", ref.Header.UUID)
	}
	switch kind {
	case "1120":
		r.Text = "Ihr Antrag ist bei uns eingegangen."
		doc, err := xoev.BuildReceipt1120(ref.Header, r)
		return doc, nil, err
	case "1121":
		if r.CaseNumber == "" {
			r.CaseNumber = "63-" + now.Format("2006") + "-" + strings.ToUpper(ref.Header.UUID[:8])
		}
		doc, err := xoev.BuildAktenzeichen1121(ref.Header, r)
		return doc, nil, err
	case "1170":
		doc, err := xoev.BuildStatus1170(ref.Header, o.status, time.Time{}, r)
		return doc, nil, err
	case "1100":
		doc, err := xoev.BuildRejection1100(ref.Header, original,
			[]xoev.Reason{{Code: "X001", Text: "Die Nachricht ist nicht schemakonform."}}, r)
		return doc, nil, err
	case "0201":
		fc := xoev.FormalCheck{Complete: len(o.findings) == 0, Findings: o.findings}
		if fc.Complete {
			fc.Letter = "Ihr Antrag ist vollständig und wird geprüft."
		} else {
			fc.Letter = "Bitte reichen Sie die fehlenden Unterlagen nach."
			fc.Deadline = now.AddDate(0, 0, 28)
		}
		doc, err := xoev.BuildFormellePruefung0201(ref.Header, fc, r)
		return doc, nil, err
	case "0205":
		const docID = "bescheid-1"
		name := "Genehmigung"
		if o.rejected {
			name = "Ablehnung"
		}
		doc, err := xoev.BuildBescheid0205(ref.Header, xoev.Bescheid{Granted: !o.rejected,
			Remedy: "Gegen diesen Bescheid kann innerhalb eines Monats nach Bekanntgabe Klage erhoben werden.",
			Documents: []xoev.BescheidDocument{{Bezeichnung: "Bescheid (" + name + ")", AnlageArt: "9999", MimeType: "application/pdf",
				DokumentID: docID, Filename: o.bescheidName, Date: now}}}, r)
		if err != nil {
			return doc, nil, err
		}
		pdf := o.bescheid
		return doc, []xta.Content{{ContentType: "application/pdf", ID: docID, Filename: o.bescheidName, Size: int64(len(pdf)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(pdf)), nil }}}, nil
	}
	return xoev.Document{}, nil, fmt.Errorf("unknown reply %q", kind)
}
