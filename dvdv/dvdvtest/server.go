package dvdvtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dxhub/dxhub/dvdv"
)

// BasePath is where the API lives on the server: a client's server URL is
// "http://host:port" + BasePath.
const BasePath = "/dvdv2-backend"

// Clock gives the server's time (tokens, assertions, service validity).
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Options configures a Server.
type Options struct {
	Directory *Directory
	// Clients are extra client certificates accepted at the token endpoint
	// (besides the organisations' clientCertificates).
	Clients []*x509.Certificate
	// TokenTTL is the expires_in of issued tokens (default 1h).
	TokenTTL time.Duration
	Clock    Clock
	Logger   *slog.Logger
}

// Fault changes the server's answers. The zero fields are ignored; set one of
// Status, Warning, Body or Hangup, optionally with Delay.
type Fault struct {
	// Op limits the fault to one operation: "token", a directory function
	// ("findservicedescription") or a batch one ("batch/verifycategory");
	// "" means every directory operation (not the token endpoint).
	Op string
	// Status answers with this HTTP status and a problem+json body.
	Status int
	// RetryAfter is sent with Status as Retry-After (seconds).
	RetryAfter int
	// Delay waits before answering (or until the client gives up).
	Delay time.Duration
	// Warning answers 204 with this text in dvdv-warning-msg (RFC 2047).
	Warning string
	// Body answers 200 with this raw body (a malformed answer).
	Body string
	// Hangup closes the connection without an answer.
	Hangup bool
	// Times is how many requests the fault affects; 0 means until
	// ClearFaults.
	Times int
}

// Server is the fake DVDV server; it is an http.Handler.
type Server struct {
	dir      *Directory
	clients  map[string]*x509.Certificate // by SHA-1 fingerprint
	tokenTTL time.Duration
	clock    Clock
	log      *slog.Logger

	mu       sync.Mutex
	tokens   map[string]time.Time // token → expiry
	faults   []*Fault
	requests map[string]int64
	tokenReq atomic.Int64
}

