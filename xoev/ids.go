package xoev

import (
	"regexp"

	"github.com/google/uuid"
)

// IDNamespace is the fixed UUIDv5 namespace from which dxhub derives every
// deterministic XÖV identifier. It is itself the UUIDv5 of the URL
// "https://github.com/dxhub/dxhub#xoev" in the RFC 4122 URL namespace, so it
// never changes between releases.
var IDNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/dxhub/dxhub#xoev"))

// MessageKind1200 is the message kind used to derive the nachrichtenUUID of a
// submission's 1200 (see MessageUUID).
const MessageKind1200 = Root1200

// MessageUUID returns the deterministic nachrichtenUUID of the message of the
// given kind for a submission: UUIDv5(IDNamespace, submissionID + ":" + kind).
// Re-mapping a submission after a crash therefore yields the same UUID.
func MessageUUID(submissionID, messageKind string) string {
	return derivedUUID(submissionID + ":" + messageKind)
}

func derivedUUID(name string) string {
	return uuid.NewSHA1(IDNamespace, []byte(name)).String()
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// isUUID reports whether s matches the XÖV UUID pattern (bn-g2g:UUID).
func isUUID(s string) bool { return uuidPattern.MatchString(s) }

// dvdvKey is the rule of XBau Schematron sch-xbau-001/002 for DVDV Behördenkennungen.
var dvdvKey = regexp.MustCompile(`^[a-z]{3}:\d+$`)
