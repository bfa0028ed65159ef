package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// keyPath addresses a value in the config: mapping keys (string) and list indexes (int)
// from the top. It prints as services[0].stages.prod.env.FOO.
type keyPath []any

// at returns a new path with elems appended; p itself is never modified.
func (p keyPath) at(elems ...any) keyPath {
	q := make(keyPath, 0, len(p)+len(elems))
	return append(append(q, p...), elems...)
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (p keyPath) String() string {
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", e)
		case string:
			if !plainKey.MatchString(e) {
				// Keys a user got wrong may hold anything; quote them so the path
				// stays unambiguous.
				fmt.Fprintf(&b, "[%s]", strconv.Quote(clip(e, maxQuoted)))
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e)
		}
	}
	return b.String()
}

// schema walks the YAML tree alongside the Go type it decodes into, before goccy
// decodes it. It exists because goccy's strict decoding alone stops at the first
// error and silently rewrites some values:
//   - a scalar in a string field is taken as written: branch: 0755 would
//     otherwise decode as the octal number 0755 printed in decimal ("493"), and
//     VERSION: 1.10 as "1.1";
//   - a fraction in an int field is an error, not truncated (port: 80.5);
//   - an explicit 0 is an error in every int field (all are positive), where it
//     would otherwise read as "unset" and get the default;
//   - unknown keys and wrongly shaped values are collected, all of them, with
//     their positions, and the offending nodes are dropped so decoding goes on and
//     the rest of the file is still validated.
//
// It also records the position of every key and list item for problem messages.
type schema struct {
	problems []problem
	// broken holds the paths whose value was dropped: later problems under them
	// (such as "required") would only repeat the first one.
	broken map[string]bool
	pos    map[string]token.Position
}

func newSchema() *schema {
	return &schema{pos: map[string]token.Position{}, broken: map[string]bool{}}
}

// isBroken reports whether p is at or under a dropped value.
func (s *schema) isBroken(p keyPath) bool {
	for n := len(p); n > 0; n-- {
		if s.broken[p[:n].String()] {
			return true
		}
	}
	return false
}

func (s *schema) addf(p keyPath, format string, args ...any) {
	s.problems = append(s.problems, problem{p, fmt.Sprintf(format, clipQuoted(format, args)...)})
}

// drop reports a value that cannot be decoded into its field and replaces it by
// null, so the field keeps its zero value.
func (s *schema) drop(n ast.Node, p keyPath, set func(ast.Node), format string, args ...any) {
	s.addf(p, format, args...)
	s.broken[p.String()] = true
	set(ast.Null(n.GetToken()))
}

func (s *schema) record(p keyPath, tk *token.Token) {
	if tk != nil && tk.Position != nil {
		s.pos[p.String()] = *tk.Position
	}
}

// walk checks n against type t. set replaces n in its parent.
func (s *schema) walk(n ast.Node, t reflect.Type, p keyPath, set func(ast.Node)) {
	switch m := n.(type) {
	case nil, *ast.NullNode:
		return // null leaves a field unset everywhere
	case *ast.AnchorNode:
		s.walk(m.Value, t, p, func(x ast.Node) { m.Value = x })
		return
	case *ast.AliasNode:
		return // goccy resolves these; the anchored value was checked where it was written
	case *ast.TagNode:
		// A config has no use for tags, and goccy's decoder panics on some.
		s.drop(n, p, set, "YAML tags such as %s are not supported; write the value plainly (in quotes to keep it text)", clip(m.Start.Value, maxQuoted))
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := n.(*ast.MappingNode)
		if !ok {
			s.drop(n, p, set, "must be a mapping of keys (%s), not %s", strings.Join(yamlKeys(t), ", "), describe(n, p))
			return
		}
		keep := m.Values[:0:0]
		for _, mv := range m.Values {
			key := mv.Key.GetToken().Value
			if mv.Key.IsMergeKey() {
				// goccy refuses a merged key that is also written next to "<<",
				// which is the point of merging; say so rather than fail obscurely.
				s.record(p.at(key), mv.Key.GetToken())
				s.addf(p.at(key), "merge keys are not supported; repeat the keys, or anchor whole values instead (env: &common {...} here, env: *common there)")
				continue
			}
			f, ok := fieldByKey(t, key)
			if !ok {
				s.record(p.at(key), mv.Key.GetToken())
				hint := vocabularyHint(t, key)
				if hint == "" {
					hint = suggest(key, yamlKeys(t))
				}
				s.addf(p.at(key), "unknown key%s; the keys here are %s", hint, strings.Join(yamlKeys(t), ", "))
				continue
			}
			keep = append(keep, mv)
			s.record(p.at(key), mv.Key.GetToken())
			s.walk(mv.Value, f.Type, p.at(key), func(x ast.Node) { mv.Value = x })
		}
		m.Values = keep
	case reflect.Map:
		m, ok := n.(*ast.MappingNode)
		if !ok {
			s.drop(n, p, set, "must be a mapping of NAME: value pairs, not %s", describe(n, p))
			return
		}
		keep := m.Values[:0:0]
		for _, mv := range m.Values {
			tk := mv.Key.GetToken()
			if !isScalar(mv.Key) || mv.Key.IsMergeKey() {
				s.record(p.at(tk.Value), tk)
				s.addf(p.at(tk.Value), "must be a plain NAME, not %s", describeKey(mv.Key))
				continue
			}
			if _, isString := mv.Key.(*ast.StringNode); !isString {
				mv.Key = ast.String(tk) // FOO_1: and 123: are names as written
			}
			keep = append(keep, mv)
			s.record(p.at(tk.Value), tk)
			s.walk(mv.Value, t.Elem(), p.at(tk.Value), func(x ast.Node) { mv.Value = x })
		}
		m.Values = keep
	case reflect.Slice:
		q, ok := n.(*ast.SequenceNode)
		if !ok {
			s.drop(n, p, set, "must be a list (items starting with \"- \", or [a, b]), not %s", describe(n, p))
			return
		}
		for i, item := range q.Values {
			s.record(p.at(i), firstToken(item))
			s.walk(item, t.Elem(), p.at(i), func(x ast.Node) { q.Values[i] = x })
		}
	case reflect.String:
		switch n.(type) {
		case *ast.StringNode, *ast.LiteralNode:
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
			set(ast.String(n.GetToken()))
		default:
			s.drop(n, p, set, "must be a single value, not %s", describe(n, p))
		}
	case reflect.Int:
		switch v := n.(type) {
		case *ast.IntegerNode:
			if v.Value == nil {
				s.drop(n, p, set, "%s is too large a number", v.Token.Value)
			} else if reflect.ValueOf(v.Value).IsZero() {
				s.drop(n, p, set, "0 is not allowed; %s", zeroHint(p))
			}
		case *ast.FloatNode:
			s.drop(n, p, set, "must be a whole number, not %s%s", v.Token.Value, unitHint(p))
		case *ast.StringNode:
			if _, err := strconv.Atoi(v.Value); err == nil {
				s.drop(n, p, set, "must be a number, not text; write it without quotes")
			} else if errors.Is(err, strconv.ErrRange) {
				s.drop(n, p, set, "%s is too large a number", v.Value)
			} else {
				s.drop(n, p, set, "must be a whole number, not %q%s", v.Value, unitHint(p))
			}
		default:
			s.drop(n, p, set, "must be a whole number, not %s", describe(n, p))
		}
	case reflect.Bool:
		if _, ok := n.(*ast.BoolNode); !ok {
			s.drop(n, p, set, "must be true or false, not %s", describe(n, p))
		}
	}
}

