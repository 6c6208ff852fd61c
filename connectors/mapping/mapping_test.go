package mapping

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/routing"
)

// TestParserStatuses: every back-channel sample of the xoev package maps to
// the status of DESIGN §5 with the reference that correlates it.
func TestParserStatuses(t *testing.T) {
	const sent, ref = "d7b1ec67-aa05-52ec-a3cc-d6281e6ba5c6", "0b7f3c1e-2a4d-4e5f-9a6b-7c8d9e0f1a2b"
	for _, tt := range []struct {
		file       string
		status     routing.Status
		referenced string
		detail     string
	}{
		{"xbau26-1121.xml", routing.StatusAcknowledged, sent, "Aktenzeichen zugewiesen (Aktenzeichen 63-2026-0815)"},
		{"xbau26-1121-referenz-only.xml", routing.StatusAcknowledged, "", "Aktenzeichen 63-2026-0815"},
		{"xbau26-1180.xml", routing.StatusAcknowledged, sent, "quittiert"},
		{"xbau26-0201-vollstaendig.xml", routing.StatusInProgress, sent, "Antrag vollständig"},
		{"xbau26-0201-unvollstaendig.xml", routing.StatusInProgress, sent, "Frist 2026-12-15"},
		{"xbau26-0205.xml", routing.StatusDecided, sent, "Dokumente: Baugenehmigung"},
		{"xbau23-1100.xml", routing.StatusRejected, sent, "S091"},
		{"xbau23-1120.xml", routing.StatusAcknowledged, sent, "Eingangsbestätigung"},
		{"xbau23-1121.xml", routing.StatusAcknowledged, sent, "Aktenzeichen 63-2026-0815"},
		{"xbau23-0201.xml", routing.StatusInProgress, sent, "Der Lageplan fehlt."},
		{"xbau23-0205.xml", routing.StatusDecided, sent, "Ablehnung"},
		{"xinneres-0010.xml", routing.StatusRejected, sent, "X001"},
		{"xinneres-0020.xml", routing.StatusAcknowledged, sent, "Quittung"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "..", "xoev", "testdata", "inbound", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Parser{}.ParseInbound(data)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != tt.status || rep.ReferencedUUID != tt.referenced || !strings.Contains(rep.Detail, tt.detail) || rep.MessageUUID == "" {
				t.Errorf("report = %+v, want status %s, reference %q, detail containing %q", rep, tt.status, tt.referenced, tt.detail)
			}
			if strings.HasPrefix(tt.file, "xbau") && !strings.Contains(tt.file, "1100") && rep.ApplicationReference != ref {
				t.Errorf("application reference = %q, want %q", rep.ApplicationReference, ref)
			}
		})
	}
	if _, err := (Parser{}).ParseInbound([]byte("<a><b></a>")); err == nil {
		t.Error("malformed XML accepted")
	}
	rep, err := Parser{}.ParseInbound([]byte(`<a/>`))
	if err != nil || rep.Status != "" {
		t.Errorf("unknown XML: %+v %v", rep, err)
	}
}
