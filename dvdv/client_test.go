package dvdv_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/dvdv/dvdvtest"
	"github.com/dxhub/dxhub/routing"
)

func TestTokenFlowAndRefresh(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	srv, url := startServer(t, clock)
	c := newClient(t, clock, url)

	if _, err := c.FindServiceDescription(ctx, koeln, serviceURI); err != nil {
		t.Fatal(err)
	}
	if _, err := c.FindServiceDescription(ctx, bonn, serviceURI); err != nil {
		t.Fatal(err)
	}
	if n := srv.TokenRequests(); n != 1 {
		t.Fatalf("token requests = %d, want 1 (token reused)", n)
	}
	// The token lives 1h; the client replaces it 60s before expiresIn.
	clock.Advance(58 * time.Minute)
	if _, err := c.FindServiceDescription(ctx, koeln, serviceURI); err != nil {
		t.Fatal(err)
	}
	if n := srv.TokenRequests(); n != 1 {
		t.Fatalf("token requests = %d after 58m, want 1", n)
	}
	clock.Advance(90 * time.Second)
	if _, err := c.FindServiceDescription(ctx, koeln, serviceURI); err != nil {
		t.Fatal(err)
	}
	if n := srv.TokenRequests(); n != 2 {
		t.Fatalf("token requests = %d after 59m30s, want 2 (refreshed before expiry)", n)
	}
	// The server forgets its tokens: the client gets 401, fetches a new
	// token once and repeats the request.
	srv.ExpireTokens()
	before := srv.Requests("findservicedescription")
	if _, err := c.FindServiceDescription(ctx, koeln, serviceURI); err != nil {
		t.Fatalf("after 401: %v", err)
	}
	if n := srv.TokenRequests(); n != 3 {
		t.Fatalf("token requests = %d after 401, want 3", n)
	}
	if n := srv.Requests("findservicedescription") - before; n != 2 {
		t.Fatalf("findservicedescription requests = %d, want 2 (401, then retry)", n)
	}
	if got := c.TokensFetched(); got != 3 {
		t.Fatalf("TokensFetched = %d, want 3", got)
	}
}

