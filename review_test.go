package main

// Tests of what a pull request's reviewer relies on: the workflow that posts the
// template diff calls the Makefile's targets; `make diff` reports a config change
// precisely (the changed stacks, a replacement, nothing spurious); synthesis is
// deterministic, so a diff shows only what changed.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/goccy/go-yaml"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/stacks"
)

const prWorkflow = ".github/workflows/pr.yml"

// workflowFile is the part of a GitHub Actions workflow the test reads.
type workflowFile struct {
	On          map[string]any         `yaml:"on"`
	Permissions map[string]string      `yaml:"permissions"`
	Jobs        map[string]workflowJob `yaml:"jobs"`
}

type workflowJob struct {
	Needs       any               `yaml:"needs"`
	If          string            `yaml:"if"`
	Permissions map[string]string `yaml:"permissions"`
	Outputs     map[string]string `yaml:"outputs"`
	Env         map[string]string `yaml:"env"`
	Steps       []workflowStep    `yaml:"steps"`
}

type workflowStep struct {
	ID   string            `yaml:"id"`
	Name string            `yaml:"name"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]any    `yaml:"with"`
	Env  map[string]string `yaml:"env"`
}

// diffMarker is the first line of every cmd/cdkdiff report, read from its source:
// the workflow finds its previous comment by it.
func diffMarker(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("cmd/cdkdiff/report.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`const Marker = "(.+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("cmd/cdkdiff/report.go: no Marker constant")
	}
	return string(m[1])
}

// pinnedAction is a `uses:` line pinned by full commit SHA, with the release it is
// named in a comment: "uses: actions/checkout@<40 hex> # v4.4.0".
var pinnedAction = regexp.MustCompile(`^\s*(- )?uses: [A-Za-z0-9-]+/[A-Za-z0-9._/-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$`)

