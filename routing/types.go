// Package routing is the core of dxhub: the domain types every other package speaks,
// the submission lifecycle (DESIGN §5), the delivery pipeline with its retry policy
// (DESIGN §4) and the consumer-side interfaces through which it drives mapping,
// directory look-ups, transports and status sinks.
//
// routing imports no protocol package and no net/http: adapters in connectors/ and
// the wiring in cmd/dxhub plug the edges in.
package routing

import (
	"encoding/json"
	"time"
)

// Status is a point in the submission lifecycle (DESIGN §5).
type Status string

// The lifecycle in order, followed by the terminal failure states.
const (
	StatusReceived     Status = "received"
	StatusValidated    Status = "validated"
	StatusRouted       Status = "routed"
	StatusSent         Status = "sent"
	StatusDelivered    Status = "delivered"
	StatusFetched      Status = "fetched"
	StatusAcknowledged Status = "acknowledged"
	StatusInProgress   Status = "in_progress"
	StatusDecided      Status = "decided"

	StatusRejected Status = "rejected"
	StatusFailed   Status = "failed"
	StatusExpired  Status = "expired"
)

// lifecycleRank orders the forward states; terminal failures rank highest.
var lifecycleRank = map[Status]int{
	StatusReceived: 1, StatusValidated: 2, StatusRouted: 3, StatusSent: 4,
	StatusDelivered: 5, StatusFetched: 6, StatusAcknowledged: 7, StatusInProgress: 8,
	StatusDecided: 9, StatusRejected: 10, StatusFailed: 10, StatusExpired: 10,
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { _, ok := lifecycleRank[s]; return ok }

// Terminal reports whether no further transition is possible.
func (s Status) Terminal() bool {
	return s == StatusDecided || s == StatusRejected || s == StatusFailed || s == StatusExpired
}

// Advances reports whether moving from s to next is a forward move. Events that
// arrive late (a 1120 after a 1170, a transport report after the reader's receipt)
// are still recorded in the history but do not move the current status backwards.
func (s Status) Advances(next Status) bool {
	if s.Terminal() {
		return false
	}
	return lifecycleRank[next] > lifecycleRank[s]
}

// Source names who produced a status event.
type Source string

// Event sources.
const (
	SourceHub    Source = "hub"
	SourcePortal Source = "portal"
	SourceXTA    Source = "xta"
	SourceOSCI   Source = "osci"
	SourceXOEV   Source = "xoev"
)

// Applicant is the citizen or company behind a submission.
type Applicant struct {
	Mailbox string  `json:"mailbox,omitempty"` // Servicekonto Postfach handle
	Name    string  `json:"name"`
	Address Address `json:"address"`
	Email   string  `json:"email,omitempty"`
}

// Address is a postal address as portals send it.
type Address struct {
	Street      string `json:"street,omitempty"`
	HouseNumber string `json:"houseNumber,omitempty"`
	PostalCode  string `json:"postalCode,omitempty"`
	City        string `json:"city,omitempty"`
	Country     string `json:"country,omitempty"` // ISO 3166-1 alpha-2, default DE
}

// Attachment is the metadata of one stored attachment. The bytes live in the
// blob store under BlobKey; they are never held whole in memory.
type Attachment struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"` // hex
	BlobKey     string `json:"-"`
}

