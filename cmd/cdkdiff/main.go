// Command cdkdiff writes the review of an infrastructure change: a Markdown report of
// how every stack's CloudFormation template differs between a base Git revision and
// the working tree, with replaced or removed resources and IAM or security-group
// changes flagged at the top. `make diff BASE=origin/main` runs it; the pull-request
// workflow (.github/workflows/pr.yml) posts its report.
//
// It synthesizes the working tree into -out, and the base revision, checked out with
// `git worktree add` into a temporary directory, into another directory, both with the
// same pinned CDK CLI. Then, for each stack, `cdk diff --template BASE_TEMPLATE
// --exclusively STACK` compares the base template with the new assembly. A stack only
// the working tree has is compared with an empty template; a stack only the base has
// is listed with every resource its deletion removes.
//
// Nothing calls AWS: every command runs without AWS credentials, profile or instance
// metadata, and with the CLI's version check, notices and telemetry off.
//
// Exit status: 0 when the report was written, whatever it reports; 1 on any error (an
// unknown revision, a failed synth, cdk diff output it cannot account for); 2 on bad
// usage.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/buildspecs/check"
)

func main() {
	var o options
	flag.StringVar(&o.base, "base", "origin/main", "the Git `revision` to compare with (branch, tag, commit)")
	flag.StringVar(&o.repo, "C", ".", "the repository `dir`ectory (the CDK app's root)")
	flag.StringVar(&o.out, "out", "cdk.out", "where the working tree is synthesized (relative to -C)")
	flag.StringVar(&o.report, "report", "", "the Markdown report `file` (default OUT/diff.md)")
	flag.StringVar(&o.comment, "comment", "", "also write the report cut to fit a pull-request comment to `file` (default OUT/diff-comment.md)")
	flag.StringVar(&o.cdk, "cdk", "node_modules/.bin/cdk", "the pinned CDK CLI (relative to -C)")
	flag.IntVar(&o.jobs, "j", runtime.NumCPU(), "how many `cdk diff` commands run at once")
	flag.StringVar(&o.upgrade, "upgrade", "", "instead of a Git base, compare the app with itself on stagecoach `version` (e.g. v0.2.0): an upgrade check")
	flag.BoolVar(&o.fail, "fail", false, "with -upgrade: exit 1 when the upgrade replaces or removes a stateful resource or changes IAM or security groups")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: cdkdiff [-base REV] [-C DIR] [-out DIR] [-report FILE]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 || (o.base == "" && o.upgrade == "") || o.jobs < 1 || (o.fail && o.upgrade == "") {
		flag.Usage()
		os.Exit(2)
	}
	if o.upgrade != "" {
		if err := checkRevision(o.upgrade); err != nil {
			fmt.Fprintln(os.Stderr, "cdkdiff: -upgrade:", err)
			os.Exit(2)
		}
	} else if err := checkRevision(o.base); err != nil {
		fmt.Fprintln(os.Stderr, "cdkdiff:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := run(ctx, o)
	// -fail returns the report with its error: print both.
	os.Stdout.WriteString(report)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cdkdiff:", err)
		os.Exit(1)
	}
}

type options struct {
	base, repo, out, report, comment, cdk string
	jobs                                  int
	upgrade                               string // a stagecoach version: the upgrade check
	fail                                  bool   // with upgrade: fail on findings
}

// commentLimit keeps a comment under GitHub's 65,536 characters, with room for the
// workflow's own additions.
const commentLimit = 60000

// run compares the working tree with the base revision, writes the reports and
// returns the full one.
func run(ctx context.Context, o options) (string, error) {
	repo, err := filepath.Abs(o.repo)
	if err != nil {
		return "", err
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(repo, p)
	}
	cdk, out := abs(o.cdk), abs(o.out)
	if o.report == "" {
		o.report = filepath.Join(out, "diff.md")
	}
	if o.comment == "" {
		o.comment = filepath.Join(out, "diff-comment.md")
	}
	if _, err := os.Stat(cdk); err != nil {
		return "", fmt.Errorf("the CDK CLI is not installed (%v): run `make deps`", err)
	}
	if o.upgrade != "" {
		report, verdict, err := runUpgrade(ctx, o, repo, cdk, out)
		if err == nil && o.fail {
			if ferr := upgradeFailure(verdict); ferr != nil {
				return report, ferr
			}
		}
		return report, err
	}
	sha, err := git(ctx, repo, "rev-parse", "--verify", "--quiet", "--end-of-options", o.base+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("base %q is not a commit of %s (a CI checkout needs the full history: fetch-depth: 0): %w", o.base, repo, err)
	}
	head, err := describeHead(ctx, repo)
	if err != nil {
		return "", err
	}

	tmp, err := os.MkdirTemp("", "cdkdiff-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	env := offlineEnv(tmp)

	// The two synths are independent: run them side by side.
	baseOut := filepath.Join(tmp, "base.out")
	var baseErr, headErr error
	var baseHasApp bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		baseHasApp, baseErr = synthBase(ctx, repo, sha, filepath.Join(tmp, "base"), baseOut, cdk, env)
		switch {
		case baseErr != nil:
		case baseHasApp:
			logf("synthesized %s: %s", o.base, since(start))
		default:
			logf("%s has no cdk.json: every stack is new", o.base)
		}
	}()
	start := time.Now()
	headErr = synth(ctx, cdk, repo, out, env)
	logf("synthesized the working tree: %s", since(start))
	wg.Wait()
	if err := errors.Join(headErr, baseErr); err != nil {
		return "", err
	}

	current, err := readAssembly(out)
	if err != nil {
		return "", err
	}
	var base []Stack
	if baseHasApp {
		if base, err = readAssembly(baseOut); err != nil {
			return "", err
		}
	}
	empty := filepath.Join(tmp, "empty.template.json")
	if err := os.WriteFile(empty, []byte("{}\n"), 0o644); err != nil {
		return "", err
	}
	start = time.Now()
	stacks, err := compare(ctx, current, base, func(ctx context.Context, st Stack, baseTemplate string) (string, error) {
		if baseTemplate == "" {
			baseTemplate = empty
		}
		return cdkDiff(ctx, cdk, repo, out, baseTemplate, st.Selector, env)
	}, o.jobs)
	if err != nil {
		return "", err
	}
	logf("compared %d stacks: %s", len(stacks), since(start))

	r := Report{Base: o.base, BaseCommit: sha, Head: head, BaseHasApp: baseHasApp, Stacks: stacks}
	if r.Buildspecs, err = reviewBuildspecs(repo); err != nil {
		return "", err
	}
	full := r.Markdown(0)
	if err := os.MkdirAll(filepath.Dir(o.report), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(o.report, []byte(full), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(o.comment, []byte(r.Markdown(commentLimit)), 0o644); err != nil {
		return "", err
	}
	return full, nil
}

// offlineEnv is the environment of every CDK command: the caller's without any AWS
// setting, so no credential, profile or region can lead the CLI to AWS, and with the
// CLI's own network features off.
func offlineEnv(tmp string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		// Set below, so the caller's values (credentials included) never reach the
		// CLI and nothing is set twice.
		if strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "CDK_") || strings.HasPrefix(name, "JSII_SILENCE_") {
			continue
		}
		env = append(env, kv)
	}
	none := filepath.Join(tmp, "no-aws-config")
	return append(env,
		"AWS_EC2_METADATA_DISABLED=true", // no instance-metadata credentials
		"AWS_CONFIG_FILE="+none,          // no profile from ~/.aws
		"AWS_SHARED_CREDENTIALS_FILE="+none,
		"CDK_DISABLE_VERSION_CHECK=1",
		"CDK_DISABLE_CLI_TELEMETRY=true",
		"JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1",
		"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20",
	)
}

// synth synthesizes the app in dir into out with the CLI at cdk.
func synth(ctx context.Context, cdk, dir, out string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, cdk, append([]string{"synth", "--quiet", "--no-notices", "--output", out}, args...)...)
	cmd.Dir, cmd.Env = dir, env
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("cdk synth in %s: %v\n%s", dir, err, lastLines(b, 40))
	}
	return nil
}

