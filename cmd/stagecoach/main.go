// Command stagecoach sets up stagecoach in your app's repository. From the
// repository root:
//
//	go run github.com/stagecoach/stagecoach/cmd/stagecoach@VERSION init
//
// writes stagecoach.yaml (prefilled from the repository: its Git remote and branch,
// the port its Dockerfile exposes, its TinyStacks build.yml and release.yml) and an
// infra/ directory holding the CDK app that turns it into a pipeline: go.mod, main.go,
// cdk.json, package.json and package-lock.json, a Makefile and a snapshot test. It
// never overwrites a file, and it prints what each file it wrote is for.
//
// Flags: -C DIR acts on DIR instead of the working directory; --local PATH uses the
// stagecoach checkout at PATH (a replace directive) instead of a released version;
// --version V requires stagecoach V (default: the version being run); --repository
// OWNER/NAME, --region and --dockerfile override what init would find; --keep-config
// keeps an existing stagecoach.yaml and writes infra/ only.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/buildspecs/check"
	"github.com/stagecoach/stagecoach/internal/cdkcontext"
)

const modulePath = "github.com/stagecoach/stagecoach"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: stagecoach init [-C DIR] [--local PATH | --version VERSION] [--repository OWNER/NAME] [--region REGION] [--dockerfile PATH] [--keep-config] [--no-tidy]

