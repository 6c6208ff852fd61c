package xoev

import (
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// CodeList is one version of a genericode code list.
type CodeList struct {
	URI       string // Identification/CanonicalUri
	Version   string // Identification/Version
	ShortName string
	LongName  string
	File      string
	names     map[string]string // code → name (first non-key column)
	order     []string
}

// Has reports whether code is in the list.
func (l *CodeList) Has(code string) bool { _, ok := l.names[code]; return ok }

// Name returns the name (description) of code.
func (l *CodeList) Name(code string) (string, bool) { n, ok := l.names[code]; return n, ok }

// Codes returns the codes in document order.
func (l *CodeList) Codes() []string { return append([]string(nil), l.order...) }

// CodeLists is a set of loaded code lists, keyed by URI and version. It is
// read-only after loading and safe for concurrent use.
type CodeLists struct {
	lists map[string]*CodeList
}

// ErrCodeListMissing is returned when a code list needed for a check is not
// loaded: a deployment problem, not a fault of the checked data.
var ErrCodeListMissing = errors.New("code list not loaded")

func listKey(uri, version string) string { return uri + "_" + version }

// Lookup returns the list with the given URI and version.
func (c *CodeLists) Lookup(uri, version string) (*CodeList, bool) {
	if c == nil {
		return nil, false
	}
	l, ok := c.lists[listKey(uri, version)]
	return l, ok
}

// Len returns the number of loaded lists.
func (c *CodeLists) Len() int {
	if c == nil {
		return 0
	}
	return len(c.lists)
}

// Check verifies that code is in the list uri/version. It returns a *CodeError
// naming field, code and list for an unknown code, and an error wrapping
// ErrCodeListMissing when the list is not loaded.
func (c *CodeLists) Check(field, uri, version, code string) error {
	l, ok := c.Lookup(uri, version)
	if !ok {
		return fmt.Errorf("xoev: %s: %w: %s version %s", field, ErrCodeListMissing, uri, version)
	}
	if !l.Has(code) {
		return &CodeError{Field: field, Code: code, ListURI: uri, ListVersion: version}
	}
	return nil
}

// CheckIfLoaded is Check for lists the deployment may lack (Code-Typ 4 lists
// chosen per application context): without the list nothing is checked.
func (c *CodeLists) CheckIfLoaded(field, uri, version, code string) error {
	if _, ok := c.Lookup(uri, version); !ok {
		return nil
	}
	return c.Check(field, uri, version, code)
}

// LoadCodeLists reads every *.xml genericode file in dir (not recursive). A
// file that is not a genericode CodeList, or two files with the same URI and
// version, are errors naming the file.
func LoadCodeLists(dir string) (*CodeLists, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("xoev: code lists: %w", err)
	}
	cl := &CodeLists{lists: map[string]*CodeList{}}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !strings.EqualFold(filepath.Ext(name), ".xml") {
			continue
		}
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("xoev: code list: %w", err)
		}
		l, err := ParseCodeList(data)
		if err != nil {
			return nil, fmt.Errorf("xoev: code list %s: %w", path, err)
		}
		l.File = path
		k := listKey(l.URI, l.Version)
		if prev, dup := cl.lists[k]; dup {
			return nil, fmt.Errorf("xoev: code list %s: %s version %s already loaded from %s", path, l.URI, l.Version, prev.File)
		}
		cl.lists[k] = l
	}
	return cl, nil
}

// LoadCodeListDirs loads several directories into one set. A list (URI and
// version) found again in a later directory is skipped: the first directory
// wins, so an operator directory listed first can override a bundled list.
// Within one directory duplicates remain errors (see LoadCodeLists).
func LoadCodeListDirs(dirs ...string) (*CodeLists, error) {
	out := &CodeLists{lists: map[string]*CodeList{}}
	for _, d := range dirs {
		cl, err := LoadCodeLists(d)
		if err != nil {
			return nil, err
		}
		for k, l := range cl.lists {
			if _, dup := out.lists[k]; !dup {
				out.lists[k] = l
			}
		}
	}
	return out, nil
}

// genericode 1.0 subset.
type gcCodeList struct {
	XMLName        xml.Name `xml:"http://docs.oasis-open.org/codelist/ns/genericode/1.0/ CodeList"`
	Identification struct {
		ShortName    string `xml:"ShortName"`
		LongName     string `xml:"LongName"`
		Version      string `xml:"Version"`
		CanonicalURI string `xml:"CanonicalUri"`
	} `xml:"Identification"`
	ColumnSet struct {
		Columns []struct {
			ID string `xml:"Id,attr"`
		} `xml:"Column"`
		Keys []struct {
			Refs []struct {
				Ref string `xml:"Ref,attr"`
			} `xml:"ColumnRef"`
		} `xml:"Key"`
	} `xml:"ColumnSet"`
	Rows []struct {
		Values []struct {
			ColumnRef string `xml:"ColumnRef,attr"`
			Simple    string `xml:"SimpleValue"`
		} `xml:"Value"`
	} `xml:"SimpleCodeList>Row"`
}

// ParseCodeList parses one genericode 1.0 code list. The code column is the
// column of the first Key; the name is the first other column.
func ParseCodeList(data []byte) (*CodeList, error) {
	if err := checkNoDTD(data); err != nil {
		return nil, err
	}
	var gc gcCodeList
	if err := xml.Unmarshal(data, &gc); err != nil {
		return nil, fmt.Errorf("not a genericode code list: %w", err)
	}
	id := gc.Identification
	if strings.TrimSpace(id.CanonicalURI) == "" || strings.TrimSpace(id.Version) == "" {
		return nil, errors.New("genericode Identification lacks CanonicalUri or Version")
	}
	if len(gc.ColumnSet.Keys) == 0 || len(gc.ColumnSet.Keys[0].Refs) != 1 {
		return nil, errors.New("genericode ColumnSet needs a Key over exactly one column")
	}
	keyCol := gc.ColumnSet.Keys[0].Refs[0].Ref
	nameCol := ""
	for _, c := range gc.ColumnSet.Columns {
		if c.ID != keyCol {
			nameCol = c.ID
			break
		}
	}
	l := &CodeList{
		URI:       strings.TrimSpace(id.CanonicalURI),
		Version:   strings.TrimSpace(id.Version),
		ShortName: strings.TrimSpace(id.ShortName),
		LongName:  strings.TrimSpace(id.LongName),
		names:     map[string]string{},
	}
	for i, r := range gc.Rows {
		code, name, found := "", "", false
		for _, v := range r.Values {
			switch v.ColumnRef {
			case keyCol:
				code, found = strings.TrimSpace(v.Simple), true
			case nameCol:
				name = strings.Join(strings.Fields(v.Simple), " ")
			}
		}
		if !found || code == "" {
			return nil, fmt.Errorf("row %d has no value in key column %q", i+1, keyCol)
		}
		if _, dup := l.names[code]; dup {
			return nil, fmt.Errorf("row %d repeats code %q", i+1, code)
		}
		l.names[code] = name
		l.order = append(l.order, code)
	}
	if len(l.order) == 0 {
		return nil, errors.New("genericode SimpleCodeList has no rows")
	}
	return l, nil
}

// URIs lists the loaded lists as "uri_version", sorted (for diagnostics).
func (c *CodeLists) URIs() []string {
	if c == nil {
		return nil
	}
	out := make([]string, 0, len(c.lists))
	for k := range c.lists {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
