package main

import (
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/stagecoach/stagecoach/config"
)

// loadExamples maps each key path to its values in the YAML file at path, in file
// order, written in flow style as in the file. config's tests keep that file (full.yaml)
// valid and setting every key.
func loadExamples(path string) (map[string][]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if _, err := config.Parse(data, path); err != nil {
		return nil, err
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, err
	}
	ex := map[string][]string{}
	for _, d := range f.Docs {
		collect(d.Body, reflect.TypeFor[config.Config](), "", ex)
	}
	return ex, nil
}

// collect records the value of every key under n, whose Go type is t.
func collect(n ast.Node, t reflect.Type, path string, ex map[string][]string) {
	if a, ok := n.(*ast.AnchorNode); ok {
		n = a.Value
	}
	t = deref(t)
	if path != "" {
		ex[path] = append(ex[path], flow(n))
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := n.(*ast.MappingNode)
		if !ok {
			return
		}
		for _, mv := range m.Values {
			for f := range t.Fields() {
				if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == mv.Key.GetToken().Value {
					collect(mv.Value, f.Type, join(path, name), ex)
				}
			}
		}
	case reflect.Slice:
		if s, ok := n.(*ast.SequenceNode); ok && deref(t.Elem()).Kind() == reflect.Struct {
			for _, item := range s.Values {
				collect(item, t.Elem(), path+"[]", ex)
			}
		}
	case reflect.Map:
		if m, ok := n.(*ast.MappingNode); ok && deref(t.Elem()).Kind() == reflect.Struct {
			name := path[strings.LastIndex(path, ".")+1:]
			for _, mv := range m.Values {
				collect(mv.Value, t.Elem(), path+"."+placeholder(name), ex)
			}
		}
	}
}

// maxFlow is the length past which flow stops adding entries to a mapping or list.
const maxFlow = 60

// flow writes n in YAML flow style, scalars as written in the file. A long mapping
// or list shows its first entries and "…".
func flow(n ast.Node) string {
	switch v := n.(type) {
	case *ast.AnchorNode:
		return flow(v.Value)
	case *ast.MappingNode:
		var parts []string
		for _, mv := range v.Values {
			parts = append(parts, flow(mv.Key)+": "+flow(mv.Value))
		}
		return "{" + shorten(parts) + "}"
	case *ast.SequenceNode:
		var parts []string
		for _, item := range v.Values {
			parts = append(parts, flow(item))
		}
		return "[" + shorten(parts) + "]"
	case nil:
		return ""
	}
	tk := n.GetToken()
	switch tk.Type {
	case token.DoubleQuoteType:
		return strconv.Quote(tk.Value)
	case token.SingleQuoteType:
		return "'" + strings.ReplaceAll(tk.Value, "'", "''") + "'"
	}
	return tk.Value
}

// shorten joins parts, leaving out those past maxFlow characters (always keeping
// the first).
func shorten(parts []string) string {
	out := ""
	for i, p := range parts {
		if i > 0 && len(out)+len(p) > maxFlow {
			return out + ", …"
		}
		if i > 0 {
			out += ", "
		}
		out += p
	}
	return out
}