// New returns a server answering from opts.Directory.
func New(opts Options) (*Server, error) {
	if opts.Directory == nil {
		return nil, errors.New("dvdvtest: no directory")
	}
	if opts.Directory.certs == nil {
		if err := opts.Directory.Resolve("", nil); err != nil {
			return nil, err
		}
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.Clock == nil {
		opts.Clock = systemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{dir: opts.Directory, clients: map[string]*x509.Certificate{}, tokenTTL: opts.TokenTTL, clock: opts.Clock,
		log: opts.Logger, tokens: map[string]time.Time{}, requests: map[string]int64{}}
	for _, o := range opts.Directory.Organizations {
		for _, n := range o.ClientCertificates {
			c := opts.Directory.certs[n]
			s.clients[dvdv.Fingerprint(c.Raw)] = c
		}
	}
	for _, c := range opts.Clients {
		s.clients[dvdv.Fingerprint(c.Raw)] = c
	}
	return s, nil
}

// InjectFault adds a fault; faults apply in the order added.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// ExpireTokens invalidates every issued token: the next directory request
// gets 401 and the client must fetch a new token.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// TokenRequests returns how many token requests the server answered with a
// token.
func (s *Server) TokenRequests() int64 { return s.tokenReq.Load() }

// Requests returns how many requests reached the operation ("token",
// "findservicedescription", "batch/findservicedescription", …).
func (s *Server) Requests(op string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[op]
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, BasePath+"/")
	if !ok {
		problem(w, http.StatusNotFound, "problems/type/NOT_FOUND", "Unbekannter Pfad", r.URL.Path)
		return
	}
	if path == dvdv.TokenPath {
		s.count("token")
		if s.fault(w, r, "token") {
			return
		}
		s.token(w, r)
		return
	}
	entry, fn, ok := strings.Cut(path, "/v2/")
	if !ok {
		problem(w, http.StatusNotFound, "problems/type/NOT_FOUND", "Unbekannter Pfad", r.URL.Path)
		return
	}
	s.count(fn)
	switch entry {
	case dvdv.EntryIntern:
	case dvdv.EntryStandaloneAuth:
		if !s.authorized(w, r) {
			return
		}
	default:
		problem(w, http.StatusNotFound, "problems/type/NOT_FOUND", "Unbekannter entryPath", entry)
		return
	}
	if s.fault(w, r, fn) {
		return
	}
	if batch, ok := strings.CutPrefix(fn, "batch/"); ok {
		if r.Method != http.MethodPost {
			problem(w, http.StatusMethodNotAllowed, "problems/type/METHOD", "Methode nicht erlaubt", r.Method)
			return
		}
		s.batch(w, r, batch)
		return
	}
	if r.Method != http.MethodGet {
		problem(w, http.StatusMethodNotAllowed, "problems/type/METHOD", "Methode nicht erlaubt", r.Method)
		return
	}
	if fn == "version" {
		writeJSON(w, map[string]string{"version": "dvdvtest", "buildnumber": "0", "schemaversion": "2.15.0"})
		return
	}
	var req dvdv.Request
	if q := r.URL.Query().Get("request_json"); q == "" {
		problem(w, http.StatusBadRequest, "problems/type/INPUT_VALIDATION", "Invalide Eingabe", "Parameter request_json fehlt")
		return
	} else if err := json.Unmarshal([]byte(q), &req); err != nil {
		problem(w, http.StatusBadRequest, "problems/type/INPUT_VALIDATION", "Invalide Eingabe",
			fmt.Sprintf("7006: Fehler bei JSON-Konvertierung für URL-Query-Parameter request_json='%s'", q))
		return
	}
	status, v, warning, err := s.lookup(fn, req)
	switch {
	case err != nil:
		var pe *probErr
		if errors.As(err, &pe) {
			problem(w, pe.status, pe.typ, pe.title, pe.detail)
			return
		}
		problem(w, http.StatusInternalServerError, "problems/type/INTERNAL", "Interner Fehler", err.Error())
	case status == http.StatusNoContent:
		if warning != "" {
			w.Header().Set(dvdv.WarningHeader, mime.QEncoding.Encode("utf-8", warning))
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, v)
	}
}

func (s *Server) count(op string) {
	s.mu.Lock()
	s.requests[op]++
	s.mu.Unlock()
}

// fault applies the first matching fault; it reports whether it answered.
func (s *Server) fault(w http.ResponseWriter, r *http.Request, op string) bool {
	s.mu.Lock()
	var f *Fault
	for i, x := range s.faults {
		if x.Op == op || (x.Op == "" && op != "token") {
			f = x
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
				}
			}
			break
		}
	}
	s.mu.Unlock()
	if f == nil {
		return false
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	switch {
	case f.Hangup:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	case f.Status != 0:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(f.RetryAfter))
		}
		problem(w, f.Status, "problems/type/INJECTED", "Injizierter Fehler", fmt.Sprintf("dvdvtest fault for %s", op))
	case f.Warning != "":
		w.Header().Set(dvdv.WarningHeader, mime.QEncoding.Encode("utf-8", f.Warning))
		w.WriteHeader(http.StatusNoContent)
	case f.Body != "":
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, f.Body)
	default:
		return false // a pure delay
	}
	return true
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		problem(w, http.StatusMethodNotAllowed, "problems/type/METHOD", "Methode nicht erlaubt", r.Method)
		return
	}
	if err := r.ParseForm(); err != nil {
		problem(w, http.StatusBadRequest, "problems/type/AUTHENTICATION", "Fehler bei der Standalone-Authentifizierung", err.Error())
		return
	}
	fail := func(detail string) {
		s.log.Info("dvdvtest: token refused", "reason", detail)
		problem(w, http.StatusUnauthorized, "problems/type/AUTHENTICATION", "Fehler bei der Standalone-Authentifizierung", detail)
	}
	if g := r.PostForm.Get("grant_type"); g != dvdv.GrantType {
		fail(fmt.Sprintf("grant_type %q, erwartet %q", g, dvdv.GrantType))
		return
	}
	if t := r.PostForm.Get("client_assertion_type"); t != dvdv.ClientAssertionType {
		fail(fmt.Sprintf("client_assertion_type %q, erwartet %q", t, dvdv.ClientAssertionType))
		return
	}
	assertion := r.PostForm.Get("client_assertion")
	claims, err := dvdv.ParseAssertion(assertion)
	if err != nil {
		fail(err.Error())
		return
	}
	fp := strings.TrimPrefix(claims.Subject, "fp:")
	cert, ok := s.clients[dvdv.NormalizeFingerprint(fp)]
	if !ok {
		fail("Kein passendes Client-Zertifikat gefunden für fingerprint " + fp)
		return
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		fail("Client-Zertifikat hat keinen RSA-Schlüssel")
		return
	}
	if _, err := dvdv.VerifyAssertion(assertion, pub, s.clock.Now(), time.Minute); err != nil {
		fail(err.Error())
		return
	}
	if !strings.HasSuffix(claims.Audience, "/"+dvdv.TokenPath) {
		fail(fmt.Sprintf("aud %q ist nicht der Token-Endpunkt", claims.Audience))
		return
	}
	var b [24]byte
	rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	s.mu.Lock()
	s.tokens[tok] = s.clock.Now().Add(s.tokenTTL)
	s.mu.Unlock()
	s.tokenReq.Add(1)
	writeJSON(w, map[string]any{
		"access_token": tok, "expires_in": int64(s.tokenTTL / time.Second), "refresh_expires_in": 0,
		"token_type": "Bearer", "not-before-policy": 0, "scope": "dvdv2-kernsystem-application-client-scope",
	})
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	deny := func(detail string) bool {
		problem(w, http.StatusUnauthorized, "problems/type/AUTHENTICATION", "Nicht authentifiziert", detail)
		return false
	}
	if scheme != dvdv.AuthScheme {
		return deny(fmt.Sprintf("Authorization-Schema %q, erwartet %q", scheme, dvdv.AuthScheme))
	}
	s.mu.Lock()
	exp, ok := s.tokens[tok]
	s.mu.Unlock()
	if !ok {
		return deny("unbekanntes Token")
	}
	if !s.clock.Now().Before(exp) {
		return deny("Token abgelaufen")
	}
	return true
}