// synthBase checks the base commit out into dir and synthesizes it into out with the
// working tree's CLI and node_modules. It reports false, and synthesizes nothing, when
// the base has no CDK app yet (no cdk.json): every stack is then new.
//
// The app may live in a subdirectory of its repository (an app's infra/, written by
// stagecoach init): the base's app is then the same subdirectory of the checkout. Paths
// its go.mod and cdk.json give relative to the app and that lead out of the repository
// (a replace directive naming a stagecoach checkout beside it, say) are pinned to where
// they lead from the original app directory, since the temporary checkout has nothing
// beside it; paths inside the repository stay, and read the base revision's files.
func synthBase(ctx context.Context, repo, sha, dir, out, cdk string, env []string) (bool, error) {
	prefix, err := git(ctx, repo, "rev-parse", "--show-prefix")
	if err != nil {
		return false, err
	}
	// No hooks: checking out the base must not run the repository's scripts.
	if _, err := git(ctx, repo, "-c", "core.hooksPath=/dev/null", "worktree", "add", "--detach", "--quiet", dir, sha); err != nil {
		return false, err
	}
	defer func() {
		// A fresh context: clean up even when interrupted.
		if _, err := git(context.Background(), repo, "worktree", "remove", "--force", dir); err != nil {
			fmt.Fprintln(os.Stderr, "cdkdiff: warning:", err)
		}
	}()
	app := filepath.Join(dir, filepath.FromSlash(prefix))
	if _, err := os.Stat(filepath.Join(app, "cdk.json")); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	args, err := pinOutsidePaths(ctx, app, repo, dir)
	if err != nil {
		return false, fmt.Errorf("base %s: %w", sha[:12], err)
	}
	if _, err := os.Stat(filepath.Join(app, "node_modules")); errors.Is(err, os.ErrNotExist) {
		if err := os.Symlink(filepath.Join(repo, "node_modules"), filepath.Join(app, "node_modules")); err != nil {
			return false, err
		}
	}
	if err := synth(ctx, cdk, app, out, env, args...); err != nil {
		return false, fmt.Errorf("base %s: %w", sha[:12], err)
	}
	return true, nil
}

