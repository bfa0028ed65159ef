package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPinOutsidePaths: in the base checkout of a library user's app (infra/ with a
// replace directive naming a stagecoach checkout beside the repository), a relative
// path leading out of the checkout is pinned to where it leads from the original app
// directory; one inside the repository keeps reading the base revision's copy.
func TestPinOutsidePaths(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "base")      // the temporary checkout of the base
	orig := filepath.Join(tmp, "src/infra") // the original app directory
	app := filepath.Join(root, "infra")
	os.MkdirAll(app, 0o755)
	gomod := `module infra

go 1.26.0

require (
	github.com/stagecoach/stagecoach v0.0.0-00010101000000-000000000000
	example.com/helper v0.0.0-00010101000000-000000000000
)

replace github.com/stagecoach/stagecoach => ../../stagecoach-copy

replace example.com/helper => ../tools/helper
`
	os.WriteFile(filepath.Join(app, "go.mod"), []byte(gomod), 0o644)
	os.WriteFile(filepath.Join(app, "cdk.json"), []byte(`{"app": "go run .", "context": {"stagecoach:config": "../../shared/stagecoach.yaml"}}`), 0o644)
	args, err := pinOutsidePaths(context.Background(), app, orig, root)
	if err != nil {
		t.Fatal(err)
	}
	if want := "stagecoach:config=" + filepath.Join(tmp, "shared/stagecoach.yaml"); len(args) != 2 || args[0] != "-c" || args[1] != want {
		t.Errorf("synth arguments %q, want -c %s", args, want)
	}
	cmd := exec.Command("go", "mod", "edit", "-print")
	cmd.Dir = app
	b, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if !strings.Contains(got, "github.com/stagecoach/stagecoach => "+filepath.Join(tmp, "stagecoach-copy")+"\n") {
		t.Errorf("the stagecoach replace is not pinned to the original's neighbour:\n%s", got)
	}
	if !strings.Contains(got, "example.com/helper => ../tools/helper\n") {
		t.Errorf("the replace inside the repository was changed:\n%s", got)
	}
}

// TestBuildspecReviewInfra: for an app in infra/ whose main.go names ../stagecoach.yaml
// (no stagecoach:config key), the review reads the repository root's config and
// buildspec paths from the root.
func TestBuildspecReviewInfra(t *testing.T) {
	repo := t.TempDir()
	if out, err := exec.Command("git", "-C", repo, "init", "-q").CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	write := func(name, text string) {
		p := filepath.Join(repo, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(text), 0o644)
	}
	write("infra/cdk.json", `{"app": "go run .", "context": {}}`)
	write("stagecoach.yaml", "app: acme\nregion: us-east-1\nsource:\n  repository: acme/shop\nstages:\n  - name: dev\nservices:\n  - name: web\n    build:\n      buildspec: build.yml\n")
	write("build.yml", "version: 0.2\nphases:\n  build:\n    commands:\n      - docker build -t builtimage .\n")
	md, err := reviewBuildspecs(filepath.Join(repo, "infra"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md, "`build.yml` (build.yml of `web`)") {
		t.Errorf("the review lacks the root's build.yml:\n%s", md)
	}
}
