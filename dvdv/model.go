package dvdv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The DVDV2 data model as it arrives on the wire (dvdv-api.yaml, v2 - 2.15.0).
//
// Decoding is lenient where the published OpenAPI document is known to be
// wrong (SOURCES.md §A.4): fields it marks required arrive as null, several
// operations return lists instead of objects, the token response uses the
// OpenID Connect snake_case names while the example shows camelCase, unknown
// fields are ignored. It is strict about the JSON itself: a body that is not
// the expected JSON shape is a *DecodeError.

// Service element types (ServiceElementInfo.serviceElementType).
const (
	ElementOSCIIntermediary     = "OSCI_INTERMEDIARY"
	ElementOSCIAddressee        = "OSCI_ADDRESSEE"
	ElementCipherCertificate    = "CIPHER_CERTIFICATE"
	ElementSignatureCertificate = "SIGNATURE_CERTIFICATE"
	ElementWebserver            = "WEBSERVER"
	ElementText                 = "TEXT"
)

// Time is a DVDV timestamp ("2019-06-17T02:00:00.000Z"); JSON null and ""
// decode to the zero Time.
type Time struct{ time.Time }

// timeLayouts are tried in order; DVDV documents yyyy-MM-dd'T'HH:mm:ss.SSS'Z'.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp must be a string, got %s", truncate(string(b), 40))
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	for _, l := range timeLayouts {
		if v, err := time.Parse(l, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("timestamp %q is not ISO 8601 (want e.g. 2019-06-17T02:00:00.000Z)", truncate(s, 40))
}

// MarshalJSON implements json.Marshaler (null for the zero Time).
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format("2006-01-02T15:04:05.000Z"))
}

// AccessToken is the answer of the token endpoint. Both the OpenID Connect
// names (access_token, the schema and the sample) and the camelCase names of
// the document's example (accessToken) are accepted.
type AccessToken struct {
	AccessToken      string `json:"access_token"`
	ExpiresIn        int64  `json:"expires_in"`
	RefreshExpiresIn int64  `json:"refresh_expires_in"`
	TokenType        string `json:"token_type"`
	NotBeforePolicy  int64  `json:"not-before-policy"`
	SessionState     string `json:"session_state"`
	Scope            string `json:"scope"`
}

