package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stagecoach/stagecoach/config"
)

const root = "../.."

const regenerate = "go run ./cmd/configdoc"

// TestGeneratedFilesUpToDate fails while stagecoach.schema.json or the README's
// config reference differ from what the config types generate.
func TestGeneratedFilesUpToDate(t *testing.T) {
	out, err := generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ name, want string }{{SchemaFile, out.schema}, {ReadmeFile, out.readme}} {
		got, err := os.ReadFile(filepath.Join(root, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != f.want {
			t.Errorf("%s is stale (it differs from the config types, first at line %d); regenerate it from the repository root with:\n\t%s",
				f.name, firstDiff(string(got), f.want), regenerate)
		}
	}
}

func firstDiff(a, b string) int {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	s, err := c.Compile(filepath.Join(root, SchemaFile))
	if err != nil {
		t.Fatalf("%s does not compile: %v", SchemaFile, err)
	}
	return s
}

// asJSON reads a YAML file into the value a JSON Schema validator checks.
func asJSON(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// validConfigs are the configs in the repository that Load accepts.
func validConfigs(t *testing.T) []string {
	files := []string{filepath.Join(root, "stagecoach.yaml")}
	for _, pattern := range []string{"testdata/configs/*.yaml", "config/testdata/full.yaml", "config/testdata/minimal.yaml"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil || len(m) == 0 {
			t.Fatalf("no files match %s: %v", pattern, err)
		}
		files = append(files, m...)
	}
	return files
}

func TestValidConfigsMatchSchema(t *testing.T) {
	s := compileSchema(t)
	for _, f := range validConfigs(t) {
		if _, err := config.Load(f); err != nil {
			t.Errorf("%s is not a valid config: %v", f, err)
			continue
		}
		if err := s.Validate(asJSON(t, f)); err != nil {
			t.Errorf("%s is valid, but the schema refuses it:\n%v", f, err)
		}
	}
}

// TestValidConfigsNameSchema checks every valid config points editors at the schema.
func TestValidConfigsNameSchema(t *testing.T) {
	for _, f := range validConfigs(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(filepath.Dir(f), filepath.Join(root, SchemaFile))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(rel, ".") {
			rel = "./" + rel
		}
		want := "# yaml-language-server: $schema=" + filepath.ToSlash(rel) + "\n"
		if !strings.HasPrefix(string(data), want) {
			t.Errorf("%s does not start with %q", f, want)
		}
	}
}

// TestSchemaRefuses checks the schema catches, in an editor, the mistakes a JSON
// Schema can state: corpus files of package config that the schema must refuse.
func TestSchemaRefuses(t *testing.T) {
	s := compileSchema(t)
	for _, name := range []string{
		"unknown-keys", "wrong-types", "bad-regions", "overlong-names", "bad-names",
		"stage-latest", "reserved-env", "reserved-build-env", "reserved-release-env",
		"reserved-override-env", "reserved-secrets", "reserved-prefixes", "bad-variable-names",
		"bad-secrets", "connection-not-arn", "connection-wrong-service", "connection-bad-account",
		"bad-source", "bad-paths", "bad-numbers", "too-many-stages", "too-many-services",
		"required-missing", "not-a-mapping", "scalar", "secrets-scalar", "cpu-memory",
		"branch-glob", "bad-extra-regions", "bad-secret-keys",
	} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(root, "config", "testdata", "invalid", name+".yaml")
			if err := s.Validate(asJSON(t, f)); err == nil {
				t.Errorf("the schema accepts %s, which config.Load refuses", f)
			}
		})
	}
}

// TestDocDefaultsMatchRules keeps the defaults the doc comments state in words in
// step with the literal defaults the schema states.
func TestDocDefaultsMatchRules(t *testing.T) {
	keys, err := loadKeys(filepath.Join(root, "config"))
	if err != nil {
		t.Fatal(err)
	}
	var visit func([]*key)
	visit = func(keys []*key) {
		for _, k := range keys {
			if k.rule.Default != nil && k.def != strings.TrimSpace(strings.Trim(jsonText(k.rule.Default), `"`)) {
				t.Errorf("%s: the doc comment says the default is %q, config.Rules says %v", k.path, k.def, k.rule.Default)
			}
			if k.desc == "" {
				t.Errorf("%s has no description", k.path)
			}
			visit(k.children)
		}
	}
	visit(keys)
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
