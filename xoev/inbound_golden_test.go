package xoev

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// inboundSchemas names the XSD (below the standards directory) of each
// back-channel sample under testdata/inbound, by file name prefix. XInneres
// 0010/0020 have no schema in the deployed bundles ("" = well-formedness
// only).
var inboundSchemas = []struct{ prefix, schema string }{
	{"xbau26-0", "xoev/xbau/2.6/xsd_dev/xbau-nachrichten-baugenehmigung.xsd"},
	{"xbau26-1", "xoev/xbau/2.6/xsd_dev/xbau-kernmodul-prozessnachrichten.xsd"},
	{"xbau23-", xbau23Driver},
	{"xinneres-", ""},
}

func inboundSchema(t testing.TB, file string) string {
	for _, s := range inboundSchemas {
		if strings.HasPrefix(filepath.Base(file), s.prefix) {
			return s.schema
		}
	}
	t.Fatalf("%s: no schema rule for this sample name", file)
	return ""
}

func inboundSamples(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "inbound", "*.xml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no inbound samples: %v", err)
	}
	return files
}

// TestInboundSamplesValid validates every back-channel sample with xmllint
// (independent of our validator) and with the in-process Validator, so the
// parser is tested against messages a conforming Fachverfahren can send.
func TestInboundSamplesValid(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint not found (apt-get install libxml2-utils): ", err)
	}
	for _, f := range inboundSamples(t) {
		schema := inboundSchema(t, f)
		args := []string{"--nonet", "--noout"}
		if schema != "" {
			args = append(args, "--schema", filepath.Join(shared.dir, filepath.FromSlash(schema)))
		}
		if out, err := exec.CommandContext(context.Background(), xmllint, append(args, f)...).CombinedOutput(); err != nil {
			t.Errorf("xmllint %s: %v\n%s", f, err, out)
		}
		if schema == "" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := shared.validator.Validate(context.Background(), data); err != nil {
			t.Errorf("in-process validation of %s: %v", f, err)
		}
	}
}

// inboundView is the golden form of a parsed message (RejectedMessage as its
// size and SHA-256).
type inboundView struct {
	Inbound
	RejectedMessage       any    `json:"RejectedMessage,omitempty"`
	RejectedMessageSize   int    `json:",omitempty"`
	RejectedMessageSHA256 string `json:",omitempty"`
}

// TestInboundGolden parses each testdata/inbound/*.xml and compares the result
// with the .json next to it (run with -update to rewrite): kind, header,
// references, Aktenzeichen, reasons, findings, documents and detail text.
func TestInboundGolden(t *testing.T) {
	for _, f := range inboundSamples(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".xml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			in, err := ParseInbound(data)
			if err != nil {
				t.Fatal(err)
			}
			v := inboundView{Inbound: in}
			if len(in.RejectedMessage) > 0 {
				sum := sha256.Sum256(in.RejectedMessage)
				v.RejectedMessageSize, v.RejectedMessageSHA256 = len(in.RejectedMessage), hex.EncodeToString(sum[:])
			}
			got, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(f, ".xml") + ".json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./xoev -run TestInboundGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the parse result:\n%s", golden, got)
			}
		})
	}
}
