package xoev

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestXmllint validates every golden output and every built reply with the
// xmllint CLI against the XSDs: an independent check of the in-process
// libxml2 validation.
func TestXmllint(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint not found (apt-get install libxml2-utils): ", err)
	}
	xsd := filepath.Join(shared.dir, "xoev", "xbau", "2.6", "xsd_dev")
	tmp := t.TempDir()
	type job struct{ schema, file string }
	var jobs []job
	golden, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.xml"))
	if len(golden) == 0 {
		t.Fatal("no golden XML")
	}
	for _, g := range golden {
		jobs = append(jobs, job{"xbau-kernmodul-universellerAntrag.xsd", g})
	}
	_, replies := builtReplies(t)
	for name, d := range replies {
		p := filepath.Join(tmp, name+".xml")
		if err := os.WriteFile(p, d.XML, 0o644); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job{"xbau-kernmodul-prozessnachrichten.xsd", p})
	}
	for _, j := range jobs {
		out, err := exec.CommandContext(context.Background(), xmllint, "--nonet", "--noout", "--schema", filepath.Join(xsd, j.schema), j.file).CombinedOutput()
		if err != nil {
			t.Errorf("xmllint %s: %v\n%s", j.file, err, out)
		}
	}
	// The check can fail: a broken document is refused.
	bad := filepath.Join(tmp, "bad.xml")
	if err := os.WriteFile(bad, []byte(`<xbauk:universellerAntrag.antrag.1200 xmlns:xbauk="`+NSKernmodul130+`"/>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(xmllint, "--nonet", "--noout", "--schema", filepath.Join(xsd, "xbau-kernmodul-universellerAntrag.xsd"), bad).CombinedOutput(); err == nil {
		t.Errorf("xmllint accepted an invalid 1200:\n%s", out)
	}
}
