package store

import (
	"strconv"
	"strings"
	"testing"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE x = ? AND y IN (?,?)`, `SELECT a FROM t WHERE x = $1 AND y IN ($2,$3)`},
		{`SELECT '?' || ? FROM "we?ird" WHERE c = ?`, `SELECT '?' || $1 FROM "we?ird" WHERE c = $2`},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
		{"SELECT ? -- really?\n, ?", "SELECT $1 -- really?\n, $2"},
		{`SELECT /* why? */ ?`, `SELECT /* why? */ $1`},
		{`SELECT 'unterminated ?`, `SELECT 'unterminated ?`},
		{`SELECT ? /* open ?`, `SELECT $1 /* open ?`},
		{`LIMIT ?`, `LIMIT $1`},
	} {
		if got := rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzRebind: rebinding changes nothing but "?" placeholders, which become
// $1, $2, … in order; a rebound query has nothing left to rebind outside
// literals and comments.
func FuzzRebind(f *testing.F) {
	f.Add(`SELECT ? FROM t WHERE a = '?' AND b = ?`)
	f.Add("-- ?\n?/*?*/?")
	f.Add(`SELECT "a""?" , 'b''?', ?`)
	f.Fuzz(func(t *testing.T, q string) {
		out := rebind(q)
		i, j, n := 0, 0, 1
		for i < len(q) {
			if j < len(out) && q[i] == out[j] {
				i, j = i+1, j+1
				continue
			}
			ph := "$" + strconv.Itoa(n)
			if q[i] != '?' || !strings.HasPrefix(out[j:], ph) {
				t.Fatalf("rebind(%q) = %q: differs at %d/%d beyond a placeholder", q, out, i, j)
			}
			i, j, n = i+1, j+len(ph), n+1
		}
		if j != len(out) {
			t.Fatalf("rebind(%q) = %q: trailing text", q, out)
		}
		if again := rebind(out); again != out {
			t.Fatalf("rebind(rebind(%q)) = %q, not %q", q, again, out)
		}
	})
}