// UnmarshalJSON implements json.Unmarshaler.
func (a *AccessToken) UnmarshalJSON(b []byte) error {
	var w struct {
		AccessToken      *string `json:"access_token"`
		AccessTokenC     *string `json:"accessToken"`
		ExpiresIn        *int64  `json:"expires_in"`
		ExpiresInC       *int64  `json:"expiresIn"`
		RefreshExpiresIn *int64  `json:"refresh_expires_in"`
		RefreshExpiresC  *int64  `json:"refreshExpiresIn"`
		TokenType        *string `json:"token_type"`
		TokenTypeC       *string `json:"tokenType"`
		NotBeforePolicy  *int64  `json:"not-before-policy"`
		NotBeforePolicyC *int64  `json:"notBeforePolicy"`
		SessionState     *string `json:"session_state"`
		Scope            *string `json:"scope"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*a = AccessToken{
		AccessToken: first(w.AccessToken, w.AccessTokenC), ExpiresIn: first(w.ExpiresIn, w.ExpiresInC),
		RefreshExpiresIn: first(w.RefreshExpiresIn, w.RefreshExpiresC), TokenType: first(w.TokenType, w.TokenTypeC),
		NotBeforePolicy: first(w.NotBeforePolicy, w.NotBeforePolicyC), SessionState: first(w.SessionState),
		Scope: first(w.Scope),
	}
	return nil
}

func first[T any](vs ...*T) T {
	for _, v := range vs {
		if v != nil {
			return *v
		}
	}
	var zero T
	return zero
}

// Problem is an application/problem+json error body (RFC 7807).
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance"`
}

// Certificate is a certificate as DVDV describes it. Content is the base64
// DER; the other fields are DVDV's own description of it, which the client
// does not trust: ParseCertificate checks Content itself.
type Certificate struct {
	Content            string `json:"content"`
	Fingerprint        string `json:"fingerprint"`
	Serial             string `json:"serial"`
	SerialHex          string `json:"serialHex,omitempty"`
	EmailSubject       string `json:"emailSubject"`
	Algorithm          string `json:"algorithm"`
	NameIssuer         string `json:"nameIssuer"`
	NameSubject        string `json:"nameSubject"`
	OrganizationIssuer string `json:"organizationIssuer"`
	OrgSubject         string `json:"organizationSubject"`
	OUIssuer           string `json:"ouIssuer"`
	OUSubject          string `json:"ouSubject"`
	ValidFrom          Time   `json:"validFrom"`
	ValidTo            Time   `json:"validTo"`
	X509KeyUsage       *int   `json:"x509KeyUsage,omitempty"`
	RevocationDate     Time   `json:"revocationDate"`
	RevocationReason   string `json:"revocationReason,omitempty"`
}

// ServiceElement is one connection parameter of a service
// (ServiceElementInfo).
type ServiceElement struct {
	Name                 string       `json:"serviceElementName"`
	Description          string       `json:"serviceElementDescription"`
	DescriptionName      string       `json:"serviceElementDescriptionName"`
	Type                 string       `json:"serviceElementType"`
	CustomType           string       `json:"customServiceElementType,omitempty"`
	Text                 string       `json:"serviceElementText"`
	URI                  string       `json:"serviceElementUri"`
	CipherCertificate    *Certificate `json:"cipherCertificate"`
	SignatureCertificate *Certificate `json:"signatureCertificate"`
	Required             bool         `json:"required"`
	ID                   int64        `json:"serviceElementId"`
	ProviderID           int64        `json:"providerId"`
	ProviderNameDe       string       `json:"providerNameDe"`
	ProviderNameEn       string       `json:"providerNameEn"`
}

// ServiceBase describes a service without its elements.
type ServiceBase struct {
	ID                       int64  `json:"id"`
	ValidFrom                Time   `json:"validFrom"`
	ValidTo                  Time   `json:"validTo"`
	NameDe                   string `json:"nameDe"`
	NameEn                   string `json:"nameEn"`
	DescriptionDe            string `json:"descriptionDe"`
	DescriptionEn            string `json:"descriptionEn"`
	DVDV1UUID                string `json:"dvdv1Uuid"`
	ServiceDescriptionName   string `json:"serviceDescriptionName"`
	ServiceSpecificationType string `json:"serviceSpecificationType"`
	ServiceSpecificationURI  string `json:"serviceSpecificationUri"`
}

// Service is the answer of findservicedescription.
type Service struct {
	ServiceBase
	ServiceSpecificationDocument string           `json:"serviceSpecificationDocument"`
	OrganizationNameDe           string           `json:"organizationNameDe"`
	OrganizationNameEn           string           `json:"organizationNameEn"`
	LocationStateID              int64            `json:"locationStateId,omitempty"`
	ServiceElements              []ServiceElement `json:"serviceElements"`
}

// Organization is an organisation (authority). The lightweight form that
// findOrganizationsByServiceElement returns has no certificates and services.
type Organization struct {
	ID                 int64         `json:"id"`
	ValidFrom          Time          `json:"validFrom"`
	ValidTo            Time          `json:"validTo"`
	NameDe             string        `json:"nameDe"`
	NameEn             string        `json:"nameEn"`
	DescriptionDe      string        `json:"descriptionDe"`
	DescriptionEn      string        `json:"descriptionEn"`
	PostalAddress      string        `json:"postalAddress"`
	LocationStateID    int64         `json:"locationStateId,omitempty"`
	DVDV1ID            string        `json:"dvdv1Id"`
	Category           string        `json:"category"`
	OrganizationKeys   []string      `json:"organizationKeys"`
	ClientCertificates []Certificate `json:"clientCertificates,omitempty"`
	Services           []ServiceBase `json:"services,omitempty"`
}

// OrganizationDescription is the answer of findauthoritydescription: the
// organisation and its representatives (Behördenstellvertreter).
type OrganizationDescription struct {
	Organization    *Organization  `json:"organization"`
	Representatives []Organization `json:"representatives"`
}

// VerificationResult is the answer of verifycategory.
type VerificationResult struct {
	VerifyCategory bool `json:"verifyCategory"`
}

// DecodeError says that a DVDV answer is not the JSON the operation returns.
type DecodeError struct {
	Op     string // the operation, e.g. "findservicedescription"
	Server string // the server that sent it ("" when decoding a file)
	Err    error
}

func (e *DecodeError) Error() string {
	s := "dvdv: malformed " + e.Op + " response"
	if e.Server != "" {
		s += " from " + e.Server
	}
	return s + ": " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// decodeJSON decodes exactly one JSON value of the expected shape from b.
func decodeJSON(op string, b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return &DecodeError{Op: op, Err: errors.New("empty body")}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return &DecodeError{Op: op, Err: describeJSONError(err)}
	}
	if dec.More() {
		return &DecodeError{Op: op, Err: errors.New("trailing data after the JSON value")}
	}
	if _, err := dec.Token(); err == nil {
		return &DecodeError{Op: op, Err: errors.New("trailing data after the JSON value")}
	}
	return nil
}

func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		f := te.Field
		if f == "" {
			f = "the document"
		}
		return fmt.Errorf("%s: expected %s, got JSON %s (offset %d)", f, te.Type, te.Value, te.Offset)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("not JSON: %v (offset %d)", se, se.Offset)
	}
	return err
}