// pinOutsidePaths rewrites, in the base checkout's app directory app, each relative
// replace directive of go.mod that leads out of the checkout (root) to the absolute
// path it leads to from the original app directory orig, and returns the cdk synth
// arguments that do the same for cdk.json's stagecoach:config.
func pinOutsidePaths(ctx context.Context, app, orig, root string) ([]string, error) {
	outside := func(rel string) (string, bool) {
		if filepath.IsAbs(rel) {
			return "", false
		}
		within, err := filepath.Rel(root, filepath.Join(app, rel))
		if err == nil && within != ".." && !strings.HasPrefix(within, ".."+string(filepath.Separator)) {
			return "", false
		}
		return filepath.Join(orig, rel), true
	}
	if _, err := os.Stat(filepath.Join(app, "go.mod")); err == nil {
		cmd := exec.CommandContext(ctx, "go", "mod", "edit", "-json")
		cmd.Dir = app
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go mod edit -json: %v", err)
		}
		var mod struct {
			Replace []struct {
				Old, New struct{ Path, Version string }
			}
		}
		if err := json.Unmarshal(b, &mod); err != nil {
			return nil, err
		}
		for _, r := range mod.Replace {
			// A local replacement has no version, and go.mod spells it ./x or ../x.
			if r.New.Version != "" || !(strings.HasPrefix(r.New.Path, "./") || strings.HasPrefix(r.New.Path, "../")) {
				continue
			}
			abs, ok := outside(r.New.Path)
			if !ok {
				continue
			}
			old := r.Old.Path
			if r.Old.Version != "" {
				old += "@" + r.Old.Version
			}
			cmd := exec.CommandContext(ctx, "go", "mod", "edit", "-replace", old+"="+abs)
			cmd.Dir = app
			if b, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("go mod edit -replace %s=%s: %v\n%s", old, abs, err, b)
			}
		}
	}
	var cdk struct {
		Context map[string]any `json:"context"`
	}
	if b, err := os.ReadFile(filepath.Join(app, "cdk.json")); err == nil && json.Unmarshal(b, &cdk) == nil {
		if s, ok := cdk.Context["stagecoach:config"].(string); ok && s != "" {
			if abs, ok := outside(s); ok {
				return []string{"-c", "stagecoach:config=" + abs}, nil
			}
		}
	}
	return nil, nil
}