// TestPullRequestWorkflow pins the workflow's key steps to the Makefile, so that
// neither can change without the other, and the settings that keep a pull request
// from silencing or abusing its own review: the pull request's code runs with a
// read-only token it cannot find on disk, in a job apart from the one that may
// comment, which runs none of it; actions are pinned by commit; the comment
// updated is the one GitHub Actions' bot posted.
func TestPullRequestWorkflow(t *testing.T) {
	b, err := os.ReadFile(prWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	var wf workflowFile
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("%s: %v", prWorkflow, err)
	}
	if _, ok := wf.On["pull_request"]; !ok || len(wf.On) != 1 {
		t.Errorf("%s runs on %v, want pull_request alone (pull_request_target would run the pull request's code with a write token)", prWorkflow, wf.On)
	}
	if len(wf.Permissions) != 0 {
		t.Errorf("workflow permissions = %v, want none ({}): each job asks for its own", wf.Permissions)
	}
	for i, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "uses:") && !pinnedAction.MatchString(line) {
			t.Errorf("%s:%d: %q is not pinned by full commit SHA with its release in a comment (uses: OWNER/REPO@SHA # vX.Y.Z)", prWorkflow, i+1, strings.TrimSpace(line))
		}
	}
	if strings.Contains(string(b), "secrets.") {
		t.Errorf("%s reads repository secrets; the review needs none", prWorkflow)
	}
	if len(wf.Jobs) != 2 {
		t.Fatalf("%d jobs, want 2 (review, comment)", len(wf.Jobs))
	}
	review, comment := wf.Jobs["review"], wf.Jobs["comment"]

	// Each key step, found by what it does; its index orders them.
	find := func(job workflowJob, what string, match func(s workflowStep) bool) (int, workflowStep) {
		t.Helper()
		for i, s := range job.Steps {
			if match(s) {
				return i, s
			}
		}
		t.Errorf("no step that %s", what)
		return -1, workflowStep{}
	}
	uses := func(action string) func(workflowStep) bool {
		return func(s workflowStep) bool { return strings.HasPrefix(s.Uses, action+"@") }
	}
	runs := func(cmd string) func(workflowStep) bool {
		return func(s workflowStep) bool { return strings.Contains(s.Run, cmd) }
	}

	// review: the pull request's code, with a read-only token left nowhere.
	if want := map[string]string{"contents": "read"}; !equalMaps(review.Permissions, want) {
		t.Errorf("review job permissions = %v, want exactly %v", review.Permissions, want)
	}
	if review.Env["STAGECOACH_REQUIRE_REGISTRY"] != "1" {
		t.Errorf("the review job does not set STAGECOACH_REQUIRE_REGISTRY=1: the rehearsals would skip")
	}
	iCheckout, checkout := find(review, "checks out", uses("actions/checkout"))
	if fmt.Sprint(checkout.With["fetch-depth"]) != "0" {
		t.Errorf("checkout fetch-depth = %v, want 0: make diff needs the base branch", checkout.With["fetch-depth"])
	}
	if fmt.Sprint(checkout.With["persist-credentials"]) != "false" {
		t.Errorf("checkout persist-credentials = %v, want false: the token must not stay in .git/config for the pull request's code", checkout.With["persist-credentials"])
	}
	_, goSetup := find(review, "sets up Go", uses("actions/setup-go"))
	if goSetup.With["go-version-file"] != "go.mod" {
		t.Errorf("setup-go go-version-file = %v, want go.mod", goSetup.With["go-version-file"])
	}
	_, nodeSetup := find(review, "sets up Node", uses("actions/setup-node"))
	if v := fmt.Sprint(nodeSetup.With["node-version"]); v != "20" {
		t.Errorf("setup-node node-version = %v, want 20", v)
	}
	iRegistry, _ := find(review, "installs docker-registry", runs("apt-get install -y -qq docker-registry"))
	iDeps, _ := find(review, "runs make deps", runs("make deps"))
	iTest, _ := find(review, "runs make test", runs("make test"))
	iDiff, diff := find(review, "runs make diff", runs("make diff "))
	if diff.Run != `make diff BASE="origin/$BASE_REF"` || diff.Env["BASE_REF"] != "${{ github.base_ref }}" {
		t.Errorf("the diff step runs %q with BASE_REF=%q, want the base branch: make diff BASE=\"origin/$BASE_REF\", BASE_REF=${{ github.base_ref }}",
			diff.Run, diff.Env["BASE_REF"])
	}
	if want := "${{ steps." + diff.ID + ".outcome }}"; diff.ID == "" || review.Outputs["diff-outcome"] != want {
		t.Errorf("review outputs diff-outcome = %q, want %q", review.Outputs["diff-outcome"], want)
	}
	iSummary, summary := find(review, "writes the report to the job summary", runs(`cat cdk.out/diff.md >> "$GITHUB_STEP_SUMMARY"`))
	iUpload, upload := find(review, "uploads the report", uses("actions/upload-artifact"))
	if paths := fmt.Sprint(upload.With["path"]); !strings.Contains(paths, "cdk.out/diff-comment.md") || !strings.Contains(paths, "cdk.out/diff.md") {
		t.Errorf("the uploaded report holds %q, want cdk.out/diff.md and cdk.out/diff-comment.md", paths)
	}
	order := []int{iCheckout, iRegistry, iDeps, iTest, iDiff, iSummary, iUpload}
	if !sort.IntsAreSorted(order) {
		t.Errorf("review steps out of order (checkout, registry, deps, test, diff, summary, upload): %v", order)
	}
	for _, s := range []workflowStep{diff, summary, upload} {
		if !strings.Contains(s.If, "!cancelled()") {
			t.Errorf("step %q does not run after a failed test (if: %q)", s.Name, s.If)
		}
	}

	// comment: runs nothing of the pull request; the only job that may write.
	if want := map[string]string{"pull-requests": "write"}; !equalMaps(comment.Permissions, want) {
		t.Errorf("comment job permissions = %v, want exactly %v", comment.Permissions, want)
	}
	if fmt.Sprint(comment.Needs) != "review" {
		t.Errorf("comment job needs %v, want review", comment.Needs)
	}
	if !strings.Contains(comment.If, "!cancelled()") || !strings.Contains(comment.If, "github.event.pull_request.head.repo.full_name == github.repository") {
		t.Errorf("comment job if = %q, want it to run after a failed review, for same-repository pull requests", comment.If)
	}
	for _, s := range comment.Steps {
		if s.Run != "" || !(uses("actions/download-artifact")(s) || uses("actions/github-script")(s)) {
			t.Errorf("comment job step %q runs %q%q: it may only download the report and post it", s.Name, s.Run, s.Uses)
		}
	}
	_, download := find(comment, "downloads the report", uses("actions/download-artifact"))
	if download.With["name"] != upload.With["name"] || download.With["name"] == nil {
		t.Errorf("the comment job downloads artifact %v, the review uploads %v", download.With["name"], upload.With["name"])
	}
	_, post := find(comment, "posts the comment", uses("actions/github-script"))
	script, _ := post.With["script"].(string)
	reportFile := fmt.Sprintf("'%v/diff-comment.md'", download.With["path"])
	for _, want := range []string{"'" + diffMarker(t) + "'", reportFile, "updateComment", "createComment",
		"c.user.login === 'github-actions[bot]'", "process.env.DIFF_OUTCOME"} {
		if !strings.Contains(script, want) {
			t.Errorf("the comment script does not use %s", want)
		}
	}
	if post.Env["DIFF_OUTCOME"] != "${{ needs.review.outputs.diff-outcome }}" {
		t.Errorf("DIFF_OUTCOME = %q, want the review job's diff-outcome", post.Env["DIFF_OUTCOME"])
	}

	// Every `make TARGET` of the workflow is a Makefile target, and make diff passes
	// BASE on and writes where the workflow reads.
	for _, m := range regexp.MustCompile(`make ([a-z-]+)`).FindAllStringSubmatch(string(b), -1) {
		out, err := exec.Command("make", "-n", m[1], "BASE=origin/feature").CombinedOutput()
		if err != nil {
			t.Errorf("make -n %s: %v\n%s", m[1], err, out)
		}
		if m[1] == "diff" && !strings.Contains(string(out), `./cmd/cdkdiff -base "$BASE" -out cdk.out`) {
			t.Errorf("make diff does not run cmd/cdkdiff with BASE into cdk.out:\n%s", out)
		}
	}
}

