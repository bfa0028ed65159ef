package config

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// Limits on the input, checked before and right after the YAML parser runs. A config
// comes from a pull request as much as from its owner, and goccy/go-yaml's parse time
// grows faster than linearly with nesting depth and with the number of keys in one
// block mapping (about 1 s for 12,000 keys, a minute for 50,000). Within these limits
// the worst input found parses in a fraction of a second; real configs are far inside
// them.
const (
	// MaxFileSize is the largest config Load and Parse accept, in bytes. The default
	// stagecoach.yaml is under 1 KiB; MaxServices services over MaxStages stages with
	// overrides in every stage stay under 150 KiB.
	MaxFileSize = 256 << 10
	// MaxDepth is how deeply lists and mappings may nest. The deepest key,
	// services[].stages.STAGE.scale.min, sits 6 levels down.
	MaxDepth = 16
	// MaxEntries is the most items one list or mapping may hold. No list in a config
	// may have more than a few dozen; an env mapping of 1,000 variables would not fit
	// the 64 KiB of an ECS task definition.
	MaxEntries = 1000
	// MaxAliasValues is the most values aliases may add to the file, counting for
	// each *alias the values of its anchor. Aliases share a few values (a common env,
	// a scale); the bound stops "billion laughs" files, whose nested aliases double
	// the document at every level.
	MaxAliasValues = 10000
)

// checkText refuses input that is not a config before the lexer sees it: too big,
// not UTF-8, or with control characters, which YAML forbids and which would garble a
// terminal if echoed in an excerpt.
func checkText(data []byte, filename string) error {
	if len(data) > MaxFileSize {
		return tooLarge(filename, byteSize(int64(len(data))))
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return fmt.Errorf("%s:%d:%d: byte 0x%02x is not UTF-8 text; a config is a UTF-8 text file (is this the right file?)", filename, line, col, data[i])
		case r == '\n':
			line, col = line+1, 0
		case r < ' ' && r != '\t' && r != '\r' || r == 0x7f || r == 0xfeff && i > 0:
			return fmt.Errorf("%s:%d:%d: control character %U is not allowed in YAML; delete it (is this the right file?)", filename, line, col, r)
		}
		i += n
		col++
	}
	return nil
}

func tooLarge(filename, size string) error {
	return fmt.Errorf("%s: the file is %s, but a config may be at most %s; is this the right file? (a config with dozens of services is still well under that)", filename, size, byteSize(MaxFileSize))
}

// byteSize prints n as people read sizes: 900 bytes, 12.5 KiB, 20.0 MiB.
func byteSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		if n%(1<<10) == 0 {
			return fmt.Sprintf("%d KiB", n>>10)
		}
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}

