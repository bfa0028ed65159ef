package config

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Bounds of an excerpt: lines shown around the error, and the width of each line.
const (
	excerptBefore = 3
	excerptAfter  = 2
	excerptWidth  = 100
)

// excerpt renders the lines of data around line:col (both from 1) with a caret under
// col, the way compilers quote source:
//
//	   2 | stages:
//	>  3 |   - name: [dev
//	                 ^
//
// It replaces goccy's printer, which takes quadratic time on long lines. Each line is
// cut to a window around col, control characters are escaped, and values inside a
// secrets mapping are hidden: a plaintext secret written by mistake must not reach a
// CI log through a syntax error.
func excerpt(data []byte, line, col int) string {
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	if line < 1 || line > len(lines) {
		return ""
	}
	var b strings.Builder
	from := max(1, line-excerptBefore)
	to := min(len(lines), line+excerptAfter)
	for n := from; n <= to; n++ {
		text := lines[n-1]
		if secretValue(lines, n-1) {
			text = hideValue(text)
		}
		marker, c := " ", 0
		if n == line {
			marker, c = ">", col
		}
		shown, caret := window(text, c)
		fmt.Fprintf(&b, "%s%3d | %s\n", marker, n, shown)
		if n == line {
			fmt.Fprintf(&b, "%s^\n", strings.Repeat(" ", len("   1 | ")+caret))
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// window returns the part of text around column col (1-based, in runes; 0 for
// none) that fits excerptWidth, with control characters and invalid bytes escaped,
// and the offset of col in it.
func window(text string, col int) (string, int) {
	runes := []rune(text)
	start := 0
	if col > excerptWidth*2/3 {
		start = col - excerptWidth/2
	}
	start = min(start, len(runes))
	end := min(len(runes), start+excerptWidth)
	var b strings.Builder
	caret := 0
	if start > 0 {
		b.WriteString("…")
	}
	for i := start; i < end; i++ {
		if i == col-1 {
			caret = utf8.RuneCountInString(b.String())
		}
		r := runes[i]
		switch {
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	if col-1 >= end {
		caret = utf8.RuneCountInString(b.String())
	}
	if end < len(runes) {
		b.WriteString("…")
	}
	return b.String(), caret
}

var (
	secretsKey = regexp.MustCompile(`(^|[\s{,-])secrets\s*:`)
	keyLine    = regexp.MustCompile(`^(\s*(?:-\s+)?[^\s:#][^:#]*?:)(\s+\S.*|\s*)$`)
)

// secretValue reports whether line i of lines holds values of a secrets mapping:
// its nearest less indented line before it has a "secrets:" key. Lines that are
// themselves a "secrets:" key hide what follows it; see hideValue.
func secretValue(lines []string, i int) bool {
	if secretsKey.MatchString(lines[i]) {
		return true
	}
	indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
	for j := i - 1; j >= 0; j-- {
		l := lines[j]
		t := strings.TrimLeft(l, " ")
		if t == "" || strings.HasPrefix(t, "#") || len(l)-len(t) >= indent {
			continue
		}
		return secretsKey.MatchString(l)
	}
	return false
}

// hideValue replaces what follows the first key of a line (or the "secrets:" key on
// it) by "‹hidden›".
func hideValue(l string) string {
	if loc := secretsKey.FindStringIndex(l); loc != nil {
		if strings.TrimSpace(l[loc[1]:]) == "" {
			return l
		}
		return l[:loc[1]] + " ‹hidden›"
	}
	if m := keyLine.FindStringSubmatch(l); m != nil {
		if strings.TrimSpace(m[2]) == "" {
			return l
		}
		return m[1] + " ‹hidden›"
	}
	return strings.Repeat(" ", len(l)-len(strings.TrimLeft(l, " "))) + "‹hidden›"
}
