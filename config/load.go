package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/printer"
)

// Load reads the config file at path; see Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// Parse decodes a config, applies defaults and validates it. filename only labels
// messages. Invalid YAML (bad syntax, a duplicate key, an empty file) gives an error
// that points at the line; a well-formed file with wrong content gives a
// *ValidationError listing every problem at once.
func Parse(data []byte, filename string) (*Config, error) {
	if filename == "" {
		filename = "<config>"
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(filename, err)
	}
	var docs []*ast.DocumentNode
	for _, d := range file.Docs {
		if _, null := d.Body.(*ast.NullNode); d.Body != nil && !null {
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s: the file is empty; it needs app, region, source, stages and services (see stagecoach.yaml at the repository root for a working example)", filename)
	}
	if len(docs) > 1 {
		pos := firstToken(docs[1].Body).Position
		return nil, fmt.Errorf("%s:%d:%d: a second YAML document starts here; the config is one document, so remove the \"---\" line and merge what follows into the first", filename, pos.Line, pos.Column)
	}
	doc := docs[0]

	s := newSchema()
	s.record(nil, firstToken(doc.Body))
	s.walk(doc.Body, reflect.TypeFor[Config](), nil, func(n ast.Node) { doc.Body = n })

	if _, null := doc.Body.(*ast.NullNode); null {
		// The walk dropped the whole file: it is not a mapping.
		return nil, newValidationError(filename, s.problems, s.pos)
	}
	var c Config
	// Strict stays on as a safety net: the schema walk drops unknown keys itself.
	dec := yaml.NewDecoder(bytes.NewReader(nil), yaml.Strict())
	if err := dec.DecodeFromNode(doc.Body, &c); err != nil {
		return nil, yamlError(filename, err)
	}

	explicit := make([]bool, len(c.Services))
	for i, svc := range c.Services {
		explicit[i] = svc.Route != nil && svc.Route.Priority != 0
	}
	c.ApplyDefaults()
	problems := s.problems
	for _, p := range c.validate(explicit) {
		if !slices.ContainsFunc(s.broken, func(b keyPath) bool { return hasPrefix(p.path, b) }) {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, newValidationError(filename, problems, s.pos)
	}
	return &c, nil
}

func hasPrefix(p, prefix keyPath) bool {
	return len(p) >= len(prefix) && slices.Equal(p[:len(prefix)], prefix)
}

// yamlError keeps goccy's message and source excerpt, located as file:line:column.
func yamlError(filename string, err error) error {
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil {
		return fmt.Errorf("%s: %w", filename, err)
	}
	pos := ye.GetToken().Position
	return &SyntaxError{File: filename, Line: pos.Line, Column: pos.Column, Err: ye}
}

// SyntaxError is a file that is not valid YAML for a config: bad syntax, a duplicate
// key, or a value goccy cannot decode. Its message includes the offending lines.
type SyntaxError struct {
	// File is the name given to Parse.
	File string
	// Line and Column locate the error.
	Line, Column int
	// Err is goccy's error.
	Err yaml.Error
}

func (e *SyntaxError) Error() string {
	var p printer.Printer
	return fmt.Sprintf("%s:%d:%d: %s\n%s", e.File, e.Line, e.Column,
		e.Err.GetMessage(), strings.TrimRight(p.PrintErrorToken(e.Err.GetToken(), false), "\n"))
}

func (e *SyntaxError) Unwrap() error { return e.Err }
