// Package dvdvtest is a fake DVDV2 Directory server for tests and for
// `dxhub sim dvdv`: it implements the token endpoint (standalone
// authentication with a JWT client assertion checked against the registered
// client certificate) and the directory operations of dvdv-api.yaml
// (findservicedescription, findauthoritydescription(s), findcategories,
// verifycategory, findCertificateByFingerprint,
// findOrganizationsByServiceElement, findServiceSpecificationUrisByCategory,
// version, and the batch variants), serving data from a YAML/JSON directory
// file. Faults can be injected: 5xx, slow answers, 204 with a warning,
// malformed bodies and dropped connections.
package dvdvtest

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Directory is the data the server answers from.
type Directory struct {
	// Certificates are named certificates the organisations refer to.
	Certificates []NamedCert `yaml:"certificates" json:"certificates"`
	// Organizations are the authorities in the directory.
	Organizations []Organization `yaml:"organizations" json:"organizations"`

	certs map[string]*x509.Certificate
}

// NamedCert is a certificate given inline (PEM), in a file (relative to the
// directory file), or supplied by the test (LoadDirectory's certs).
type NamedCert struct {
	Name string `yaml:"name" json:"name"`
	PEM  string `yaml:"pem" json:"pem"`
	File string `yaml:"file" json:"file"`
}

// Organization is one authority.
type Organization struct {
	Name     string   `yaml:"name" json:"name"`
	Category string   `yaml:"category" json:"category"`
	Keys     []string `yaml:"keys" json:"keys"`
	Address  string   `yaml:"address" json:"address"`
	// ClientCertificates name the certificates the organisation
	// authenticates with (token endpoint, findcategories, verifycategory).
	ClientCertificates []string  `yaml:"clientCertificates" json:"clientCertificates"`
	Services           []Service `yaml:"services" json:"services"`
}

// Service is one service (Dienst) of an organisation.
type Service struct {
	URI  string `yaml:"uri" json:"uri"`
	Name string `yaml:"name" json:"name"`
	// ValidFrom/ValidTo bound the service; outside them
	// findservicedescription answers 204 with a dvdv-warning-msg.
	ValidFrom time.Time `yaml:"validFrom" json:"validFrom"`
	ValidTo   time.Time `yaml:"validTo" json:"validTo"`
	Elements  []Element `yaml:"elements" json:"elements"`
}

// Element is a service element (Dienstelement).
type Element struct {
	Type string `yaml:"type" json:"type"` // OSCI_INTERMEDIARY, OSCI_ADDRESSEE, CIPHER_CERTIFICATE, …
	// Name is the serviceElementDescriptionName.
	Name     string `yaml:"name" json:"name"`
	URI      string `yaml:"uri" json:"uri"`
	Text     string `yaml:"text" json:"text"`
	Required bool   `yaml:"required" json:"required"`
	// CipherCertificate and SignatureCertificate name certificates.
	CipherCertificate    string `yaml:"cipherCertificate" json:"cipherCertificate"`
	SignatureCertificate string `yaml:"signatureCertificate" json:"signatureCertificate"`
}

// LoadDirectory reads a directory file (YAML or JSON). certs supplies
// certificates by name (tests generate them); a name given both in the file
// and in certs takes the one from certs.
func LoadDirectory(path string, certs map[string]*x509.Certificate) (*Directory, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dvdvtest: %w", err)
	}
	return ParseDirectory(b, filepath.Dir(path), certs)
}

// ParseDirectory parses a directory document; baseDir resolves certificate
// files.
func ParseDirectory(b []byte, baseDir string, certs map[string]*x509.Certificate) (*Directory, error) {
	var d Directory
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("dvdvtest: parse directory: %w", err)
	}
	if err := d.Resolve(baseDir, certs); err != nil {
		return nil, err
	}
	return &d, nil
}

// Resolve loads the named certificates and checks every reference. Call it
// on a Directory built in code before handing it to New.
func (d *Directory) Resolve(baseDir string, certs map[string]*x509.Certificate) error {
	d.certs = map[string]*x509.Certificate{}
	for _, nc := range d.Certificates {
		if c, ok := certs[nc.Name]; ok {
			d.certs[nc.Name] = c
			continue
		}
		data := []byte(nc.PEM)
		if nc.File != "" {
			p := nc.File
			if !filepath.IsAbs(p) {
				p = filepath.Join(baseDir, p)
			}
			var err error
			if data, err = os.ReadFile(p); err != nil {
				return fmt.Errorf("dvdvtest: certificate %q: %w", nc.Name, err)
			}
		}
		blk, _ := pem.Decode(data)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return fmt.Errorf("dvdvtest: certificate %q: no PEM CERTIFICATE block", nc.Name)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return fmt.Errorf("dvdvtest: certificate %q: %w", nc.Name, err)
		}
		d.certs[nc.Name] = c
	}
	for name, c := range certs {
		if _, ok := d.certs[name]; !ok {
			d.certs[name] = c
		}
	}
	ref := func(where, name string) error {
		if name == "" {
			return nil
		}
		if _, ok := d.certs[name]; !ok {
			return fmt.Errorf("dvdvtest: %s names unknown certificate %q", where, name)
		}
		return nil
	}
	for i, o := range d.Organizations {
		if len(o.Keys) == 0 {
			return fmt.Errorf("dvdvtest: organization %d (%s) has no keys", i, o.Name)
		}
		for _, cn := range o.ClientCertificates {
			if err := ref(o.Name+" clientCertificates", cn); err != nil {
				return err
			}
		}
		for _, s := range o.Services {
			if s.URI == "" {
				return fmt.Errorf("dvdvtest: organization %s has a service without uri", o.Name)
			}
			for _, e := range s.Elements {
				where := fmt.Sprintf("%s service %s element %q", o.Name, s.URI, e.Name)
				if err := ref(where, e.CipherCertificate); err != nil {
					return err
				}
				if err := ref(where, e.SignatureCertificate); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Cert returns the named certificate.
func (d *Directory) Cert(name string) *x509.Certificate { return d.certs[name] }

func (d *Directory) org(key string) *Organization {
	for i := range d.Organizations {
		for _, k := range d.Organizations[i].Keys {
			if strings.EqualFold(k, key) {
				return &d.Organizations[i]
			}
		}
	}
	return nil
}
