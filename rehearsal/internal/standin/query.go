package standin

import (
	"encoding/json"
	"strconv"
	"strings"
)

// query evaluates the part of JMESPath that buildspecs use to pick values out of
// a response, with JMESPath's semantics for each:
//
//	images[0].imageManifest                     fields and list indexes (negative from the end)
//	images[0].[imageId.imageDigest, imageTags]  a multiselect list
//	deployments[?status=='PRIMARY'].id          a filter, projecting what follows onto each match
//	deployments[?id=='x'] | [0]                 a pipe, which ends a projection
//
// Literals are 'raw strings' or `JSON`, compared with == or !=. Anything else
// (wildcards, flattening, functions, other comparisons) is refused, so a buildspec
// never passes against a query the real CLI would evaluate differently.
func query(doc any, q string) (any, error) {
	p := &parser{q: q}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.skipSpace(); p.i < len(q) {
		return nil, unsupportedQuery(q)
	}
	return e.eval(doc), nil
}

// expr is a pipeline: each segment reads the value the previous one produced.
type expr [][]step

// step is one link of a chain: a field, an index, a filter or a multiselect list.
type step struct {
	field  string
	index  *int
	filter *filter
	multi  []expr
}

type filter struct {
	path []string // fields of each element to compare
	not  bool     // != rather than ==
	lit  any
}

func (e expr) eval(v any) any {
	for _, chain := range e {
		v = evalChain(v, chain)
	}
	return v
}

// evalChain applies steps to v. A filter projects: the steps after it apply to
// each matching element, and null results are left out, as in JMESPath.
func evalChain(v any, steps []step) any {
	for i, s := range steps {
		switch {
		case s.field != "":
			obj, _ := v.(map[string]any)
			v = obj[s.field] // nil when v is not an object
		case s.index != nil:
			list, ok := v.([]any)
			n := *s.index
			if n < 0 {
				n += len(list)
			}
			if !ok || n < 0 || n >= len(list) {
				return nil
			}
			v = list[n]
		case s.filter != nil:
			list, ok := v.([]any)
			if !ok {
				return nil
			}
			out := []any{}
			for _, el := range list {
				if !s.filter.match(el) {
					continue
				}
				if r := evalChain(el, steps[i+1:]); r != nil {
					out = append(out, r)
				}
			}
			return out
		default: // multiselect list
			if v == nil {
				return nil
			}
			out := make([]any, len(s.multi))
			for j, m := range s.multi {
				out[j] = m.eval(v)
			}
			v = out
		}
	}
	return v
}

func (f *filter) match(el any) bool {
	var v any = el
	for _, name := range f.path {
		obj, _ := v.(map[string]any)
		v = obj[name]
	}
	// Compare as JSON, so 1 equals `1` and 'a' equals `"a"`, as JMESPath does.
	a, _ := json.Marshal(v)
	b, _ := json.Marshal(f.lit)
	return (string(a) == string(b)) != f.not
}

type parser struct {
	q string
	i int
}

func (p *parser) skipSpace() {
	for p.i < len(p.q) && p.q[p.i] == ' ' {
		p.i++
	}
}

func (p *parser) peek() byte {
	if p.i < len(p.q) {
		return p.q[p.i]
	}
	return 0
}

func (p *parser) fail() error { return unsupportedQuery(p.q) }

func (p *parser) expr() (expr, error) {
	var e expr
	for {
		chain, err := p.chain()
		if err != nil {
			return nil, err
		}
		e = append(e, chain)
		p.skipSpace()
		if p.peek() != '|' || strings.HasPrefix(p.q[p.i:], "||") {
			return e, nil
		}
		p.i++
	}
}

