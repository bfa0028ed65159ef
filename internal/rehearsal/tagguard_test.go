package rehearsal

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/internal/buildspecs"
	"github.com/stagecoach/stagecoach/internal/contract"
)

// These scenarios run the attacks of issue 11 on prod's approval through the default
// config's synthesized pipeline: a build.yml or an earlier stage's release.yml (both
// run code from unapproved commits) moving a stage tag, and TinyStacks' release.yml in
// prod promoting a tampered :staging. Prod's service must never be deployed on the
// tampered image, and the legitimate paths must keep working. Each run is the real
// buildspec against the registry; the pipeline's Lambda steps and the stage-tag guard
// are the template's own code (see lambdas_test.go). Without the guard in the template
// these scenarios fail.

// guardedPipeline is one service's pipeline with its Lambda side.
type guardedPipeline struct {
	*pipeline
	l  *lambdas
	id int // executions so far
}

func newGuardedPipeline(t *testing.T) *guardedPipeline {
	h := newHarness(t)
	h.GitInit(t)
	p := newPipeline(t, h, "default/acme-web-pipeline")
	return &guardedPipeline{pipeline: p, l: newLambdas(t, h, "default/acme-web-pipeline", p.repo)}
}

// withSeedRelease marks g's release projects as those of a service that names its own
// release.yml, as a TinyStacks user does for the seed's: such projects run in
// privileged mode, with a Docker daemon (TestSeedPipeline pins that on the monorepo's
// shop-api), where the default release.yml's do not.
func (g *guardedPipeline) withSeedRelease() *guardedPipeline {
	for i := range g.releases {
		g.releases[i].Privileged = true
	}
	return g
}

// build runs one execution's Build stage with spec as build.yml: TagsBefore, the
// build, ImageDigest. With late, ECR's events reach the guard only after ImageDigest
// (EventBridge delivers within seconds, not at once). It returns the execution's
// variables, and ImageDigest's failure if it failed.
func (g *guardedPipeline) build(t *testing.T, spec string, late bool) (map[string]string, string) {
	t.Helper()
	g.id++
	vars := executionVars(g.id, strings.Repeat("c", 39)+string(rune('0'+g.id)), "")
	out, failed := g.l.action(t, "Build", "TagsBefore", vars)
	if failed != "" {
		t.Fatalf("TagsBefore failed: %s", failed)
	}
	vars["Before.TAGS"] = out["TAGS"]
	res, calls := g.h.RunJob(t, g.job(t, g.pipeline.build, spec, ""))
	mustSucceed(t, "build", res)
	if !late {
		g.l.events(t, calls)
	}
	out, failed = g.l.action(t, "Build", "ImageDigest", vars)
	if late {
		g.l.events(t, calls)
	}
	vars["Image.IMAGE_DIGEST"] = out["IMAGE_DIGEST"]
	return vars, failed
}

// stage runs one stage of an execution as CodePipeline does once its approval (if
// any) is given: Authorize, the release with spec as release.yml, Verify. The guard
// gets the release's events before Verify runs. It returns the first failure.
func (g *guardedPipeline) stage(t *testing.T, stage, spec string, vars map[string]string) string {
	t.Helper()
	if _, failed := g.l.action(t, stage, "Authorize", vars); failed != "" {
		return "Authorize: " + failed
	}
	res, calls := g.release(t, spec, stage, vars["Image.IMAGE_DIGEST"], g.l.deployments(t))
	g.l.deployed(t)
	g.l.events(t, calls)
	if !res.Succeeded {
		return "Release: " + statuses(res)
	}
	if _, failed := g.l.action(t, stage, "Verify", vars); failed != "" {
		return "Verify: " + failed
	}
	return ""
}

