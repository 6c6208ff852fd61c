package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/internal/standards"
	"github.com/dxhub/dxhub/xoev"
)

// openEngine builds the profile engine for every configured service with a
// profile (serve wires it into mapping.Mapper{E: …}; map uses it for dry
// runs). Each profile is loaded, its code lists checked and its schema
// compiled, so a broken profile fails at start-up.
func openEngine(cfg *config.Config, stdDir string, loc *time.Location, log *slog.Logger) (*xoev.Engine, error) {
	e, err := xoev.OpenEngine(xoev.Config{
		StandardsDir: stdDir, Location: loc, Logger: log,
		Product: xoev.Product{Name: "dxhub", Version: version},
	})
	if err != nil {
		return nil, err
	}
	if err := registerProfiles(e, cfg); err != nil {
		_ = e.Close()
		return nil, err
	}
	return e, nil
}

// registerProfiles loads and registers the profile of every configured
// service that has one.
func registerProfiles(e *xoev.Engine, cfg *config.Config) error {
	for _, s := range cfg.Services {
		if s.Profile == "" {
			continue
		}
		name, data, err := config.ReadProfile(s)
		if err != nil {
			return err
		}
		p, err := xoev.LoadProfile(name, data)
		if err != nil {
			return err
		}
		if err := e.Register(s.ID, p); err != nil {
			return err
		}
	}
	return nil
}

// dryRunFile is the input of `dxhub map`: the submission JSON as a portal
// posts it. Attachments give either their metadata (size, sha256) or the
// content in base64, from which both are computed.
type dryRunFile struct {
	Service   string `json:"service"`
	Reference string `json:"reference"`
	Applicant struct {
		Name    string `json:"name"`
		Email   string `json:"email"`
		Address struct {
			Street      string `json:"street"`
			HouseNumber string `json:"houseNumber"`
			PostalCode  string `json:"postalCode"`
			City        string `json:"city"`
			Country     string `json:"country"`
		} `json:"address"`
	} `json:"applicant"`
	Form        json.RawMessage `json:"form"`
	Attachments []struct {
		ID          string `json:"id"`
		Filename    string `json:"filename"`
		ContentType string `json:"contentType"`
		Size        int64  `json:"size"`
		SHA256      string `json:"sha256"`
		Content     string `json:"content"`
	} `json:"attachments"`
}

// cmdMap implements `dxhub map --service ID [--diff STORED.xml] FILE.json`:
// it prints the XML the hub would send for the submission (validated like
// every outbound message), or the field-precise errors, without submitting.
// With --diff it compares the result with a stored message and prints the
// differing lines (exit status non-zero when they differ).
func cmdMap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("map", stderr)
	cfgPath := fs.String("config", "", "configuration file (default: embedded)")
	service := fs.String("service", "", "service ID (default: the file's \"service\")")
	reader := fs.String("reader", "ags:00000000", "DVDV key of the reader (leser)")
	readerName := fs.String("reader-name", "", "name of the reader")
	diff := fs.String("diff", "", "stored XML message to compare the result with")
	id := fs.String("id", "dry-run", "submission ID (derives the message UUIDs)")
	created := fs.String("created", "", "erstellungszeitpunkt (RFC 3339; default now)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("map: name exactly one submission JSON file")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	var f dryRunFile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("%s: not a submission JSON: %w", fs.Arg(0), err)
	}
	svc := *service
	if svc == "" {
		svc = f.Service
	}
	s, ok := cfg.Service(svc)
	if !ok {
		return usagef("map: unknown service %q", svc)
	}
	if s.Profile == "" {
		return fmt.Errorf("map: service %s has no mapping profile", svc)
	}
	loc, err := cfg.Location()
	if err != nil {
		return err
	}
	dir, err := standards.Locate(cfg.Hub.StandardsDir)
	if err != nil {
		return err
	}
	e, err := openEngine(cfg, dir, loc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer e.Close()

	in := xoev.MapInput{
		Submission: xoev.Submission{
			ID: *id, Reference: f.Reference, Service: svc, Form: f.Form,
			Applicant: xoev.Applicant{
				Name: f.Applicant.Name, Email: f.Applicant.Email, Street: f.Applicant.Address.Street,
				HouseNumber: f.Applicant.Address.HouseNumber, PostalCode: f.Applicant.Address.PostalCode,
				City: f.Applicant.Address.City, Country: f.Applicant.Address.Country,
			},
		},
		Reader: xoev.Party{Key: *reader, Name: *readerName},
		Author: xoev.Party{Key: cfg.Hub.AuthorKey, Name: "dxhub"},
	}
	if *created != "" {
		if in.Created, err = time.Parse(time.RFC3339, *created); err != nil {
			return usagef("map: --created: %v", err)
		}
	}
	for i, a := range f.Attachments {
		att := xoev.Attachment{ID: a.ID, Filename: a.Filename, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256}
		if a.Content != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Content)
			if err != nil {
				return fmt.Errorf("/attachments/%d/content: not base64: %w", i, err)
			}
			sum := sha256.Sum256(raw)
			att.Size, att.SHA256 = int64(len(raw)), hex.EncodeToString(sum[:])
		}
		if att.ID == "" {
			att.ID = fmt.Sprintf("att-%d", i+1)
		}
		in.Submission.Attachments = append(in.Submission.Attachments, att)
	}
	doc, err := e.Map(ctx, in)
	if err != nil {
		if fes := xoev.AsFieldErrors(err); len(fes) > 0 {
			for _, fe := range fes {
				fmt.Fprintf(stderr, "%s: %s\n", fe.Field, fe.Reason)
			}
			return fmt.Errorf("map: %d field error(s)", len(fes))
		}
		return err
	}
	if *diff == "" {
		_, err = stdout.Write(doc.XML)
		return err
	}
	stored, err := os.ReadFile(*diff)
	if err != nil {
		return err
	}
	if d := unifiedDiff(*diff, "mapped", string(stored), string(doc.XML), 3); d != "" {
		fmt.Fprint(stdout, d)
		return errors.New("map: the mapping differs from " + *diff)
	}
	fmt.Fprintf(stdout, "identical to %s\n", *diff)
	return nil
}
