package xoev

import (
	"context"
	"testing"
)

// BenchmarkMapAndValidate maps the full golden case (a 1200 with 3
// attachments, 2 Flurstücke) and validates it in-process.
func BenchmarkMapAndValidate(b *testing.B) {
	m := newTestMapper(b)
	in := loadCase(b, "testdata/golden/full.json")
	ctx := context.Background()
	if _, err := m.Map(ctx, in); err != nil { // compiles the schema
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Map(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidate validates the same 1200 against the compiled schema.
func BenchmarkValidate(b *testing.B) {
	doc, _ := mapped1200(b)
	ctx := context.Background()
	b.SetBytes(int64(len(doc.XML)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := shared.validator.Validate(ctx, doc.XML); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseInbound parses a 1170 status message.
func BenchmarkParseInbound(b *testing.B) {
	_, replies := builtReplies(b)
	data := replies["1170-10"].XML
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseInbound(data); err != nil {
			b.Fatal(err)
		}
	}
}
