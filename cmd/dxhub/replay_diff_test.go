package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnifiedDiffMatchesDiffU compares the hunks with GNU diff -u, an
// independent implementation.
func TestUnifiedDiffMatchesDiffU(t *testing.T) {
	if _, err := exec.LookPath("diff"); err != nil {
		t.Fatal("diff (diffutils) is needed for this test")
	}
	lines := func(n int, f func(i int) string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(f(i) + "\n")
		}
		return b.String()
	}
	base := lines(40, func(i int) string { return "<l" + string(rune('a'+i%26)) + ">" + strings.Repeat("x", i%5) + "</l>" })
	cases := map[string][2]string{
		"one line changed":   {base, strings.Replace(base, "<lc>xx</l>", "<lc>changed</l>", 1)},
		"insert at start":    {base, "<new/>\n" + base},
		"delete at end":      {base, base[:strings.LastIndex(base[:len(base)-1], "\n")+1]},
		"two far changes":    {base, strings.Replace(strings.Replace(base, "<la></l>", "<A/>", 1), "<ln>xxx</l>", "<N/>", 1)},
		"two near changes":   {base, strings.Replace(strings.Replace(base, "<lb>x</l>", "<B/>", 1), "<lf></l>", "<F/>", 1)},
		"from empty":         {"", "<a/>\n<b/>\n"},
		"to empty":           {"<a/>\n<b/>\n", ""},
		"everything differs": {"<a/>\n<b/>\n<c/>\n", "<x/>\n<y/>\n"},
	}
	dir := t.TempDir()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if c[0] == c[1] {
				t.Fatal("case does not change anything")
			}
			a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
			os.WriteFile(a, []byte(c[0]), 0o600)
			os.WriteFile(b, []byte(c[1]), 0o600)
			out, _ := exec.Command("diff", "-u", a, b).Output()
			want := string(out)
			want = want[strings.Index(want, "@@"):]
			got := unifiedDiff("a", "b", c[0], c[1], 3)
			if !strings.HasPrefix(got, "--- a\n+++ b\n") {
				t.Fatalf("header: %q", got)
			}
			got = strings.TrimPrefix(got, "--- a\n+++ b\n")
			// diff -u may pick a different but equally short edit script;
			// the hunk ranges and the multiset of changed lines must agree.
			if hunks(got) != hunks(want) || changed(got, '-') != changed(want, '-') || changed(got, '+') != changed(want, '+') {
				t.Fatalf("got\n%s\nwant (diff -u)\n%s", got, want)
			}
		})
	}
	if unifiedDiff("a", "b", base, base, 3) != "" {
		t.Fatal("equal inputs gave a diff")
	}
}

func hunks(d string) string {
	var out []string
	for _, l := range strings.Split(d, "\n") {
		if strings.HasPrefix(l, "@@") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func changed(d string, sign byte) string {
	var out []string
	for _, l := range strings.Split(d, "\n") {
		if len(l) > 0 && l[0] == sign {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestReidentify(t *testing.T) {
	const old, nu = "ba4b2165-1157-563c-9881-b6364d0db339", "1ce351b8-6086-50dc-bacd-ee9df1d4dad9"
	doc := "<a><nachrichtenUUID>" + old + "</nachrichtenUUID><g2g:nachrichtenUUID> " + old + " </g2g:nachrichtenUUID>" +
		"<referenz>" + old + "</referenz></a>"
	got, err := reidentify([]byte(doc), old, nu)
	if err != nil {
		t.Fatal(err)
	}
	want := "<a><nachrichtenUUID>" + nu + "</nachrichtenUUID><g2g:nachrichtenUUID>" + nu + "</g2g:nachrichtenUUID>" +
		"<referenz>" + old + "</referenz></a>"
	if string(got) != want {
		t.Fatalf("got %s", got)
	}
	if _, err := reidentify([]byte("<a/>"), old, nu); err == nil {
		t.Fatal("a document without the UUID was accepted")
	}
}
