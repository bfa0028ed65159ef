package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stagecoach/stagecoach/config"
)

// key is one key of stagecoach.yaml.
type key struct {
	// path is the key's dotted path: services[].scale.min; an entry of a mapping of
	// names reads <stage>.
	path string
	// name is the key as written in YAML, e.g. min.
	name string
	// typ is the Go type of the value, pointers removed.
	typ reflect.Type
	// rule is the key's entry in config.Rules.
	rule config.Rule
	// desc is the doc comment without the field name and the default.
	desc string
	// def is the default as the doc comment words it, or "" for a required key.
	def      string
	required bool
	// children are the keys of a struct, of the structs in a list, or of the
	// structs in a mapping of names.
	children []*key
}

// loadKeys reflects config.Config, taking each field's doc comment from the Go
// files in dir.
func loadKeys(dir string) ([]*key, error) {
	docs, err := fieldDocs(dir)
	if err != nil {
		return nil, err
	}
	rules := config.Rules()
	return walkStruct(reflect.TypeFor[config.Config](), "", "", docs, rules)
}

// walkStruct returns the keys of struct type t at path prefix. parentDef is the
// default of the key holding t.
func walkStruct(t reflect.Type, prefix, parentDef string, docs map[string]string, rules map[string]config.Rule) ([]*key, error) {
	var keys []*key
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		id := t.Name() + "." + f.Name
		doc, ok := docs[id]
		if !ok {
			return nil, fmt.Errorf("%s has no doc comment; every config field needs one, as it is the reference users read", id)
		}
		k := &key{path: join(prefix, name), name: name, typ: deref(f.Type), rule: rules[id]}
		if err := k.parseDoc(f.Name, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		if inherited, ok := strings.CutPrefix(parentDef, "the service's "); ok && inherited != "" {
			// Under a stage override, what is left out comes from the service.
			k.def, k.rule.Default = "the service's "+name, nil
		}
		var err error
		switch k.typ.Kind() {
		case reflect.Struct:
			k.children, err = walkStruct(k.typ, k.path, k.def, docs, rules)
		case reflect.Slice:
			if e := deref(k.typ.Elem()); e.Kind() == reflect.Struct {
				k.children, err = walkStruct(e, k.path+"[]", k.def, docs, rules)
			}
		case reflect.Map:
			if e := deref(k.typ.Elem()); e.Kind() == reflect.Struct {
				k.children, err = walkStruct(e, k.path+"."+placeholder(name), k.def, docs, rules)
			}
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// placeholder names an entry of a mapping of names in paths: stages holds <stage>.
func placeholder(name string) string { return "<" + strings.TrimSuffix(name, "s") + ">" }

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

var (
	requiredRe = regexp.MustCompile(`\s*\bRequired(, ([^.]*))?\.`)
	defaultRe  = regexp.MustCompile(`\s*\bDefault: (.*?)\.?$`)
)

// parseDoc splits a doc comment such as "Port is the container port. Default: 8000."
// into a description ("The container port.") and a default ("8000").
func (k *key) parseDoc(field, doc string) error {
	text := strings.Join(strings.Fields(doc), " ")
	rest, ok := strings.CutPrefix(text, field+" ")
	if !ok {
		return fmt.Errorf("the doc comment must start with %q", field+" ")
	}
	for _, verb := range []string{"is ", "are "} {
		rest = strings.TrimPrefix(rest, verb)
	}
	if m := requiredRe.FindStringSubmatchIndex(rest); m != nil {
		k.required = true
		if m[4] >= 0 {
			k.def = "required, " + rest[m[4]:m[5]]
		}
		rest = rest[:m[0]] + rest[m[1]:]
	}
	if m := defaultRe.FindStringSubmatchIndex(rest); m != nil {
		if k.required {
			return fmt.Errorf("the doc comment says both Required and Default")
		}
		k.def = rest[m[2]:m[3]]
		rest = rest[:m[0]]
	}
	k.desc = upperFirst(strings.TrimSpace(rest))
	return nil
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// fieldDocs maps "Type.Field" to the doc comment of each struct field declared in
// the non-test Go files of dir.
func fieldDocs(dir string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	docs := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			for _, fl := range st.Fields.List {
				for _, id := range fl.Names {
					docs[ts.Name.Name+"."+id.Name] = fl.Doc.Text()
				}
			}
			return false
		})
	}
	return docs, nil
}
