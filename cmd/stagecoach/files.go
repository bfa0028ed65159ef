package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/stagecoach/stagecoach/internal/cdkcontext"
)

// CDKCLIVersion is the AWS CDK CLI the generated package.json pins: the one this
// module's own package.json pins and tests with.
const CDKCLIVersion = "2.1148.1"

// cdkCLIIntegrity is the npm integrity of aws-cdk@CDKCLIVersion, as this module's
// package-lock.json records it (TestLockMatchesRepository keeps the two equal).
const cdkCLIIntegrity = "sha512-K3d02L17IwmAuiBWNuX1DzYhKUs9GrKYI7bZnGJfJ1bKz9ymXFxfudBOL3rUb8JAusDNSULiQU2fsJH7kyY2XA=="

// goVersion is the go directive of the generated go.mod: the one this module needs.
const goVersion = "1.26.0"

// File is one file init writes, with what it is for.
type File struct {
	Path    string // slash-separated, relative to the repository root
	Content string
	Purpose string
}

// Plan is everything init found and decided.
type Plan struct {
	Module     string // the infra module's path
	Version    string // stagecoach's version in go.mod
	Local      string // absolute path of a stagecoach checkout (replace), or ""
	Schema     string // the $schema reference of stagecoach.yaml
	ConfigYAML string
}

func (p Plan) goMod() string {
	var b strings.Builder
	fmt.Fprintf(&b, "module %s\n\ngo %s\n\nrequire github.com/stagecoach/stagecoach %s\n", p.Module, goVersion, p.Version)
	if p.Local != "" {
		fmt.Fprintf(&b, "\n// A local stagecoach checkout (stagecoach init --local); drop this line and\n// require a released version to use one.\nreplace github.com/stagecoach/stagecoach => %s\n", p.Local)
	}
	return b.String()
}

const mainGo = `// Command infra is this repository's CDK app: the pipeline and stages stagecoach
// defines for ../stagecoach.yaml. Run it through the CDK CLI (make synth, make diff,
// npx cdk deploy --all); see https://github.com/stagecoach/stagecoach#use-stagecoach-for-your-app.
package main

import "github.com/stagecoach/stagecoach/app"

func main() {
	app.Main(app.Options{Config: configFile})
}

// configFile is the config, relative to this directory (where cdk.json is).
const configFile = "../stagecoach.yaml"
`

const snapshotTest = `package main

// The snapshot test: it synthesizes ../stagecoach.yaml as cdk synth does (with
// cdk.json's context) and compares every stack's template with
// testdata/snapshot/STACK.template.json, so a change to stagecoach.yaml or an upgrade
// of stagecoach shows up as a failing test and a reviewable diff. After reviewing the
// change: make update.

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/app"
)

var update = flag.Bool("update", false, "rewrite testdata/snapshot from this synth")

const snapshotDir = "testdata/snapshot"

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

func TestSnapshot(t *testing.T) {
	var cdk struct {
		Context map[string]any ` + "`json:\"context\"`" + `
	}
	b, err := os.ReadFile("cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cdk); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	// What the CDK CLI adds to cdk.json's context, so the snapshot is what cdk synth
	// writes to cdk.out (with each resource's construct path, for review).
	cdk.Context["aws:cdk:enable-path-metadata"] = true
	cdk.Context["aws:cdk:enable-asset-metadata"] = true
	cfg, err := app.Load(configFile)
	if err != nil {
		t.Fatal(err)
	}
	a := awscdk.NewApp(&awscdk.AppProps{Context: &cdk.Context, Outdir: jsii.String(t.TempDir())})
	if err := app.New(a, cfg); err != nil {
		t.Fatal(err)
	}
	assembly := a.Synth(nil)
	got := map[string][]byte{}
	for _, st := range *assembly.Stacks() {
		b, err := os.ReadFile(filepath.Join(*assembly.Directory(), *st.TemplateFile()))
		if err != nil {
			t.Fatal(err)
		}
		got[*st.StackName()+".template.json"] = b
	}
	_, statErr := os.Stat(snapshotDir)
	if *update || (os.IsNotExist(statErr) && os.Getenv("CI") == "") {
		// -update, or the first run outside CI: write the snapshot.
		if err := os.RemoveAll(snapshotDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(snapshotDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range got {
			if err := os.WriteFile(filepath.Join(snapshotDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("wrote %d templates to %s: review and commit them", len(got), snapshotDir)
		return
	}
	files, _ := filepath.Glob(filepath.Join(snapshotDir, "*.template.json"))
	want := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want[filepath.Base(f)] = b
	}
	var changed []string
	for name, b := range got {
		w, ok := want[name]
		switch {
		case !ok:
			changed = append(changed, name+" (new stack)")
		case !bytes.Equal(w, b):
			changed = append(changed, name+" (changed)")
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			changed = append(changed, name+" (stack removed)")
		}
	}
	if len(changed) > 0 {
		sort.Strings(changed)
		t.Errorf("the templates differ from %s:\n  %s\nSee what changes with: make diff (against the deployed stacks) or git diff after the update.\nIf intended, update the snapshot: make update (go test -run TestSnapshot -update .)",
			snapshotDir, joinLines(changed))
	}
}

func joinLines(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "\n  "
		}
		out += x
	}
	return out
}
`

