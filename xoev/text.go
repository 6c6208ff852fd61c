package xoev

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// cleanText prepares portal text for a DIN 91379 datatypeC/D element: it
// normalises to NFC (DIN 91379 is defined on NFC sequences), turns CR LF into
// LF, replaces typographic dashes (U+2010–U+2015, U+2212) by "-" and trims. Characters that DIN 91379 never admits (control and format
// characters, private use, unassigned code points, symbols such as emoji
// outside Latin-1) are refused with the field's pointer. Everything else is
// left to the XSD check that follows every mapping.
func cleanText(field, s string) (string, error) {
	s = strings.TrimSpace(norm.NFC.String(dashes.Replace(strings.ReplaceAll(s, "\r\n", "\n"))))
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n':
		case r == unicode.ReplacementChar:
			return "", mapErr(field, "contains invalid UTF-8 or U+FFFD")
		case r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0xad:
			return "", mapErr(field, "contains the control character U+%04X, which DIN 91379 does not allow", r)
		case r <= 0x17e:
		case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.So) || !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs):
			return "", mapErr(field, "contains the character %q (U+%04X), which DIN 91379 does not allow", r, r)
		}
	}
	return s, nil
}

// particles are the lower-case name particles that start a family name.
var particles = map[string]bool{
	"von": true, "vom": true, "van": true, "de": true, "der": true, "den": true, "del": true,
	"della": true, "di": true, "da": true, "du": true, "la": true, "le": true, "ten": true,
	"ter": true, "zu": true, "zum": true, "zur": true, "y": true, "al": true, "el": true, "bin": true,
}

// SplitName splits a full name into vorname and familienname. The rule:
//  1. white space is collapsed; a single word is the family name (vorname
//     then carries nichtVorhanden);
//  2. otherwise the family name starts at the first lower-case particle
//     (von, van, de, der, zu, …) that is neither the first nor the last word,
//     so "Maria von der Leyen" → "Maria" / "von der Leyen";
//  3. otherwise the family name is the last word: "Hans Peter Müller" →
//     "Hans Peter" / "Müller".
//
// The split is a guess; portals should send form.applicant.firstName and
// lastName, which always win.
func SplitName(full string) (vorname, familienname string) {
	w := strings.Fields(full)
	switch len(w) {
	case 0:
		return "", ""
	case 1:
		return "", w[0]
	}
	for i := 1; i < len(w)-1; i++ {
		if particles[w[i]] {
			return strings.Join(w[:i], " "), strings.Join(w[i:], " ")
		}
	}
	return strings.Join(w[:len(w)-1], " "), w[len(w)-1]
}

// dateinameAllowed is the character class of xbauk:Dateiname before the extension.
func dateinameAllowed(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	case strings.ContainsRune("ÄÖÜäöüß -_!=+~,;.#°§$%()[]", r):
		return true
	}
	return false
}

var extByType = map[string]string{
	"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png", "image/tiff": "tif",
	"image/gif": "gif", "text/plain": "txt", "text/xml": "xml", "application/xml": "xml",
	"application/zip": "zip", "application/json": "json", "text/csv": "csv",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":       "xlsx",
	"application/vnd.oasis.opendocument.text":                                 "odt",
	"application/vnd.oasis.opendocument.spreadsheet":                          "ods",
	"application/msword": "doc", "application/vnd.ms-excel": "xls",
}

// maxDateiname follows the XBau recommendation of at most 140 characters.
const maxDateiname = 140

// SanitizeFilename turns a portal file name into one that matches the XBau
// Dateiname pattern ([-a-zA-Z0-9ÄÖÜäöüß _!=+~,;.#°§$%()\[\]]+\.[a-zA-Z0-9]+):
// accented letters lose their accents (é → e), other disallowed characters
// become "_", a missing extension is derived from the content type ("bin" if
// unknown), and the name is cut to 140 characters. The transport must ship the
// file under this name (Document.Attachments).
func SanitizeFilename(name, contentType string) string {
	name = norm.NFC.String(dashes.Replace(strings.TrimSpace(name)))
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	base, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		base, ext = name[:i], name[i+1:]
	}
	var eb strings.Builder
	for _, r := range ext {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			eb.WriteRune(r)
		}
	}
	ext = eb.String()
	if ext == "" {
		ext = extByType[mediaType(contentType)]
		if ext == "" {
			ext = "bin"
		}
	}
	var bb strings.Builder
	for _, r := range base {
		if dateinameAllowed(r) {
			bb.WriteRune(r)
			continue
		}
		// Strip accents: keep the ASCII base letter of the NFD decomposition.
		d := []rune(norm.NFD.String(string(r)))
		if len(d) > 1 && d[0] < 0x80 && dateinameAllowed(d[0]) {
			bb.WriteRune(d[0])
			continue
		}
		bb.WriteByte('_')
	}
	base = strings.TrimSpace(bb.String())
	if strings.Trim(base, "._ ") == "" {
		base = "Anlage"
	}
	if max := maxDateiname - len([]rune(ext)) - 1; len([]rune(base)) > max {
		base = string([]rune(base)[:max])
	}
	return base + "." + ext
}

// mediaType strips parameters and lower-cases a content type.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}