type probErr struct {
	status             int
	typ, title, detail string
}

func (e *probErr) Error() string { return e.detail }

func missing(field string) error {
	return &probErr{http.StatusBadRequest, "problems/type/SERVICE_VALIDATION", "Invalider Request", "Parameter '" + field + "' fehlt"}
}

// lookup answers one directory request: status 200 with v, or 204 (with an
// optional warning).
func (s *Server) lookup(fn string, q dvdv.Request) (status int, v any, warning string, err error) {
	now := s.clock.Now()
	switch fn {
	case "findservicedescription":
		if q.OrganizationKey == "" {
			return 0, nil, "", missing("organizationKey")
		}
		if q.ServiceSpecificationURI == "" {
			return 0, nil, "", missing("serviceSpecificationUri")
		}
		svc, warn := s.findService(q.OrganizationKey, q.ServiceSpecificationURI, now)
		if svc == nil {
			return http.StatusNoContent, nil, warn, nil
		}
		return http.StatusOK, svc, "", nil
	case "findauthoritydescription":
		if q.Category == "" {
			return 0, nil, "", missing("category")
		}
		if q.OrganizationKey == "" {
			return 0, nil, "", missing("organizationKey")
		}
		o := s.dir.org(q.OrganizationKey)
		if o == nil || o.Category != q.Category {
			return 0, nil, "", &probErr{http.StatusNotFound, "problems/type/ENTITY_NOT_FOUND", "Entität nicht gefunden",
				fmt.Sprintf("5009: Keine Organisation mit Kategorie %q und Organisationsschlüssel %q gefunden", q.Category, q.OrganizationKey)}
		}
		return http.StatusOK, s.orgDescription(o), "", nil
	case "findauthoritydescriptions":
		if q.OrganizationKey == "" {
			return 0, nil, "", missing("organizationKey")
		}
		out := []dvdv.OrganizationDescription{}
		if o := s.dir.org(q.OrganizationKey); o != nil {
			out = append(out, s.orgDescription(o))
		}
		return http.StatusOK, out, "", nil
	case "findcategories":
		if q.OrganizationKey == "" {
			return 0, nil, "", missing("organizationKey")
		}
		if q.FingerPrint == "" {
			return 0, nil, "", missing("fingerPrint")
		}
		return http.StatusOK, s.categories(q.FingerPrint, q.OrganizationKey), "", nil
	case "verifycategory":
		if q.Category == "" {
			return 0, nil, "", missing("category")
		}
		if q.FingerPrint == "" {
			return 0, nil, "", missing("fingerPrint")
		}
		return http.StatusOK, dvdv.VerificationResult{VerifyCategory: s.verify(q.FingerPrint, q.Category)}, "", nil
	case "findCertificateByFingerprint":
		if q.FingerPrint == "" {
			return 0, nil, "", missing("fingerPrint")
		}
		if c := s.certByFingerprint(q.FingerPrint); c != nil {
			return http.StatusOK, certJSON(c), "", nil
		}
		return 0, nil, "", &probErr{http.StatusNotFound, "problems/type/ENTITY_NOT_FOUND", "Entität nicht gefunden",
			"Kein Zertifikat mit Fingerprint " + q.FingerPrint}
	case "findOrganizationsByServiceElement":
		return http.StatusOK, s.orgsByElement(q), "", nil
	case "findServiceSpecificationUrisByCategory":
		if q.Category == "" {
			return 0, nil, "", missing("category")
		}
		return http.StatusOK, s.urisByCategory(q.Category), "", nil
	}
	return 0, nil, "", &probErr{http.StatusNotFound, "problems/type/NOT_FOUND", "Unbekannte Funktion", fn}
}

