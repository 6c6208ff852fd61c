package dvdv_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/internal/testenv"
)

var update = flag.Bool("update", false, "update golden files")

// sampleDecoders decodes each sample response of the DVDV reference library
// (standards/dvdv2/sample-responses) with the decoder of its operation.
var sampleDecoders = map[string]func([]byte) (any, error){
	"AccessToken.json":             func(b []byte) (any, error) { return dvdv.DecodeAccessToken(b) },
	"OrganizationDescription.json": func(b []byte) (any, error) { return dvdv.DecodeOrganizationDescription(b) },
	"OrganizationLightweight.json": func(b []byte) (any, error) { return dvdv.DecodeOrganizations(b) },
	"ServiceDescription.json":      func(b []byte) (any, error) { return dvdv.DecodeService(b) },
	"batchFindAuthorityDescription.json": func(b []byte) (any, error) {
		return dvdv.DecodeOrganizationDescriptions(b)
	},
	"batchFindCategories.json": func(b []byte) (any, error) { return dvdv.DecodeBatchStrings("batch/findcategories", b) },
	"batchFindOrganizationsByServiceElement.json": func(b []byte) (any, error) {
		return dvdv.DecodeBatchOrganizations(b)
	},
	"batchFindServiceSpecificationUrisByCategory.json": func(b []byte) (any, error) {
		return dvdv.DecodeBatchStrings("batch/findServiceSpecificationUrisByCategory", b)
	},
	"batchVerifyCategory.json": func(b []byte) (any, error) { return dvdv.DecodeBatchVerification(b) },
}

func sampleDir(t testing.TB) string {
	return filepath.Join(testenv.MustStandardsDir(t), "dvdv2", "sample-responses")
}

// TestSampleResponsesDecode decodes every sample response and compares the
// result with a golden file (go test -run SampleResponses -update rewrites
// them). A new sample without a decoder fails the test.
func TestSampleResponsesDecode(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(sampleDir(t), "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample responses: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			dec, ok := sampleDecoders[name]
			if !ok {
				t.Fatalf("no decoder for sample %s", name)
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			v, err := dec(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			got, err := digestJSON(v)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", strings.TrimSuffix(name, ".json")+".golden.json")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("decoded %s differs from %s:\n%s", name, golden, got)
			}
		})
	}
}

// TestSampleSpecifics checks what the lenient decoding must get right in the
// samples: snake_case token fields, null required fields, nulls in batch
// lists, certificates usable in the organisation description.
func TestSampleSpecifics(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(sampleDir(t), name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tok, err := dvdv.DecodeAccessToken(read("AccessToken.json"))
	if err != nil || tok.ExpiresIn != 86400 || !strings.HasPrefix(tok.AccessToken, "eyJ") {
		t.Fatalf("token = %+v, %v", tok, err)
	}
	camel, err := dvdv.DecodeAccessToken([]byte(`{"accessToken":"abc","expiresIn":300,"tokenType":"Bearer"}`))
	if err != nil || camel.AccessToken != "abc" || camel.ExpiresIn != 300 {
		t.Fatalf("camelCase token = %+v, %v", camel, err)
	}
	svc, err := dvdv.DecodeService(read("ServiceDescription.json"))
	if err != nil || svc.ID != 4711 || !svc.ValidFrom.IsZero() || svc.ServiceSpecificationURI != "" || len(svc.ServiceElements) != 1 {
		t.Fatalf("service = %+v, %v", svc, err)
	}
	if !strings.Contains(svc.ServiceSpecificationDocument, "dvdvQuery") {
		t.Errorf("WSDL document lost")
	}
	// The sample service has only a TEXT element: no route, clearly.
	if _, err := dvdv.BuildRoute(svc, "ags:1", "urn:x", epoch); err == nil || !strings.Contains(err.Error(), "no OSCI_ADDRESSEE or WEBSERVER") {
		t.Errorf("BuildRoute(sample) err = %v", err)
	}
	ads, err := dvdv.DecodeOrganizationDescriptions(read("batchFindAuthorityDescription.json"))
	if err != nil || len(ads) != 2 || ads[1] != nil || ads[0].Organization.NameDe != "der-orga-name" {
		t.Fatalf("batch authority = %+v, %v", ads, err)
	}
	// The sample's client certificate is a real DOI certificate (expired 2020).
	if _, err := dvdv.ParseCertificate(&ads[0].Organization.ClientCertificates[0], epoch); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("sample certificate: err = %v, want expired", err)
	}
	vs, err := dvdv.DecodeBatchVerification(read("batchVerifyCategory.json"))
	if err != nil || len(vs) != 2 || !vs[0] || vs[1] {
		t.Fatalf("batch verify = %v, %v", vs, err)
	}
}