// unitHint tells, for cpu and memory, the unit and the values Fargate accepts:
// "0.25" or "512Mi" are other tools' ways to write them.
func unitHint(p keyPath) string {
	key, _ := p[len(p)-1].(string)
	switch key {
	case "cpu":
		return fmt.Sprintf("; cpu is in CPU units (1024 = 1 vCPU, so 0.25 vCPU is 256), one of %s", cpuList())
	case "memory":
		return fmt.Sprintf("; memory is in MiB (1024 = 1 GB), and fits the cpu: e.g. %s with %d CPU units", memoryList(DefaultCPU), DefaultCPU)
	}
	return ""
}

// zeroHint tells what to write instead of 0 for the int field at p.
func zeroHint(p keyPath) string {
	key, _ := p[len(p)-1].(string)
	switch key {
	case "port":
		return fmt.Sprintf("use a port from 1 to 65535, or leave port out for %d", DefaultPort)
	case "cpu":
		return fmt.Sprintf("use a Fargate CPU size (%s), or leave cpu out for %d", cpuList(), DefaultCPU)
	case "memory":
		return "use a memory size in MiB that fits the CPU, or leave memory out"
	case "min":
		return "use at least 1 (a stage with no task cannot be released to)"
	case "max":
		return "use at least 1, and at least min"
	case "cpuTarget":
		return fmt.Sprintf("use a percentage from 10 to 90, or leave cpuTarget out for %d", DefaultCPUTarget)
	case "priority":
		return "use a priority from 1 to 50000, or leave priority out for 10 × the service's position"
	}
	return "leave the key out for the default"
}

func isScalar(n ast.Node) bool {
	_, ok := n.(ast.ScalarNode)
	return ok
}

// firstToken is where a node starts as a reader sees it: for a block mapping, its
// first key.
func firstToken(n ast.Node) *token.Token {
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 && !m.IsFlowStyle {
		return m.Values[0].Key.GetToken()
	}
	return n.GetToken()
}

// describeKey names the shape of a mapping key that is not a plain name.
func describeKey(n ast.Node) string {
	switch n.(type) {
	case *ast.TagNode:
		return "a tagged value"
	case *ast.MergeKeyNode:
		return "a merge key (<<)"
	case *ast.AnchorNode, *ast.AliasNode:
		return "an anchor or alias"
	}
	return describe(n, nil)
}

// describe names a node's shape for messages. Under a secrets key it never quotes a
// value: a plaintext secret written by mistake must not reach a CI log.
func describe(n ast.Node, p keyPath) string {
	if slices.Contains(p, any("secrets")) {
		if _, ok := n.(ast.ScalarNode); ok {
			return "a single value"
		}
	}
	switch v := n.(type) {
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return strconv.Quote(clip(v.Value, maxQuoted))
	case ast.ScalarNode:
		return clip(v.GetToken().Value, maxQuoted)
	}
	return "this"
}

// yamlKeys lists the keys a struct type accepts, in declaration order.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if k := yamlKey(f); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if yamlKey(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func yamlKey(f reflect.StructField) string {
	k, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if k == "-" {
		return ""
	}
	return k
}

// suggest returns ` (did you mean "x"?)` when one of known is close to s.
func suggest(s string, known []string) string {
	type cand struct {
		k string
		d int
	}
	var cs []cand
	for _, k := range known {
		ls, lk := strings.ToLower(s), strings.ToLower(k)
		d := distance(ls, lk)
		if len(lk) >= 3 && (strings.HasPrefix(ls, lk) || strings.HasPrefix(lk, ls)) {
			d = min(d, 2) // "maximum" for "max", "health" for "healthCheck"
		}
		if d <= 2 && d < len(k) {
			cs = append(cs, cand{k, d})
		}
	}
	if len(cs) == 0 {
		return ""
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	return fmt.Sprintf(" (did you mean %q?)", cs[0].k)
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
