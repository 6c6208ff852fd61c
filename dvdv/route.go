package dvdv

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// How a DVDV service becomes a routing.Route (BuildRoute):
//
//   - A service with an OSCI_ADDRESSEE element is delivered over OSCI 1.2
//     (routing.TransportOSCI). Endpoint is the addressee's URI, Intermediary
//     the URI of the OSCI_INTERMEDIARY element of the same service (required:
//     OSCI 1.2 always goes through an intermediary). EncryptionCert is the
//     addressee's cipher certificate (inner envelope): the certificate inline
//     in the addressee element, else the CIPHER_CERTIFICATE element with the
//     same serviceElementDescriptionName — never simply the first
//     CIPHER_CERTIFICATE, which is often the intermediary's. The intermediary's
//     own cipher certificate (outer envelope) is found the same way and is
//     reported in ServiceRoute.IntermediaryCert and Route.IntermediaryCert. SignatureCert is the
//     addressee's signature certificate (inline or SIGNATURE_CERTIFICATE
//     element of the same name), optional.
//   - A service without an addressee but with a WEBSERVER element is an
//     XTA 2 server (routing.TransportXTA) at the element's URI; its
//     certificates are looked up the same way and are optional (XTA's
//     transport security is TLS).
//   - Anything else (TEXT only, no elements) is a *RouteError.
//
// Every certificate used is parsed from its DER content, checked against
// DVDV's fingerprint when DVDV gives a SHA-1 one, and checked for its
// validity period and a revocation date. The service's own validFrom/validTo
// are checked too. More than one addressee, or several different certificates
// under one name, are ambiguous and rejected.

// Certificate roles in a ServiceRoute.
const (
	RoleEncryption             = "encryption"              // the reader's cipher certificate
	RoleSignature              = "signature"               // the reader's signature certificate
	RoleIntermediaryEncryption = "intermediary-encryption" // the OSCI intermediary's cipher certificate
)

// CertInfo is one certificate of a route.
type CertInfo struct {
	Role        string
	Element     string // serviceElementDescriptionName it was taken from
	PEM         string
	Subject     string
	Issuer      string
	Serial      string
	Fingerprint string // SHA-1, lower-case hex
	NotBefore   time.Time
	NotAfter    time.Time
}

// ServiceRoute is a route together with the DVDV service it came from.
type ServiceRoute struct {
	Route            routing.Route
	ServiceName      string // serviceDescriptionName
	OrganizationName string
	ValidFrom        time.Time // the service's validity; zero = open
	ValidTo          time.Time
	Addressee        string // serviceElementDescriptionName of the addressee/webserver element
	IntermediaryCert *CertInfo
	Certificates     []CertInfo
	// NotBefore/NotAfter bound the time the route is usable: the
	// intersection of the service's and every used certificate's validity.
	NotBefore, NotAfter time.Time
}

// usableAt reports whether the route's certificates and service are valid at t.
func (r *ServiceRoute) usableAt(t time.Time) bool {
	return (r.NotBefore.IsZero() || !t.Before(r.NotBefore)) && (r.NotAfter.IsZero() || !t.After(r.NotAfter))
}

