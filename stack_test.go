package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/stacks"
)

var update = flag.Bool("update", false, "rewrite the golden templates in testdata/golden/")

// TestMain closes the jsii runtime (one Node process for the whole package) once.
func TestMain(m *testing.M) {
	flag.Parse()
	// Node 20 still runs aws-cdk-lib; jsii's end-of-life banner is noise in test output.
	if os.Getenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION") == "" {
		os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	}
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// goldenConfigs are the configs whose templates are pinned in testdata/golden/NAME/
// (all of them, or the slice named in stacks) and whose every stack the invariant
// tests check.
var goldenConfigs = []struct {
	name, path string
	stacks     []string
}{
	{"default", "stagecoach.yaml", nil},
	{"monorepo", "testdata/configs/monorepo.yaml", nil},
	// Ten services, four stages, three regions: a pipeline, a home-pulling stage in
	// another region, a regional one and its region's repositories stand for the
	// other eleven stacks.
	{"scale", "testdata/configs/scale.yaml", []string{"big-web-pipeline", "big-staging", "big-prod", "big-repositories-eu-west-1"}},
}

// synthesis is one config synthesized: its config and each stack's template.
type synthesis struct {
	cfg       *config.Config
	app       *stacks.App
	raw       map[string][]byte         // stack name → template as written by the CDK
	manifest  []byte                    // the cloud assembly's manifest.json
	errors    []string                  // error annotations (cdk-nag findings among them)
	warnings  []string                  // warning annotations, as "PATH: MESSAGE"
	templates map[string]map[string]any // stack name → parsed template
}

// cache holds one synthesis per config file: a synth costs seconds, so every test
// that reads the same config shares it.
var cache = map[string]*synthesis{}

// synthesize runs the app the way `cdk synth` does, with cdk.json's context, so the
// feature flags and the CloudFormation validation are those users get.
func synthesize(t *testing.T, path string) *synthesis {
	t.Helper()
	if s, ok := cache[path]; ok {
		return s
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	s := synthesizeConfig(t, path, cfg, true)
	cache[path] = s
	return s
}

// synthesizeConfig synthesizes cfg. Validation against the CloudFormation rules costs
// seconds per synth, so variants of a validated config skip it.
func synthesizeConfig(t *testing.T, path string, cfg *config.Config, validate bool) *synthesis {
	t.Helper()
	ctx := cdkContext(t)
	if !validate {
		(*ctx)["@aws-cdk/core:validateAgainstDefaultRules"] = false
	}
	app := awscdk.NewApp(&awscdk.AppProps{
		Context: ctx,
		Outdir:  jsii.String(t.TempDir()),
	})
	defined := stacks.Define(app, cfg)
	var assembly cxapi.CloudAssembly
	func() {
		// jsii reports a failed synth (e.g. a validation error) as a panic.
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("synth %s: %v", path, r)
			}
		}()
		assembly = app.Synth(nil)
	}()
	s := &synthesis{cfg: cfg, app: defined, raw: map[string][]byte{}, templates: map[string]map[string]any{}}
	manifest, err := os.ReadFile(filepath.Join(*assembly.Directory(), "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	s.manifest = manifest
	for _, st := range *assembly.Stacks() {
		name := *st.StackName()
		b, err := os.ReadFile(filepath.Join(*assembly.Directory(), *st.TemplateFile()))
		if err != nil {
			t.Fatal(err)
		}
		var tmpl map[string]any
		if err := json.Unmarshal(b, &tmpl); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s.raw[name] = b
		s.templates[name] = tmpl
		for _, m := range *st.Messages() {
			switch m.Level {
			case cxapi.SynthesisMessageLevel_ERROR:
				s.errors = append(s.errors, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
			case cxapi.SynthesisMessageLevel_WARNING:
				s.warnings = append(s.warnings, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
			}
		}
	}
	return s
}

// cdkContext returns the context of cdk.json.
func cdkContext(t *testing.T) *map[string]any {
	t.Helper()
	b, err := os.ReadFile("cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	return &file.Context
}

// TestTemplates compares every synthesized template with its golden file.
func TestTemplates(t *testing.T) {
	for _, gc := range goldenConfigs {
		t.Run(gc.name, func(t *testing.T) {
			s := synthesize(t, gc.path)
			dir := filepath.Join("testdata", "golden", gc.name)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			var stackNames []string
			for name, b := range s.raw {
				if gc.stacks != nil && !slices.Contains(gc.stacks, name) {
					continue
				}
				stackNames = append(stackNames, name)
				golden := filepath.Join(dir, name+".template.json")
				if *update {
					if err := os.WriteFile(golden, b, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Errorf("%s: %v\nIf the stack is new: go test -run 'TestTemplates/%s' -update", golden, err, gc.name)
					continue
				}
				if !bytes.Equal(want, b) {
					t.Errorf("%s changed (-golden +got):\n%s\nIf intended, review the diff, then: go test -run 'TestTemplates/%s' -update",
						golden, cmp.Diff(string(want), string(b)), gc.name)
				}
			}
			if *update {
				return
			}
			// A golden file without a stack is a stack that disappeared.
			files, _ := filepath.Glob(filepath.Join(dir, "*.template.json"))
			sort.Strings(stackNames)
			for _, f := range files {
				name := strings.TrimSuffix(filepath.Base(f), ".template.json")
				if _, ok := s.raw[name]; !ok {
					t.Errorf("stack %s has a golden file but was not synthesized (stacks: %v)", name, stackNames)
				}
			}
		})
	}
}

// resources returns the template's resources of one type, by logical ID.
func resources(tmpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tmpl["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			props, _ := res["Properties"].(map[string]any)
			out[id] = props
		}
	}
	return out
}

// render turns a CloudFormation value into a readable string, intrinsics included,
// so assertions can compare derived values such as ARNs.
func render(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if ref, ok := x["Ref"]; ok {
			return "${" + ref.(string) + "}"
		}
		if j, ok := x["Fn::Join"].([]any); ok {
			var parts []string
			for _, p := range j[1].([]any) {
				parts = append(parts, render(p))
			}
			return strings.Join(parts, j[0].(string))
		}
		if g, ok := x["Fn::GetAtt"].([]any); ok {
			return "${" + g[0].(string) + "." + g[1].(string) + "}"
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// region is the region a synthesized stack deploys to.
func (s *synthesis) region(stack string) string {
	for _, st := range s.app.Stages {
		if *st.StackName() == stack {
			return *st.Region()
		}
	}
	for _, st := range s.app.Pipelines {
		if *st.StackName() == stack {
			return *st.Region()
		}
	}
	for _, st := range s.app.Regions {
		if *st.StackName() == stack {
			return st.Region
		}
	}
	return ""
}
