package rehearsal

import (
	"slices"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/internal/buildspecs"
	"github.com/stagecoach/stagecoach/internal/contract"
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

// checkUpdate checks that calls redeployed stage's service, and only it, count
// times, in the stage's region.
func checkUpdate(t *testing.T, p *pipeline, stage string, calls []Call, count int) {
	t.Helper()
	cluster, service, region := p.where(t, stage)
	updates := callsTo(calls, "aws", "ecs", "update-service")
	if len(updates) != count {
		t.Fatalf("%s: %d update-service calls, want %d: %+v", stage, len(updates), count, updates)
	}
	for _, u := range updates {
		if arg(u.Args, "--cluster") != cluster || arg(u.Args, "--service") != service || arg(u.Args, "--region") != region || !slices.Contains(u.Args, "--force-new-deployment") {
			t.Errorf("%s: update-service %v, want cluster %s, service %s, region %s, --force-new-deployment", stage, u.Args, cluster, service, region)
		}
	}
}

// checkHomeLogin checks that every login to the home registry asked for a
// token of the home region: the registry does not follow STAGE_REGION.
func checkHomeLogin(t *testing.T, stage string, calls []Call) {
	t.Helper()
	for _, c := range callsTo(calls, "aws", "ecr", "get-login-password") {
		if r := arg(c.Args, "--region"); r != "" && r != c.Env["AWS_REGION"] {
			t.Errorf("%s: logged in to ECR with a token of %s, want the home region %s", stage, r, c.Env["AWS_REGION"])
		}
	}
}

// TestSeedPipeline runs TinyStacks' build.yml and release.yml, verbatim, with
// the environment, action variables, permissions and privileged mode of a
// synthesized pipeline whose service names its own build.yml and release.yml, as
// a TinyStacks user's does (the monorepo config's api).
func TestSeedPipeline(t *testing.T) {
	h := newHarness(t)
	p := newPipeline(t, h, "monorepo/shop-api-pipeline")
	res, calls := h.RunJob(t, p.job(t, p.build, buildspecs.SeedBuild, ""))
	mustSucceed(t, "seed build.yml", res)
	digest := h.Registry.Digest(t, p.repo, contract.LatestTag)
	if digest == "" {
		t.Fatalf("seed build.yml left no :latest; tags %v", h.Registry.Tags(t, p.repo))
	}
	builds := callsTo(calls, "docker", "build")
	if len(builds) != 1 || !slices.Equal(builds[0].Args, []string{"build", "-t", "builtimage", "."}) {
		t.Errorf("docker build calls %+v, want one `docker build -t builtimage .`", builds)
	}
	var stageNames []string
	for _, s := range p.releases {
		res, calls := p.release(t, buildspecs.SeedRelease, s.Stage, digest, nil)
		mustSucceed(t, "seed release.yml to "+s.Stage, res)
		if got := h.Registry.Digest(t, p.repo, s.Stage); got != digest {
			t.Errorf("%s: tag %s is on %q, want the built %s", s.Stage, s.Stage, got, digest)
		}
		checkUpdate(t, p, s.Stage, calls, 1)
		checkRuns(t, p, s.Stage, digest)
		checkHomeLogin(t, s.Stage, calls)
		stageNames = append(stageNames, s.Stage)
	}
	if got, want := sorted(h.Registry.Tags(t, p.repo)), sorted(append(stageNames, contract.LatestTag)); !slices.Equal(got, want) {
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
		t.Fatalf("update-service calls %+v; want the misfire on service \"placeholder\"", u)
	}
	// The real CLI, against an ECS without such a service, fails the call and
	// so the release.
	if u[0].Exit != 254 || !strings.Contains(u[0].Error, "ServiceNotFoundException") || res.Succeeded {
		t.Errorf("the misfire exited %d (%s) and the release succeeded: %v; want ServiceNotFoundException, exit 254, and a failed release", u[0].Exit, u[0].Error, res.Succeeded)
	}
}

// TestReleaseWithoutLatestFails: a build.yml that forgot to push leaves nothing
// to release; the first release must fail on the missing image, and must not
// deploy. The seed's release.yml does redeploy, since CodeBuild runs post_build
// after a failed build phase; ours stops in pre_build, before post_build.
// (The pipeline's digest step stops such an execution before any release; this
// is a release started by hand, without IMAGE_DIGEST.)
func TestReleaseWithoutLatestFails(t *testing.T) {
	noPush := strings.Replace(buildspecs.SeedBuild, "      - docker push $ECR_IMAGE_URL:latest\n", "", 1)
	if noPush == buildspecs.SeedBuild {
		t.Fatal("could not remove the push from the seed's build.yml")
	}
	for _, tc := range []struct {
		name, release string
		deploys       bool
		phase, failed string // the phase that fails, and how its command starts
		says          string // what the log says about the missing image
	}{
		{"seed", buildspecs.SeedRelease, true, PhaseBuild, "docker pull", "manifest for {url}:latest not found"},
		{"default", buildspecs.Release, false, PhasePreBuild, "region=", "release: {repo} has no image imageTag=latest: nothing to release"},
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
			phase, _ := res.Phase(tc.phase)
			if phase.Status != Failed || !strings.HasPrefix(phase.FailedCommand, tc.failed) {
				t.Errorf("%s phase %+v, want FAILED at %s", tc.phase, phase, tc.failed)
			}
			says := strings.NewReplacer("{url}", h.Registry.Host+"/"+repo, "{repo}", repo).Replace(tc.says)
			if !strings.Contains(res.Log, says) {
				t.Errorf("log does not say %q:\n%s", says, res.Log)
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
	if got := h.PrimaryDigest(stages[1].region, clusterARN(stages[1]), stages[1].service); got != second {
		t.Errorf("the staging service runs %q, want the second build %s", got, second)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestDefaultBuildDockerHubLogin: with the two optional build secrets the default
// build.yml logs in to Docker Hub before building, the token through stdin only;
// with a wrong token, or with one secret of the two, the build stops before it
// pushes anything; without either, it never talks to Docker Hub.
func TestDefaultBuildDockerHubLogin(t *testing.T) {
	h := newHarness(t)
	const user, token = "acme-ci", "dckr_pat_rehearsal-0123456789"
	hub := map[string]string{"REHEARSAL_DOCKERHUB_TOKEN": token}
	hubLogins := func(calls []Call) []Call {
		var out []Call
		for _, c := range callsTo(calls, "docker", "login") {
			if slices.Contains(c.Args, "https://index.docker.io/v1/") {
				out = append(out, c)
			}
		}
		return out
	}

	res, calls := h.RunJob(t, Job{Spec: buildspecs.Build, Settings: hub,
		Env: buildEnv(h, map[string]string{"DOCKERHUB_USERNAME": user, "DOCKERHUB_TOKEN": token})})
	mustSucceed(t, "build.yml with Docker Hub secrets", res)
	logins := hubLogins(calls)
	if len(logins) != 1 || arg(logins[0].Args, "--username") != user || !slices.Contains(logins[0].Args, "--password-stdin") {
		t.Fatalf("Docker Hub logins %+v, want one as %s with --password-stdin", logins, user)
	}
	for _, c := range calls {
		if strings.Contains(strings.Join(c.Args, " "), token) {
			t.Errorf("the token is on a command line: %s %v", c.Tool, c.Args)
		}
	}
	if strings.Contains(res.Log, token) {
		t.Error("the build log shows the Docker Hub token")
	}
	iLogin, iBuild := slices.IndexFunc(calls, func(c Call) bool { return c.Tool == "docker" && slices.Contains(c.Args, "https://index.docker.io/v1/") }),
		slices.IndexFunc(calls, func(c Call) bool { return c.Tool == "docker" && len(c.Args) > 0 && c.Args[0] == "build" })
	if iLogin < 0 || iBuild < 0 || iLogin > iBuild {
		t.Errorf("the Docker Hub login (call %d) does not come before docker build (call %d)", iLogin, iBuild)
	}
	built := h.Registry.Digest(t, repo, contract.LatestTag)

	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"wrong token", map[string]string{"DOCKERHUB_USERNAME": user, "DOCKERHUB_TOKEN": "dckr_pat_revoked"}, "incorrect username or password"},
		{"user alone", map[string]string{"DOCKERHUB_USERNAME": user}, "set both build secrets"},
		{"token alone", map[string]string{"DOCKERHUB_TOKEN": token}, "set both build secrets"},
	} {
		res, calls := h.RunJob(t, Job{Spec: buildspecs.Build, Settings: hub, Env: buildEnv(h, tc.env)})
		if res.Succeeded || !strings.Contains(res.Log, tc.want) {
			t.Errorf("%s: succeeded %v, want a failure saying %q:\n%s", tc.name, res.Succeeded, tc.want, res.Log)
		}
		if b := callsTo(calls, "docker", "build"); len(b) > 0 {
			t.Errorf("%s: the build went on after the failed login: %+v", tc.name, b)
		}
	}
	if got := h.Registry.Digest(t, repo, contract.LatestTag); got != built {
		t.Errorf(":latest moved from %s to %s after builds that failed to log in", built, got)
	}

	res, calls = h.RunJob(t, Job{Spec: buildspecs.Build, Settings: hub, Env: buildEnv(h, nil)})
	mustSucceed(t, "build.yml without Docker Hub secrets", res)
	if l := hubLogins(calls); len(l) != 0 {
		t.Errorf("without the secrets the build logged in to Docker Hub: %+v", l)
	}
}