Writes stagecoach.yaml and an infra/ CDK app into the repository at DIR (default: .).
`)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "init" {
		usage(stderr)
		return 2
	}
	fl := flag.NewFlagSet("stagecoach init", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var o options
	fl.StringVar(&o.dir, "C", ".", "the app repository's root `directory`")
	fl.StringVar(&o.local, "local", "", "use the stagecoach checkout at `path` (a replace directive) instead of a released version")
	fl.StringVar(&o.version, "version", "", "the stagecoach `version` infra/go.mod requires (default: the one running)")
	fl.StringVar(&o.repository, "repository", "", "`owner/name` of the repository (default: from the Git remote)")
	fl.StringVar(&o.region, "region", "", "the home `region` (default: $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1)")
	fl.StringVar(&o.dockerfile, "dockerfile", "", "the service's Dockerfile, from the repository root (default: the one found)")
	fl.BoolVar(&o.keepConfig, "keep-config", false, "keep the repository's stagecoach.yaml (it must load) and write infra/ only")
	fl.BoolVar(&o.noTidy, "no-tidy", false, "do not run go mod tidy in infra/ (then run it yourself before the first synth)")
	fl.Usage = func() { usage(stderr); fl.PrintDefaults() }
	if err := fl.Parse(args[1:]); err != nil {
		return 2
	}
	if fl.NArg() != 0 {
		fl.Usage()
		return 2
	}
	if err := initRepo(o, stdout); err != nil {
		fmt.Fprintln(stderr, "stagecoach init:", err)
		return 1
	}
	return 0
}

type options struct {
	dir, local, version, repository, region, dockerfile string
	noTidy, keepConfig                                  bool
}

// initRepo finds what the repository says, renders every file, refuses if any of
// them exists, then writes them and explains each.
func initRepo(o options, stdout io.Writer) error {
	root, err := filepath.Abs(o.dir)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", o.dir)
	}
	var notes []string
	note := func(format string, a ...any) { notes = append(notes, fmt.Sprintf(format, a...)) }

	// Which stagecoach.
	plan := Plan{Version: o.version}
	if o.local != "" {
		if plan.Local, err = filepath.Abs(o.local); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(plan.Local, "app", "app.go")); err != nil {
			return fmt.Errorf("--local %s: not a stagecoach checkout (no app/app.go)", o.local)
		}
		if plan.Version == "" {
			plan.Version = "v0.0.0-00010101000000-000000000000"
		}
		plan.Schema = filepath.Join(plan.Local, "stagecoach.schema.json")
	} else {
		if plan.Version == "" {
			if bi, ok := debug.ReadBuildInfo(); ok && strings.HasPrefix(bi.Main.Version, "v") {
				plan.Version = bi.Main.Version
			}
		}
		if plan.Version == "" {
			return errors.New("no stagecoach version: run init as go run " + modulePath + "/cmd/stagecoach@VERSION init, or pass --version VERSION or --local PATH")
		}
		plan.Schema = schemaURL(plan.Version)
	}

	plan.Module = "infra"
	var cfgText, region string
	var checkReport []string
	if o.keepConfig {
		// The config is the user's already: check it loads, write infra/ around it.
		cfg, err := config.Load(filepath.Join(root, "stagecoach.yaml"))
		if err != nil {
			return fmt.Errorf("--keep-config: %v", err)
		}
		region = cfg.Region
		note("stagecoach.yaml kept as it is (app %s, %d service(s), %d stage(s)); its $schema can be %s", cfg.App, len(cfg.Services), len(cfg.Stages), plan.Schema)
	} else if _, err := os.Lstat(filepath.Join(root, "stagecoach.yaml")); err == nil {
		return errors.New("refusing to overwrite stagecoach.yaml: nothing written; to write infra/ around it, pass --keep-config")
	} else if cfgText, region, checkReport, err = detect(o, root, plan, note); err != nil {
		return err
	}

	files := []File{
		{"infra/go.mod", plan.goMod(), "the CDK app's Go module: it requires stagecoach " + plan.Version + "; upgrade with go get " + modulePath + "@VERSION (see CHANGELOG.md)"},
		{"infra/main.go", mainGo, "the CDK app: app.Main reads ../stagecoach.yaml and defines every stack"},
		{"infra/cdk.json", cdkJSON(), "tells the CDK CLI to run main.go, with the feature flags stagecoach's templates depend on (" + strings.Join(sortedKeys(cdkcontext.Required()), ", ") + ")"},
		{"infra/package.json", packageJSON(), "pins the CDK CLI (aws-cdk " + CDKCLIVersion + ")"},
		{"infra/package-lock.json", packageLock(), "locks the CDK CLI for npm ci"},
		{"infra/Makefile", makefile, "make synth, make diff, make test, make update"},
		{"infra/snapshot_test.go", snapshotTest, "the snapshot test: fails when a change to stagecoach.yaml or an upgrade changes a template; make update after review"},
		{"infra/.gitignore", gitignore, "keeps cdk.out and node_modules out of Git"},
	}
	if !o.keepConfig {
		files = append([]File{{"stagecoach.yaml", cfgText, "the pipeline's config: source, stages, the service; every key is in the schema named on its first line and in stagecoach's README"}}, files...)
	}
	var exist []string
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(f.Path))); err == nil {
			exist = append(exist, f.Path)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "infra", "go.sum")); err == nil {
		exist = append(exist, "infra/go.sum")
	}
	if len(exist) > 0 {
		return fmt.Errorf("refusing to overwrite %s: nothing written; move them away or run init in another directory (-C)", strings.Join(exist, ", "))
	}
	if err := os.MkdirAll(filepath.Join(root, "infra"), 0o755); err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.Path))
		// O_EXCL: a file created since the check above is not overwritten either.
		w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, f.Content); err != nil {
			w.Close()
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	// go.sum: a local checkout's go.sum holds every hash the app needs (the
	// checkout itself needs none); else go mod tidy downloads and records them.
	if plan.Local != "" {
		if b, err := os.ReadFile(filepath.Join(plan.Local, "go.sum")); err == nil {
			if err := os.WriteFile(filepath.Join(root, "infra", "go.sum"), b, 0o644); err != nil {
				return err
			}
		}
	}
	tidied := false
	if !o.noTidy {
		tidy := func(args ...string) (string, error) {
			cmd := exec.Command("go", append([]string{"mod", "tidy"}, args...)...)
			cmd.Dir = filepath.Join(root, "infra")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			return out.String(), err
		}
		if out, err := tidy(); err != nil {
			// Offline, tidy fails on modules only the tests of dependencies import;
			// -e records everything the app itself needs.
			if _, err2 := tidy("-e"); err2 != nil {
				return fmt.Errorf("the files are written, but go mod tidy in infra/ failed (run it again there once the module downloads work):\n%s", out)
			}
			note("infra/go.sum: go mod tidy could not reach every module (offline?); the app builds, but run go mod tidy in infra/ once online:\n    %s", strings.ReplaceAll(strings.TrimSpace(lastLine(out)), "\n", "\n    "))
		}
		tidied = true
	}

	fmt.Fprintf(stdout, "stagecoach init wrote, in %s:\n", root)
	for _, f := range files {
		fmt.Fprintf(stdout, "  %-24s %s\n", f.Path, f.Purpose)
	}
	if tidied || plan.Local != "" {
		fmt.Fprintf(stdout, "  %-24s the hashes of the modules infra/go.mod requires\n", "infra/go.sum")
	}
	fmt.Fprintln(stdout, "\nWhat init read from the repository:")
	for _, n := range notes {
		fmt.Fprintln(stdout, "  "+n)
	}
	fmt.Fprintf(stdout, "  region %s (the home region: pipelines and the first stages run there)\n", region)
	if len(checkReport) > 0 {
		fmt.Fprintln(stdout, "\nThe buildspec check (make check-buildspec in stagecoach) found:")
		for _, r := range checkReport {
			fmt.Fprintln(stdout, "  "+r)
		}
	}
	fmt.Fprint(stdout, `