func TestTokenRejected(t *testing.T) {
	clock := newClock()
	srv, url := startServer(t, clock)
	_, url2 := startServer(t, clock)
	p := testPKI(t)
	// "stranger" is not registered in the directory.
	c, err := dvdv.NewClient(dvdv.ClientOptions{Servers: []string{url, url2}, Certificate: p.certs["stranger"], Key: p.key,
		Clock: clock, Logger: quietLogger(), RetryWaitMin: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.FindServiceDescription(context.Background(), koeln, serviceURI)
	var pe *dvdv.ProblemError
	if !errors.As(err, &pe) || pe.HTTPStatus != http.StatusUnauthorized || pe.Op != "token" {
		t.Fatalf("err = %v, want a 401 token problem", err)
	}
	if !strings.Contains(err.Error(), "Kein passendes Client-Zertifikat") {
		t.Errorf("error does not carry the problem detail: %v", err)
	}
	if c.ActiveServer() != url || srv.Requests("token") != 1 {
		t.Errorf("a 4xx must not fail over: active %s, token requests %d", c.ActiveServer(), srv.Requests("token"))
	}
}

func TestServerRejectsPlainBearerAndForgedAssertion(t *testing.T) {
	clock := newClock()
	_, url := startServer(t, clock)
	req, _ := http.NewRequest(http.MethodGet, url+"/extern/standaloneauth/directory/v2/version", nil)
	req.Header.Set("Authorization", "Bearer x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Bearer: status %d, want 401", resp.StatusCode)
	}
	// An assertion naming the hub's certificate but signed with another key.
	p := testPKI(t)
	other, err := dvdvtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	forged, err := dvdv.SignAssertion(p.certs["hub-client"], other, url+"/"+dvdv.TokenPath, clock.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.PostForm(url+"/"+dvdv.TokenPath, map[string][]string{"grant_type": {dvdv.GrantType},
		"client_assertion_type": {dvdv.ClientAssertionType}, "client_assertion": {forged}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged assertion: status %d, want 401", resp.StatusCode)
	}
}

func TestLookupAndCertificateSelection(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	_, url := startServer(t, clock)
	r := newResolver(t, newClient(t, clock, url), clock, nil, nil)
	p := testPKI(t)

	sr, err := r.ResolveService(ctx, koeln, serviceURI)
	if err != nil {
		t.Fatal(err)
	}
	rt := sr.Route
	if rt.Transport != routing.TransportOSCI || rt.Endpoint != koelnAddr || rt.Intermediary != koelnInterm {
		t.Fatalf("route = %+v", rt)
	}
	// The directory lists the intermediary's CIPHER_CERTIFICATE first; the
	// addressee's certificate is the one with the addressee's name.
	if rt.EncryptionCert != pemOf(p.certs["koeln-cipher"]) {
		t.Errorf("encryption certificate is not the addressee's (koeln-cipher)")
	}
	if rt.SignatureCert != pemOf(p.certs["koeln-signature"]) {
		t.Errorf("signature certificate is not koeln-signature")
	}
	if sr.IntermediaryCert == nil || sr.IntermediaryCert.PEM != pemOf(p.certs["intermediary-cipher"]) {
		t.Errorf("intermediary certificate = %+v", sr.IntermediaryCert)
	}
	if sr.Certificates[0].Subject == "" || len(sr.Certificates[0].Fingerprint) != 40 {
		t.Errorf("certificate info incomplete: %+v", sr.Certificates[0])
	}
	if !strings.HasPrefix(rt.Source, "dvdv:"+url) || !rt.ResolvedAt.Equal(clock.Now()) {
		t.Errorf("source %q resolvedAt %v", rt.Source, rt.ResolvedAt)
	}

	rt, err = r.Resolve(ctx, "AGS:05314000", serviceURI)
	if err != nil {
		t.Fatal(err)
	}
	if rt.Transport != routing.TransportXTA || rt.Endpoint != bonnEndpoint || rt.EncryptionCert != pemOf(p.certs["bonn-cipher"]) {
		t.Fatalf("bonn route = %+v", rt)
	}

	// Düsseldorf's addressee certificate expired yesterday.
	_, err = r.Resolve(ctx, duesseldorf, serviceURI)
	var re *dvdv.RouteError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired certificate: err = %v", err)
	}
}

func TestNotFoundAndNegativeCache(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	srv, url := startServer(t, clock)
	r := newResolver(t, newClient(t, clock, url), clock, nil, nil)

	for i := range 2 {
		_, err := r.Resolve(ctx, "ags:09162000", serviceURI)
		var nf *dvdv.NotFoundError
		if !errors.As(err, &nf) || !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("call %d: err = %v, want NotFoundError", i, err)
		}
	}
	if n := srv.Requests("findservicedescription"); n != 1 {
		t.Fatalf("requests = %d, want 1 (negative answer cached)", n)
	}
	clock.Advance(dvdv.DefaultTTLs().Negative + time.Second)
	if _, err := r.Resolve(ctx, "ags:09162000", serviceURI); !errors.Is(err, routing.ErrNotFound) {
		t.Fatal(err)
	}
	if n := srv.Requests("findservicedescription"); n != 2 {
		t.Fatalf("requests = %d, want 2 after the negative TTL", n)
	}
	if st := r.Stats(); st.NegativeHits != 1 || st.Misses != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestWarningHeader(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	srv, url := startServer(t, clock)
	c := newClient(t, clock, url)

	// The directory's service for oldURI expired in 2020.
	_, err := c.FindServiceDescription(ctx, koeln, oldURI)
	var ie *dvdv.InvalidEntryError
	if !errors.As(err, &ie) || !errors.Is(err, routing.ErrNotFound) {
		t.Fatalf("err = %v, want InvalidEntryError", err)
	}
	if !strings.Contains(ie.Warning, "ungültiger Dienst") || !strings.Contains(err.Error(), "only an invalid entry exists") {
		t.Fatalf("warning not decoded: %q", ie.Warning)
	}

	// An injected 204 with warning, cached as a negative entry with its text.
	srv.InjectFault(dvdvtest.Fault{Op: "findservicedescription", Warning: "Dienst gesperrt: Zertifikat läuft ab", Times: 1})
	r := newResolver(t, c, clock, nil, nil)
	for range 2 {
		_, err = r.Resolve(ctx, bonn, serviceURI)
		if !errors.As(err, &ie) || ie.Warning != "Dienst gesperrt: Zertifikat läuft ab" {
			t.Fatalf("err = %v", err)
		}
	}
}

func TestFailover(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	_, live := startServer(t, clock)
	dead := deadServer(t)
	c := newClient(t, clock, dead, live)
	r := newResolver(t, c, clock, nil, nil)

	rt, err := r.Resolve(ctx, koeln, serviceURI)
	if err != nil {
		t.Fatal(err)
	}
	if c.ActiveServer() != live || c.Failovers() != 1 || !strings.Contains(rt.Source, live) {
		t.Fatalf("active %s failovers %d source %s", c.ActiveServer(), c.Failovers(), rt.Source)
	}

	// Sticky: a 5xx server first in the list is not asked again once the
	// client moved on.
	srvA, a := startServer(t, clock)
	srvB, b := startServer(t, clock)
	srvA.InjectFault(dvdvtest.Fault{Status: http.StatusServiceUnavailable})
	c = newClient(t, clock, a, b)
	for _, key := range []string{koeln, bonn} {
		if _, err := c.FindServiceDescription(ctx, key, serviceURI); err != nil {
			t.Fatal(err)
		}
	}
	if n := srvA.Requests("findservicedescription"); n != 2 {
		t.Errorf("503 server saw %d requests, want 2 (one retry, then failover, then sticky)", n)
	}
	if n := srvB.Requests("findservicedescription"); n != 2 {
		t.Errorf("live server saw %d requests, want 2", n)
	}

	// 4xx is final: no failover.
	srvC, cu := startServer(t, clock)
	srvD, du := startServer(t, clock)
	srvC.InjectFault(dvdvtest.Fault{Status: http.StatusBadRequest})
	c = newClient(t, clock, cu, du)
	_, err = c.FindServiceDescription(ctx, koeln, serviceURI)
	var pe *dvdv.ProblemError
	if !errors.As(err, &pe) || pe.HTTPStatus != 400 || pe.Problem.Type != "problems/type/INJECTED" {
		t.Fatalf("err = %v, want the 400 problem", err)
	}
	if srvD.Requests("findservicedescription") != 0 || srvC.Requests("findservicedescription") != 1 {
		t.Errorf("4xx was retried or failed over")
	}
}

func TestAllServersDown(t *testing.T) {
	clock := newClock()
	srv, url := startServer(t, clock)
	srv.InjectFault(dvdvtest.Fault{Status: http.StatusBadGateway})
	c := newClient(t, clock, deadServer(t), url)
	_, err := c.FindServiceDescription(context.Background(), koeln, serviceURI)
	var ue *dvdv.UnavailableError
	if !errors.As(err, &ue) || !errors.Is(err, dvdv.ErrUnavailable) || len(ue.Failures) != 2 {
		t.Fatalf("err = %v", err)
	}
	var pe *dvdv.ProblemError
	if !errors.As(err, &pe) || pe.HTTPStatus != http.StatusBadGateway {
		t.Errorf("the 502 problem is not in the chain: %v", err)
	}
	if srv.Requests("findservicedescription") != 2 {
		t.Errorf("502 server saw %d requests, want 2 (retry policy: 1 retry)", srv.Requests("findservicedescription"))
	}
}

func TestMalformedAndSlowAnswers(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	tests := []struct {
		name  string
		fault dvdvtest.Fault
		want  string
	}{
		{"not json", dvdvtest.Fault{Body: "<html>proxy error</html>"}, "malformed findservicedescription response"},
		{"wrong shape", dvdvtest.Fault{Body: `{"serviceElements": {"a": 1}}`}, "serviceElements: expected []dvdv.ServiceElement"},
		{"bad time", dvdvtest.Fault{Body: `{"validFrom": "gestern"}`}, `timestamp "gestern" is not ISO 8601`},
		{"list of two", dvdvtest.Fault{Body: `[{}, {}]`}, "expected one service, got a list of 2"},
		{"hangup", dvdvtest.Fault{Hangup: true}, "EOF"},
		{"slow", dvdvtest.Fault{Delay: time.Minute}, "Client.Timeout exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, url := startServer(t, clock)
			srv.InjectFault(tt.fault)
			p := testPKI(t)
			c, err := dvdv.NewClient(dvdv.ClientOptions{Servers: []string{url}, Certificate: p.certs["hub-client"], Key: p.key,
				Timeout: 2 * time.Second, RetryMax: -1, Clock: clock, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.FindServiceDescription(ctx, koeln, serviceURI)
			if !errors.Is(err, dvdv.ErrUnavailable) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want unavailable with %q", err, tt.want)
			}
		})
	}
}

func TestOtherLookups(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	srv, url := startServer(t, clock)
	c := newClient(t, clock, url)
	p := testPKI(t)
	hubFP := dvdv.Fingerprint(p.certs["hub-client"].Raw)

	od, err := c.FindAuthorityDescription(ctx, "Bauaufsichtsbehörde", koeln)
	if err != nil || od.Organization.NameDe != "Stadt Köln" {
		t.Fatalf("FindAuthorityDescription = %+v, %v", od, err)
	}
	if _, err := c.FindAuthorityDescription(ctx, "Meldebehörde", koeln); !errors.Is(err, routing.ErrNotFound) {
		t.Fatalf("wrong category: err = %v, want not found (404 problem)", err)
	}
	cats, err := c.FindCategories(ctx, hubFP, hubKey)
	if err != nil || len(cats) != 1 || cats[0] != "Kommunalportal" {
		t.Fatalf("FindCategories = %v, %v", cats, err)
	}
	ok, err := c.VerifyCategory(ctx, strings.ToUpper(hubFP), "Kommunalportal")
	if err != nil || !ok {
		t.Fatalf("VerifyCategory = %v, %v", ok, err)
	}
	if ok, err := c.VerifyCategory(ctx, hubFP, "Bauaufsichtsbehörde"); err != nil || ok {
		t.Fatalf("VerifyCategory(wrong category) = %v, %v", ok, err)
	}
	cert, err := c.FindCertificateByFingerprint(ctx, dvdv.Fingerprint(p.certs["koeln-cipher"].Raw))
	if err != nil {
		t.Fatal(err)
	}
	if x, err := dvdv.ParseCertificate(cert, clock.Now()); err != nil || x.Subject.CommonName != "koeln-cipher" {
		t.Fatalf("certificate = %v, %v", x, err)
	}
	if _, err := c.FindCertificateByFingerprint(ctx, strings.Repeat("0", 40)); !errors.Is(err, routing.ErrNotFound) {
		t.Fatalf("unknown fingerprint: %v", err)
	}
	orgs, err := c.FindOrganizationsByServiceElement(ctx, dvdv.Request{ServiceElementType: dvdv.ElementWebserver,
		ParameterType: "URI", ParameterValue: bonnEndpoint})
	if err != nil || len(orgs) != 1 || orgs[0].OrganizationKeys[0] != bonn {
		t.Fatalf("FindOrganizationsByServiceElement = %+v, %v", orgs, err)
	}

	// Batch variants: one round trip each.
	svcs, err := c.BatchFindServiceDescription(ctx, []dvdv.Request{
		{OrganizationKey: koeln, ServiceSpecificationURI: serviceURI}, {OrganizationKey: "ags:00000000", ServiceSpecificationURI: serviceURI}})
	if err != nil || len(svcs) != 2 || svcs[0] == nil || svcs[1] != nil {
		t.Fatalf("BatchFindServiceDescription = %v, %v", svcs, err)
	}
	vs, err := c.BatchVerifyCategory(ctx, []dvdv.Request{{FingerPrint: hubFP, Category: "Kommunalportal"}, {FingerPrint: hubFP, Category: "X"}})
	if err != nil || len(vs) != 2 || !vs[0] || vs[1] {
		t.Fatalf("BatchVerifyCategory = %v, %v", vs, err)
	}
	cl, err := c.BatchFindCategories(ctx, []dvdv.Request{{FingerPrint: hubFP, OrganizationKey: hubKey}, {FingerPrint: hubFP, OrganizationKey: koeln}})
	if err != nil || len(cl) != 2 || len(cl[0]) != 1 || len(cl[1]) != 0 {
		t.Fatalf("BatchFindCategories = %v, %v", cl, err)
	}
	ads, err := c.BatchFindAuthorityDescription(ctx, []dvdv.Request{{Category: "Bauaufsichtsbehörde", OrganizationKey: bonn}, {Category: "X", OrganizationKey: bonn}})
	if err != nil || len(ads) != 2 || ads[0] == nil || ads[1] != nil {
		t.Fatalf("BatchFindAuthorityDescription = %v, %v", ads, err)
	}
	if n := srv.Requests("batch/verifycategory"); n != 1 {
		t.Errorf("batch/verifycategory requests = %d", n)
	}

	// problem+json on a 400 is reported with its detail.
	_, err = c.FindCategories(ctx, hubFP, "")
	var pe *dvdv.ProblemError
	if !errors.As(err, &pe) || pe.HTTPStatus != 400 || !strings.Contains(err.Error(), "Parameter 'organizationKey' fehlt") {
		t.Fatalf("err = %v", err)
	}
}

func TestResolverCachedLookups(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	srv, url := startServer(t, clock)
	r := newResolver(t, newClient(t, clock, url), clock, nil, nil)
	fp := dvdv.Fingerprint(testPKI(t).certs["hub-client"].Raw)
	for range 3 {
		if ok, err := r.VerifyCategory(ctx, fp, "Kommunalportal"); err != nil || !ok {
			t.Fatalf("VerifyCategory = %v, %v", ok, err)
		}
	}
	if n := srv.Requests("verifycategory"); n != 1 {
		t.Fatalf("verifycategory requests = %d, want 1", n)
	}
	clock.Advance(dvdv.DefaultTTLs().VerifyCategory + time.Second)
	if _, err := r.VerifyCategory(ctx, fp, "Kommunalportal"); err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests("verifycategory"); n != 2 {
		t.Fatalf("verifycategory requests = %d after its TTL, want 2", n)
	}
	if cats, err := r.FindCategories(ctx, fp, hubKey); err != nil || len(cats) != 1 {
		t.Fatalf("FindCategories = %v, %v", cats, err)
	}
	if _, err := r.FindAuthorityDescription(ctx, "Bauaufsichtsbehörde", koeln); err != nil {
		t.Fatal(err)
	}
	if _, err := r.FindCertificateByFingerprint(ctx, strings.Repeat("ab", 20)); !errors.Is(err, routing.ErrNotFound) {
		t.Fatalf("unknown certificate: %v", err)
	}
}
