package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEndToEnd is a new user's path, offline: an app repository with a GitHub remote
// and a Dockerfile exposing 3000 → stagecoach init --local (this checkout) → make synth
// in infra/ (a target group on 3000) → infra's own snapshot test passes
// on those templates → a port change fails it, naming the update command. The CLI is
// installed from the generated package-lock.json with npm ci --offline (npm's cache
// holds it since this checkout's make deps), and make synth runs it.
//
// Modules come from the module cache only (GOPROXY=off): the replace points at this
// checkout and every other module is the checkout's own dependency. It costs two
// links of a CDK binary (the app, the snapshot test) and three synths, so -short
// skips it.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the end-to-end test links two CDK binaries")
	}
	checkout, _ := filepath.Abs("../..")
	if _, err := os.Stat(filepath.Join(checkout, "node_modules", ".bin", "cdk")); err != nil {
		t.Fatalf("the CDK CLI is not installed (make deps): %v", err)
	}
	start := time.Now()
	repo := appRepo(t, "git@github.com:acme/express-shop.git", map[string]string{
		"Dockerfile": "FROM node:20-alpine\nWORKDIR /app\nCOPY . .\nEXPOSE 3000\nCMD [\"node\", \"server.js\"]\n",
		"server.js":  "require('http').createServer((q, s) => s.end('ok')).listen(3000)\n",
	})
	env := append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOSUMDB=off", "CI=",
		"CDK_DISABLE_VERSION_CHECK=1", "CDK_DISABLE_CLI_TELEMETRY=true", "AWS_EC2_METADATA_DISABLED=true")
	var out, errs bytes.Buffer
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOFLAGS", "-mod=mod")
	if code := run([]string{"init", "-C", repo, "--local", checkout}, &out, &errs); code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out.String(), errs.String())
	}
	t.Logf("init: %v", time.Since(start).Round(time.Millisecond))
	infra := filepath.Join(repo, "infra")
	sh := func(name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = infra, env
		b, err := cmd.CombinedOutput()
		return string(b), err
	}

	// The generated lock installs the pinned CLI from npm's cache (this checkout's
	// make deps put aws-cdk there), then make synth runs it as the user would.
	if o, err := sh("npm", "ci", "--offline", "--no-audit", "--no-fund"); err != nil {
		t.Fatalf("npm ci --offline with the generated package-lock.json: %v\n%s", err, o)
	}
	synthStart := time.Now()
	if o, err := sh("make", "synth"); err != nil {
		t.Fatalf("make synth: %v\n%s", err, o)
	}
	t.Logf("first synth: %v (from an empty repository: %v)", time.Since(synthStart).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	templates := assemblyTemplates(t, filepath.Join(infra, "cdk.out"))
	stage, ok := templates["express-shop-dev.template.json"]
	if !ok {
		t.Fatalf("no stack express-shop-dev in %v", keys(templates))
	}
	if !strings.Contains(string(stage), `"Port": 3000`) {
		t.Errorf("the dev stage's target group is not on port 3000")
	}

	// The synthesized templates are the snapshot: the test must find them equal.
	snap := filepath.Join(infra, "testdata", "snapshot")
	os.MkdirAll(snap, 0o755)
	for name, b := range templates {
		os.WriteFile(filepath.Join(snap, name), b, 0o644)
	}
	// One link of the test binary for both runs below (make test runs go test .).
	snapshotTest := filepath.Join(t.TempDir(), "snapshot.test")
	if o, err := sh("go", "test", "-c", "-o", snapshotTest, "."); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, o)
	}
	if o, err := sh(snapshotTest); err != nil {
		t.Fatalf("the snapshot test fails on the templates cdk synth wrote: %v\n%s", err, o)
	}

	// A port change fails the snapshot test, with the update command.
	cfgPath := filepath.Join(repo, "stagecoach.yaml")
	b, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, bytes.Replace(b, []byte("port: 3000"), []byte("port: 3001"), 1), 0o644)
	o, err := sh(snapshotTest)
	if err == nil {
		t.Fatalf("the snapshot test passed after the port changed:\n%s", o)
	}
	for _, want := range []string{"express-shop-dev.template.json (changed)", "make update (go test -run TestSnapshot -update .)"} {
		if !strings.Contains(o, want) {
			t.Errorf("the failing snapshot test does not say %q:\n%s", want, o)
		}
	}
	t.Logf("total: %v", time.Since(start).Round(time.Millisecond))
}

// assemblyTemplates reads a cloud assembly's stack templates, by stack name.
func assemblyTemplates(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Artifacts map[string]struct {
			Type       string
			Properties struct{ TemplateFile, StackName string }
		}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for id, a := range m.Artifacts {
		if a.Type != "aws:cloudformation:stack" {
			continue
		}
		name := a.Properties.StackName
		if name == "" {
			name = id
		}
		tb, err := os.ReadFile(filepath.Join(dir, a.Properties.TemplateFile))
		if err != nil {
			t.Fatal(err)
		}
		out[name+".template.json"] = tb
	}
	return out
}

func keys(m map[string][]byte) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	return k
}