var sha1HexRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// BuildRoute turns a findservicedescription answer into a route (see the
// mapping above). now is the time certificates must be valid at.
func BuildRoute(svc *Service, readerKey, serviceURI string, now time.Time) (*ServiceRoute, error) {
	fail := func(reason string, err error) (*ServiceRoute, error) {
		return nil, &RouteError{ReaderKey: readerKey, ServiceURI: serviceURI, Reason: reason, Err: err}
	}
	if svc == nil {
		return fail("empty service description", nil)
	}
	sr := &ServiceRoute{
		ServiceName: svc.ServiceDescriptionName, OrganizationName: svc.OrganizationNameDe,
		ValidFrom: svc.ValidFrom.Time, ValidTo: svc.ValidTo.Time,
		Route: routing.Route{ReaderKey: readerKey, ServiceURI: serviceURI},
	}
	if !svc.ValidFrom.IsZero() && now.Before(svc.ValidFrom.Time) {
		return fail(fmt.Sprintf("the service is valid only from %s", svc.ValidFrom.Format(time.RFC3339)), nil)
	}
	if !svc.ValidTo.IsZero() && now.After(svc.ValidTo.Time) {
		return fail(fmt.Sprintf("the service expired at %s", svc.ValidTo.Format(time.RFC3339)), nil)
	}
	sr.NotBefore, sr.NotAfter = svc.ValidFrom.Time, svc.ValidTo.Time

	addressees := elementsOf(svc, ElementOSCIAddressee)
	webservers := elementsOf(svc, ElementWebserver)
	var main *ServiceElement
	switch {
	case len(addressees) > 1:
		return fail(fmt.Sprintf("%d OSCI_ADDRESSEE elements (%s); which one is meant is ambiguous", len(addressees), names(addressees)), nil)
	case len(addressees) == 1:
		main = addressees[0]
		sr.Route.Transport = routing.TransportOSCI
	case len(webservers) > 1:
		return fail(fmt.Sprintf("%d WEBSERVER elements (%s) and no OSCI_ADDRESSEE; which one is meant is ambiguous", len(webservers), names(webservers)), nil)
	case len(webservers) == 1:
		main = webservers[0]
		sr.Route.Transport = routing.TransportXTA
	default:
		return fail("the service has no OSCI_ADDRESSEE or WEBSERVER element", nil)
	}
	sr.Addressee = main.DescriptionName
	if err := checkURL(main.URI); err != nil {
		return fail(fmt.Sprintf("%s element %q", main.Type, main.DescriptionName), err)
	}
	sr.Route.Endpoint = main.URI

	add := func(role string, el *ServiceElement, c *Certificate, required bool) (*CertInfo, error) {
		if c == nil {
			if required {
				return nil, fmt.Errorf("no %s certificate for element %q", role, el.DescriptionName)
			}
			return nil, nil
		}
		ci, err := checkCertificate(c, now)
		if err != nil {
			return nil, fmt.Errorf("%s certificate of element %q: %w", role, el.DescriptionName, err)
		}
		ci.Role, ci.Element = role, el.DescriptionName
		sr.Certificates = append(sr.Certificates, *ci)
		if sr.NotBefore.IsZero() || ci.NotBefore.After(sr.NotBefore) {
			sr.NotBefore = ci.NotBefore
		}
		if sr.NotAfter.IsZero() || ci.NotAfter.Before(sr.NotAfter) {
			sr.NotAfter = ci.NotAfter
		}
		return ci, nil
	}

	isOSCI := sr.Route.Transport == routing.TransportOSCI
	enc, err := certFor(svc, main, ElementCipherCertificate)
	if err != nil {
		return fail("encryption certificate", err)
	}
	ci, err := add(RoleEncryption, main, enc, isOSCI)
	if err != nil {
		return fail("encryption certificate", err)
	}
	if ci != nil {
		sr.Route.EncryptionCert = ci.PEM
	}
	sig, err := certFor(svc, main, ElementSignatureCertificate)
	if err != nil {
		return fail("signature certificate", err)
	}
	if ci, err = add(RoleSignature, main, sig, false); err != nil {
		return fail("signature certificate", err)
	}
	if ci != nil {
		sr.Route.SignatureCert = ci.PEM
	}

	if isOSCI {
		inter := elementsOf(svc, ElementOSCIIntermediary)
		if len(inter) != 1 {
			return fail(fmt.Sprintf("an OSCI service needs exactly one OSCI_INTERMEDIARY element, found %d", len(inter)), nil)
		}
		if err := checkURL(inter[0].URI); err != nil {
			return fail(fmt.Sprintf("OSCI_INTERMEDIARY element %q", inter[0].DescriptionName), err)
		}
		sr.Route.Intermediary = inter[0].URI
		ic, err := certFor(svc, inter[0], ElementCipherCertificate)
		if err != nil {
			return fail("intermediary encryption certificate", err)
		}
		if sr.IntermediaryCert, err = add(RoleIntermediaryEncryption, inter[0], ic, true); err != nil {
			return fail("intermediary encryption certificate", err)
		}
		sr.Route.IntermediaryCert = sr.IntermediaryCert.PEM
	}
	return sr, nil
}

