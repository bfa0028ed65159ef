package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
)

func TestExp(t *testing.T) {
	const size = 1 << 20
	var keys strings.Builder
	keys.WriteString("app: x\nservices:\n  - name: web\n    env:\n")
	for i := 0; keys.Len() < size; i++ {
		fmt.Fprintf(&keys, "      K%d: v\n", i)
	}
	var svcs strings.Builder
	svcs.WriteString("app: x\nregion: us-east-1\nsource: {repository: a/b}\nstages:\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&svcs, "  - name: s%d\n", i)
	}
	svcs.WriteString("services:\n")
	for i := 0; svcs.Len() < size; i++ {
		fmt.Fprintf(&svcs, "  - name: v%d\n    route: {paths: [/a]}\n", i)
	}
	cases := map[string]string{
		"flowseq-wide": "app: [" + strings.Repeat("a,", size/2) + "]\n",
		"keys":         keys.String(),
		"svcs":         svcs.String(),
		"longstr":      "app: " + strings.Repeat("a", size) + "\n",
		"docs":         strings.Repeat("---\n", size/4),
		"comments":     strings.Repeat("#\n", size/2),
		"anchors":      "app: [" + strings.Repeat("&a a,", size/5) + "]\n",
		"aliases":      "app: &a x\nregion: [" + strings.Repeat("*a,", size/3) + "]\n",
		"blockseq20":   "app:\n" + strings.Repeat("- ", 20) + "x\n",
		"flow30":       "app: " + strings.Repeat("[", 30) + strings.Repeat("]", 30) + "\n",
		"dashes":       strings.Repeat("- ", size/2),
		"quotes":       "app: \"" + strings.Repeat("\\\"", size/2) + "\"\n",
		"colons":       strings.Repeat("a: ", size/3),
		"qmarks":       strings.Repeat("? ", size/2),
		"lines":        strings.Repeat("a\n", size/2),
		"indent":       strings.Repeat(" ", size) + "a",
	}
	for name, src := range cases {
		start := time.Now()
		toks := lexer.Tokenize(src)
		lex := time.Since(start)
		start = time.Now()
		_, perr := parser.ParseBytes([]byte(src), 0)
		pt := time.Since(start)
		start = time.Now()
		_, err := Parse([]byte(src), "x")
		e := fmt.Sprint(err, perr)
		if len(e) > 120 {
			e = e[:120]
		}
		t.Logf("%s: %d tokens lex %v parse %v Parse %v %q", name, len(toks), lex, pt, time.Since(start), e)
	}
}
