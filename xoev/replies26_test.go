package xoev

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestXBau26RepliesValidateAndParse builds a 1121 naming only bezug/referenz,
// the 0201 (complete and incomplete) and the 0205; each is valid per xmllint
// (independent of our validator) and the in-process validator, and parses
// back to the status the back-channel expects.
func TestXBau26RepliesValidateAndParse(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint not found (apt-get install libxml2-utils): ", err)
	}
	req, in := mapped1200(t)
	r := Reply{Created: replyTime, Reference: in.Reference, CaseNumber: "63-AZ-2026/0815"}
	refOnly := r
	refOnly.ReferenceOnly = true
	build := map[string]func() (Document, error){
		"1121-referenz-only": func() (Document, error) { return BuildAktenzeichen1121(in.Header, refOnly) },
		"0201-vollstaendig": func() (Document, error) {
			return BuildFormellePruefung0201(in.Header, FormalCheck{Complete: true, Letter: "Ihr Antrag ist vollständig."}, r)
		},
		"0201-unvollstaendig": func() (Document, error) {
			return BuildFormellePruefung0201(in.Header, FormalCheck{Findings: []Finding{{Code: "01", Description: "Der Lageplan fehlt."}},
				Deadline: time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)}, r)
		},
		"0205": func() (Document, error) {
			return BuildBescheid0205(in.Header, Bescheid{Granted: true, Remedy: "Gegen diesen Bescheid kann Klage erhoben werden.",
				Documents: []BescheidDocument{{Bezeichnung: "Baugenehmigung", AnlageArt: "9999", MimeType: "application/pdf",
					DokumentID: "bescheid-1", Filename: "Baugenehmigung_63-2026-0815.pdf"}}}, refOnly)
		},
	}
	schemas := map[string]string{
		"1121": "xoev/xbau/2.6/xsd_dev/xbau-kernmodul-prozessnachrichten.xsd",
		"0201": "xoev/xbau/2.6/xsd_dev/xbau-nachrichten-baugenehmigung.xsd",
		"0205": "xoev/xbau/2.6/xsd_dev/xbau-nachrichten-baugenehmigung.xsd",
	}
	for name, f := range build {
		t.Run(name, func(t *testing.T) {
			d, err := f()
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), name+".xml")
			if err := os.WriteFile(file, d.XML, 0o600); err != nil {
				t.Fatal(err)
			}
			schema := filepath.Join(shared.dir, filepath.FromSlash(schemas[name[:4]]))
			if out, err := exec.Command(xmllint, "--nonet", "--noout", "--schema", schema, file).CombinedOutput(); err != nil {
				t.Fatalf("xmllint: %v\n%s\n%s", err, out, d.XML)
			}
			if err := shared.validator.Validate(context.Background(), d.XML); err != nil {
				t.Fatalf("in-process validation: %v", err)
			}
			got, err := ParseInbound(d.XML)
			if err != nil {
				t.Fatal(err)
			}
			if got.Header.UUID != d.UUID || got.Header.TypeCode != d.TypeCode || got.Reference != req.ReferenceUUID ||
				got.CaseNumber != "63-AZ-2026/0815" || got.Header.AuthorKey != "ags:05315000" {
				t.Errorf("parsed = %+v", got)
			}
			refOnly := strings.Contains(name, "referenz-only") || name == "0205"
			if refOnly != (got.RefMessageUUID == "") {
				t.Errorf("bezugNachricht = %q, want it only without ReferenceOnly", got.RefMessageUUID)
			}
			if !refOnly && got.RefMessageUUID != req.UUID {
				t.Errorf("bezugNachricht = %q, want %q", got.RefMessageUUID, req.UUID)
			}
			want := map[string]Kind{"1121-referenz-only": KindAcknowledged, "0201-vollstaendig": KindInProgress,
				"0201-unvollstaendig": KindInProgress, "0205": KindDecided}[name]
			if got.Kind != want {
				t.Errorf("kind = %s, want %s", got.Kind, want)
			}
			switch name {
			case "0201-unvollstaendig":
				if got.Complete == nil || *got.Complete || len(got.Findings) != 1 || got.Deadline != "2026-12-15" {
					t.Errorf("0201 = %+v", got)
				}
			case "0205":
				if got.Granted == nil || !*got.Granted || len(got.Documents) != 1 || got.Documents[0].DokumentID != "bescheid-1" ||
					got.Documents[0].Dateiname != "Baugenehmigung_63-2026-0815.pdf" {
					t.Errorf("0205 = %+v", got)
				}
			}
		})
	}
}

func TestXBau26ReplyErrors(t *testing.T) {
	_, in := mapped1200(t)
	r := Reply{Created: replyTime, Reference: in.Reference}
	for name, f := range map[string]func() error{
		"reference only without reference": func() error {
			_, err := BuildAktenzeichen1121(in.Header, Reply{Created: replyTime, CaseNumber: "1", ReferenceOnly: true})
			return err
		},
		"incomplete without findings": func() error {
			_, err := BuildFormellePruefung0201(in.Header, FormalCheck{}, r)
			return err
		},
		"finding without description": func() error {
			_, err := BuildFormellePruefung0201(in.Header, FormalCheck{Findings: []Finding{{Code: "01"}}}, r)
			return err
		},
		"bescheid without documents": func() error { _, err := BuildBescheid0205(in.Header, Bescheid{}, r); return err },
		"bad file name": func() error {
			_, err := BuildBescheid0205(in.Header, Bescheid{Documents: []BescheidDocument{{Bezeichnung: "B", AnlageArt: "9999",
				MimeType: "application/pdf", DokumentID: "d", Filename: "a/b.pdf"}}}, r)
			return err
		},
	} {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