func elementsOf(svc *Service, typ string) []*ServiceElement {
	var out []*ServiceElement
	for i := range svc.ServiceElements {
		if strings.EqualFold(svc.ServiceElements[i].Type, typ) {
			out = append(out, &svc.ServiceElements[i])
		}
	}
	return out
}

func names(els []*ServiceElement) string {
	n := make([]string, len(els))
	for i, e := range els {
		n[i] = fmt.Sprintf("%q", e.DescriptionName)
	}
	return strings.Join(n, ", ")
}

// certFor returns el's certificate of the kind (CIPHER_CERTIFICATE or
// SIGNATURE_CERTIFICATE): inline in el, else from the standalone element of
// that type with the same serviceElementDescriptionName.
func certFor(svc *Service, el *ServiceElement, kind string) (*Certificate, error) {
	inline := el.CipherCertificate
	if kind == ElementSignatureCertificate {
		inline = el.SignatureCertificate
	}
	if inline != nil && inline.Content != "" {
		return inline, nil
	}
	if el.DescriptionName == "" {
		return nil, nil
	}
	var found *Certificate
	for _, c := range elementsOf(svc, kind) {
		if c.DescriptionName != el.DescriptionName {
			continue
		}
		cert := c.CipherCertificate
		if kind == ElementSignatureCertificate && c.SignatureCertificate != nil {
			cert = c.SignatureCertificate
		} else if cert == nil {
			cert = c.SignatureCertificate
		}
		if cert == nil || cert.Content == "" {
			continue
		}
		if found != nil && normalizeB64(found.Content) != normalizeB64(cert.Content) {
			return nil, fmt.Errorf("several different %s elements named %q", kind, el.DescriptionName)
		}
		found = cert
	}
	return found, nil
}

func normalizeB64(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
}

// checkCertificate parses a DVDV certificate and checks it at now.
func checkCertificate(c *Certificate, now time.Time) (*CertInfo, error) {
	der, err := base64.StdEncoding.DecodeString(normalizeB64(c.Content))
	if err != nil {
		return nil, fmt.Errorf("content is not base64: %w", err)
	}
	x, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("content is not an X.509 certificate: %w", err)
	}
	fp := Fingerprint(der)
	if want := NormalizeFingerprint(c.Fingerprint); sha1HexRE.MatchString(want) && want != fp {
		return nil, fmt.Errorf("DVDV names fingerprint %s but the certificate's SHA-1 is %s", want, fp)
	}
	if now.Before(x.NotBefore) {
		return nil, fmt.Errorf("%q is not valid before %s", x.Subject.String(), x.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(x.NotAfter) {
		return nil, fmt.Errorf("%q expired at %s", x.Subject.String(), x.NotAfter.UTC().Format(time.RFC3339))
	}
	if !c.RevocationDate.IsZero() && !now.Before(c.RevocationDate.Time) {
		return nil, fmt.Errorf("%q was revoked at %s (%s)", x.Subject.String(), c.RevocationDate.Format(time.RFC3339), c.RevocationReason)
	}
	notAfter := x.NotAfter
	if !c.RevocationDate.IsZero() && c.RevocationDate.Before(notAfter) {
		notAfter = c.RevocationDate.Time
	}
	return &CertInfo{
		PEM:     string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		Subject: x.Subject.String(), Issuer: x.Issuer.String(), Serial: x.SerialNumber.String(),
		Fingerprint: fp, NotBefore: x.NotBefore.UTC(), NotAfter: notAfter.UTC(),
	}, nil
}

// ParseCertificate parses a DVDV certificate's content and checks its
// validity at now, as BuildRoute does.
func ParseCertificate(c *Certificate, now time.Time) (*x509.Certificate, error) {
	if c == nil {
		return nil, errors.New("dvdv: no certificate")
	}
	ci, err := checkCertificate(c, now)
	if err != nil {
		return nil, fmt.Errorf("dvdv: %w", err)
	}
	b, _ := pem.Decode([]byte(ci.PEM))
	return x509.ParseCertificate(b.Bytes)
}

func checkURL(s string) error {
	if s == "" {
		return errors.New("has no URI")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("URI %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("URI %q is not an http(s) URL", s)
	}
	return nil
}