// chain parses a first step (a field or a bracket) and what follows it.
func (p *parser) chain() ([]step, error) {
	p.skipSpace()
	var steps []step
	switch c := p.peek(); {
	case isIdentStart(c):
		steps = append(steps, step{field: p.ident()})
	case c == '[':
		s, err := p.bracket(true)
		if err != nil {
			return nil, err
		}
		steps = append(steps, s)
	default:
		return nil, p.fail()
	}
	for {
		switch p.peek() {
		case '.':
			p.i++
			switch c := p.peek(); {
			case isIdentStart(c):
				steps = append(steps, step{field: p.ident()})
			case c == '[':
				s, err := p.multiselect()
				if err != nil {
					return nil, err
				}
				steps = append(steps, s)
			default:
				return nil, p.fail()
			}
		case '[':
			s, err := p.bracket(false)
			if err != nil {
				return nil, err
			}
			steps = append(steps, s)
		default:
			return steps, nil
		}
	}
}

// bracket parses [N], [?filter], or, where a chain starts, a multiselect list.
func (p *parser) bracket(first bool) (step, error) {
	rest := p.q[p.i+1:]
	switch {
	case strings.HasPrefix(rest, "?"):
		return p.filter()
	case len(rest) > 0 && (rest[0] == '-' || rest[0] >= '0' && rest[0] <= '9'):
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return step{}, p.fail()
		}
		n, err := strconv.Atoi(rest[:end])
		if err != nil {
			return step{}, p.fail()
		}
		p.i += end + 2
		return step{index: &n}, nil
	case first:
		return p.multiselect()
	}
	return step{}, p.fail()
}

func (p *parser) multiselect() (step, error) {
	p.i++ // [
	var s step
	for {
		e, err := p.expr()
		if err != nil {
			return step{}, err
		}
		s.multi = append(s.multi, e)
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return s, nil
		default:
			return step{}, p.fail()
		}
	}
}

func (p *parser) filter() (step, error) {
	p.i += 2 // [?
	p.skipSpace()
	f := &filter{}
	for {
		if !isIdentStart(p.peek()) {
			return step{}, p.fail()
		}
		f.path = append(f.path, p.ident())
		if p.peek() != '.' {
			break
		}
		p.i++
	}
	p.skipSpace()
	switch {
	case strings.HasPrefix(p.q[p.i:], "=="):
	case strings.HasPrefix(p.q[p.i:], "!="):
		f.not = true
	default:
		return step{}, p.fail()
	}
	p.i += 2
	p.skipSpace()
	switch quote := p.peek(); quote {
	case '\'', '`':
		end := strings.IndexByte(p.q[p.i+1:], quote)
		if end < 0 {
			return step{}, p.fail()
		}
		raw := p.q[p.i+1 : p.i+1+end]
		p.i += end + 2
		if quote == '\'' {
			f.lit = raw
		} else if err := json.Unmarshal([]byte(raw), &f.lit); err != nil {
			return step{}, p.fail()
		}
	default:
		return step{}, p.fail()
	}
	p.skipSpace()
	if p.peek() != ']' {
		return step{}, p.fail()
	}
	p.i++
	return step{filter: f}, nil
}

func (p *parser) ident() string {
	start := p.i
	for p.i < len(p.q) && (isIdentStart(p.q[p.i]) || p.q[p.i] >= '0' && p.q[p.i] <= '9') {
		p.i++
	}
	return p.q[start:p.i]
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func unsupportedQuery(q string) error {
	return fail(awsUsage, "aws stand-in: --query %q is beyond what the stand-in evaluates (fields, [N], [?a=='b'] filters, .[a, b] lists and pipes)", q)
}

// text renders a value as --output text does for scalars and lists of scalars.
func text(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "None", nil
	case string:
		return x, nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := text(e)
			if err != nil {
				return "", err
			}
			if _, nested := e.([]any); nested {
				return "", fail(awsUsage, "aws stand-in: --output text of nested lists is not supported; narrow the --query")
			}
			parts[i] = s
		}
		return strings.Join(parts, "\t"), nil
	default:
		return "", fail(awsUsage, "aws stand-in: --output text of an object is not supported; narrow the --query to a value")
	}
}
