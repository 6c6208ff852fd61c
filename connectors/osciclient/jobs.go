package osciclient

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/osci"
	"github.com/dxhub/dxhub/routing"
)

const nsMeta = "http://www.osci.eu/ws/2014/10/transport"

func pemEncode(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// metaData is the XTA 2 v3 oscimeta:MessageMetaData custom header (Id
// "MetaData") that tells the reader's transport node author, reader,
// service and message type.
func (a *Adapter) metaData(route routing.Route, msg routing.Message, messageID string) *etree.Element {
	md := etree.NewElement("oscimeta:MessageMetaData")
	md.CreateAttr("xmlns:oscimeta", nsMeta)
	md.CreateAttr("xmlns:wsa", "http://www.w3.org/2005/08/addressing")
	md.CreateAttr("Id", "MetaData")
	md.CreateElement("oscimeta:DeliveryAttributes").CreateElement("oscimeta:Origin").SetText(a.opts.Clock.Now().UTC().Format(time.RFC3339))
	party := func(parent, name, key string) {
		id := md.CreateElement("oscimeta:" + parent).CreateElement("oscimeta:" + name).CreateElement("oscimeta:Identifier")
		id.CreateAttr("type", "xoev")
		id.SetText(key)
	}
	party("Originators", "Author", a.opts.AuthorKey)
	party("Destinations", "Reader", route.ReaderKey)
	md.CreateElement("oscimeta:MsgIdentification").CreateElement("wsa:MessageID").SetText("urn:de:osci:messageid:" + messageID)
	q := md.CreateElement("oscimeta:Qualifier")
	q.CreateElement("oscimeta:Service").SetText(route.ServiceURI)
	bs := q.CreateElement("oscimeta:BusinessScenario").CreateElement("oscimeta:Defined")
	bs.CreateAttr("listURI", "urn:de:xta:codeliste:business.scenario")
	bs.CreateAttr("listVersionID", "1")
	bs.CreateElement("code").SetText(businessScenario(msg.Standard))
	mt := q.CreateElement("oscimeta:MessageType")
	mt.CreateAttr("listURI", "urn:de:payloadSchema:elementName")
	mt.CreateAttr("listVersionID", "1.0")
	mt.CreateAttr("payloadSchema", msg.Namespace)
	mt.CreateElement("code").SetText(msg.RootElement)
	return md
}

func businessScenario(standard string) string {
	s := strings.ToUpper(strings.SplitN(standard, "-", 2)[0])
	if s == "" {
		return "XOEV_DATA"
	}
	return s + "_DATA"
}

// authorOf reads the author's organisation key from a MessageMetaData header.
func authorOf(m *osci.Message) string {
	for _, h := range m.CustomHeaders {
		if h.Tag != "MessageMetaData" || h.NamespaceURI() != nsMeta {
			continue
		}
		for _, o := range h.ChildElements() {
			if o.Tag != "Originators" {
				continue
			}
			for _, au := range o.ChildElements() {
				if au.Tag == "Author" {
					if id := au.SelectElement("Identifier"); id != nil {
						return strings.TrimSpace(id.Text())
					}
				}
			}
		}
	}
	return ""
}

// card is the stored JSON form of a Laufzettel.
type card struct {
	MessageID          string     `json:"messageId"`
	RecentModification time.Time  `json:"recentModification"`
	Creation           *time.Time `json:"creation,omitempty"`
	Forwarding         *time.Time `json:"forwarding,omitempty"`
	Reception          *time.Time `json:"reception,omitempty"`
	Subject            string     `json:"subject,omitempty"`
	Inspections        []string   `json:"inspections,omitempty"`
}

func cardJSON(pc osci.ProcessCardBundle) card {
	ts := func(t *osci.Timestamp) *time.Time {
		if t == nil || t.Plain.IsZero() {
			return nil
		}
		v := t.Plain.UTC()
		return &v
	}
	c := card{MessageID: pc.MessageID, RecentModification: pc.RecentModification.UTC(), Creation: ts(pc.Creation),
		Forwarding: ts(pc.Forwarding), Reception: ts(pc.Reception), Subject: pc.Subject}
	for _, in := range pc.Inspections {
		c.Inspections = append(c.Inspections, fmt.Sprintf("%s: math %s, offline %s", in.SubjectName, in.MathResult, in.OfflineResult))
	}
	return c
}

// CardResult is what PollProcessCards did for one delivery.
type CardResult struct {
	TransportID string
	MessageID   string
	Reception   time.Time // zero while the addressee has not fetched
	Event       routing.Status
	Err         error
}

// PollProcessCards reads the Laufzettel of up to limit deliveries stored at
// intermediaries (one explicit dialog per intermediary). A card with
// Reception records "fetched" (source osci, evidence the MessageId) in one
// transaction with the new state; others are polled again on the next run.
func (a *Adapter) PollProcessCards(ctx context.Context, limit int) ([]CardResult, error) {
	open, err := a.store.OSCIOutOpen(ctx, limit)
	if err != nil {
		return nil, err
	}
	type group struct {
		url, cert string
		recs      []store.OSCIOut
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, r := range open {
		k := r.Intermediary + "\x00" + r.IntermediaryCert
		g := byKey[k]
		if g == nil {
			g = &group{url: r.Intermediary, cert: r.IntermediaryCert}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.recs = append(g.recs, r)
	}
	var out []CardResult
	for _, g := range groups {
		ids := make([]string, len(g.recs))
		for i, r := range g.recs {
			ids[i] = r.MessageID
		}
		var cards []osci.ProcessCardBundle
		c, err := a.client(g.url, g.cert)
		if err == nil {
			cards, err = c.FetchProcessCards(ctx, ids)
		}
		now := a.opts.Clock.Now()
		byID := map[string]osci.ProcessCardBundle{}
		for _, pc := range cards {
			byID[pc.MessageID] = pc
		}
		for _, r := range g.recs {
			res := CardResult{TransportID: r.TransportID, MessageID: r.MessageID}
			if err != nil {
				res.Err = err
				_ = a.store.OSCIOutUpdate(ctx, r.TransportID, store.OSCISent, "", "fetchProcessCard: "+err.Error(), now, nil)
				out = append(out, res)
				continue
			}
			pc, ok := byID[r.MessageID]
			if !ok {
				_ = a.store.OSCIOutUpdate(ctx, r.TransportID, store.OSCISent, "", "no Laufzettel at the intermediary yet", now, nil)
				out = append(out, res)
				continue
			}
			cj, _ := jsonString(cardJSON(pc))
			state, detail := store.OSCISent, "Laufzettel: noch nicht abgeholt"
			var ev *routing.StatusEvent
			if pc.Reception != nil {
				at := pc.Reception.Plain
				if at.IsZero() {
					at = now
				}
				res.Reception, res.Event = at, routing.StatusFetched
				state = store.OSCIFetched
				detail = "OSCI-Laufzettel: vom Empfänger abgeholt am " + at.UTC().Format(time.RFC3339)
				ev = &routing.StatusEvent{Status: routing.StatusFetched, Time: now, Source: routing.SourceOSCI,
					Detail: detail, Evidence: "OSCI MessageId " + r.MessageID}
			}
			if uerr := a.store.OSCIOutUpdate(ctx, r.TransportID, state, cj, detail, now, ev); uerr != nil {
				res.Err = uerr
			}
			out = append(out, res)
		}
	}
	return out, nil
}

// MailboxOptions configure FetchMailbox.
type MailboxOptions struct {
	Intermediary string // URL of the intermediary holding the hub's mailbox
	Max          int    // deliveries per run (default 100)
	// RecoverWindow is how far back FetchMailbox looks for deliveries the
	// intermediary saw fetched but the hub never stored (a crash between the
	// fetch and the commit); default 7 days.
	RecoverWindow time.Duration
	// RecoverEvery is how often that check repeats while runs succeed
	// (default 10 minutes). It always runs on the adapter's first run (after
	// a restart: the crash it recovers from) and on the run after a failed
	// one; a successful run has stored everything it fetched, so checking
	// the whole window on every run (every second, say) would only re-read
	// a growing list of process cards.
	RecoverEvery time.Duration
}

// FetchMailbox fetches up to Max deliveries from the hub's own OSCI mailbox.
// The fetch is the acknowledgement (the intermediary writes Reception), so
// each opened message is stored first (de-duplicated by MessageId) and only
// then handed to the back-channel by ProcessInbox. It returns how many new
// deliveries were stored.
//
// Runs of one adapter are serialised. The deliveries are fetched in one
// explicit dialog (one initDialog and exitDialog per run, not per delivery).
func (a *Adapter) FetchMailbox(ctx context.Context, o MailboxOptions, recv Receiver) (int, error) {
	if o.Max <= 0 {
		o.Max = 100
	}
	if o.RecoverEvery <= 0 {
		o.RecoverEvery = 10 * time.Minute
	}
	a.mailboxMu.Lock()
	defer a.mailboxMu.Unlock()
	start := a.opts.Clock.Now()
	n, err := a.fetchMailbox(ctx, o, recv, start)
	if err != nil {
		delete(a.recovered, o.Intermediary) // the next run checks again
	}
	return n, err
}

func (a *Adapter) fetchMailbox(ctx context.Context, o MailboxOptions, recv Receiver, start time.Time) (int, error) {
	// Deliveries stored by an earlier run but not yet handled go first.
	if err := a.drainInbox(ctx, recv); err != nil {
		return 0, err
	}
	c, err := a.client(o.Intermediary, "")
	if err != nil {
		return 0, fmt.Errorf("osciclient: mailbox: %w", err)
	}
	n := 0
	if last, ok := a.recovered[o.Intermediary]; !ok || start.Sub(last) >= o.RecoverEvery {
		if n, err = a.recoverMailbox(ctx, c, o); err != nil {
			return n, err
		}
		a.recovered[o.Intermediary] = start
	}
	d, err := c.InitDialog(ctx)
	if err != nil {
		return n, fmt.Errorf("osciclient: mailbox initDialog: %w", err)
	}
	for n < o.Max {
		var r *osci.Response
		if r, err = d.FetchDelivery(ctx, ""); err != nil {
			err = fmt.Errorf("osciclient: fetchDelivery: %w", err)
			break
		}
		if r == nil {
			break
		}
		id := r.Message.MessageID
		if len(r.Message.ProcessCards) > 0 {
			id = r.Message.ProcessCards[0].MessageID
		}
		if id == "" {
			err = fmt.Errorf("osciclient: fetched delivery without MessageId")
			break
		}
		var it store.OSCIInboxItem
		var stored bool
		if it, stored, err = a.keep(ctx, o, id, r); err != nil {
			break
		}
		if stored {
			n++
			// Stored: hand it over now rather than after the whole run (a
			// run lasts as long as replies keep arriving), from the message
			// Decode already parsed and verified rather than by parsing the
			// stored body again.
			if err = a.finish(ctx, it.MessageID, recv, func() (string, error) {
				return a.handleMessage(ctx, it.MessageID, r.Message, r.Attachments, recv)
			}); err != nil {
				break
			}
		}
	}
	if xerr := d.Exit(ctx); err == nil && xerr != nil {
		// Everything fetched is stored; only the dialog's end failed.
		a.log.WarnContext(ctx, "osci: mailbox exitDialog failed", "err", xerr)
	}
	if err != nil {
		return n, err
	}
	return n, a.drainInbox(ctx, recv)
}

// drainInbox runs ProcessInbox until no stored delivery is pending.
func (a *Adapter) drainInbox(ctx context.Context, recv Receiver) error {
	for {
		n, err := a.ProcessInbox(ctx, recv)
		if err != nil || n < inboxBatch {
			return err
		}
	}
}

// keep stores a fetched delivery (false: stored before).
func (a *Adapter) keep(ctx context.Context, o MailboxOptions, id string, r *osci.Response) (store.OSCIInboxItem, bool, error) {
	body := osci.WriteMIME(append([]osci.Part{{ContentID: osci.ContentIDMessage, ContentType: "text/xml; charset=UTF-8", Data: r.Envelope}}, r.Attachments...))
	it := store.OSCIInboxItem{MessageID: id, Intermediary: o.Intermediary, FetchedAt: a.opts.Clock.Now(), Body: body}
	stored, err := a.store.OSCIInboxPut(ctx, it)
	if err != nil {
		return it, false, err
	}
	a.log.Info("osci: delivery fetched from the hub's mailbox", "message_id", id, "new", stored)
	return it, stored, nil
}

// recoverMailbox asks for the Laufzettel of deliveries to the hub received
// within the window and fetches again, by MessageId, those the hub has not
// stored: their first fetch was acknowledged, but the hub crashed before
// committing them.
func (a *Adapter) recoverMailbox(ctx context.Context, c *osci.Client, o MailboxOptions) (int, error) {
	window := o.RecoverWindow
	if window <= 0 {
		window = 7 * 24 * time.Hour
	}
	cards, err := c.FetchReceivedCards(ctx, a.opts.Clock.Now().Add(-window), "Addressee", 0)
	if err != nil {
		return 0, fmt.Errorf("osciclient: mailbox recovery: %w", err)
	}
	n := 0
	for _, pc := range cards {
		has, err := a.store.OSCIInboxHas(ctx, pc.MessageID)
		if err != nil {
			return n, err
		}
		if has {
			continue
		}
		r, err := c.FetchDelivery(ctx, pc.MessageID)
		if err != nil {
			return n, fmt.Errorf("osciclient: mailbox recovery of %s: %w", pc.MessageID, err)
		}
		if r == nil {
			continue
		}
		a.log.Warn("osci: recovering a delivery fetched before but never stored", "message_id", pc.MessageID)
		_, stored, err := a.keep(ctx, o, pc.MessageID, r)
		if err != nil {
			return n, err
		}
		if stored {
			n++
		}
	}
	return n, nil
}

// ProcessInbox hands stored, unhandled mailbox deliveries to recv: the
// content is decrypted with the hub's key and its Author signature checked;
// the first content is the XÖV message. Duplicates count as handled; a
// message that cannot be opened or parsed is kept with a note.
func (a *Adapter) ProcessInbox(ctx context.Context, recv Receiver) (int, error) {
	items, err := a.store.OSCIInboxPending(ctx, inboxBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, it := range items {
		if err := a.process(ctx, it, recv); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// process hands one stored delivery to recv and marks it handled.
func (a *Adapter) process(ctx context.Context, it store.OSCIInboxItem, recv Receiver) error {
	return a.finish(ctx, it.MessageID, recv, func() (string, error) { return a.handle(ctx, it, recv) })
}

// finish runs handle for the stored delivery messageID and marks it handled
// with handle's note.
func (a *Adapter) finish(ctx context.Context, messageID string, recv Receiver, handle func() (string, error)) error {
	note, err := handle()
	if err != nil {
		return fmt.Errorf("osciclient: inbox %s: %w", messageID, err)
	}
	if note != "" {
		a.log.Warn("osci: mailbox delivery kept without effect", "message_id", messageID, "note", note)
	}
	return a.store.OSCIInboxDone(ctx, messageID, note, a.opts.Clock.Now())
}

func (a *Adapter) handle(ctx context.Context, it store.OSCIInboxItem, recv Receiver) (string, error) {
	parts, err := osci.ParseMIME(it.Body)
	if err != nil {
		return "stored body unreadable: " + err.Error(), nil
	}
	m, _, err := osci.ParseEnvelope(parts[0].Data)
	if err != nil {
		return "stored envelope unreadable: " + err.Error(), nil
	}
	return a.handleMessage(ctx, it.MessageID, m, parts[1:], recv)
}

// handleMessage opens the content of a mailbox delivery (its envelope m and
// MIME parts atts) and hands it to recv; a non-empty note says why it had no
// effect.
func (a *Adapter) handleMessage(ctx context.Context, messageID string, m *osci.Message, parts []osci.Part, recv Receiver) (string, error) {
	author := m.SignatureCertOriginator
	if author == nil {
		return "no SignatureCertificateOriginator: the Author signature cannot be checked", nil
	}
	if err := xmlsec.CheckCertificate(author, xmlsec.UsageSignature, a.opts.Clock.Now()); err != nil {
		return "author certificate: " + err.Error(), nil
	}
	contents, err := osci.OpenContent(m.ContentPackage, &xmlsec.Decrypter{Key: a.opts.Cipher.Key, Cert: a.opts.Cipher.Cert}, author, parts)
	if err != nil {
		return "content: " + err.Error(), nil
	}
	if len(contents) == 0 {
		return "no content", nil
	}
	atts, err := a.keepAttachments(ctx, messageID, contents[1:])
	if err != nil {
		return "", err
	}
	_, err = recv.Receive(ctx, routing.Inbound{TransportID: messageID, Transport: routing.TransportOSCI,
		AuthorKey: authorOf(m), ReaderKey: a.opts.AuthorKey, Payload: contents[0].Data, Attachments: atts})
	switch {
	case err == nil, errors.Is(err, routing.ErrDuplicate):
		return "", nil
	case errors.Is(err, routing.ErrMalformedInbound):
		return err.Error(), nil
	}
	return "", err
}

// inboxBatch is how many pending mailbox deliveries ProcessInbox handles.
const inboxBatch = 100

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// keepAttachments stores the decrypted, signature-checked attachments of a
// reply (a Bescheid PDF, say) in the blob store, so the back-channel can
// forward them to the citizen's Postfach as it does for XTA.
func (a *Adapter) keepAttachments(ctx context.Context, messageID string, contents []osci.Content) ([]routing.Attachment, error) {
	if len(contents) == 0 {
		return nil, nil
	}
	var atts []routing.Attachment
	for i, c := range contents {
		name := strings.TrimPrefix(c.Href, "cid:")
		if name == "" {
			name = fmt.Sprintf("anlage-%d", i+1)
		}
		ref, err := a.blobs.Put(ctx, bytes.NewReader(c.Data), 0)
		if err != nil {
			return nil, fmt.Errorf("keep attachment %s of %s: %w", name, messageID, err)
		}
		atts = append(atts, routing.Attachment{ID: name, Filename: name, ContentType: http.DetectContentType(c.Data),
			Size: ref.Size, SHA256: ref.SHA256, BlobKey: ref.Key})
	}
	return atts, nil
}
