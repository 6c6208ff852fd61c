package oscitest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// SchemaChecker validates OSCI 1.2 envelopes against the soap*.xsd schemas of a
// standards directory with xmllint (libxml2-utils), the independent checker the
// tests use. The W3C schemas the OSCI schemas import are mapped to the local
// copies in schema/extern through a generated XML catalog.
type SchemaChecker struct {
	dir     string
	once    sync.Once
	catalog string
	err     error
}

// NewSchemaChecker uses <standardsDir>/osci12/schema.
func NewSchemaChecker(standardsDir string) *SchemaChecker {
	return &SchemaChecker{dir: filepath.Join(standardsDir, "osci12", "schema")}
}

func (c *SchemaChecker) init() {
	extern, err := filepath.Abs(filepath.Join(c.dir, "extern"))
	if err != nil {
		c.err = err
		return
	}
	cat := fmt.Sprintf(`<?xml version="1.0"?>
<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog" xml:base="file://%s/">
  <system systemId="http://www.w3.org/2001/xml.xsd" uri="xml.xsd"/>
  <system systemId="http://schemas.xmlsoap.org/soap/envelope/" uri="soap-envelope.xsd"/>
  <system systemId="http://www.w3.org/TR/2001/CR-xmldsig-core-20010419/xmldsig-core-schema.xsd" uri="xmldsig-core-schema.xsd"/>
  <system systemId="http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd" uri="xmldsig-core-schema.xsd"/>
  <system systemId="http://www.w3.org/TR/xmlenc-core/xenc-schema.xsd" uri="xenc-schema.xsd"/>
  <system systemId="https://www.w3.org/2008/xmlsec/Drafts/xmlenc-core-11/xenc-schema-11.xsd" uri="xenc-schema-11.xsd"/>
</catalog>`, extern)
	f, err := os.CreateTemp("", "osci-catalog-*.xml")
	if err != nil {
		c.err = err
		return
	}
	defer f.Close()
	if _, err := f.WriteString(cat); err != nil {
		c.err = err
		return
	}
	c.catalog = f.Name()
}

// Validate checks envelope against schemaFile (for example
// "soapStoreDelivery.xsd"). It returns xmllint's diagnostics on failure.
func (c *SchemaChecker) Validate(schemaFile string, envelope []byte) error {
	c.once.Do(c.init)
	if c.err != nil {
		return c.err
	}
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		return fmt.Errorf("xmllint not installed (apt-get install libxml2-utils): %w", err)
	}
	cmd := exec.Command(bin, "--nonet", "--noout", "--schema", filepath.Join(c.dir, schemaFile), "-")
	cmd.Env = append(os.Environ(), "XML_CATALOG_FILES="+c.catalog)
	cmd.Stdin = bytes.NewReader(envelope)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", schemaFile, err, out)
	}
	return nil
}

// Close removes the generated catalog.
func (c *SchemaChecker) Close() error {
	if c.catalog != "" {
		return os.Remove(c.catalog)
	}
	return nil
}