// isJSONArray reports whether b (trimmed) starts a JSON array.
func isJSONArray(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '['
}

// DecodeAccessToken decodes a token response. It fails when the token or a
// positive expiry is missing.
func DecodeAccessToken(b []byte) (AccessToken, error) {
	var t AccessToken
	if err := decodeJSON("token", b, &t); err != nil {
		return t, err
	}
	if t.AccessToken == "" {
		return t, &DecodeError{Op: "token", Err: errors.New("no access_token")}
	}
	if t.ExpiresIn <= 0 {
		return t, &DecodeError{Op: "token", Err: fmt.Errorf("expires_in %d is not positive", t.ExpiresIn)}
	}
	return t, nil
}

// DecodeService decodes a findservicedescription answer: one Service object,
// or (lenient) a list holding exactly one.
func DecodeService(b []byte) (*Service, error) {
	const op = "findservicedescription"
	if isJSONArray(b) {
		var l []*Service
		if err := decodeJSON(op, b, &l); err != nil {
			return nil, err
		}
		if len(l) != 1 || l[0] == nil {
			return nil, &DecodeError{Op: op, Err: fmt.Errorf("expected one service, got a list of %d", len(l))}
		}
		return l[0], nil
	}
	var s Service
	if err := decodeJSON(op, b, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// DecodeServices decodes the batch findservicedescription answer: a list with
// one entry per request, null where nothing was found.
func DecodeServices(b []byte) ([]*Service, error) {
	var l []*Service
	if err := decodeList("batch/findservicedescription", b, &l); err != nil {
		return nil, err
	}
	return l, nil
}

// DecodeOrganizationDescription decodes a findauthoritydescription answer.
// The organisation must be present.
func DecodeOrganizationDescription(b []byte) (*OrganizationDescription, error) {
	const op = "findauthoritydescription"
	var d OrganizationDescription
	if err := decodeJSON(op, b, &d); err != nil {
		return nil, err
	}
	if d.Organization == nil {
		return nil, &DecodeError{Op: op, Err: errors.New("no organization")}
	}
	return &d, nil
}

// DecodeOrganizationDescriptions decodes findauthoritydescriptions and the
// batch findauthoritydescription answer (a list, null for "not found").
func DecodeOrganizationDescriptions(b []byte) ([]*OrganizationDescription, error) {
	var l []*OrganizationDescription
	if err := decodeList("findauthoritydescriptions", b, &l); err != nil {
		return nil, err
	}
	return l, nil
}

// DecodeOrganizations decodes a findOrganizationsByServiceElement answer: a
// list of lightweight organisations (the document says one object; a single
// object is accepted as a list of one).
func DecodeOrganizations(b []byte) ([]Organization, error) {
	const op = "findOrganizationsByServiceElement"
	if !isJSONArray(b) {
		var o Organization
		if err := decodeJSON(op, b, &o); err != nil {
			return nil, err
		}
		return []Organization{o}, nil
	}
	var l []Organization
	if err := decodeJSON(op, b, &l); err != nil {
		return nil, err
	}
	return l, nil
}

// DecodeBatchOrganizations decodes the batch findOrganizationsByServiceElement
// answer: a list of lists.
func DecodeBatchOrganizations(b []byte) ([][]Organization, error) {
	var l [][]Organization
	if err := decodeList("batch/findOrganizationsByServiceElement", b, &l); err != nil {
		return nil, err
	}
	return l, nil
}

// DecodeStrings decodes findcategories and findServiceSpecificationUrisByCategory
// answers: a list of strings.
func DecodeStrings(op string, b []byte) ([]string, error) {
	var l []string
	if err := decodeList(op, b, &l); err != nil {
		return nil, err
	}
	return l, nil
}

// DecodeBatchStrings decodes the batch findcategories and
// findServiceSpecificationUrisByCategory answers: a list of lists of strings.
func DecodeBatchStrings(op string, b []byte) ([][]string, error) {
	var l [][]string
	if err := decodeList(op, b, &l); err != nil {
		return nil, err
	}
	return l, nil
}

// DecodeVerification decodes a verifycategory answer. A bare JSON boolean is
// accepted too.
func DecodeVerification(b []byte) (bool, error) {
	const op = "verifycategory"
	t := bytes.TrimSpace(b)
	if bytes.Equal(t, []byte("true")) || bytes.Equal(t, []byte("false")) {
		return t[0] == 't', nil
	}
	var w struct {
		VerifyCategory *bool `json:"verifyCategory"`
	}
	if err := decodeJSON(op, b, &w); err != nil {
		return false, err
	}
	if w.VerifyCategory == nil {
		return false, &DecodeError{Op: op, Err: errors.New("no verifyCategory")}
	}
	return *w.VerifyCategory, nil
}

// DecodeBatchVerification decodes the batch verifycategory answer.
func DecodeBatchVerification(b []byte) ([]bool, error) {
	const op = "batch/verifycategory"
	var l []*VerificationResult
	if err := decodeList(op, b, &l); err != nil {
		return nil, err
	}
	out := make([]bool, len(l))
	for i, r := range l {
		if r == nil {
			return nil, &DecodeError{Op: op, Err: fmt.Errorf("entry %d is null", i)}
		}
		out[i] = r.VerifyCategory
	}
	return out, nil
}

// DecodeCertificate decodes a findCertificateByFingerprint answer.
func DecodeCertificate(b []byte) (*Certificate, error) {
	const op = "findCertificateByFingerprint"
	var c Certificate
	if err := decodeJSON(op, b, &c); err != nil {
		return nil, err
	}
	if c.Content == "" {
		return nil, &DecodeError{Op: op, Err: errors.New("certificate has no content")}
	}
	return &c, nil
}

// DecodeProblem decodes an application/problem+json body.
func DecodeProblem(b []byte) (Problem, error) {
	var p Problem
	err := decodeJSON("problem", b, &p)
	return p, err
}

func decodeList(op string, b []byte, v any) error {
	if !isJSONArray(b) {
		return &DecodeError{Op: op, Err: fmt.Errorf("expected a JSON list, got %s", truncate(strings.TrimSpace(string(b)), 40))}
	}
	return decodeJSON(op, b, v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
