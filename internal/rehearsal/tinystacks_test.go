package rehearsal

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/buildspecs"
	"github.com/stagecoach/stagecoach/internal/buildspecs/check"
	"github.com/stagecoach/stagecoach/internal/contract"
)

// The coming-from-TinyStacks corpus (testdata/tinystacks) run through the pipeline of
// the monorepo example's api service, which names its own build.yml and release.yml:
// four stages, prod in eu-west-1 pulling from a regional repository. Everything comes
// from the golden templates: the projects' variables and permissions, the
// repositories' tag mutability (enforced by the stand-ins as ECR does), the build
// image's shell, and the services' task definitions and launch type.

const tinyPipeline = "monorepo/shop-api-pipeline"

// tinyPair is a build.yml and a release.yml a TinyStacks user may have.
type tinyPair struct {
	name, build, release string
	// want maps a scenario to what happens: "" when it works, else a text the
	// failure must contain. Each failure is one the README documents and the
	// buildspec check reports for the file.
	want map[string]string
}

// The scenarios, in the order the table prints them.
var tinyScenarios = []string{"first push", "second push", "retry", "config re-run", "other region", "placeholder", "no service yet"}

func corpus(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "tinystacks", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	// notFargate: an EC2 task definition on a Fargate service.
	notFargate = "does not support launch_type FARGATE"
	// staleRegion: a release.yml that never copies to REGIONAL_ECR_IMAGE_URL leaves a
	// regional stage on the image it had (README: use images: home for it).
	staleRegion = "regional :prod is not on the released image"
	// noService: a release that runs before the stage stack created its service
	// (an existing connection lets the first execution race `cdk deploy --all`).
	// SERVICE_NAME is never "placeholder" here, so a TinyStacks file calls ECS and
	// fails; the README says to choose Release change once the deploy is done.
	noService = "ServiceNotFoundException"
)

func tinyPairs(t *testing.T) []tinyPair {
	return []tinyPair{
		{"seed", buildspecs.SeedBuild, buildspecs.SeedRelease, map[string]string{"other region": staleRegion, "no service yet": noService}},
		{"later", corpus(t, "later-build.yml"), corpus(t, "later-release.yml"), map[string]string{
			"first push": notFargate, "second push": notFargate, "retry": notFargate, "config re-run": notFargate, "other region": notFargate,
			"no service yet": "TaskDefinition",
		}},
		{"later, Fargate lines changed", corpus(t, "later-build.yml"), corpus(t, "later-release-fargate.yml"), map[string]string{"no service yet": "TaskDefinition"}},
		{"regional", corpus(t, "later-build.yml"), corpus(t, "regional-release.yml"), map[string]string{"no service yet": noService}},
		{"lambda branch", buildspecs.SeedBuild, corpus(t, "lambda-release.yml"), map[string]string{"other region": staleRegion, "no service yet": noService}},
		{"stagecoach's default", buildspecs.Build, buildspecs.Release, nil},
	}
}