// execution releases vars' image to the stages up to and including last.
func (g *guardedPipeline) execution(t *testing.T, spec string, vars map[string]string, last string) {
	t.Helper()
	for _, s := range g.releases {
		if failed := g.stage(t, s.Stage, spec, vars); failed != "" {
			t.Fatalf("the legitimate release to %s failed: %s", s.Stage, failed)
		}
		if s.Stage == last {
			return
		}
	}
}

// checkProd checks that prod's tag is on want and its service never ran bad.
func (g *guardedPipeline) checkProd(t *testing.T, want, bad string) {
	t.Helper()
	if got := g.h.Registry.Digest(t, g.repo, "prod"); got != want {
		t.Errorf(":prod is on %s, want %s (the approved image); the guard did %v", got, want, g.l.Guarded)
	}
	if slices.Contains(g.l.Served["prod"], bad) {
		t.Errorf("prod's service was deployed on the tampered image %s: deployments %v", bad, g.l.Served["prod"])
	}
}

// hostileBuild is the default build.yml plus a push of :TAG.
func hostileBuild(t *testing.T, tag string) string {
	const last = "      - docker push \"$ECR_IMAGE_URL:latest\"\n"
	if !strings.HasSuffix(buildspecs.Build, last) {
		t.Fatal("the default build.yml no longer ends with the push of :latest")
	}
	return buildspecs.Build + "      - docker tag builtimage:latest \"$ECR_IMAGE_URL:" + tag + "\"\n      - docker push \"$ECR_IMAGE_URL:" + tag + "\"\n"
}

// hostileRelease releases IMAGE_DIGEST to its stage, and to prod as well.
const hostileRelease = `version: 0.2
env:
  shell: bash
phases:
  build:
    commands:
      - repository="${ECR_IMAGE_URL#"$ECR_ENDPOINT"/}"
      - manifest=$(aws ecr batch-get-image --repository-name "$repository" --image-ids "imageDigest=$IMAGE_DIGEST" --query 'images[0].imageManifest' --output text)
      - aws ecr put-image --repository-name "$repository" --image-tag "$STAGE_NAME" --image-manifest "$manifest"
      - aws ecr put-image --repository-name "$repository" --image-tag prod --image-manifest "$manifest"
`

// TestStageTagGuardBuildPushesProd: a build.yml pushes :prod. ImageDigest fails the
// execution; the guard puts :prod back on the approved image and redeploys prod on it.
func TestStageTagGuardBuildPushesProd(t *testing.T) {
	g := newGuardedPipeline(t)
	a, failed := g.build(t, buildspecs.Build, false)
	if failed != "" {
		t.Fatalf("ImageDigest failed a healthy build: %s", failed)
	}
	g.execution(t, buildspecs.Release, a, "prod")
	if len(g.l.Guarded) > 0 {
		t.Fatalf("the guard acted on legitimate releases: %v", g.l.Guarded)
	}
	approved := a["Image.IMAGE_DIGEST"]

	b, failed := g.build(t, hostileBuild(t, "prod"), true)
	if !strings.Contains(failed, "moved the stage tag(s) prod") {
		t.Errorf("ImageDigest did not fail the hostile build: %q", failed)
	}
	g.checkProd(t, approved, b["Image.IMAGE_DIGEST"])
	if want := "putTag prod " + approved; !slices.Contains(g.l.Guarded, want) {
		t.Errorf("the guard did %v, want %q", g.l.Guarded, want)
	}
	if got := g.l.Served["prod"]; len(got) < 2 || got[len(got)-1] != approved {
		t.Errorf("prod deployments %v: want the guard's redeployment on %s last", got, approved)
	}
}