func (s *Server) batch(w http.ResponseWriter, r *http.Request, fn string) {
	var qs []dvdv.Request
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&qs); err != nil {
		problem(w, http.StatusBadRequest, "problems/type/INPUT_VALIDATION", "Invalide Eingabe", "7006: "+err.Error())
		return
	}
	if len(qs) > 200 {
		problem(w, http.StatusBadRequest, "problems/type/INPUT_VALIDATION", "Invalide Eingabe", "mehr als 200 Anfragen")
		return
	}
	out := make([]any, len(qs))
	for i, q := range qs {
		status, v, _, err := s.lookup(fn, q)
		var pe *probErr
		switch {
		case errors.As(err, &pe) && pe.status == http.StatusNotFound && pe.typ == "problems/type/NOT_FOUND":
			problem(w, http.StatusNotFound, pe.typ, pe.title, "batch/"+fn)
			return
		case err != nil || status == http.StatusNoContent:
			out[i] = nil
			if fn == "findcategories" || fn == "findServiceSpecificationUrisByCategory" {
				out[i] = []string{}
			}
		default:
			out[i] = v
		}
	}
	writeJSON(w, out)
}

func (s *Server) findService(key, uri string, now time.Time) (*dvdv.Service, string) {
	o := s.dir.org(key)
	if o == nil {
		return nil, ""
	}
	warn := ""
	for i := range o.Services {
		sv := &o.Services[i]
		if sv.URI != uri {
			continue
		}
		if (!sv.ValidFrom.IsZero() && now.Before(sv.ValidFrom)) || (!sv.ValidTo.IsZero() && now.After(sv.ValidTo)) {
			warn = fmt.Sprintf("Es existiert nur ein ungültiger Dienst %q für %s (gültig %s bis %s)", sv.Name, key,
				fmtTime(sv.ValidFrom), fmtTime(sv.ValidTo))
			continue
		}
		return s.serviceJSON(o, sv), ""
	}
	return nil, warn
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "offen"
	}
	return t.UTC().Format("02.01.2006 15:04")
}

func (s *Server) serviceJSON(o *Organization, sv *Service) *dvdv.Service {
	out := &dvdv.Service{
		ServiceBase: dvdv.ServiceBase{ID: 1000, ValidFrom: dvdv.Time{Time: sv.ValidFrom}, ValidTo: dvdv.Time{Time: sv.ValidTo},
			NameDe: sv.Name, ServiceDescriptionName: sv.Name, ServiceSpecificationType: "WSDL_OSCI", ServiceSpecificationURI: sv.URI},
		OrganizationNameDe: o.Name,
	}
	for i, e := range sv.Elements {
		el := dvdv.ServiceElement{Name: e.Name, DescriptionName: e.Name, Type: e.Type, Text: e.Text, URI: e.URI,
			Required: e.Required, ID: int64(i + 1), ProviderID: 1, ProviderNameDe: o.Name}
		if e.CipherCertificate != "" {
			el.CipherCertificate = certJSON(s.dir.certs[e.CipherCertificate])
		}
		if e.SignatureCertificate != "" {
			el.SignatureCertificate = certJSON(s.dir.certs[e.SignatureCertificate])
		}
		out.ServiceElements = append(out.ServiceElements, el)
	}
	return out
}

func (s *Server) orgJSON(o *Organization, full bool) dvdv.Organization {
	out := dvdv.Organization{ID: 1, NameDe: o.Name, PostalAddress: o.Address, Category: o.Category, OrganizationKeys: o.Keys}
	if full {
		out.ClientCertificates = []dvdv.Certificate{}
		for _, n := range o.ClientCertificates {
			out.ClientCertificates = append(out.ClientCertificates, *certJSON(s.dir.certs[n]))
		}
		out.Services = []dvdv.ServiceBase{}
		for _, sv := range o.Services {
			out.Services = append(out.Services, dvdv.ServiceBase{ServiceDescriptionName: sv.Name, NameDe: sv.Name,
				ServiceSpecificationType: "WSDL_OSCI", ServiceSpecificationURI: sv.URI,
				ValidFrom: dvdv.Time{Time: sv.ValidFrom}, ValidTo: dvdv.Time{Time: sv.ValidTo}})
		}
	}
	return out
}