func TestTinyStacksCorpus(t *testing.T) {
	var mu = make(chan struct{}, 1)
	observed := map[string]map[string]string{}
	pairs := tinyPairs(t)
	t.Cleanup(func() { t.Log("\n" + tinyTable(pairs, observed)) })
	for _, pair := range pairs {
		observed[pair.name] = map[string]string{}
		for _, sc := range tinyScenarios {
			t.Run(pair.name+"/"+sc, func(t *testing.T) {
				// Only the other-region scenario releases to prod: only it needs a
				// registry playing ECR in eu-west-1.
				r := newTinyRun(t, sc == "other region")
				got := r.scenario(t, pair, sc)
				mu <- struct{}{}
				observed[pair.name][sc] = got
				<-mu
				want := pair.want[sc]
				switch {
				case want == "" && got != "":
					t.Errorf("%s, %s: want it to work; %s", pair.name, sc, got)
				case want != "" && !strings.Contains(got, want):
					t.Errorf("%s, %s: want the documented failure %q; got %q", pair.name, sc, want, or(got, "it worked"))
				}
			})
		}
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// tinyTable renders the observed outcomes, corpus pair × scenario.
func tinyTable(pairs []tinyPair, observed map[string]map[string]string) string {
	var b strings.Builder
	b.WriteString("| pair | " + strings.Join(tinyScenarios, " | ") + " |\n|---|" + strings.Repeat("---|", len(tinyScenarios)) + "\n")
	for _, p := range pairs {
		b.WriteString("| " + p.name)
		for _, sc := range tinyScenarios {
			got, ran := observed[p.name][sc]
			cell := "works"
			switch {
			case !ran:
				cell = "not run"
			case got != "":
				cell = "FAILS: " + got
				if len(cell) > 90 {
					cell = cell[:90] + "…"
				}
			}
			b.WriteString(" | " + strings.ReplaceAll(cell, "|", "/"))
		}
		b.WriteString(" |\n")
	}
	return b.String()
}

// tinyRun is one scenario's pipeline: a harness with a home and a regional registry,
// a git checkout, and the ECS state of the stage templates.
type tinyRun struct {
	h      *Harness
	p      *pipeline
	commit string
}

func newTinyRun(t *testing.T, regional bool) *tinyRun {
	h := newHarness(t)
	if regional {
		h.AddRegion(t, "eu-west-1")
	}
	p := newPipeline(t, h, tinyPipeline)
	tmpl := readGolden(t, tinyPipeline)
	h.Sh = buildImageShell(t, tmpl)
	r := &tinyRun{h: h, p: p}
	addStageServices(t, p)
	// The api service builds from services/api/Dockerfile (DOCKERFILE_PATH).
	dockerfile := p.env(t, p.build)[contract.DockerfilePath]
	if dockerfile != "" {
		if err := os.MkdirAll(filepath.Join(h.Src, filepath.Dir(dockerfile)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(h.Src, dockerfile), []byte("FROM scratch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r.commit = h.GitInit(t)
	return r
}

// push commits a change, as a second push does, and returns the new commit.
func (r *tinyRun) push(t *testing.T) string {
	t.Helper()
	f := filepath.Join(r.h.Src, "CHANGES")
	if err := os.WriteFile(f, []byte(r.commit+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", "second push"}, {"rev-parse", "HEAD"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = r.h.Src
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=r", "GIT_AUTHOR_EMAIL=r@example.com",
			"GIT_COMMITTER_NAME=r", "GIT_COMMITTER_EMAIL=r@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		r.commit = strings.TrimSpace(string(out))
	}
	return r.commit
}

// build runs spec as the build action and returns the digest of :latest, or why the
// execution stops there.
func (r *tinyRun) build(t *testing.T, spec string, extraEnv map[string]string) (string, string) {
	t.Helper()
	j := r.p.job(t, r.p.build, spec, "")
	for k, v := range extraEnv {
		j.Env[k] = v
	}
	res, _ := r.h.RunJob(t, j)
	if !res.Succeeded {
		return "", "build failed: " + failure(res)
	}
	d := r.h.Registry.Digest(t, r.p.repo, contract.LatestTag)
	if d == "" {
		return "", "the build left no :latest"
	}
	return d, ""
}

// failure is the first error line of a failed run.
func failure(res *Result) string {
	for _, line := range strings.Split(res.Log, "\n") {
		for _, mark := range []string{"An error occurred", "tag invalid", "error:", "Error", "denied"} {
			if strings.Contains(line, mark) && !strings.HasPrefix(line, "[Container]") {
				return strings.TrimSpace(line)
			}
		}
	}
	return statuses(res)
}

// release runs spec as stage's release of digest and checks what a working release
// does: the stage tag on digest, the service redeployed in its region and, for a
// release that registers task definitions, running an image that exists where the
// stage pulls from. It returns "" or what went wrong.
func (r *tinyRun) release(t *testing.T, spec, stage, digest string, change adjust) string {
	t.Helper()
	res, calls := r.p.release(t, spec, stage, digest, change)
	if !res.Succeeded {
		return stage + ": " + failure(res)
	}
	if got := r.h.Registry.Digest(t, r.p.repo, stage); got != digest {
		return fmt.Sprintf("%s: :%s is on %s, not the built %s", stage, stage, got, digest)
	}
	cluster, service, region := r.p.where(t, stage)
	env := r.p.env(t, r.p.stage(t, stage))
	if env[contract.RegionalECRImageURL] != "" {
		url := env[contract.RegionalECRImageURL]
		// A copy to another registry may be recompressed: the regional tag is on a
		// digest of its own, with the released image's content.
		regional := r.h.Regional[region]
		if d := regional.Digest(t, r.p.repo, stage); d == "" || regional.Content(t, r.p.repo, d) != r.h.Registry.Content(t, r.p.repo, digest) {
			return fmt.Sprintf("%s (%s in %s)", staleRegion, url, region)
		}
	}
	var updated bool
	for _, c := range callsTo(calls, "aws", "ecs", "update-service") {
		if c.Exit == 0 && arg(c.Args, "--service") == service && arg(c.Args, "--cluster") == cluster {
			updated = true
		}
	}
	if !updated {
		return stage + ": the service was not redeployed"
	}
	if len(callsTo(calls, "aws", "ecs", "register-task-definition")) > 0 {
		return r.checkRunningImage(t, stage, region, cluster, service)
	}
	return ""
}

// checkRunningImage checks that the task definition the service runs names an image
// of this commit that exists in the registry the stage pulls from.
func (r *tinyRun) checkRunningImage(t *testing.T, stage, region, cluster, service string) string {
	t.Helper()
	arn := ""
	for _, d := range r.h.Deployments(region, cluster, service) {
		if d.Status == "PRIMARY" {
			arn = d.TaskDefinition
		}
	}
	def, _ := r.h.TaskDefinition(region, arn)
	containers, _ := def["containerDefinitions"].([]any)
	if len(containers) == 0 {
		return stage + ": the service runs no known task definition"
	}
	image, _ := containers[0].(map[string]any)["image"].(string)
	ref := r.h.LocalECR(map[string]string{"i": image})["i"]
	host, rest, _ := strings.Cut(ref, "/")
	repo, tag, _ := strings.Cut(rest, ":")
	reg := r.h.Registry
	if rr, ok := r.h.Regional[region]; ok && rr.Host == host {
		reg = rr
	} else if host != r.h.Registry.Host {
		return stage + ": the task definition names " + image + ", which no registry of the rehearsal holds"
	}
	if tag != r.commit || reg.Digest(t, repo, tag) == "" {
		return fmt.Sprintf("%s: the task definition runs %s, not an image of commit %s in the stage's registry", stage, image, r.commit)
	}
	return ""
}

// releaseAll releases digest to stages in order, stopping at the first failure.
func (r *tinyRun) releaseAll(t *testing.T, spec, digest string, stages ...string) string {
	for _, s := range stages {
		if got := r.release(t, spec, s, digest, nil); got != "" {
			return got
		}
	}
	return ""
}

var homeStages = []string{"dev", "test", "staging"}

// scenario runs one scenario and returns "" when it worked, else what failed.
func (r *tinyRun) scenario(t *testing.T, pair tinyPair, sc string) string {
	t.Helper()
	digest, failed := r.build(t, pair.build, nil)
	if failed != "" {
		return failed
	}
	switch sc {
	case "first push":
		return r.releaseAll(t, pair.release, digest, homeStages...)
	case "second push":
		if got := r.releaseAll(t, pair.release, digest, homeStages...); got != "" {
			return "first push: " + got
		}
		r.push(t)
		second, failed := r.build(t, pair.build, nil)
		if failed != "" {
			return "second push: " + failed
		}
		if second == digest {
			return "second push: the build did not move :latest"
		}
		return r.releaseAll(t, pair.release, second, homeStages...)
	case "retry", "config re-run":
		// Retry: the build action is retried on the same commit (a "Retry" or
		// "Release change" in the console). Config re-run: stagecoach re-runs the
		// pipeline after a build variable changed: same commit, new variable.
		if got := r.release(t, pair.release, "dev", digest, nil); got != "" {
			return "first run: " + got
		}
		var extra map[string]string
		if sc == "config re-run" {
			extra = map[string]string{"NEW_BUILD_FLAG": "1"}
		}
		again, failed := r.build(t, pair.build, extra)
		if failed != "" {
			return "re-run of the same commit: " + failed
		}
		return r.releaseAll(t, pair.release, again, homeStages...)
	case "other region":
		if got := r.releaseAll(t, pair.release, digest, homeStages...); got != "" {
			return got
		}
		return r.release(t, pair.release, "prod", digest, nil)
	case "placeholder":
		res, calls := r.p.release(t, pair.release, "dev", digest, scripted("dev", nil, map[string]string{contract.ServiceName: "placeholder"}))
		switch {
		case !res.Succeeded:
			return "dev: " + failure(res)
		case len(callsTo(calls, "aws", "ecs")) > 0:
			return "dev: ECS was called for a placeholder service"
		case !strings.Contains(res.Log, "Service is not ready yet"):
			return "dev: the log does not say the service is not ready"
		case strings.Contains(pair.release, "LAMBDA_FUNCTION_NAME") && !strings.Contains(res.Log, "Not a serverless stage"):
			return "dev: took the Lambda branch"
		}
		return ""
	case "no service yet":
		_, service, _ := r.p.where(t, "dev")
		res, _ := r.p.release(t, pair.release, "dev", digest, scripted("dev", map[string]string{"REHEARSAL_ECS_SERVICES": service + "=MISSING"}, nil))
		if !res.Succeeded {
			return "dev: " + failure(res)
		}
		if r.h.Registry.Digest(t, r.p.repo, "dev") != digest {
			return "dev: not tagged"
		}
		return ""
	}
	t.Fatalf("unknown scenario %q", sc)
	return ""
}

// readGolden reads testdata/golden/NAME.template.json.
func readGolden(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, name+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(b, &tmpl); err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// buildImageShell is what sh is in the projects' build image: bash on Amazon Linux,
// dash on the Ubuntu standard images.
func buildImageShell(t *testing.T, tmpl map[string]any) string {
	t.Helper()
	images := map[string]bool{}
	for _, r := range tmpl["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == "AWS::CodeBuild::Project" {
			env, _ := r["Properties"].(map[string]any)["Environment"].(map[string]any)
			img, _ := env["Image"].(string)
			images[img] = true
		}
	}
	if len(images) != 1 {
		t.Fatalf("the projects use %d build images, want 1: %v", len(images), images)
	}
	for img := range images {
		if strings.Contains(img, "amazonlinux") {
			return "bash"
		}
		if strings.Contains(img, "/standard:") {
			return "dash"
		}
		t.Fatalf("build image %s: which sh it has is not known to the rehearsal", img)
	}
	return ""
}

// addStageServices registers with the endpoint what the stage templates create:
// for each stage service this pipeline releases to, its task definition (revision
// 1, as describe-task-definition prints it) and launch type.
func addStageServices(t *testing.T, p *pipeline) {
	t.Helper()
	app := strings.Split(tinyPipeline, "/")[1]
	app = app[:strings.Index(app, "-")]
	for _, s := range p.releases {
		cluster, service, region := p.where(t, s.Stage)
		tmpl := readGolden(t, strings.Split(tinyPipeline, "/")[0]+"/"+app+"-"+s.Stage)
		resources := tmpl["Resources"].(map[string]any)
		var found bool
		for _, res := range resources {
			res := res.(map[string]any)
			props, _ := res["Properties"].(map[string]any)
			if res["Type"] != "AWS::ECS::Service" || props["ServiceName"] != service {
				continue
			}
			tdID := props["TaskDefinition"].(map[string]any)["Ref"].(string)
			resolved, err := Resolver{Region: region}.Resolve(tmpl, resources[tdID].(map[string]any)["Properties"])
			if err != nil {
				t.Fatal(err)
			}
			td := apiShape(resolved).(map[string]any)
			td["compatibilities"] = append([]any{"EC2"}, td["requiresCompatibilities"].([]any)...)
			launch, _ := props["LaunchType"].(string)
			p.h.AddStageService(region, cluster, service, td, launch)
			found = true
		}
		if !found {
			t.Fatalf("stage %s: no ECS service %s in its template", s.Stage, service)
		}
	}
}

// apiShape turns CloudFormation's property names (ContainerDefinitions) into the API's
// (containerDefinitions). The keys of log driver options are data, left as they are.
func apiShape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "Options" {
				out["options"] = x[k]
				continue
			}
			r := []rune(k)
			r[0] = unicode.ToLower(r[0])
			out[string(r)] = apiShape(x[k])
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = apiShape(e)
		}
		return out
	}
	return v
}

// TestTinyStacksFailuresAreFlagged: every failure the corpus scenarios expect is one
// the buildspec check reports, as an error, for the release.yml at fault.
func TestTinyStacksFailuresAreFlagged(t *testing.T) {
	cfg, err := config.Load("../../testdata/configs/monorepo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// "" marks a failure no file can avoid, which the README documents instead.
	rules := map[string]string{notFargate: "fargate-fields", staleRegion: "regional-copy", noService: "", "TaskDefinition": ""}
	for _, pair := range tinyPairs(t) {
		use, err := check.Find(cfg, "services/api/release.yml", "api", check.Release)
		if err != nil {
			t.Fatal(err)
		}
		findings, err := check.Check(pair.release, use.Options)
		if err != nil {
			t.Fatal(err)
		}
		for sc, want := range pair.want {
			rule, ok := rules[want]
			if !ok {
				t.Fatalf("%s, %s: no check rule is known for %q", pair.name, sc, want)
			}
			if rule == "" {
				continue
			}
			if !slices.ContainsFunc(findings, func(f check.Finding) bool { return f.Rule == rule && f.Severity == check.Error }) {
				t.Errorf("%s, %s fails (%s), and the check does not report %s: %v", pair.name, sc, want, rule, findings)
			}
		}
	}
}