// TestStageTagGuardDevReleasePushesProd: the dev release (a release.yml from the
// pushed commit, no approval) moves :prod as well as :dev. Dev gets its image; prod
// stays on the approved one, and the next execution's prod release still works.
func TestStageTagGuardDevReleasePushesProd(t *testing.T) {
	g := newGuardedPipeline(t)
	a, _ := g.build(t, buildspecs.Build, false)
	g.execution(t, buildspecs.Release, a, "prod")
	approved := a["Image.IMAGE_DIGEST"]

	b, failed := g.build(t, buildspecs.Build, false)
	if failed != "" {
		t.Fatalf("ImageDigest failed a healthy build: %s", failed)
	}
	tampered := b["Image.IMAGE_DIGEST"]
	if failed := g.stage(t, "dev", hostileRelease, b); failed != "" {
		t.Fatalf("dev's own release failed: %s", failed)
	}
	if got := g.h.Registry.Digest(t, g.repo, "dev"); got != tampered {
		t.Errorf(":dev is on %s, want %s: dev's release may release to dev", got, tampered)
	}
	g.checkProd(t, approved, tampered)

	// The legitimate path afterwards: the same image through staging and, approved, prod.
	g.execution(t, buildspecs.Release, b, "")
	g.checkProd(t, tampered, "")
}

// TestStageTagGuardSeedReleaseOfTamperedStaging: TinyStacks' release.yml (every stage)
// promotes :PREVIOUS_STAGE_NAME as it is when it runs. While an execution waits for
// prod's approval, a hostile build pushes :staging. The guard puts :staging back, so
// the approved prod release promotes the image staging was released with.
func TestStageTagGuardSeedReleaseOfTamperedStaging(t *testing.T) {
	g := newGuardedPipeline(t).withSeedRelease()
	a, _ := g.build(t, buildspecs.Build, false)
	g.execution(t, buildspecs.SeedRelease, a, "prod") // the seed's release.yml works, Verify included
	if len(g.l.Guarded) > 0 {
		t.Fatalf("the guard acted on the seed's legitimate releases: %v", g.l.Guarded)
	}
	c, _ := g.build(t, buildspecs.Build, false)
	g.execution(t, buildspecs.SeedRelease, c, "staging") // then waits for prod's approval
	waiting := c["Image.IMAGE_DIGEST"]

	b, failed := g.build(t, hostileBuild(t, "staging"), false)
	tampered := b["Image.IMAGE_DIGEST"]
	if got := g.h.Registry.Digest(t, g.repo, "staging"); got != waiting {
		t.Errorf(":staging is on %s after the guard, want %s", got, waiting)
	}
	if failed != "" {
		t.Logf("ImageDigest after the guard: %s", failed)
	}

	// Prod's approval is given to execution c.
	if failed := g.stage(t, "prod", buildspecs.SeedRelease, c); failed != "" {
		t.Fatalf("the approved seed release to prod failed: %s", failed)
	}
	g.checkProd(t, waiting, tampered)
	for _, d := range g.l.Served["prod"] {
		if d != a["Image.IMAGE_DIGEST"] && d != waiting {
			t.Errorf("prod was deployed on %s, which prod never approved (deployments %v)", d, g.l.Served["prod"])
		}
	}
}