// cdkDiff runs `cdk diff` for one stack of the assembly in out against a template file
// and returns its output. cdk diff writes its report to stderr, or to stdout when CI is
// set; both are captured, in order.
func cdkDiff(ctx context.Context, cdk, dir, out, template, selector string, env []string) (string, error) {
	cmd := exec.CommandContext(ctx, cdk, "diff",
		"--app", out, // an assembly directory: no synth
		"--template", template, // implies --method=template: no change set, no AWS
		"--exclusively", selector,
		"--fail-on", "never", // a difference is what we report, not an error
		"--no-color", "--no-notices")
	cmd.Dir, cmd.Env = dir, env
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("cdk diff %s: %v\n%s", selector, err, lastLines(b.Bytes(), 40))
	}
	return b.String(), nil
}

// describeHead names what the working tree holds, e.g. "a1b2c3d4e5f6 + uncommitted changes".
func describeHead(ctx context.Context, repo string) (string, error) {
	head, err := git(ctx, repo, "rev-parse", "--short=12", "HEAD")
	if err != nil {
		return "", err
	}
	status, err := git(ctx, repo, "status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return "", err
	}
	if status != "" {
		head += " + uncommitted changes"
	}
	return head, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			msg = ": " + msg
		}
		return "", fmt.Errorf("git %s: %v%s", strings.Join(args, " "), err, msg)
	}
	return strings.TrimSpace(string(b)), nil
}

// logf reports progress on stderr; stdout is for the report.
func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "cdkdiff: "+format+"\n", args...) }

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

// lastLines keeps the end of a command's output, where its error is.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// reviewBuildspecs checks the buildspec files the app's config (the one cdk.json
// names) points at, when the repository holds them: the app and the application may
// share a repository, and then their review belongs with the template diff.
func reviewBuildspecs(repo string) (string, error) {
	path := "stagecoach.yaml"
	var cdk struct {
		Context map[string]any `json:"context"`
	}
	named := false
	if b, err := os.ReadFile(filepath.Join(repo, "cdk.json")); err == nil && json.Unmarshal(b, &cdk) == nil {
		if s, ok := cdk.Context["stagecoach:config"].(string); ok && s != "" {
			path, named = s, true
		}
	}
	// Buildspec paths are relative to the repository root, which for an app in a
	// subdirectory (stagecoach init's infra/) is not the app's directory; its
	// config, which main.go names, is at the root too.
	root := repo
	if top, err := git(context.Background(), repo, "rev-parse", "--show-toplevel"); err == nil && top != "" {
		root = top
	}
	if _, err := os.Stat(filepath.Join(repo, path)); !named && err != nil {
		if _, err := os.Stat(filepath.Join(root, "stagecoach.yaml")); err == nil {
			path = filepath.Join(root, "stagecoach.yaml")
		}
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(repo, path)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return "", err
	}
	return check.Review(cfg, root)
}

// checkRevision refuses a -base that git could read as an option, or that holds
// spaces or control characters, which no branch, tag or commit name has (git
// check-ref-format). The report quotes the base, so it must also be one line.
func checkRevision(base string) error {
	if strings.HasPrefix(base, "-") {
		return fmt.Errorf("base %q starts with \"-\": give a branch, tag or commit", base)
	}
	if strings.ContainsFunc(base, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("base %q holds a space or control character, which no git revision has: give a branch, tag or commit", base)
	}
	return nil
}