// TestMakeDiffBaseIsData runs `make diff` with values of BASE that would run a
// command if make or the shell read them as code, with a stand-in `go` that records
// its arguments: each must reach cmd/cdkdiff as one argument, exactly as given, and
// nothing else may run.
func TestMakeDiffBaseIsData(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	argsFile := filepath.Join(dir, "args")
	stub := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done > \"$STUB_ARGS\"\n"
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	pwned := filepath.Join(dir, "pwned")
	for _, base := range []string{
		"origin/main",
		"x'; touch " + pwned + "; echo '",
		`x"; touch ` + pwned + `; echo "`,
		"$(shell touch " + pwned + ")",
		"$$(touch " + pwned + ")",
		"`touch " + pwned + "`",
		"x; touch " + pwned,
	} {
		os.Remove(argsFile)
		cmd := exec.Command("make", "-s", "-o", "node_modules/.bin/cdk", "diff", "BASE="+base)
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "STUB_ARGS="+argsFile)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("make diff BASE=%q: %v\n%s", base, err, out)
			continue
		}
		b, err := os.ReadFile(argsFile)
		if err != nil {
			t.Errorf("make diff BASE=%q did not run go: %v", base, err)
			continue
		}
		args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		if want := []string{"run", "./cmd/cdkdiff", "-base", base, "-out", "cdk.out"}; !slices.Equal(args, want) {
			t.Errorf("make diff BASE=%q ran go %q, want %q", base, args, want)
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Fatalf("make diff BASE=%q ran a command from BASE", base)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The configs of TestMakeDiff: the base, then a change that adds a build variable
// (pipeline), scales staging out and gives prod bigger tasks (a new task definition:
// a replacement).
const (
	reviewBaseConfig = `app: acme
region: us-east-1
source:
  repository: acme/shop
  branch: main
stages:
  - name: dev
  - name: staging
  - name: prod
    approval: true
services:
  - name: web
    port: 8000
    healthCheck: /ping
    env:
      LOG_LEVEL: info
    stages:
      dev:
        env:
          LOG_LEVEL: debug
      prod:
        scale:
          min: 2
          max: 4
`
	reviewChangedConfig = `app: acme
region: us-east-1
source:
  repository: acme/shop
  branch: main
stages:
  - name: dev
  - name: staging
  - name: prod
    approval: true
services:
  - name: web
    port: 8000
    healthCheck: /ping
    env:
      LOG_LEVEL: info
    build:
      env:
        NODE_ENV: production
    stages:
      dev:
        env:
          LOG_LEVEL: debug
      staging:
        scale:
          min: 1
          max: 3
      prod:
        cpu: 512
        memory: 1024
        scale:
          min: 2
          max: 4
`
)

// TestMakeDiff runs `make diff` in a scratch repository holding a copy of the
// working tree: commit A with a base config, commit B with a change, BASE=A. It costs
// two synths (A and B), as a pull request's review does.
func TestMakeDiff(t *testing.T) {
	cdk, err := filepath.Abs("node_modules/.bin/cdk")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cdk); err != nil {
		t.Fatalf("the CDK CLI is not installed: run make deps (%v)", err)
	}
	repo := filepath.Join(t.TempDir(), "repo")
	copyWorkingTree(t, repo)
	// The working tree's CLI: the Makefile must not reinstall it (make -o below) and
	// git must not commit the link.
	if err := os.Symlink(filepath.Dir(filepath.Dir(cdk)), filepath.Join(repo, "node_modules")); err != nil {
		t.Fatal(err)
	}
	inRepo := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	commit := func(config, message string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(repo, DefaultConfigFile), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
		inRepo("git", "add", "-A")
		inRepo("git", "-c", "user.name=stagecoach test", "-c", "user.email=test@stagecoach.invalid",
			"-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", message)
		return inRepo("git", "rev-parse", "HEAD")
	}
	inRepo("git", "init", "-q")
	if err := os.WriteFile(filepath.Join(repo, ".git", "info", "exclude"), []byte("/node_modules\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := commit(reviewBaseConfig, "base")
	commit(reviewChangedConfig, "build variable, staging scale, prod task size")

	start := time.Now()
	makeDiff := exec.Command("make", "-s", "-o", "node_modules/.bin/cdk", "diff", "BASE="+base)
	makeDiff.Dir = repo
	var stdout, stderr bytes.Buffer
	makeDiff.Stdout, makeDiff.Stderr = &stdout, &stderr
	if err := makeDiff.Run(); err != nil {
		t.Fatalf("make diff: %v\n%s", err, stderr.String())
	}
	t.Logf("make diff: %s\n%s", time.Since(start).Round(100*time.Millisecond), stderr.String())

	b, err := os.ReadFile(filepath.Join(repo, "cdk.out", "diff.md"))
	if err != nil {
		t.Fatal(err)
	}
	report := string(b)
	if report != stdout.String() {
		t.Errorf("make diff printed something else than cdk.out/diff.md:\n%s", stdout.String())
	}
	if !strings.HasPrefix(report, diffMarker(t)+"\n") {
		t.Errorf("the report does not start with the workflow's marker %q", diffMarker(t))
	}
	// The summary: which stacks changed, and the flags of each, exactly. ("+" stands
	// for any count above zero: how many resources an edit touches is the stacks'
	// business.)
	wantRows := map[string][]string{ // stack: change, added, modified, removed, flags
		"acme-web-pipeline": {"modified", "0", "+", "0", ""},
		"acme-dev":          {"no change", "", "", "", ""},
		"acme-staging":      {"modified", "0", "+", "0", ""},
		"acme-prod":         {"modified", "0", "+", "0", "🔴 **1 REPLACED**"},
	}
	for stack, want := range wantRows {
		got := summaryRow(report, stack)
		if len(got) == len(want) && want[2] == "+" && got[2] != "0" && got[2] != "" {
			got[2] = "+"
		}
		if !slices.Equal(got, want) {
			t.Errorf("summary of %s = %q, want %q", stack, got, want)
		}
	}
	for _, want := range []string{
		"> **🔴 REPLACES OR REMOVES RESOURCES** in `acme-prod`: see the list below.",
		"| `acme-prod` | `Web/Task` | `AWS::ECS::TaskDefinition` | 🔴 **replaced** |",
		`"Name": "NODE_ENV"`,
		"[~] AWS::ApplicationAutoScaling::ScalableTarget Web/Service/TaskCount/Target",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if !regexp.MustCompile(`\[~\] AWS::ECS::TaskDefinition Web/Task \S+ replace\n ├─ \[~\] Cpu \(requires replacement\)`).MatchString(report) {
		t.Error("the report does not show why prod's task definition is replaced (its Cpu)")
	}
	if n := strings.Count(report, "🔴 **replaced**"); n != 1 {
		t.Errorf("%d replacements listed, want 1 (prod's task definition)", n)
	}
	for _, spurious := range []string{"CHANGES IAM OR SECURITY GROUPS", "DELETED", "retained", "new stack", "removed stack"} {
		if strings.Contains(report, spurious) {
			t.Errorf("the report flags %q; the change touches no IAM, deletes nothing and adds no stack", spurious)
		}
	}
	if c, err := os.Stat(filepath.Join(repo, "cdk.out", "diff-comment.md")); err != nil || c.Size() > 65536 {
		t.Errorf("the comment version: %v, %d bytes", err, c.Size())
	}
	if worktrees := inRepo("git", "worktree", "list"); strings.Count(worktrees, "\n") != 0 {
		t.Errorf("make diff left a worktree behind:\n%s", worktrees)
	}
}

// summaryRow returns the cells after the stack's name in the report's summary table.
func summaryRow(report, stack string) []string {
	for _, line := range strings.Split(report, "\n") {
		if cells := strings.Split(line, "|"); len(cells) == 8 && strings.TrimSpace(cells[1]) == "`"+stack+"`" {
			var out []string
			for _, c := range cells[2:7] {
				out = append(out, strings.TrimSpace(c))
			}
			return out
		}
	}
	return nil
}

// copyWorkingTree copies the files git knows of (tracked, or untracked and not
// ignored) to dir: the tree as it is now, uncommitted edits included.
func copyWorkingTree(t *testing.T, dir string) {
	t.Helper()
	out, err := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		info, err := os.Lstat(name)
		if err != nil || info.IsDir() || strings.HasPrefix(name, "cdk.out/") || strings.HasPrefix(name, "node_modules/") {
			continue // deleted in the working tree, a submodule, or output
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if info.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(name)
			if err == nil {
				err = os.Symlink(target, dst)
			}
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeterministicSynth synthesizes the default config a second time, in a new App
// from a freshly loaded config, and expects every template byte for byte: otherwise
// a pull request's diff would show changes nobody made.
func TestDeterministicSynth(t *testing.T) {
	first := synthesize(t, DefaultConfigFile)
	cfg, err := config.Load(DefaultConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	outdir := t.TempDir()
	ctx := cdkContext(t)
	// Validation reads templates, it does not write them: skip its cost.
	(*ctx)["@aws-cdk/core:validateAgainstDefaultRules"] = false
	app := awscdk.NewApp(&awscdk.AppProps{Context: ctx, Outdir: jsii.String(outdir)})
	stacks.Define(app, cfg)
	assembly := app.Synth(nil)

	second := map[string][]byte{}
	for _, st := range *assembly.Stacks() {
		b, err := os.ReadFile(filepath.Join(outdir, *st.TemplateFile()))
		if err != nil {
			t.Fatal(err)
		}
		second[*st.StackName()] = b
	}
	if len(second) != len(first.raw) {
		t.Errorf("%d stacks, then %d", len(first.raw), len(second))
	}
	for name, b := range first.raw {
		if !bytes.Equal(b, second[name]) {
			t.Errorf("%s differs between two synths of the same config", name)
		}
	}

	t.Run("assets", func(t *testing.T) { checkAssets(t, outdir, second) })

	t.Run("descriptions", func(t *testing.T) {
		for _, gc := range goldenConfigs {
			checkDescriptions(t, synthesize(t, gc.path))
		}
	})
}

// checkDescriptions expects every stack to say, in the console's stack list, that
// stagecoach made it and which app and service or stage it holds.
func checkDescriptions(t *testing.T, s *synthesis) {
	t.Helper()
	names := map[string][]string{} // stack name: words its description must hold
	for i, p := range s.app.Pipelines {
		names[*p.StackName()] = []string{"pipeline", "service " + s.cfg.Services[i].Name}
	}
	for i, st := range s.app.Stages {
		names[*st.StackName()] = []string{"stage " + s.cfg.Stages[i].Name}
	}
	for _, st := range s.app.Regions {
		names[*st.StackName()] = []string{"repositories", "region " + st.Region}
	}
	for name, tmpl := range s.templates {
		got, _ := tmpl["Description"].(string)
		words, ok := names[name]
		if !ok {
			t.Errorf("%s: neither a pipeline, a repository nor a stage stack", name)
		}
		for _, w := range append(words, "stagecoach: ", " "+s.cfg.App) {
			if !strings.Contains(got, w) {
				t.Errorf("%s: Description %q does not say %q", name, got, w)
			}
		}
		if len(got) > 1024 {
			t.Errorf("%s: Description longer than CloudFormation's 1024 characters", name)
		}
	}
}

// libraryAssets are the only file assets a stagecoach template may reference, by
// the logical ID of the function that runs them. Both are handlers bundled in
// aws-cdk-lib, so their hashes change only when go.mod moves aws-cdk-lib; stagecoach's
// own functions are inline (constructs/inlinefunction) and build no asset.
var libraryAssets = map[string]string{
	"CustomVpcRestrictDefaultSGCustomResourceProviderHandler": "ec2.Vpc's handler that empties the default security group (feature flag @aws-cdk/aws-ec2:restrictDefaultSecurityGroup)",
	"AWS679f53fac002430cb0da5b7982bd2287":                     "custom-resources.AwsCustomResource's singleton handler (the pipeline's RerunOnBuildChange)",
}

// checkAssets lists the assets of an assembly and fails on any that would churn:
// a Docker image built here, or a file asset not bundled in aws-cdk-lib.
func checkAssets(t *testing.T, outdir string, templates map[string][]byte) {
	manifests, err := filepath.Glob(filepath.Join(outdir, "*.assets.json"))
	if err != nil || len(manifests) == 0 {
		t.Fatalf("no asset manifests in %s: %v", outdir, err)
	}
	for _, m := range manifests {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		var manifest struct {
			Files map[string]struct {
				Source struct{ Path, Packaging string } `json:"source"`
			} `json:"files"`
			DockerImages map[string]any `json:"dockerImages"`
		}
		if err := json.Unmarshal(b, &manifest); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		stack := strings.TrimSuffix(filepath.Base(m), ".assets.json")
		if len(manifest.DockerImages) > 0 {
			t.Errorf("%s builds Docker images during synth: %v", stack, manifest.DockerImages)
		}
		var tmpl map[string]any
		if err := json.Unmarshal(templates[stack], &tmpl); err != nil {
			t.Fatalf("%s: %v", stack, err)
		}
		for hash, f := range manifest.Files {
			if f.Source.Path == stack+".template.json" {
				continue // the template itself
			}
			var users []string
			for id, r := range tmpl["Resources"].(map[string]any) {
				if b, _ := json.Marshal(r); bytes.Contains(b, []byte(hash)) {
					users = append(users, id)
				}
			}
			known := ""
			for _, id := range users {
				for prefix, why := range libraryAssets {
					if strings.HasPrefix(id, prefix) {
						known = why
					}
				}
			}
			if len(users) != 1 || known == "" {
				t.Errorf("%s: asset %s (%s) is used by %v, none of them an aws-cdk-lib handler this test knows: "+
					"an asset built from this repository changes its hash, and the template, with unrelated edits", stack, hash[:12], f.Source.Path, users)
				continue
			}
			t.Logf("%s: asset %s… %s: %s", stack, hash[:12], users[0], known)
		}
	}
	// Nothing of the machine that synthesized leaks into a template.
	wd, _ := os.Getwd()
	for name, b := range templates {
		for _, leak := range []string{wd, outdir, "jsii-kernel-"} {
			if bytes.Contains(b, []byte(leak)) {
				t.Errorf("%s contains the local path %s", name, leak)
			}
		}
	}
}
