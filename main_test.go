package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInvalidConfigSynthesizesNothing runs the app the way the CDK CLI does (the
// context in CDK_CONTEXT_JSON, the output directory in CDK_OUTDIR) on an invalid
// config: it must exit non-zero, print every problem, and write no template.
func TestInvalidConfigSynthesizesNothing(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "stagecoach")
	if out, err := exec.Command("go", "build", "-o", app, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("app: Acme\nregion: us-east-1\nsource: {repository: acme/shop}\nstages: [{name: latest}]\nservices: [{name: web, port: 0}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "cdk.out")
	cmd := exec.Command(app)
	cmd.Env = append(os.Environ(), `CDK_CONTEXT_JSON={"`+ConfigContextKey+`":"`+bad+`"}`, "CDK_OUTDIR="+out)
	stderr, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the app accepted an invalid config:\n%s", stderr)
	}
	for _, want := range []string{`app: "Acme"`, `stages[0].name: "latest" is reserved`, "services[0].port"} {
		if !strings.Contains(string(stderr), want) {
			t.Errorf("the output lacks %q:\n%s", want, stderr)
		}
	}
	if templates, _ := filepath.Glob(filepath.Join(out, "*.template.json")); len(templates) > 0 {
		t.Errorf("an invalid config synthesized %v", templates)
	}
}