func TestMalformedResponses(t *testing.T) {
	tests := []struct {
		name   string
		decode func([]byte) error
		body   string
		want   string
	}{
		{"service: empty", svcDec, "", "empty body"},
		{"service: html", svcDec, "<html/>", "not JSON"},
		{"service: trailing", svcDec, `{} {}`, "trailing data"},
		{"service: string id", svcDec, `{"id":"x"}`, "id: expected int64"},
		{"service: elements object", svcDec, `{"serviceElements":{}}`, "serviceElements: expected []dvdv.ServiceElement"},
		{"service: empty list", svcDec, `[]`, "expected one service, got a list of 0"},
		{"service: bad date", svcDec, `{"validTo":"31.12.2020"}`, `timestamp "31.12.2020" is not ISO 8601`},
		{"service: numeric date", svcDec, `{"validTo":1600000000}`, "timestamp must be a string"},
		{"token: no token", tokDec, `{"expires_in":5}`, "no access_token"},
		{"token: no expiry", tokDec, `{"access_token":"x"}`, "expires_in 0 is not positive"},
		{"authority: no organization", func(b []byte) error { _, err := dvdv.DecodeOrganizationDescription(b); return err }, `{"representatives":[]}`, "no organization"},
		{"batch: object", func(b []byte) error { _, err := dvdv.DecodeBatchVerification(b); return err }, `{"verifyCategory":true}`, "expected a JSON list"},
		{"batch verify: null entry", func(b []byte) error { _, err := dvdv.DecodeBatchVerification(b); return err }, `[null]`, "entry 0 is null"},
		{"verify: missing", func(b []byte) error { _, err := dvdv.DecodeVerification(b); return err }, `{}`, "no verifyCategory"},
		{"certificate: empty", func(b []byte) error { _, err := dvdv.DecodeCertificate(b); return err }, `{"fingerprint":"ab"}`, "no content"},
		{"categories: numbers", func(b []byte) error { _, err := dvdv.DecodeStrings("findcategories", b); return err }, `[1,2]`, "expected string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.decode([]byte(tt.body))
			var de *dvdv.DecodeError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "malformed") {
				t.Fatalf("err = %v, want a DecodeError with %q", err, tt.want)
			}
		})
	}
}

// digestJSON renders a decoded value as indented JSON with long strings
// (certificates, WSDL documents) replaced by their length and SHA-256, so the
// golden files pin the decoding without copying the samples' content.
func digestJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return nil, err
	}
	var walk func(any) any
	walk = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			for k, v := range x {
				x[k] = walk(v)
			}
		case []any:
			for i, v := range x {
				x[i] = walk(v)
			}
		case string:
			if len(x) > 64 {
				sum := sha256.Sum256([]byte(x))
				return fmt.Sprintf("<%d bytes, sha256 %x>", len(x), sum[:8])
			}
		}
		return x
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err = enc.Encode(walk(tree))
	return out.Bytes(), err
}

func svcDec(b []byte) error { _, err := dvdv.DecodeService(b); return err }
func tokDec(b []byte) error { _, err := dvdv.DecodeAccessToken(b); return err }

func TestDecodeWarning(t *testing.T) {
	tests := []struct{ in, want string }{
		{"=?UTF-8?Q?Dienst_ung=C3=BCltig?=", "Dienst ungültig"},
		{"=?ISO-8859-1?Q?G=FCltigkeit_abgelaufen?=", "Gültigkeit abgelaufen"},
		{"=?utf-8?B?TnVyIHVuZ8O8bHRpZ2UgRWludHLDpGdl?=", "Nur ungültige Einträge"},
		{"plain text", "plain text"},
	}
	for _, tt := range tests {
		got, err := dvdv.DecodeWarning(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("DecodeWarning(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func FuzzDecodeService(f *testing.F) {
	for _, name := range []string{"ServiceDescription.json", "OrganizationDescription.json"} {
		if b, err := os.ReadFile(filepath.Join(sampleDir(f), name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`[{"serviceElements":[{"serviceElementType":"OSCI_ADDRESSEE","cipherCertificate":{"content":"AAAA"}}]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		svc, err := dvdv.DecodeService(b)
		if err != nil {
			var de *dvdv.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error is not a DecodeError: %v", err)
			}
			return
		}
		// Whatever decodes must not crash the route mapping.
		dvdv.BuildRoute(svc, "ags:1", "urn:x", epoch)
	})
}

func FuzzDecodeAccessToken(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(sampleDir(f), "AccessToken.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"accessToken":"a","expiresIn":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := dvdv.DecodeAccessToken(b)
		if err == nil && (tok.AccessToken == "" || tok.ExpiresIn <= 0) {
			t.Fatalf("accepted unusable token %+v", tok)
		}
	})
}

func FuzzBatchDecoders(f *testing.F) {
	for name := range sampleDecoders {
		if strings.HasPrefix(name, "batch") {
			if b, err := os.ReadFile(filepath.Join(sampleDir(f), name)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for name, dec := range sampleDecoders {
			if _, err := dec(b); err != nil {
				var de *dvdv.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("%s: error is not a DecodeError: %v", name, err)
				}
			}
		}
	})
}

func FuzzParseAssertion(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJmcDowZDVkNSIsImV4cCI6MTcwMDA4NjQwMH0.fC7CGKIZA")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := dvdv.ParseAssertion(s)
		if err == nil && !strings.HasPrefix(c.Subject, "fp:") {
			t.Fatalf("accepted subject %q", c.Subject)
		}
	})
}

func FuzzDecodeWarning(f *testing.F) {
	f.Add("=?UTF-8?Q?Dienst_ung=C3=BCltig?=")
	f.Add("=?ISO-8859-1?B?R/xsdGln?=")
	f.Fuzz(func(t *testing.T, s string) {
		dvdv.DecodeWarning(s)
	})
}