// TestRegionalReleaseBeforeItsRepository: on a first run with an existing connection,
// the pipeline can release a stage in another region before that stage's stack has
// created its regional repository. Like a service that does not exist yet, that is
// "not ready yet": the home tag moves, nothing is copied or deployed, the release
// succeeds (issue 9, item 7).
func TestRegionalReleaseBeforeItsRepository(t *testing.T) {
	h := newHarness(t)
	p := newPipeline(t, h, "monorepo/shop-web-pipeline")
	var stage string
	for _, s := range p.releases {
		if p.env(t, s)[contract.RegionalECRImageURL] != "" {
			stage = s.Stage
		}
	}
	if stage == "" {
		t.Fatal("the monorepo config has no stage pulling from its own region")
	}
	_, _, region := p.where(t, stage)
	h.AddRegion(t, region)
	if dockerfile := p.env(t, p.build)[contract.DockerfilePath]; dockerfile != "" {
		if err := os.MkdirAll(filepath.Join(h.Src, filepath.Dir(dockerfile)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(h.Src, dockerfile), []byte("FROM scratch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	digest := p.runBuild(t, buildspecs.Build)
	key := "REHEARSAL_ECR_MISSING_" + strings.ToUpper(strings.ReplaceAll(region, "-", "_"))
	res, calls := p.release(t, buildspecs.Release, stage, digest, func(_ string, j *Job) { j.Settings[key] = p.repo })
	mustSucceed(t, "regional release before its repository exists", res)
	if !strings.Contains(res.Log, "Service is not ready yet") {
		t.Errorf("the log does not say the stage is not ready yet:\n%s", res.Log)
	}
	if got := h.Registry.Digest(t, p.repo, stage); got != digest {
		t.Errorf("the home :%s is on %q, want %s", stage, got, digest)
	}
	if d := callsTo(calls, "docker"); len(d) > 0 {
		t.Errorf("docker ran with no regional repository to copy to: %+v", d)
	}
	if u := callsTo(calls, "aws", "ecs"); len(u) > 0 {
		t.Errorf("ECS was called: %+v", u)
	}
}

// TestOnlyThePipelineWritesStageRecords: no build or release role may write a stage's
// record or invoke the function that does (a release.yml for dev must not be able to
// approve prod), and the one role that writes records is the StageRecord function's,
// on this service's records only.
func TestOnlyThePipelineWritesStageRecords(t *testing.T) {
	for _, name := range []string{"default/acme-web-pipeline", "monorepo/shop-web-pipeline", "scale/big-web-pipeline"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(goldenDir, name+".template.json"))
			if err != nil {
				t.Fatal(err)
			}
			var tmpl map[string]any
			if err := json.Unmarshal(b, &tmpl); err != nil {
				t.Fatal(err)
			}
			resources := tmpl["Resources"].(map[string]any)
			for id, res := range resources {
				if res.(map[string]any)["Type"] != "AWS::CodeBuild::Project" {
					continue
				}
				allowed, err := AllowedActions(tmpl, id)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range allowed {
					// Reading build secrets from Parameter Store is fine; writing is not.
					if strings.HasPrefix(a, "ssm:Put") || a == "ssm:*" || strings.HasPrefix(a, "lambda:") || strings.HasPrefix(a, "codepipeline:") || a == "*" {
						t.Errorf("project %s's role may call %s", id, a)
					}
				}
			}
			writers := map[string]bool{}
			for id, res := range resources {
				res := res.(map[string]any)
				if res["Type"] != "AWS::IAM::Policy" {
					continue
				}
				props := res["Properties"].(map[string]any)
				for _, st := range props["PolicyDocument"].(map[string]any)["Statement"].([]any) {
					st := st.(map[string]any)
					actions, _ := json.Marshal(st["Action"])
					if !strings.Contains(string(actions), "ssm:PutParameter") && !strings.Contains(string(actions), `"ssm:*"`) {
						continue
					}
					writers[id] = true
					resources, _ := json.Marshal(st["Resource"])
					if !strings.Contains(string(resources), ":parameter/stagecoach/") || strings.Contains(string(resources), "*") {
						t.Errorf("%s writes parameters %s, want exactly this service's stage records", id, resources)
					}
				}
			}
			if len(writers) != 1 {
				t.Fatalf("policies writing parameters: %v, want exactly the StageRecord function's", writers)
			}
			for id := range writers {
				if !strings.Contains(id, "StageRecordRole") {
					t.Errorf("%s writes stage records; only the StageRecord function's role may", id)
				}
			}
		})
	}
}

// TestGuardIsWiredToEveryStageTag: in every golden pipeline stack, the EventBridge
// rule sends the guard every successful push and delete of every stage tag of the
// service's repository, and the alarm counts the line the guard logs when it acts.
func TestGuardIsWiredToEveryStageTag(t *testing.T) {
	for _, name := range []string{"default/acme-web-pipeline", "monorepo/shop-web-pipeline", "monorepo/shop-api-pipeline", "scale/big-web-pipeline"} {
		t.Run(name, func(t *testing.T) {
			h := &Harness{Registry: &Registry{Host: "127.0.0.1:1"}, Regional: map[string]*Registry{}}
			p := newPipeline(t, h, name)
			var stages []string
			for _, s := range p.releases {
				stages = append(stages, s.Stage)
			}
			b, err := os.ReadFile(filepath.Join(goldenDir, name+".template.json"))
			if err != nil {
				t.Fatal(err)
			}
			var tmpl struct {
				Resources map[string]struct {
					Type       string
					Properties map[string]any
				}
			}
			if err := json.Unmarshal(b, &tmpl); err != nil {
				t.Fatal(err)
			}
			var guardFn string
			for id, r := range tmpl.Resources {
				if env, _ := r.Properties["Environment"].(map[string]any); r.Type == "AWS::Lambda::Function" && env != nil {
					if _, ok := env["Variables"].(map[string]any)["GUARD"]; ok {
						guardFn = id
					}
				}
			}
			if guardFn == "" {
				t.Fatal("no stage-tag guard function")
			}
			rules, filters, alarms := 0, 0, 0
			for _, r := range tmpl.Resources {
				switch r.Type {
				case "AWS::Events::Rule":
					rules++
					pattern, _ := json.Marshal(r.Properties["EventPattern"])
					want, _ := json.Marshal(map[string]any{"detail": map[string]any{"action-type": []string{"PUSH", "DELETE"}, "image-tag": stages,
						"repository-name": []string{p.repo}, "result": []string{"SUCCESS"}}, "detail-type": []string{"ECR Image Action"}, "source": []string{"aws.ecr"}})
					if string(pattern) != string(want) {
						t.Errorf("rule pattern %s, want %s", pattern, want)
					}
					targets, _ := json.Marshal(r.Properties["Targets"])
					if !strings.Contains(string(targets), `"Fn::GetAtt":["`+guardFn+`","Arn"]`) {
						t.Errorf("rule targets %s, want the guard %s", targets, guardFn)
					}
				case "AWS::Logs::MetricFilter":
					filters++
					if r.Properties["FilterPattern"] != "UNAPPROVED_STAGE_TAG" {
						t.Errorf("metric filter %v does not count the guard's line", r.Properties["FilterPattern"])
					}
				case "AWS::CloudWatch::Alarm":
					if r.Properties["MetricName"] == "UnapprovedStageTagMoves" && r.Properties["Namespace"] == "stagecoach/"+p.repo {
						alarms++
					}
				}
			}
			if rules != 1 || filters != 1 || alarms != 1 {
				t.Errorf("%d rules, %d metric filters, %d alarms on the metric; want one each", rules, filters, alarms)
			}
		})
	}
}

// concurrentPush returns a release job change that puts an aws wrapper first on PATH:
// at the nth `aws ecs describe-services` of the run it first moves :tag to digest,
// as another role's push at that moment would. The default release.yml's first look
// at the service comes right before its deployment; later ones poll the rollout.
func concurrentPush(t *testing.T, p *pipeline, tag, digest string, nth int) adjust {
	t.Helper()
	dir := t.TempDir()
	script := `#!/bin/bash
if [ "$1 $2" = "ecs describe-services" ]; then
  n=$(( $(cat "` + dir + `/n" 2>/dev/null || echo 0) + 1 )); echo $n > "` + dir + `/n"
  if [ $n = ` + strconv.Itoa(nth) + ` ]; then
    m=$("` + p.h.bin + `/aws" ecr batch-get-image --repository-name ` + p.repo + ` --image-ids imageDigest=` + digest + ` --query 'images[0].imageManifest' --output text)
    "` + p.h.bin + `/aws" ecr put-image --repository-name ` + p.repo + ` --image-tag ` + tag + ` --image-manifest "$m" > /dev/null
  fi
fi
exec "` + p.h.bin + `/aws" "$@"
`
	if err := os.WriteFile(filepath.Join(dir, "aws"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return func(_ string, j *Job) {
		j.Settings["PATH"] = dir + string(os.PathListSeparator) + p.h.bin + string(os.PathListSeparator) + os.Getenv("PATH")
	}
}

// TestReleaseChecksTheTagAroundTheDeployment: ECS resolves the stage tag when a
// deployment starts, and again for any later one. If another role moves the tag just
// before the default release.yml deploys, it does not deploy and puts the tag back;
// if the tag moves during the rollout, the release fails rather than report success.
func TestReleaseChecksTheTagAroundTheDeployment(t *testing.T) {
	for _, tc := range []struct {
		name    string
		nth     int
		says    string
		deploys int
	}{
		{"before the deployment", 1, "before the deployment (not by this release); not deploying", 0},
		{"during the rollout", 2, "during the deployment (not by this release)", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			p := newPipeline(t, h, "default/acme-web-pipeline")
			first := p.runBuild(t, buildspecs.Build)
			res, _ := p.release(t, buildspecs.Release, "dev", first, nil)
			mustSucceed(t, "first release", res)
			other := p.runBuild(t, buildspecs.Build)
			next := p.runBuild(t, buildspecs.Build)
			res, calls := p.release(t, buildspecs.Release, "dev", next, concurrentPush(t, p, "dev", other, tc.nth))
			if res.Succeeded {
				t.Fatalf("the release succeeded although :dev moved under it:\n%s", res.Log)
			}
			if !strings.Contains(res.Log, tc.says) {
				t.Errorf("the log does not say %q:\n%s", tc.says, res.Log)
			}
			if got := len(callsTo(calls, "aws", "ecs", "update-service")); got != tc.deploys {
				t.Errorf("%d deployments, want %d", got, tc.deploys)
			}
			if tc.deploys == 0 {
				if got := h.Registry.Digest(t, p.repo, "dev"); got != first {
					t.Errorf(":dev is on %s, want it back on the previous release %s", got, first)
				}
			}
		})
	}
}

// TestSeedReleaseRaceIsUndone documents what the guard cannot prevent, and what it
// does instead: TinyStacks' release.yml in prod promotes what :staging is on when it
// runs, here a newer execution's image that staging released while prod's approval
// waited. Prod is deployed on it for a moment; then the guard puts :prod back on the
// last image prod completed a release with and redeploys it, and Verify fails the stage.
func TestSeedReleaseRaceIsUndone(t *testing.T) {
	g := newGuardedPipeline(t).withSeedRelease()
	a, _ := g.build(t, buildspecs.Build, false)
	g.execution(t, buildspecs.SeedRelease, a, "prod")
	c, _ := g.build(t, buildspecs.Build, false)
	g.execution(t, buildspecs.SeedRelease, c, "staging") // waits for prod's approval
	e, _ := g.build(t, buildspecs.Build, false)
	g.execution(t, buildspecs.SeedRelease, e, "staging") // overtakes it in staging

	failed := g.stage(t, "prod", buildspecs.SeedRelease, c)
	if !strings.HasPrefix(failed, "Verify: ") {
		t.Fatalf("prod's stage: %q, want Verify to fail it", failed)
	}
	served := g.l.Served["prod"]
	if got := g.h.Registry.Digest(t, g.repo, "prod"); got != a["Image.IMAGE_DIGEST"] || len(served) == 0 || served[len(served)-1] != a["Image.IMAGE_DIGEST"] {
		t.Errorf(":prod is on %s, deployments %v; want both back on the last completed release %s", got, served, a["Image.IMAGE_DIGEST"])
	}
	if !slices.Contains(served, e["Image.IMAGE_DIGEST"]) {
		t.Errorf("deployments %v: the seed's release was expected to deploy the overtaking image %s for a moment", served, e["Image.IMAGE_DIGEST"])
	}
}
