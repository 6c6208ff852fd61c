package xta_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

// mtomSample builds a valid MTOM sendMessage request.
func mtomSample(tb testing.TB) (string, []byte) {
	var buf bytes.Buffer
	m := xta.NewMTOMMessage(&buf, xta.ActionSendMessage)
	x, err := m.Root()
	if err != nil {
		tb.Fatal(err)
	}
	x.StartEnvelope(xta.Addressing{Action: xta.ActionSendMessage, MessageID: "urn:uuid:1"}, func(x *xta.Writer) {
		x.WriteMessageMetaData(sampleMeta("urn:de:xta:messageid:fv:fuzz", readerKey, hubKey))
	})
	x.Start("xta:GenericContentContainer")
	x.Start("xta:ContentContainer")
	_ = x.WriteContent("xta:Message", content([]byte("<a/>"), "application/xml", "a.xml"), strings.NewReader("<a/>"))
	_ = x.WriteContent("xta:Attachment", content([]byte("PDF"), "application/pdf", "b.pdf"), strings.NewReader("PDF"))
	x.End("xta:ContentContainer")
	x.End("xta:GenericContentContainer")
	x.EndEnvelope()
	if err := m.Finish(x); err != nil {
		tb.Fatal(err)
	}
	return m.ContentType(), buf.Bytes()
}

// FuzzParseMessage feeds arbitrary bodies and Content-Types (plain SOAP and
// MTOM multipart/related) to the streaming parser: it must never panic and
// must classify every failure.
func FuzzParseMessage(f *testing.F) {
	ct, body := mtomSample(f)
	f.Add(ct, body)
	f.Add(xta.ContentTypeSOAP12, []byte(request(xta.ActionGetStatusList, readerKey, `<osci:MsgBoxStatusListRequest/>`)))
	f.Add(`multipart/related; type="application/xop+xml"; boundary=b`, []byte("--b\r\nContent-Type: application/xop+xml\r\n\r\n<x/>\r\n--b--"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		_, err := xta.ParseMessage(ct, bytes.NewReader(body), xta.Limits{MaxBytes: 1 << 20}, func(i int, h xta.ContentHeader, r io.Reader) error {
			_, err := io.Copy(io.Discard, r)
			return err
		})
		if err != nil && !errors.Is(err, xta.ErrMalformed) && !errors.Is(err, xta.ErrMTOM) && !errors.Is(err, xta.ErrTooLarge) &&
			!errors.Is(err, xta.ErrVersionMismatch) && !strings.Contains(err.Error(), "base64") && !strings.Contains(err.Error(), "illegal") {
			t.Errorf("unclassified error %T: %v", err, err)
		}
	})
}

func TestMTOMSampleParses(t *testing.T) {
	ct, body := mtomSample(t)
	var got []string
	env, err := xta.ParseMessage(ct, bytes.NewReader(body), xta.Limits{}, func(i int, h xta.ContentHeader, r io.Reader) error {
		b, err := io.ReadAll(r)
		got = append(got, h.Filename+"="+string(b))
		return err
	})
	if err != nil || env.HeaderBlock(xta.NSOSCIMeta, "MessageMetaData") == nil || strings.Join(got, ",") != "a.xml=<a/>,b.pdf=PDF" {
		t.Fatalf("%v %v", got, err)
	}
}

// BenchmarkAutorSend measures sendMessage with a 100 KB attachment
// (inline and MTOM) against the XTA server over HTTP.
func BenchmarkAutorSend(b *testing.B) {
	for _, mtom := range []bool{false, true} {
		name := map[bool]string{false: "inline", true: "mtom"}[mtom]
		b.Run(name, func(b *testing.B) {
			mem := xtatest.NewMemoryBackend(readerKey, hubKey)
			url := startServer(b, mem, nil)
			c := &xta.Client{Endpoints: xta.EndpointsAt(url), Author: readerKey, MTOM: mtom}
			pdf := randomBytes(b, 100<<10)
			ctx := context.Background()
			b.SetBytes(int64(len(pdf)))
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				meta := sampleMeta("urn:de:xta:messageid:fv:bench-"+name+"-"+itoa(i), readerKey, hubKey)
				if err := c.SendMessage(ctx, meta, []xta.Content{content([]byte("<a/>"), "application/xml", "a.xml"),
					content(pdf, "application/pdf", "p.pdf")}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkAutorSendReceipt measures sendMessage of a 4 KB XÖV reply
// without attachments (a Fachverfahren's 1120): the common inbound case.
func BenchmarkAutorSendReceipt(b *testing.B) {
	mem := xtatest.NewMemoryBackend(readerKey, hubKey)
	url := startServer(b, mem, nil)
	c := &xta.Client{Endpoints: xta.EndpointsAt(url), Author: readerKey}
	doc := append([]byte("<r>"), append(bytes.Repeat([]byte("q"), 4<<10), []byte("</r>")...)...)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		meta := sampleMeta("urn:de:xta:messageid:fv:bench-receipt-"+itoa(i), readerKey, hubKey)
		if err := c.SendMessage(ctx, meta, []xta.Content{content(doc, "application/xml", "r.xml")}); err != nil {
			b.Fatal(err)
		}
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var s []byte
	for ; i > 0; i /= 10 {
		s = append([]byte{digits[i%10]}, s...)
	}
	return string(s)
}
