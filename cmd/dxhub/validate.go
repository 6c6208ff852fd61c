package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/dxhub/dxhub/internal/standards"
	"github.com/dxhub/dxhub/xoev"
)

// cmdValidate implements `dxhub validate [--config FILE] FILE…`: each file is
// validated in-process (libxml2, network disabled) against the deployed XSD
// its root element belongs to, plus the transport Schematron rules (no empty
// elements, DVDV kennung pattern). It stops at the first invalid file and
// returns an error (non-zero exit) naming line, element path and the XSD
// message.
func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", stderr)
	cfgPath := fs.String("config", "", "configuration file (for hub.standardsDir; default: embedded)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("validate: name at least one XÖV file")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	dir, err := standards.Locate(cfg.Hub.StandardsDir)
	if err != nil {
		return err
	}
	v, err := xoev.NewValidator(dir)
	if err != nil {
		return err
	}
	defer v.Close()
	for _, f := range fs.Args() {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := validateOne(ctx, v, data); err != nil {
			return fmt.Errorf("%s: INVALID: %w", f, err)
		}
		fmt.Fprintf(stdout, "%s: valid\n", f)
	}
	return nil
}

// validateOne runs the XSD and the transport rules on one document.
func validateOne(ctx context.Context, v *xoev.Validator, data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("empty file")
	}
	if err := v.Validate(ctx, data); err != nil {
		return err
	}
	return xoev.CheckTransportRules(data)
}