// Submission is one accepted application.
type Submission struct {
	ID          string          `json:"id"`
	PortalID    string          `json:"portal"`
	Tenant      string          `json:"tenant"` // AGS, 8 digits
	Service     string          `json:"service"`
	Reference   string          `json:"reference"`
	Applicant   Applicant       `json:"applicant"`
	Form        json.RawMessage `json:"form"`
	Attachments []Attachment    `json:"attachments"`
	Status      Status          `json:"status"`
	ReceivedAt  time.Time       `json:"receivedAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	// RetryBase starts the retry budget (RetryPolicy.MaxAge): ReceivedAt, or the
	// time an operator last retried the submission from the dead letters.
	RetryBase time.Time `json:"-"`
	// TraceParent is the W3C trace context of the intake span ("" when not
	// traced): later stages, in any worker or process, continue that trace.
	TraceParent string `json:"-"`
}

// StatusEvent is one entry of a submission's history. It is written in the same
// transaction as the state change it announces (outbox, DESIGN §4).
type StatusEvent struct {
	ID           int64     `json:"-"`
	SubmissionID string    `json:"-"`
	Status       Status    `json:"status"`
	Time         time.Time `json:"time"`
	Source       Source    `json:"source"`
	Detail       string    `json:"detail,omitempty"`
	// Evidence is the raw proof (a message ID, a receipt's UUID, a fault text).
	Evidence string `json:"evidence,omitempty"`
}

// Message is one XÖV document produced for (or received about) a submission.
type Message struct {
	SubmissionID string
	UUID         string // nachrichtenUUID
	Standard     string // e.g. "XBau-Kernmodul"
	Version      string // e.g. "1.3.0"
	TypeCode     string // e.g. "1200"
	RootElement  string // e.g. "universellerAntrag.antrag.1200"
	Namespace    string // target namespace of the root element
	Service      string // DVDV service URI the message belongs to
	// ApplicationReference is the application's reference the message carries
	// (XBau referenzAntragsservice); replies that name no message quote it.
	ApplicationReference string
	XML                  []byte
	// Attachments says how each submission attachment travels with the message
	// so that the XML's references resolve (transport attachment ID and name).
	Attachments []MessageAttachment
}

// MessageAttachment links a submission attachment to its reference in the XÖV
// document: the transport must ship it with this ID and file name.
type MessageAttachment struct {
	AttachmentID string `json:"attachmentId"` // Attachment.ID
	DocumentID   string `json:"documentId"`   // e.g. XBau anhang/dokumentid
	Filename     string `json:"filename"`     // the name the XML uses
}

// TransportKind names a delivery protocol.
type TransportKind string

// Transports dxhub speaks.
const (
	TransportXTAMailbox TransportKind = "xta-mailbox" // the hub's own XTA server; the reader polls
	TransportXTA        TransportKind = "xta"         // a remote XTA server; the hub is Autor
	TransportOSCI       TransportKind = "osci"        // OSCI 1.2 through an intermediary
)

// Route is where a message for (reader organisation key, service URI) goes.
type Route struct {
	ReaderKey    string // DVDV organisation key, e.g. "ags:05315000"
	ServiceURI   string // DVDV service specification URI
	Transport    TransportKind
	Endpoint     string // XTA/OSCI addressee URL; empty for the built-in mailbox
	Intermediary string // OSCI intermediary URL
	// Certificates in PEM, as the directory names them.
	EncryptionCert string
	SignatureCert  string
	// IntermediaryCert is the OSCI intermediary's cipher certificate (PEM),
	// for the transport (outer) encryption level.
	IntermediaryCert string
	// ResolvedAt and Source tell where the route came from (file, dvdv, cache).
	ResolvedAt time.Time
	Source     string
}

// Delivery is one message's way to its reader, with its persistent retry state.
type Delivery struct {
	ID            int64
	SubmissionID  string
	MessageUUID   string
	TransportID   string // XTA MessageID / OSCI MessageId, fixed before the first send
	Route         Route
	Attempts      int
	NextAttemptAt time.Time
	CreatedAt     time.Time
}

// AttemptResult is what the pipeline records after one transport attempt; the
// store commits it, its consequence for the delivery and the job, and Event in
// one transaction.
type AttemptResult struct {
	Delivery Delivery
	Number   int
	Started  time.Time
	Finished time.Time
	Outcome  Outcome
	// Exactly one of the following applies.
	Done          bool      // delivered: the job ends
	Dead          bool      // retries exhausted or permanent: dead letter, job ends
	NextAttemptAt time.Time // retry: the job is due again then
	// Event is the status event committed with the attempt (nil for a plain retry).
	Event *StatusEvent
}
