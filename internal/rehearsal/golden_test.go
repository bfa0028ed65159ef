package rehearsal

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/internal/contract"
)

// goldenDir holds the templates `cdk synth` makes of the example configs. The
// rehearsals read them, and never write them: they are the stacks' contract.
const goldenDir = "../../testdata/golden"

// pipeline is a synthesized pipeline stack made runnable: its build project,
// then one release project per stage, each with the environment, action
// variables and IAM actions the template gives it.
type pipeline struct {
	h        *Harness
	repo     string // the ECR repository's name, e.g. acme/web
	build    Step
	releases []Step
}

// newPipeline reads testdata/golden/NAME.template.json, e.g. "default/acme-web-pipeline".
func newPipeline(t *testing.T, h *Harness, name string) *pipeline {
	t.Helper()
	path := filepath.Join(goldenDir, name+".template.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(b, &tmpl); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	steps, err := PipelineFromTemplate(tmpl, Resolver{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(steps) < 2 || steps[0].Stage != "Build" {
		t.Fatalf("%s: want a Build stage, then releases; got %+v", path, steps)
	}
	// The endpoint and the docker stand-in refuse to move the tags the template's
	// repository keeps immutable, as ECR would.
	h.ReposFromTemplate(tmpl)
	mutability, err := TagMutabilitySetting(tmpl)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if h.Settings == nil {
		h.Settings = map[string]string{}
	}
	h.Settings["REHEARSAL_ECR_TAG_MUTABILITY"] = mutability
	p := &pipeline{h: h, build: steps[0], releases: steps[1:]}
	env := p.env(t, p.build)
	p.repo = strings.TrimPrefix(env[contract.ECRImageURL], env[contract.ECREndpoint]+"/")
	return p
}

// env is a step's project environment, pointed at the local registries.
// Parameter Store and Secrets Manager variables get stand-in values.
func (p *pipeline) env(t *testing.T, s Step) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, v := range s.Vars {
		env[v.Name] = v.Value
		if v.Type != "PLAINTEXT" {
			env[v.Name] = "rehearsal-" + strings.ToLower(v.Name)
		}
	}
	env = p.h.LocalECR(env)
	// Releases poll ECS as fast as the stand-in answers.
	env["RELEASE_POLL_SECONDS"] = "0"
	return env
}

// stage returns the release step of the named stage.
func (p *pipeline) stage(t *testing.T, name string) Step {
	t.Helper()
	for _, s := range p.releases {
		if s.Stage == name {
			return s
		}
	}
	t.Fatalf("the pipeline has no stage %q", name)
	return Step{}
}

// job is a step's run: its project environment, its action variables with this
// execution's IMAGE_DIGEST, its role's permissions, and a Docker daemon only when
// the project runs in privileged mode.
func (p *pipeline) job(t *testing.T, s Step, spec, digest string) Job {
	t.Helper()
	overrides, err := PipelineVariables(s.Overrides, map[string]string{"Image.IMAGE_DIGEST": digest})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := json.Marshal(s.Policy)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{
		"REHEARSAL_IAM_ALLOW":  strings.Join(s.Allowed, ","),
		"REHEARSAL_IAM_POLICY": string(policy),
	}
	if !s.Privileged {
		settings["REHEARSAL_DOCKER_DAEMON"] = "false"
	}
	return Job{
		Spec:      spec,
		Env:       p.env(t, s),
		Overrides: overrides,
		Settings:  settings,
	}
}

// runBuild runs spec as the build project and returns the digest of :latest.
func (p *pipeline) runBuild(t *testing.T, spec string) string {
	t.Helper()
	res, _ := p.h.RunJob(t, p.job(t, p.build, spec, ""))
	mustSucceed(t, "build", res)
	d := p.h.Registry.Digest(t, p.repo, contract.LatestTag)
	if d == "" {
		t.Fatalf("the build left no :latest; tags %v", p.h.Registry.Tags(t, p.repo))
	}
	return d
}

// adjust changes a release's job before it runs, e.g. to script ECS; nil
// changes nothing.
type adjust func(stage string, j *Job)

// release runs one stage's release of digest with spec.
func (p *pipeline) release(t *testing.T, spec, stage, digest string, change adjust) (*Result, []Call) {
	t.Helper()
	j := p.job(t, p.stage(t, stage), spec, digest)
	if change != nil {
		change(stage, &j)
	}
	return p.h.RunJob(t, j)
}

// execution releases digest to every stage in order, as one pipeline execution
// does after its build (approvals granted): it stops at the first release that
// fails, as the pipeline does. It returns the results of the releases that ran,
// by stage, and their calls.
func (p *pipeline) execution(t *testing.T, spec, digest string, change adjust) (map[string]*Result, map[string][]Call) {
	t.Helper()
	results, calls := map[string]*Result{}, map[string][]Call{}
	for _, s := range p.releases {
		res, c := p.release(t, spec, s.Stage, digest, change)
		results[s.Stage], calls[s.Stage] = res, c
		if !res.Succeeded {
			break
		}
	}
	return results, calls
}

// scripted returns an adjust that sets the stand-in settings and release
// variables of one stage.
func scripted(stage string, settings, env map[string]string) adjust {
	return func(s string, j *Job) {
		if s != stage {
			return
		}
		for k, v := range settings {
			j.Settings[k] = v
		}
		for k, v := range env {
			j.Env[k] = v
		}
	}
}

// where names a release step's stage service: cluster ARN, service and region.
func (p *pipeline) where(t *testing.T, stage string) (cluster, service, region string) {
	env := p.env(t, p.stage(t, stage))
	return env[contract.ClusterARN], env[contract.ServiceName], env[contract.StageRegion]
}
