package rehearsal

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/buildspecs"
	"github.com/stagecoach/stagecoach/contract"
)

// These scenarios run build.yml and release.yml through a whole pipeline, the
// way CodePipeline would: one build, then one release per stage in order, each
// in a fresh CodeBuild container, against a registry playing ECR.

const repo = "acme/web"

type stage struct{ name, region, service string }

// stages is the default config's pipeline; prod runs in another region.
var stages = []stage{
	{"dev", "us-east-1", "acme-dev-web"},
	{"staging", "us-east-1", "acme-staging-web"},
	{"prod", "eu-west-1", "acme-prod-web"},
}

// buildEnv is the build project's contract environment, written by hand until
// the synthesized template provides it.
func buildEnv(h *Harness, extra map[string]string) map[string]string {
	env := map[string]string{
		contract.S3Bucket:    "acme-web-pipeline-artifacts",
		contract.ECREndpoint: h.Registry.Host,
		contract.ECRImageURL: h.Registry.Host + "/" + repo,
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func clusterARN(s stage) string {
	return "arn:aws:ecs:" + s.region + ":123456789012:cluster/acme-" + s.name
}

// releaseEnv is one stage's release project environment.
func releaseEnv(h *Harness, s stage, previous string) map[string]string {
	env := buildEnv(h, nil)
	env[contract.StageName] = s.name
	env[contract.PreviousStageName] = previous
	env[contract.ClusterARN] = clusterARN(s)
	env[contract.ServiceName] = s.service
	env[contract.StageRegion] = s.region
	return env
}

func newHarness(t *testing.T) *Harness {
	// Each scenario has its own registry and source, so they run side by side.
	t.Parallel()
	h := NewHarness(t)
	h.Log = func(log string) { t.Log("\n" + log) }
	return h
}

// arg returns the value after flag in args, or "".
func arg(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// callsTo filters calls by tool and leading arguments, e.g. "aws", "ecs", "update-service".
func callsTo(calls []Call, tool string, lead ...string) []Call {
	var out []Call
	for _, c := range calls {
		if c.Tool == tool && len(c.Args) >= len(lead) && slices.Equal(c.Args[:len(lead)], lead) {
			out = append(out, c)
		}
	}
	return out
}

// mustSucceed fails the test when a rehearsed run failed.
func mustSucceed(t *testing.T, what string, res *Result) {
	t.Helper()
	if !res.Succeeded {
		t.Fatalf("%s failed (exit %d): %s", what, res.ExitCode, statuses(res))
	}
}

// releaseAll releases every stage in order and checks that each stage tag ends
// on digest and that each stage's service was redeployed in its own region.
func releaseAll(t *testing.T, h *Harness, release, digest string) {
	t.Helper()
	previous := contract.LatestTag
	for _, s := range stages {
		res, calls := h.Run(t, release, releaseEnv(h, s, previous))
		mustSucceed(t, "release to "+s.name, res)
		if got := h.Registry.Digest(t, repo, s.name); got != digest {
			t.Errorf("%s: tag %s is on %q, want the built %s", s.name, s.name, got, digest)
		}
		updates := callsTo(calls, "aws", "ecs", "update-service")
		if len(updates) != 1 {
			t.Fatalf("%s: %d update-service calls, want 1: %+v", s.name, len(updates), calls)
		}
		u := updates[0].Args
		if arg(u, "--cluster") != clusterARN(s) || arg(u, "--service") != s.service || arg(u, "--region") != s.region || !slices.Contains(u, "--force-new-deployment") {
			t.Errorf("%s: update-service %v, want cluster %s, service %s, region %s, --force-new-deployment", s.name, u, clusterARN(s), s.service, s.region)
		}
		// The registry lives in the home region: login must not follow STAGE_REGION.
		for _, c := range callsTo(calls, "aws", "ecr", "get-login-password") {
			if r := arg(c.Args, "--region"); r != "" && r != "us-east-1" {
				t.Errorf("%s: logged in to ECR in %s, want the home region us-east-1", s.name, r)
			}
		}
		previous = s.name
	}
}

func TestSeedPipeline(t *testing.T) {
	h := newHarness(t)
	res, calls := h.Run(t, buildspecs.SeedBuild, buildEnv(h, nil))
	mustSucceed(t, "seed build.yml", res)
	digest := h.Registry.Digest(t, repo, contract.LatestTag)
	if digest == "" {
		t.Fatalf("seed build.yml left no :latest; tags %v", h.Registry.Tags(t, repo))
	}
	builds := callsTo(calls, "docker", "build")
	if len(builds) != 1 || !slices.Equal(builds[0].Args, []string{"build", "-t", "builtimage", "."}) {
		t.Errorf("docker build calls %+v, want one `docker build -t builtimage .`", builds)
	}
	releaseAll(t, h, buildspecs.SeedRelease, digest)
	if got, want := sorted(h.Registry.Tags(t, repo)), []string{"dev", "latest", "prod", "staging"}; !slices.Equal(got, want) {
		t.Errorf("tags %v, want %v", got, want)
	}
}

func TestDefaultPipeline(t *testing.T) {
	h := newHarness(t)
	// A monorepo service: its Dockerfile is not at the root.
	if err := os.MkdirAll(filepath.Join(h.Src, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.Src, "web", "Dockerfile"), []byte("FROM scratch\nLABEL service=web\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	commit := h.GitInit(t)
	res, _ := h.Run(t, buildspecs.Build, buildEnv(h, map[string]string{contract.DockerfilePath: "web/Dockerfile"}))
	mustSucceed(t, "build.yml", res)
	digest := h.Registry.Digest(t, repo, contract.LatestTag)
	if digest == "" {
		t.Fatal("build.yml left no :latest")
	}
	if got := h.Registry.Digest(t, repo, commit); got != digest {
		t.Errorf("commit tag %s is on %q, want :latest's %s", commit, got, digest)
	}
	if got := h.Registry.Labels(t, repo, contract.LatestTag)[LabelDockerfile]; got != "web/Dockerfile" {
		t.Errorf("image built from %q, want web/Dockerfile (DOCKERFILE_PATH)", got)
	}
	releaseAll(t, h, buildspecs.Release, digest)
	if got, want := sorted(h.Registry.Tags(t, repo)), sorted([]string{"dev", "latest", "prod", "staging", commit}); !slices.Equal(got, want) {
		t.Errorf("tags %v, want %v", got, want)
	}
}

func TestDefaultBuildCommitTag(t *testing.T) {
	h := newHarness(t)

	// CodeBuild's resolved source version wins over git.
	const sha = "0123456789abcdef0123456789abcdef01234567"
	res, _ := h.Run(t, buildspecs.Build, buildEnv(h, map[string]string{"CODEBUILD_RESOLVED_SOURCE_VERSION": sha}))
	mustSucceed(t, "build.yml with CODEBUILD_RESOLVED_SOURCE_VERSION", res)
	if d := h.Registry.Digest(t, repo, sha); d == "" || d != h.Registry.Digest(t, repo, contract.LatestTag) {
		t.Errorf(":%s is on %q, want :latest's digest", sha, d)
	}
	if got := h.Registry.Labels(t, repo, contract.LatestTag)[LabelDockerfile]; got != "Dockerfile" {
		t.Errorf("without DOCKERFILE_PATH the image came from %q, want Dockerfile", got)
	}

	// Neither a resolved version nor a git checkout: no commit tag, a message,
	// and :latest all the same.
	before := h.Registry.Digest(t, repo, contract.LatestTag)
	res, _ = h.Run(t, buildspecs.Build, buildEnv(h, nil))
	mustSucceed(t, "build.yml without a commit", res)
	if !strings.Contains(res.Log, "skipping the commit tag") {
		t.Errorf("log does not say the commit tag was skipped:\n%s", res.Log)
	}
	if after := h.Registry.Digest(t, repo, contract.LatestTag); after == "" || after == before {
		t.Errorf(":latest did not move to the new build (before %s, after %s)", before, after)
	}
	if got, want := sorted(h.Registry.Tags(t, repo)), []string{sha, "latest"}; !slices.Equal(got, want) {
		t.Errorf("tags %v, want %v", got, want)
	}
}

func TestPlaceholderServiceIsNotDeployed(t *testing.T) {
	for _, tc := range []struct{ name, build, release, sh string }{
		// TinyStacks' release.yml tests with `[ x == y ]`, which only bash
		// accepts: it needs an image whose sh is bash (Amazon Linux).
		{"seed on Amazon Linux", buildspecs.SeedBuild, buildspecs.SeedRelease, "bash"},
		{"default", buildspecs.Build, buildspecs.Release, "dash"},
		{"default on Amazon Linux", buildspecs.Build, buildspecs.Release, "bash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.Sh = tc.sh
			res, _ := h.Run(t, tc.build, buildEnv(h, nil))
			mustSucceed(t, "build", res)
			for _, service := range []string{"placeholder", ""} {
				env := releaseEnv(h, stages[0], contract.LatestTag)
				env[contract.ServiceName] = service
				res, calls := h.Run(t, tc.release, env)
				mustSucceed(t, "release with SERVICE_NAME="+service, res)
				if u := callsTo(calls, "aws", "ecs"); len(u) > 0 {
					t.Errorf("SERVICE_NAME=%q: ECS was called: %+v", service, u)
				}
				if !strings.Contains(res.Log, "Service is not ready yet") {
					t.Errorf("SERVICE_NAME=%q: log does not say the service is not ready:\n%s", service, res.Log)
				}
				if h.Registry.Digest(t, repo, "dev") == "" {
					t.Errorf("SERVICE_NAME=%q: dev was not tagged", service)
				}
			}
		})
	}
}

// TestSeedPlaceholderUnderDash documents a trap for users' own release.yml: on
// an image whose sh is dash (the Ubuntu standard images), the seed's
// `[ "$SERVICE_NAME" == "placeholder" ]` is an error, so the release calls
// update-service for a service named "placeholder". The real CLI would fail
// there (ServiceNotFoundException) and, with on-failure: CONTINUE, fail the
// release. A real service name takes the right branch only by accident.
func TestSeedPlaceholderUnderDash(t *testing.T) {
	h := newHarness(t)
	h.Sh = "dash"
	res, _ := h.Run(t, buildspecs.SeedBuild, buildEnv(h, nil))
	mustSucceed(t, "build", res)
	env := releaseEnv(h, stages[0], contract.LatestTag)
	env[contract.ServiceName] = "placeholder"
	res, calls := h.Run(t, buildspecs.SeedRelease, env)
	if !strings.Contains(res.Log, "unexpected operator") {
		t.Errorf("dash did not reject `==`:\n%s", res.Log)
	}
	u := callsTo(calls, "aws", "ecs", "update-service")
	if len(u) != 1 || arg(u[0].Args, "--service") != "placeholder" {
		t.Errorf("update-service calls %+v; want the misfire on service \"placeholder\"", u)
	}
}

// TestReleaseWithoutLatestFails: a build.yml that forgot to push leaves nothing
// to release; the first release must fail on the missing image, and must not
// deploy. The seed's release.yml does redeploy, since CodeBuild runs post_build
// after a failed build phase; ours checks CODEBUILD_BUILD_SUCCEEDING.
func TestReleaseWithoutLatestFails(t *testing.T) {
	noPush := strings.Replace(buildspecs.SeedBuild, "      - docker push $ECR_IMAGE_URL:latest\n", "", 1)
	if noPush == buildspecs.SeedBuild {
		t.Fatal("could not remove the push from the seed's build.yml")
	}
	for _, tc := range []struct {
		name, release string
		deploys       bool
	}{
		{"seed", buildspecs.SeedRelease, true},
		{"default", buildspecs.Release, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			res, _ := h.Run(t, noPush, buildEnv(h, nil))
			mustSucceed(t, "build.yml without push", res)
			if tags := h.Registry.Tags(t, repo); len(tags) != 0 {
				t.Fatalf("nothing was pushed, yet the registry has %v", tags)
			}
			res, calls := h.Run(t, tc.release, releaseEnv(h, stages[0], contract.LatestTag))
			if res.Succeeded {
				t.Fatal("the release succeeded with no image to release")
			}
			build, _ := res.Phase(PhaseBuild)
			if build.Status != Failed || !strings.HasPrefix(build.FailedCommand, "docker pull") {
				t.Errorf("build phase %+v, want FAILED at docker pull", build)
			}
			if !strings.Contains(res.Log, "manifest for "+h.Registry.Host+"/"+repo+":latest not found") {
				t.Errorf("log does not name the missing image:\n%s", res.Log)
			}
			if deployed := len(callsTo(calls, "aws", "ecs", "update-service")) > 0; deployed != tc.deploys {
				t.Errorf("update-service called: %v, want %v", deployed, tc.deploys)
			}
			if h.Registry.Digest(t, repo, "dev") != "" {
				t.Error("dev was tagged although there was nothing to release")
			}
		})
	}
}

// TestSeedPromotesWhateverThePreviousStageRunsNow documents the seed's race:
// staging promotes the image dev runs at the time staging is released, not the
// image of the execution being approved. Digest promotion will close it.
func TestSeedPromotesWhateverThePreviousStageRunsNow(t *testing.T) {
	h := newHarness(t)
	release := func(s stage, previous string) {
		res, _ := h.Run(t, buildspecs.SeedRelease, releaseEnv(h, s, previous))
		mustSucceed(t, "release to "+s.name, res)
	}
	build := func() string {
		res, _ := h.Run(t, buildspecs.SeedBuild, buildEnv(h, nil))
		mustSucceed(t, "build", res)
		return h.Registry.Digest(t, repo, contract.LatestTag)
	}
	first := build()
	release(stages[0], contract.LatestTag) // execution 1 reaches dev, then waits for staging
	second := build()
	release(stages[0], contract.LatestTag) // execution 2 overtakes it in dev
	release(stages[1], "dev")              // execution 1's staging release runs now
	if got := h.Registry.Digest(t, repo, "staging"); got != second || first == second {
		t.Errorf("staging is on %s; the seed's release.yml was expected to promote the second build %s (first %s)", got, second, first)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
