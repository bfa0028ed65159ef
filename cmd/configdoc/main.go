// Command configdoc generates the reference of stagecoach.yaml from the Go types in
// package config: stagecoach.schema.json, the JSON Schema editors use to check the
// file as it is typed, and the key table in README.md between the markers
// <!-- config-reference:start --> and <!-- config-reference:end -->.
//
// Descriptions and defaults come from the doc comments of the config types,
// constraints from config.Rules (built from the validator's own limits), and
// examples from config/testdata/full.yaml, which sets every key. Run it from the
// repository root after changing any of them:
//
//	go run ./cmd/configdoc
//
// The tests of this package fail while either generated file is stale.
//
// Why not github.com/invopop/jsonschema: it reflects json tags and Go types well, but
// our constraints are Go constants and regexps that struct tags cannot name, the
// README table needs the same walk with defaults and examples, and its comment
// extraction needs the source at run time just as this does. One small walk feeds
// both outputs, with no new dependency.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	root := flag.String("root", ".", "the repository root")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "configdoc:", err)
		os.Exit(1)
	}
}

// run regenerates both files under root.
func run(root string) error {
	out, err := generate(root)
	if err != nil {
		return err
	}
	for _, f := range []struct{ name, data string }{{SchemaFile, out.schema}, {ReadmeFile, out.readme}} {
		path := filepath.Join(root, f.name)
		if err := os.WriteFile(path, []byte(f.data), 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", path)
	}
	return nil
}

// Files configdoc writes, relative to the repository root.
const (
	SchemaFile = "stagecoach.schema.json"
	ReadmeFile = "README.md"
)

type output struct {
	schema, readme string
}

// generate returns the new contents of both files.
func generate(root string) (output, error) {
	keys, err := loadKeys(filepath.Join(root, "config"))
	if err != nil {
		return output{}, err
	}
	ex, err := loadExamples(filepath.Join(root, "config", "testdata", "full.yaml"))
	if err != nil {
		return output{}, err
	}
	schema, err := renderSchema(keys)
	if err != nil {
		return output{}, err
	}
	readme, err := os.ReadFile(filepath.Join(root, ReadmeFile))
	if err != nil {
		return output{}, err
	}
	section, err := replaceSection(string(readme), renderTable(keys, ex))
	if err != nil {
		return output{}, err
	}
	return output{schema: schema, readme: section}, nil
}