Next:
  1. Read stagecoach.yaml: set healthCheck to a path your app answers 200 on, the stages you want.
  2. cd infra && make synth     (installs the pinned CDK CLI, writes cdk.out)
  3. make test                  (the first run writes testdata/snapshot: commit it)
  4. npx cdk deploy --all       (with AWS credentials for the home region)
`)
	return nil
}

// schemaURL is the versioned location of the config schema: the file at the tag, in
// this module's repository. It works from any repository and changes only when the
// version does.
func schemaURL(version string) string {
	return "https://raw.githubusercontent.com/stagecoach/stagecoach/" + version + "/stagecoach.schema.json"
}

// renderConfig writes the config with a comment on each key init chose.
func renderConfig(schema, app, region string, remote Remote, branch, dockerfile string, port int, buildspecs [][2]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# yaml-language-server: $schema=%s\n", schema)
	b.WriteString("# stagecoach.yaml: the pipeline of this repository (written by stagecoach init).\n")
	b.WriteString("# Every key and its default: https://github.com/stagecoach/stagecoach#configuration-reference\n")
	fmt.Fprintf(&b, "app: %s\n", app)
	fmt.Fprintf(&b, "region: %s\n", region)
	b.WriteString("source:\n")
	if remote.Provider != "GitHub" {
		fmt.Fprintf(&b, "  provider: %s\n", remote.Provider)
	}
	fmt.Fprintf(&b, "  repository: %s\n", remote.Repository)
	fmt.Fprintf(&b, "  branch: %s\n", branch)
	b.WriteString("stages:\n  - name: dev\n  - name: prod\n    approval: true\n")
	b.WriteString("services:\n  - name: web\n")
	if dockerfile != "Dockerfile" {
		fmt.Fprintf(&b, "    dockerfile: %s\n", dockerfile)
	}
	if port != 0 {
		fmt.Fprintf(&b, "    port: %d\n", port)
	} else {
		b.WriteString("    # port: 8000  # the port your container listens on (no EXPOSE found)\n")
	}
	b.WriteString("    # healthCheck: /ping  # a path your app answers 200 on; the default is /ping\n")
	for _, bs := range buildspecs {
		fmt.Fprintf(&b, "    %s:\n      buildspec: %s\n", bs[0], bs[1])
	}
	return b.String()
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// detect reads the repository (Git remote and branch, Dockerfile, TinyStacks
// buildspecs) and renders stagecoach.yaml, with what it found as notes and the
// buildspec check's findings.
func detect(o options, root string, plan Plan, note func(string, ...any)) (cfgText, region string, checkReport []string, err error) {
	// The repository.
	remote := Remote{Provider: "GitHub", Repository: o.repository}
	if o.repository == "" {
		u, err := gitRemote(root)
		if err != nil {
			return "", "", nil, err
		}
		if remote, err = ParseRemote(u); err != nil {
			return "", "", nil, err
		}
		note("source.repository %s (%s) from the Git remote %s", remote.Repository, remote.Provider, u)
	}
	branch := gitBranch(root)
	if branch == "" {
		branch = "main"
		note("source.branch main: Git names no branch; set the branch whose pushes release")
	} else {
		note("source.branch %s: the branch whose pushes start the pipeline", branch)
	}
	region = o.region
	for _, v := range []string{os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1"} {
		if region == "" {
			region = v
		}
	}

	// The Dockerfile and its port.
	dockerfile := o.dockerfile
	if dockerfile == "" {
		found, err := findDockerfiles(root)
		if err != nil {
			return "", "", nil, err
		}
		switch {
		case len(found) == 0:
			return "", "", nil, errors.New("no Dockerfile in the repository: stagecoach builds and runs a container image; add a Dockerfile (or pass --dockerfile PATH)")
		case found[0] == "Dockerfile" || len(found) == 1:
			dockerfile = found[0]
		default:
			return "", "", nil, fmt.Errorf("several Dockerfiles (%s): pass --dockerfile with the one of the service to deploy", strings.Join(found, ", "))
		}
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(dockerfile))); err != nil {
		return "", "", nil, fmt.Errorf("--dockerfile: %v", err)
	}
	exposed, err := exposedPorts(filepath.Join(root, filepath.FromSlash(dockerfile)))
	if err != nil {
		return "", "", nil, err
	}
	port := 0
	switch {
	case len(exposed.Ports) > 0:
		port = exposed.Ports[0]
		note("services[0].port %d from %s:%d (EXPOSE)", port, dockerfile, exposed.Line)
		if len(exposed.Ports) > 1 {
			note("  %s exposes %v: the load balancer sends traffic to the first; change port if another serves HTTP", dockerfile, exposed.Ports)
		}
	case exposed.Other != "":
		note("services[0].port not set: %s exposes %s, which init cannot read; set port, or the default 8000 applies", dockerfile, exposed.Other)
	default:
		note("services[0].port not set: %s has no EXPOSE; set port to the port your app listens on, or the default 8000 applies", dockerfile)
	}

	// TinyStacks buildspecs.
	var buildspecs [][2]string
	for _, kind := range []string{"build", "release"} {
		for _, name := range []string{kind + ".yml", kind + ".yaml"} {
			if fi, err := os.Stat(filepath.Join(root, name)); err == nil && fi.Mode().IsRegular() {
				buildspecs = append(buildspecs, [2]string{kind, name})
				break
			}
		}
	}

	// stagecoach.yaml.
	cfgText = renderConfig(plan.Schema, appName(remote.Repository, config.MaxAppName), region, remote, branch, dockerfile, port, buildspecs)
	cfg, err := config.Parse([]byte(cfgText), "stagecoach.yaml")
	if err != nil {
		return "", "", nil, fmt.Errorf("the stagecoach.yaml init would write is not valid (a bug, or pass --repository/--region):\n%v", err)
	}
	for _, bs := range buildspecs {
		text, err := os.ReadFile(filepath.Join(root, bs[1]))
		if err != nil {
			return "", "", nil, err
		}
		findings, err := check.Check(string(text), check.ForService(cfg, cfg.Services[0].Name, check.Kind(bs[0])))
		if err != nil {
			checkReport = append(checkReport, fmt.Sprintf("%s: %v", bs[1], err))
			continue
		}
		for _, f := range findings {
			checkReport = append(checkReport, fmt.Sprintf("%s:%d: %s [%s] %s\n    fix: %s", bs[1], f.Line, f.Severity, f.Rule, f.Message, f.Fix))
		}
		note("services[0].%s.buildspec %s: your TinyStacks %s.yml runs as the %s step (checked: %d finding(s), below)", bs[0], bs[1], bs[0], bs[0], len(findings))
	}

	return cfgText, region, checkReport, nil
}
