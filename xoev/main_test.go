package xoev

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// shared is one validator and one set of code lists for the whole test binary,
// as in production (schemas compile once).
var shared struct {
	dir       string
	validator *Validator
	lists     *CodeLists
}

func TestMain(m *testing.M) {
	flag.Parse()
	boundMinimization()
	code := func() int {
		dir := testenv.StandardsDir()
		if dir == "" {
			fmt.Fprintln(os.Stderr, "standards directory not found: set DXHUB_STANDARDS_DIR or check out beside ../shared/standards")
			return 1
		}
		v, err := NewValidator(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer v.Close()
		lists, err := LoadCodeListDirs(filepath.Join(dir, "xoev", "codelists"), filepath.Join(dir, filepath.FromSlash(xdomeaCodeListDir)))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		shared.dir, shared.validator, shared.lists = dir, v, lists
		return m.Run()
	}()
	os.Exit(code)
}

// minimizeBudget bounds the minimisation of each new interesting fuzz input
// unless -fuzzminimizetime is given. The Go fuzzer minimises every input that
// adds coverage with internal/fuzz.minimizeBytes, which tries removing every
// subrange: O(n²) executions for an n-byte input. One execution of FuzzEngine
// maps and validates a whole message (about 2.7 ms with the fuzzer's coverage
// instrumentation), so the default budget of 60 s per input was always used
// up: the fuzzer reported "0/sec" for a minute after each new input and looked
// stalled. 2,000 executions (a few seconds) still shrink the input.
const minimizeBudget = "2000x"

// boundMinimization sets -test.fuzzminimizetime to minimizeBudget when fuzzing
// and the flag was not set explicitly.
func boundMinimization() {
	if f := flag.Lookup("test.fuzz"); f == nil || f.Value.String() == "" {
		return
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.fuzzminimizetime" })
	if !set {
		if err := flag.Set("test.fuzzminimizetime", minimizeBudget); err != nil {
			fmt.Fprintln(os.Stderr, "xoev tests: fuzz minimisation budget:", err)
		}
	}
}

// fixedTime is what the clock of every test mapper returns.
var fixedTime = time.Date(2026, 11, 23, 9, 30, 0, 0, time.FixedZone("CET", 3600))

func testConfig() Config {
	return Config{
		Product:              Product{Name: "dxhub", Vendor: "dxhub project", Version: "test"},
		ServiceArtDesAntrags: map[string]string{"abbruch": "2000", "bauantrag-generisch": "1000"},
		Location:             time.FixedZone("CET", 3600),
		Clock:                func() time.Time { return fixedTime },
	}
}

func newTestMapper(t testing.TB) *Mapper {
	t.Helper()
	testenv.MustStandardsDir(t)
	m, err := NewMapper(testConfig(), shared.lists, shared.validator)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// caseFile is a golden input: the submission as the portal API carries it
// (routing.Submission JSON) plus the header parties and the creation time.
type caseFile struct {
	Submission struct {
		ID        string `json:"id"`
		Reference string `json:"reference"`
		Service   string `json:"service"`
		Applicant struct {
			Name        string `json:"name"`
			Street      string `json:"street"`
			HouseNumber string `json:"houseNumber"`
			PostalCode  string `json:"postalCode"`
			City        string `json:"city"`
			Country     string `json:"country"`
			Email       string `json:"email"`
		} `json:"applicant"`
		Form        json.RawMessage `json:"form"`
		Attachments []struct {
			ID          string `json:"id"`
			Filename    string `json:"filename"`
			ContentType string `json:"contentType"`
			Size        int64  `json:"size"`
			SHA256      string `json:"sha256"`
		} `json:"attachments"`
	} `json:"submission"`
	Reader  Party     `json:"reader"`
	Author  Party     `json:"author"`
	Created time.Time `json:"created"`
}

func loadCase(t testing.TB, path string) MapInput {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c caseFile
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	s := c.Submission
	in := MapInput{
		Submission: Submission{
			ID: s.ID, Reference: s.Reference, Service: s.Service, Form: s.Form,
			Applicant: Applicant{
				Name: s.Applicant.Name, Street: s.Applicant.Street, HouseNumber: s.Applicant.HouseNumber,
				PostalCode: s.Applicant.PostalCode, City: s.Applicant.City, Country: s.Applicant.Country, Email: s.Applicant.Email,
			},
		},
		Reader: c.Reader, Author: c.Author, Created: c.Created,
	}
	for _, a := range s.Attachments {
		in.Submission.Attachments = append(in.Submission.Attachments, Attachment{ID: a.ID, Filename: a.Filename, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256})
	}
	return in
}
