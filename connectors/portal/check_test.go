package portal

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/dxhub/dxhub/routing"
)

// TestCheckHook: field errors of the pre-check reject the submission with 422
// problem+json naming every pointer; nothing is stored. A checker failure does
// not block intake.
func TestCheckHook(t *testing.T) {
	var seen []routing.Submission
	e := newEnv(t, func(o *Options) {
		o.Check = func(_ context.Context, s routing.Submission) (*routing.Premapped, []FieldError, error) {
			seen = append(seen, s)
			if s.Reference == "broken-checker" {
				return nil, nil, errors.New("profile not loaded")
			}
			if s.Reference == "mapped" {
				return &routing.Premapped{Message: routing.Message{UUID: "premapped-" + s.ID},
					Event: routing.StatusEvent{Status: routing.StatusValidated}}, nil, nil
			}
			return nil, []FieldError{
				{Field: "/form/grundstuecke/0/flurstuecke/0/zaehler", Detail: "is required"},
				{Field: "/form/anlagen/att-1/anlageart", Code: "unknown-code", Detail: `code "42" is not in code list urn:xoev-de:xbau:codeliste:anlagen version 3.0`},
			}, nil
		}
	})
	resp := e.postJSON(keyA, mustJSON(t, validDoc()), nil)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", resp.StatusCode)
	}
	p := decodeProblem(t, resp)
	if p.Code != CodeInvalidField || p.Field == nil || *p.Field != "/form/grundstuecke/0/flurstuecke/0/zaehler" {
		t.Errorf("problem = %+v", p)
	}
	if len(p.Errors) != 2 || p.Errors[0].Code != CodeInvalidField || p.Errors[1].Code != "unknown-code" || p.Errors[1].Field != "/form/anlagen/att-1/anlageart" {
		t.Errorf("errors = %+v", p.Errors)
	}
	if len(seen) != 1 || seen[0].Service == "" || seen[0].Tenant == "" {
		t.Errorf("checker saw %+v", seen)
	}
	if n := len(e.store.subs); n != 0 {
		t.Errorf("%d submissions stored despite the 422", n)
	}

	doc := validDoc()
	doc["reference"] = "broken-checker"
	expectAccepted(t, e.postJSON(keyA, mustJSON(t, doc), nil))
	if ns := e.store.created[len(e.store.created)-1]; ns.Premapped != nil {
		t.Errorf("a failed check handed a mapped message to the store: %+v", ns.Premapped)
	}

	// A mapped message goes to the store with the submission.
	doc["reference"] = "mapped"
	expectAccepted(t, e.postJSON(keyA, mustJSON(t, doc), nil))
	ns := e.store.created[len(e.store.created)-1]
	if ns.Premapped == nil || ns.Premapped.Message.UUID != "premapped-"+ns.ID {
		t.Errorf("the store got %+v, want the checker's message", ns.Premapped)
	}
}