// checkShape bounds the nesting depth and the width of lists and mappings in the
// token stream, before goccy parses it. Block collections are tracked by the column
// their entries start at, as YAML's indentation rules nest them; flow collections by
// their brackets. It counts no more than the parser would find, except that a
// mapping whose value is a list at the same column counts as one collection.
func checkShape(tokens token.Tokens, filename string) error {
	type level struct {
		col     int // entry column of a block collection; 0 for a flow one
		entries int
	}
	var stack []level
	flow := 0 // flow collections open, at the top of stack
	at := func(tk *token.Token, format string, args ...any) error {
		return fmt.Errorf("%s:%d:%d: %s", filename, tk.Position.Line, tk.Position.Column, fmt.Sprintf(format, args...))
	}
	tooDeep := func(tk *token.Token) error {
		return at(tk, "lists and mappings nest more than %d levels deep here; a config needs at most 6, so flatten this value", MaxDepth)
	}
	tooWide := func(tk *token.Token) error {
		return at(tk, "a list or mapping has more than %d entries by here; no key of a config takes that many, so check what generated this file", MaxEntries)
	}
	// entry counts one more entry in the innermost collection.
	entry := func(tk *token.Token) error {
		if len(stack) > 0 {
			stack[len(stack)-1].entries++
			if stack[len(stack)-1].entries > MaxEntries {
				return tooWide(tk)
			}
		}
		return nil
	}
	// block handles a block entry ("- ", "? " or "key:") starting at column col.
	block := func(tk *token.Token, col int) error {
		for len(stack) > 0 && stack[len(stack)-1].col > col {
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].col == col {
			return entry(tk)
		}
		stack = append(stack, level{col: col, entries: 1})
		if len(stack) > MaxDepth {
			return tooDeep(tk)
		}
		return nil
	}
	for i, tk := range tokens {
		switch tk.Type {
		case token.DocumentHeaderType, token.DocumentEndType:
			stack, flow = stack[:0], 0
		case token.SequenceStartType, token.MappingStartType:
			stack = append(stack, level{entries: 1})
			flow++
			if len(stack) > MaxDepth {
				return tooDeep(tk)
			}
		case token.SequenceEndType, token.MappingEndType:
			if flow > 0 {
				stack = stack[:len(stack)-1]
				flow--
			}
		case token.CollectEntryType:
			if flow > 0 {
				if err := entry(tk); err != nil {
					return err
				}
			}
		case token.SequenceEntryType, token.MappingKeyType:
			if flow == 0 {
				if err := block(tk, tk.Position.Column); err != nil {
					return err
				}
			}
		case token.MappingValueType:
			if flow == 0 && i > 0 && tokens[i-1].Position.Line == tk.Position.Line {
				// The key is the token before the colon.
				if err := block(tokens[i-1], tokens[i-1].Position.Column); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkAliases refuses a document whose aliases expand to more than MaxAliasValues
// values. It runs on the parsed tree, where aliases are still references: goccy
// expands them only when decoding. The tree is at most MaxDepth deep.
func checkAliases(body ast.Node, filename string) error {
	a := aliasCounter{size: map[string]int{}}
	a.count(body)
	if a.at == nil {
		return nil
	}
	return fmt.Errorf("%s:%d:%d: aliases expand the file by more than %d values by here; aliases are for sharing a few values (env: *common), so write the rest out", filename, a.at.Line, a.at.Column, MaxAliasValues)
}

type aliasCounter struct {
	size  map[string]int // values in each anchor, aliases expanded
	added int
	at    *token.Position // the alias that went over the limit
}

// count returns the number of values in n once its aliases are expanded, capped just
// above the limit so that nested doubling cannot overflow.
func (a *aliasCounter) count(n ast.Node) int {
	const limit = MaxAliasValues + 1
	sum := func(ns ...ast.Node) int {
		s := 1
		for _, x := range ns {
			s = min(s+a.count(x), limit)
		}
		return s
	}
	switch n := n.(type) {
	case nil:
		return 0
	case *ast.AliasNode:
		if n.Value == nil {
			return 1
		}
		s := a.size[n.Value.GetToken().Value]
		a.added = min(a.added+s, limit)
		if a.added > MaxAliasValues && a.at == nil {
			a.at = n.GetToken().Position
		}
		return s
	case *ast.AnchorNode:
		if n.Name == nil {
			return a.count(n.Value)
		}
		name := n.Name.GetToken().Value
		a.size[name] = 0 // an alias inside its own anchor adds nothing
		s := a.count(n.Value)
		a.size[name] = s
		return s
	case *ast.TagNode:
		return a.count(n.Value)
	case *ast.MappingKeyNode:
		return a.count(n.Value)
	case *ast.MappingNode:
		var ns []ast.Node
		for _, mv := range n.Values {
			ns = append(ns, mv.Key, mv.Value)
		}
		return sum(ns...)
	case *ast.MappingValueNode:
		return sum(n.Key, n.Value)
	case *ast.SequenceNode:
		return sum(n.Values...)
	}
	return 1
}

// maxQuoted is how many characters of a value a message quotes: enough to recognise
// it, without flooding a log with a value that is itself the mistake.
const maxQuoted = 128

// clip shortens s to n characters, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// clipQuoted clips the string arguments that format quotes with %q. Messages quote
// user values that way; other string arguments are our own text.
func clipQuoted(format string, args []any) []any {
	out := slices.Clone(args)
	arg := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		for i < len(format) && strings.IndexByte("+-# 0123456789.", format[i]) >= 0 {
			i++
		}
		if i == len(format) || format[i] == '%' {
			continue
		}
		if arg < len(out) && format[i] == 'q' {
			if s, ok := out[arg].(string); ok {
				out[arg] = clip(s, maxQuoted)
			}
		}
		arg++
	}
	return out
}
