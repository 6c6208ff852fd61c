package xoev

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParseInbound(f *testing.F) {
	_, replies := builtReplies(f)
	for _, d := range replies {
		f.Add(d.XML)
	}
	golden, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.xml"))
	samples, _ := filepath.Glob(filepath.Join("testdata", "inbound", "*.xml"))
	for _, g := range append(golden, samples...) {
		data, err := os.ReadFile(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`))
	f.Add([]byte(`<a xmlns:p="urn:p"><p:b/></a>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseInbound(data)
		if err != nil {
			return
		}
		switch in.Kind {
		case KindRejected, KindAcknowledged, KindInProgress, KindDecided, KindUnknown:
		default:
			t.Fatalf("kind %q", in.Kind)
		}
		if in.Kind == KindRejected && in.Header.RootElement == Root1100 && len(in.Reasons) == 0 {
			t.Fatal("1100 without reasons accepted")
		}
		if in.Kind != KindUnknown && (in.Header.UUID == "" || in.Header.TypeCode == "" || in.Header.Created.IsZero()) {
			t.Fatalf("classified %s without a complete header: %+v", in.Kind, in.Header)
		}
		switch in.Header.RootElement {
		case Root1121:
			if in.Kind != KindUnknown && in.CaseNumber == "" {
				t.Fatal("1121 without Aktenzeichen accepted")
			}
		case Root0205:
			if in.Kind == KindDecided && (in.Granted == nil || len(in.Documents) == 0) {
				t.Fatal("0205 without tenor or documents accepted")
			}
		case Root0201:
			if in.Kind == KindInProgress && in.Complete == nil {
				t.Fatal("0201 without completeness accepted")
			}
		}
	})
}

// FuzzDecodeForm fuzzes the mapping input decoder and, for forms it accepts,
// the whole mapping: the result must be schema-valid or a permanent error.
func FuzzDecodeForm(f *testing.F) {
	for _, g := range []string{"full", "minimal"} {
		in := loadCase(f, filepath.Join("testdata", "golden", g+".json"))
		f.Add([]byte(in.Submission.Form))
	}
	f.Add([]byte(`{"grundstueck":{"bundesland":5,"flurstuecke":[{"gemarkungName":"A","flurstueck":"1/2"}]}}`))
	f.Add([]byte(`{"grundstuecke":[{"flurstuecke":[{"bundesland":"05","gemarkung":"1","zaehler":"2"}]}],"anlagen":{"x":{}}}`))
	m := newTestMapper(f)
	base := loadCase(f, filepath.Join("testdata", "golden", "minimal.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		form, err := DecodeForm(json.RawMessage(data))
		if err != nil {
			var me *MappingError
			if !errors.As(err, &me) || me.Field == "" || me.Field[0] != '/' {
				t.Fatalf("decode error %v is not a *MappingError with a pointer", err)
			}
			return
		}
		if len(form.Grundstuecke) == 0 {
			t.Fatal("form without Grundstück accepted")
		}
		in := base
		in.Submission.Form = data
		// Everything the decoder accepts either maps to a schema-valid 1200 or
		// fails with a precise *MappingError; a *SchemaError would mean the
		// pre-checks missed something.
		if _, err := m.Map(context.Background(), in); err != nil {
			var me *MappingError
			if !errors.As(err, &me) {
				t.Fatalf("mapping failed without a *MappingError: %v", err)
			}
		}
	})
}
