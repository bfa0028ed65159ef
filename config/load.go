package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
)

// Load reads the config file at path; see Parse. It reads at most MaxFileSize bytes
// of it, so a wrong path to a huge file fails at once.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		size := "more than " + byteSize(MaxFileSize)
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = byteSize(fi.Size())
		}
		return nil, tooLarge(path, size)
	}
	return Parse(data, path)
}

// Parse decodes a config, applies defaults and validates it. filename only labels
// messages. Input that is no config (beyond MaxFileSize, not text, nested deeper
// than MaxDepth, wider than MaxEntries, aliased past MaxAliasValues), invalid YAML (bad syntax, a duplicate key) and an empty
// file give an error that points at the line; a well-formed file with wrong content
// gives a *ValidationError listing every problem at once.
func Parse(data []byte, filename string) (c *Config, err error) {
	if filename == "" {
		filename = "<config>"
	}
	defer func() {
		// goccy's decoder has panicked on input its parser accepted (see
		// testdata/fuzz); a bad config must not crash cdk synth with a stack trace.
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("%s: %w (%v); meanwhile, look for unusual YAML in the file (tags, anchors, complex keys) and write it plainly", filename, errPanic, r)
		}
	}()
	if err := checkText(data, filename); err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a byte order mark, as some editors write
	tokens := lexer.Tokenize(string(data))
	if err := checkShape(tokens, filename); err != nil {
		return nil, err
	}
	file, err := parser.Parse(tokens, 0)
	if err != nil {
		return nil, yamlError(filename, data, err)
	}
	var docs []*ast.DocumentNode
	for _, d := range file.Docs {
		switch d.Body.(type) {
		case nil, *ast.NullNode, *ast.DirectiveNode:
			// goccy puts a %YAML directive in a document of its own.
		default:
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
	if err := checkAliases(doc.Body, filename); err != nil {
		return nil, err
	}

	s := newSchema()
	s.record(nil, firstToken(doc.Body))
	s.walk(doc.Body, reflect.TypeFor[Config](), nil, func(n ast.Node) { doc.Body = n })

	if _, null := doc.Body.(*ast.NullNode); null {
		// The walk dropped the whole file: it is not a mapping.
		return nil, newValidationError(filename, s.problems, s.pos)
	}
	c = new(Config)
	// Strict stays on as a safety net: the schema walk drops unknown keys itself.
	dec := yaml.NewDecoder(bytes.NewReader(nil), yaml.Strict())
	if err := dec.DecodeFromNode(doc.Body, c); err != nil {
		return nil, yamlError(filename, data, err)
	}

	explicit := make([]bool, len(c.Services))
	for i, svc := range c.Services {
		explicit[i] = svc.Route != nil && svc.Route.Priority != 0
	}
	c.ApplyDefaults()
	problems := s.problems
	for _, p := range c.validate(explicit) {
		if !s.isBroken(p.path) {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, newValidationError(filename, problems, s.pos)
	}
	return c, nil
}

// errPanic marks an error that stands for a panic while reading a config.
var errPanic = errors.New("reading this file failed inside stagecoach or its YAML library, which is a bug: please report it with the file")

// yamlError keeps goccy's message, located as file:line:column, with an excerpt of
// data around it.
func yamlError(filename string, data []byte, err error) error {
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil || ye.GetToken().Position == nil {
		return fmt.Errorf("%s: %w", filename, err)
	}
	pos := ye.GetToken().Position
	return &SyntaxError{File: filename, Line: pos.Line, Column: pos.Column, Err: ye, excerpt: excerpt(data, pos.Line, pos.Column)}
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

	excerpt string
}

func (e *SyntaxError) Error() string {
	// goccy's message may quote a key or value of any length.
	msg := fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, clip(e.Err.GetMessage(), 3*maxQuoted))
	if e.excerpt != "" {
		msg += "\n" + e.excerpt
	}
	return msg
}

func (e *SyntaxError) Unwrap() error { return e.Err }