func (s *Server) orgDescription(o *Organization) dvdv.OrganizationDescription {
	org := s.orgJSON(o, true)
	return dvdv.OrganizationDescription{Organization: &org, Representatives: []dvdv.Organization{}}
}

func (s *Server) hasClient(o *Organization, fp string) bool {
	for _, n := range o.ClientCertificates {
		if dvdv.Fingerprint(s.dir.certs[n].Raw) == dvdv.NormalizeFingerprint(fp) {
			return true
		}
	}
	return false
}

func (s *Server) categories(fp, key string) []string {
	out := []string{}
	if o := s.dir.org(key); o != nil && s.hasClient(o, fp) && o.Category != "" {
		out = append(out, o.Category)
	}
	return out
}

func (s *Server) verify(fp, category string) bool {
	for i := range s.dir.Organizations {
		o := &s.dir.Organizations[i]
		if o.Category == category && s.hasClient(o, fp) {
			return true
		}
	}
	return false
}

func (s *Server) certByFingerprint(fp string) *x509.Certificate {
	fp = dvdv.NormalizeFingerprint(fp)
	for _, c := range s.dir.certs {
		if dvdv.Fingerprint(c.Raw) == fp {
			return c
		}
	}
	return nil
}

func (s *Server) orgsByElement(q dvdv.Request) []dvdv.Organization {
	out := []dvdv.Organization{}
	for i := range s.dir.Organizations {
		o := &s.dir.Organizations[i]
		match := false
		for _, sv := range o.Services {
			for _, e := range sv.Elements {
				if q.ServiceElementType != "" && e.Type != q.ServiceElementType {
					continue
				}
				switch q.ParameterType {
				case "URI":
					match = match || e.URI == q.ParameterValue
				case "CIPHER_CERTIFICATE":
					match = match || (e.CipherCertificate != "" &&
						dvdv.Fingerprint(s.dir.certs[e.CipherCertificate].Raw) == dvdv.NormalizeFingerprint(q.ParameterValue))
				case "SIGNATURE_CERTIFICATE":
					match = match || (e.SignatureCertificate != "" &&
						dvdv.Fingerprint(s.dir.certs[e.SignatureCertificate].Raw) == dvdv.NormalizeFingerprint(q.ParameterValue))
				}
			}
		}
		if match {
			out = append(out, s.orgJSON(o, false))
		}
	}
	return out
}

func (s *Server) urisByCategory(category string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, o := range s.dir.Organizations {
		if o.Category != category {
			continue
		}
		for _, sv := range o.Services {
			if !seen[sv.URI] {
				seen[sv.URI] = true
				out = append(out, sv.URI)
			}
		}
	}
	return out
}

func certJSON(c *x509.Certificate) *dvdv.Certificate {
	alg := c.SignatureAlgorithm.String()
	return &dvdv.Certificate{
		Content: base64.StdEncoding.EncodeToString(c.Raw), Fingerprint: dvdv.Fingerprint(c.Raw),
		Serial: c.SerialNumber.String(), SerialHex: c.SerialNumber.Text(16), Algorithm: alg,
		NameIssuer: c.Issuer.CommonName, NameSubject: c.Subject.CommonName,
		OrganizationIssuer: strings.Join(c.Issuer.Organization, ", "), OrgSubject: strings.Join(c.Subject.Organization, ", "),
		ValidFrom: dvdv.Time{Time: c.NotBefore}, ValidTo: dvdv.Time{Time: c.NotAfter},
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

func problem(w http.ResponseWriter, status int, typ, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(dvdv.Problem{Type: typ, Title: title, Status: status, Detail: detail, Instance: "problems/instance/dvdvtest"})
}

// Running is a server listening on a TCP address.
type Running struct {
	*Server
	// URL is the base URL clients use ("http://127.0.0.1:port/dvdv2-backend").
	URL string
	srv *http.Server
	ln  net.Listener
}

// Listen starts s on addr (e.g. "127.0.0.1:0") until Close.
func Listen(s *Server, addr string) (*Running, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dvdvtest: %w", err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return &Running{Server: s, URL: "http://" + ln.Addr().String() + BasePath, srv: hs, ln: ln}, nil
}

// Close stops the server at once, dropping open connections.
func (r *Running) Close() error { return r.srv.Close() }
