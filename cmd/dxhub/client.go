package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// hubClient talks to a running hub's portal API.
type hubClient struct {
	base   string
	apiKey string
	http   *http.Client
}

func clientFlags(name string, stderr io.Writer) (*hubClient, func(args []string) ([]string, error)) {
	fs := newFlags(name, stderr)
	c := &hubClient{http: &http.Client{Timeout: 5 * time.Minute}}
	fs.StringVar(&c.base, "hub", envOr("DXHUB_URL", "http://127.0.0.1:8080"), "base URL of the hub (env DXHUB_URL)")
	fs.StringVar(&c.apiKey, "api-key", envOr("DXHUB_API_KEY", "demo-key"), "portal API key (env DXHUB_API_KEY)")
	return c, func(args []string) ([]string, error) {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		c.base = strings.TrimRight(c.base, "/")
		return fs.Args(), nil
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// problem is an RFC 9457 error body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

func (c *hubClient) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 10<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var p problem
		if json.Unmarshal(b, &p) == nil && p.Code != "" {
			return fmt.Errorf("%s %s: %d %s: %s", method, path, resp.StatusCode, p.Code, p.Detail)
		}
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, out)
}

func cmdSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, parse := clientFlags("submit", stderr)
	files, err := parse(args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("give one or more JSON submission files")
	}
	failed := 0
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", f, err)
			failed++
			continue
		}
		var out struct {
			ID        string `json:"id"`
			Status    string `json:"status"`
			StatusURL string `json:"statusUrl"`
		}
		if err := c.do(ctx, http.MethodPost, "/v1/submissions", body, &out); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", f, err)
			failed++
			continue
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", out.ID, out.Status, f)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d submissions failed", failed, len(files))
	}
	return nil
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, parse := clientFlags("status", stderr)
	ids, err := parse(args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return usagef("give exactly one submission ID")
	}
	var out struct {
		ID        string `json:"id"`
		Status    string `json:"status"`
		Reference string `json:"reference"`
		Events    []struct {
			Status string    `json:"status"`
			Time   time.Time `json:"time"`
			Source string    `json:"source"`
			Detail string    `json:"detail"`
		} `json:"events"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/submissions/"+ids[0], nil, &out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s  %s  (reference %s)\n", out.ID, out.Status, out.Reference)
	for _, e := range out.Events {
		fmt.Fprintf(stdout, "  %s  %-12s %-5s %s\n", e.Time.Local().Format(time.RFC3339), e.Status, e.Source, e.Detail)
	}
	return nil
}
