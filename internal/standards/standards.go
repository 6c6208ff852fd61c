// Package standards locates the directory of official schema sets and code
// lists (XÖV, XTA, OSCI, DVDV) that operators deploy from XRepository. dxhub
// never embeds these files; it reads them from this directory at run time.
package standards

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvVar overrides the configured directory.
const EnvVar = "DXHUB_STANDARDS_DIR"

// markers must exist in a usable standards directory.
var markers = []string{"xoev/xbau/2.6/xsd_dev", "xta2-v3/XTA.wsdl"}

// Locate returns the standards directory: the configured one if set, else
// $DXHUB_STANDARDS_DIR, else the first "shared/standards" beside the working
// directory or one of its parents, else one beside the executable's
// directory. The directory must contain the XBau 2.6 and XTA 2 sets.
func Locate(configured string) (string, error) {
	if configured != "" {
		return check(configured)
	}
	if d := os.Getenv(EnvVar); d != "" {
		return check(d)
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			cand := filepath.Join(dir, "shared", "standards")
			if _, err := check(cand); err == nil {
				return cand, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("standards directory not found: set hub.standardsDir (or " + EnvVar +
		") to the directory holding the official schema bundles (see README, 'Schemas and code lists')")
}

func check(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for _, m := range markers {
		if _, err := os.Stat(filepath.Join(abs, m)); err != nil {
			return "", fmt.Errorf("standards directory %s is incomplete: %s missing", abs, m)
		}
	}
	return abs, nil
}