const makefile = `# The CDK app of this repository's pipeline (stagecoach). make synth, make diff,
# make test, make update; deploy with: npx cdk deploy --all.
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true

CDK := node_modules/.bin/cdk

.PHONY: synth diff test update deps

## synth: write the CloudFormation templates to cdk.out
synth: $(CDK)
	$(CDK) synth --quiet

## diff: compare the templates with the deployed stacks (needs AWS credentials)
diff: $(CDK)
	$(CDK) diff --all

## test: the snapshot test (testdata/snapshot)
test:
	go test -count=1 .

## update: rewrite the snapshot after reviewing a change
update:
	go test -count=1 -run TestSnapshot . -update

## upgrade-check: what moving to another stagecoach version changes in the templates,
## stateful replacements and IAM changes first; fails on them: make upgrade-check VERSION=v0.3.0
# VERSION is data, never code: passed to the recipe in the environment, quoted there.
override VERSION := $(value VERSION)
export VERSION
.PHONY: upgrade-check
upgrade-check: $(CDK)
	@test -n "$$VERSION" || { echo 'usage: make upgrade-check VERSION=vX.Y.Z'; exit 2; }
	go run "github.com/stagecoach/stagecoach/cmd/cdkdiff@$$VERSION" -upgrade "$$VERSION" -fail -out cdk.out

deps: $(CDK)
	go mod download

$(CDK): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@
`

// postinstall keeps `go ./...` out of the Go files the CDK CLI package ships (its
// `cdk init` templates).
const postinstall = `node -e "require('fs').writeFileSync('node_modules/go.mod', 'module ignored // keeps go ./... out of the Go files npm packages ship\\n')"`

func packageJSON() string {
	return mustJSON(map[string]any{
		"name":            "infra",
		"private":         true,
		"description":     "Pins the AWS CDK CLI that make synth and make diff use.",
		"scripts":         map[string]any{"postinstall": postinstall},
		"devDependencies": map[string]any{"aws-cdk": CDKCLIVersion},
	})
}

// packageLock is the lock npm ci installs from: the CLI alone, with the version
// and integrity of this module's own lock, so no registry lookup resolves it.
func packageLock() string {
	return mustJSON(map[string]any{
		"name":            "infra",
		"lockfileVersion": 3,
		"requires":        true,
		"packages": map[string]any{
			"": map[string]any{
				"name":             "infra",
				"hasInstallScript": true,
				"devDependencies":  map[string]any{"aws-cdk": CDKCLIVersion},
			},
			"node_modules/aws-cdk": map[string]any{
				"version":   CDKCLIVersion,
				"integrity": cdkCLIIntegrity,
				"dev":       true,
				"license":   "Apache-2.0",
				"bin":       map[string]any{"cdk": "bin/cdk"},
				"engines":   map[string]any{"node": ">= 18.0.0"},
			},
		},
	})
}

// cdkJSON holds exactly the context stagecoach needs (app.RequiredContext) and no
// stagecoach:config key: main.go passes the config path.
func cdkJSON() string {
	return mustJSON(map[string]any{
		"app":     "go run .",
		"watch":   map[string]any{"include": []string{"**"}, "exclude": []string{"cdk*.json", "go.mod", "go.sum", "**/*test.go", "testdata/**", "node_modules/**"}},
		"context": cdkcontext.Required(),
	})
}

const gitignore = "cdk.out/\nnode_modules/\n"

// mustJSON renders v with sorted keys, two-space indents and a final newline.
func mustJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}

// sortedKeys is for stable messages.
func sortedKeys(m map[string]any) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}
