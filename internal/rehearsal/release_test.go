package rehearsal

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stagecoach/stagecoach/internal/buildspecs"
	"github.com/stagecoach/stagecoach/internal/contract"
)

// These scenarios run stagecoach's build.yml and release.yml through the
// pipelines of the golden templates: every run has the environment, action
// variables (IMAGE_DIGEST) and IAM actions the synthesized stacks give it.

// checkStable checks that a release of digest rolled stage's service onto it
// and watched the rollout until ECS reported it complete: the service's PRIMARY
// deployment runs digest (or, from a regional repository, the regional copy of
// it).
func checkStable(t *testing.T, p *pipeline, stage, digest string, res *Result, calls []Call) {
	t.Helper()
	mustSucceed(t, "release to "+stage, res)
	if got := p.h.Registry.Digest(t, p.repo, stage); got != digest {
		t.Errorf("%s: tag %s is on %q, want %s", stage, stage, got, digest)
	}
	checkRuns(t, p, stage, digest)
	checkUpdate(t, p, stage, calls, 1)
	cluster, service, region := p.where(t, stage)
	polls := callsTo(calls, "aws", "ecs", "describe-services")
	// One look before deploying, then at least two polls: IN_PROGRESS, COMPLETED.
	if len(polls) < 3 {
		t.Errorf("%s: %d describe-services calls, want a look before deploying and a poll until COMPLETED", stage, len(polls))
	}
	for _, c := range polls {
		if arg(c.Args, "--cluster") != cluster || arg(c.Args, "--services") != service || arg(c.Args, "--region") != region {
			t.Errorf("%s: describe-services %v, want cluster %s, service %s, region %s", stage, c.Args, cluster, service, region)
		}
	}
	if want := "release: " + service + " is stable on " + digest; !strings.Contains(res.Log, want) {
		t.Errorf("%s: log does not say %q", stage, want)
	}
}

// checkRuns checks that stage's service runs the image digest of the home
// repository: its PRIMARY deployment resolved its image to digest, or, for a
// stage that pulls from its own region, to the regional copy of digest (same
// content, and the digest the regional stage tag is on).
func checkRuns(t *testing.T, p *pipeline, stage, digest string) {
	t.Helper()
	cluster, service, region := p.where(t, stage)
	got := p.h.PrimaryDigest(region, cluster, service)
	regional := p.h.Regional[region]
	if regional == nil || p.env(t, p.stage(t, stage))[contract.RegionalECRImageURL] == "" {
		if got != digest {
			t.Errorf("%s: the service's PRIMARY deployment runs %q, want %s; deployments %+v", stage, got, digest, p.h.Deployments(region, cluster, service))
		}
		return
	}
	if got == "" || got != regional.Digest(t, p.repo, stage) || regional.Content(t, p.repo, got) != p.h.Registry.Content(t, p.repo, digest) {
		t.Errorf("%s: the service's PRIMARY deployment runs %q, want the regional copy of %s (regional :%s is on %q)", stage, got, digest, stage, regional.Digest(t, p.repo, stage))
	}
}

// checkAPIOnly checks that a same-region release retagged through the ECR API
// alone: no docker, and a put-image of the manifest under the stage tag.
func checkAPIOnly(t *testing.T, stage, digest string, calls []Call) {
	t.Helper()
	if d := callsTo(calls, "docker"); len(d) > 0 {
		t.Errorf("%s: the release ran docker: %+v", stage, d)
	}
	puts := callsTo(calls, "aws", "ecr", "put-image")
	if len(puts) != 1 {
		t.Fatalf("%s: %d put-image calls, want 1", stage, len(puts))
	}
	a := puts[0].Args
	if arg(a, "--image-tag") != stage || arg(a, "--image-digest") != digest || arg(a, "--image-manifest-media-type") == "" {
		t.Errorf("%s: put-image %v, want the stage tag, digest %s and a media type", stage, a, digest)
	}
}

// TestDefaultPipeline: build once, then release to every stage; each stage tag
// ends on the built digest, and each stage's service is deployed and watched
// until stable, in its own cluster and region. The monorepo config has a stage
// in another region and a build that picks its Dockerfile.
func TestDefaultPipeline(t *testing.T) {
	for _, name := range []string{"default/acme-web-pipeline", "monorepo/shop-web-pipeline"} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			p := newPipeline(t, h, name)
			dockerfile := p.env(t, p.build)[contract.DockerfilePath]
			if dockerfile == "" {
				dockerfile = "Dockerfile"
			}
			if err := os.MkdirAll(filepath.Join(h.Src, filepath.Dir(dockerfile)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(h.Src, dockerfile), []byte("FROM scratch\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			commit := h.GitInit(t)
			digest := p.runBuild(t, buildspecs.Build)
			if got := h.Registry.Labels(t, p.repo, contract.LatestTag)[LabelDockerfile]; got != dockerfile {
				t.Errorf("image built from %q, want %s", got, dockerfile)
			}
			tags := []string{contract.LatestTag, commit}
			for _, s := range p.releases {
				// A stage pulling from its own region gets a registry of its own.
				var regional *Registry
				if p.env(t, s)[contract.RegionalECRImageURL] != "" {
					_, _, region := p.where(t, s.Stage)
					regional = h.AddRegion(t, region)
				}
				// Privileged mode (a Docker daemon) only where the default release.yml
				// uses docker: to copy the image to another region.
				if s.Privileged != (regional != nil) {
					t.Errorf("%s: privileged mode %v, want it only for a regional copy", s.Stage, s.Privileged)
				}
				res, calls := p.release(t, buildspecs.Release, s.Stage, digest, nil)
				checkStable(t, p, s.Stage, digest, res, calls)
				if regional == nil {
					checkAPIOnly(t, s.Stage, digest, calls)
				} else if got := regional.Digest(t, p.repo, s.Stage); got == "" || regional.Content(t, p.repo, got) != h.Registry.Content(t, p.repo, digest) {
					t.Errorf("%s: the regional tag is on %q, want a copy of %s", s.Stage, got, digest)
				}
				tags = append(tags, s.Stage)
			}
			if got, want := sorted(h.Registry.Tags(t, p.repo)), sorted(tags); !slices.Equal(got, want) {
				t.Errorf("tags %v, want %v", got, want)
			}

			// A re-run finds the tag in place (ECR's ImageAlreadyExistsException)
			// and deploys all the same.
			first := p.releases[0].Stage
			res, calls := p.release(t, buildspecs.Release, first, digest, nil)
			checkStable(t, p, first, digest, res, calls)
			if !strings.Contains(res.Log, "release: "+h.Registry.Host+"/"+p.repo+":"+first+" was on "+digest+" already") {
				t.Errorf("the re-run does not say the tag was in place:\n%s", res.Log)
			}
		})
	}
}

// TestReleaseOfANewerImage: a stage released before (by the release.yml as
// shipped) gets a newer image; its service must run the newer image once the
// release says it is stable. (ECS resolves the stage tag when it creates the
// deployment, so a release.yml that deploys before it moves the tag runs the
// old image: see TestMutantsFail.)
func TestReleaseOfANewerImage(t *testing.T) {
	h := newHarness(t)
	p := newPipeline(t, h, "default/acme-web-pipeline")
	first := p.releases[0].Stage
	a := p.runBuild(t, buildspecs.Build)
	res, calls := p.release(t, pristineRelease, first, a, nil)
	checkStable(t, p, first, a, res, calls)
	b := p.runBuild(t, buildspecs.Build)
	res, calls = p.release(t, buildspecs.Release, first, b, nil)
	checkStable(t, p, first, b, res, calls)
}

// TestUnstableReleaseRollsBack: a release whose service does not become stable
// puts the stage tag back on the image the stage ran before, redeploys the
// service on it and fails, so the pipeline stops: the next stage is not released.
func TestUnstableReleaseRollsBack(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings map[string]string // for the stand-ins
		env      map[string]string // release variables
		says     string
	}{
		{"circuit breaker", map[string]string{"REHEARSAL_ECS_ROLLOUT": "IN_PROGRESS,IN_PROGRESS,FAILED"}, nil,
			"did not become stable: ECS deployment circuit breaker: tasks failed to start."},
		{"timeout", map[string]string{"REHEARSAL_ECS_ROLLOUT": "IN_PROGRESS"},
			map[string]string{"RELEASE_TIMEOUT_SECONDS": "1", "RELEASE_POLL_SECONDS": "1"},
			"did not become stable within 1 s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			p := newPipeline(t, h, "default/acme-web-pipeline")
			good := p.runBuild(t, buildspecs.Build)
			if results, _ := p.execution(t, buildspecs.Release, good, nil); len(results) != len(p.releases) || !results[p.releases[len(p.releases)-1].Stage].Succeeded {
				t.Fatalf("the first execution did not release every stage")
			}
			bad := p.runBuild(t, buildspecs.Build)
			first, next := p.releases[0].Stage, p.releases[1].Stage

			results, allCalls := p.execution(t, buildspecs.Release, bad, scripted(first, tc.settings, tc.env))
			res, calls := results[first], allCalls[first]
			if res.Succeeded || res.ExitCode == 0 {
				t.Fatalf("the release of an unstable image succeeded")
			}
			if got := h.Registry.Digest(t, p.repo, first); got != good {
				t.Errorf("%s is on %s after the failed release, want the previous %s", first, got, good)
			}
			checkRuns(t, p, first, good)
			// Deployed; then, once the tag was back, redeployed.
			checkUpdate(t, p, first, calls, 2)
			putBack, redeploy := -1, -1
			for i, c := range calls {
				switch {
				case slices.Equal(c.Args[:2], []string{"ecr", "put-image"}) && arg(c.Args, "--image-digest") == good:
					putBack = i
				case slices.Equal(c.Args[:2], []string{"ecs", "update-service"}):
					redeploy = i
				}
			}
			if putBack < 0 || redeploy < putBack {
				t.Errorf("want the tag put back on %s, then a redeploy; calls %+v", good, calls)
			}
			for _, want := range []string{"release: FAILED: ", tc.says, "is back on " + good, "release: redeploying"} {
				if !strings.Contains(res.Log, want) {
					t.Errorf("log does not say %q:\n%s", want, res.Log)
				}
			}
			// The stage failed, so nothing flows on.
			if _, ran := results[next]; ran {
				t.Errorf("%s was released after %s failed", next, first)
			}
			if got := h.Registry.Digest(t, p.repo, next); got != good {
				t.Errorf("%s is on %s, want %s", next, got, good)
			}
		})
	}
}

// TestFirstReleaseUnstable: a stage's first release fails, so there is no
// earlier image to return to. The stage tag is removed: nothing may start an
// image that never passed a release, and the stage is "never released" again.
// That needs ecr:BatchDeleteImage, which the golden release role has; without
// it (a role trimmed by hand) the release says so and how to remove the tag.
func TestFirstReleaseUnstable(t *testing.T) {
	for _, grant := range []bool{true, false} {
		name := "without ecr:BatchDeleteImage"
		if grant {
			name = "with ecr:BatchDeleteImage"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			p := newPipeline(t, h, "default/acme-web-pipeline")
			digest := p.runBuild(t, buildspecs.Build)
			first := p.releases[0].Stage
			res, calls := p.release(t, buildspecs.Release, first, digest, func(_ string, j *Job) {
				j.Settings["REHEARSAL_ECS_ROLLOUT"] = "IN_PROGRESS,FAILED"
				allowed := strings.Split(j.Settings["REHEARSAL_IAM_ALLOW"], ",")
				if !slices.Contains(allowed, "ecr:BatchDeleteImage") {
					t.Errorf("the golden release role lacks ecr:BatchDeleteImage: %v", allowed)
				}
				if !grant {
					allowed = slices.DeleteFunc(allowed, func(a string) bool { return a == "ecr:BatchDeleteImage" })
				}
				j.Settings["REHEARSAL_IAM_ALLOW"] = strings.Join(allowed, ",")
			})
			if res.Succeeded {
				t.Fatal("the release of an unstable image succeeded")
			}
			checkUpdate(t, p, first, calls, 1) // nothing to redeploy
			// The circuit breaker returned the service to what it ran before
			// its first release: nothing of the failed image.
			if cluster, service, region := p.where(t, first); h.PrimaryDigest(region, cluster, service) != "" {
				t.Errorf("after the failed first release the service runs %q, want nothing", h.PrimaryDigest(region, cluster, service))
			}
			if !strings.Contains(res.Log, "release: not redeploying") {
				t.Errorf("log does not say why the service is not redeployed:\n%s", res.Log)
			}
			if got := h.Registry.Digest(t, p.repo, contract.LatestTag); got != digest {
				t.Errorf(":latest is on %q, want %s: removing the stage tag must not delete the image", got, digest)
			}
			got := h.Registry.Digest(t, p.repo, first)
			if grant {
				if got != "" || !strings.Contains(res.Log, "release: removed :"+first) {
					t.Errorf(":%s is on %q, want it removed; log:\n%s", first, got, res.Log)
				}
				return
			}
			if got != digest {
				t.Errorf(":%s is on %q; without the permission it stays on %s", first, got, digest)
			}
			for _, want := range []string{"not authorized to perform: ecr:BatchDeleteImage", "remove it with: aws ecr batch-delete-image"} {
				if !strings.Contains(res.Log, want) {
					t.Errorf("log does not say %q:\n%s", want, res.Log)
				}
			}
		})
	}
}

// TestApprovalOvertakenByNewerPush: execution 1 builds A and releases it to dev;
// execution 2 builds B and releases it to dev; then execution 1's next release
// runs (an approval granted late). It promotes A, the image execution 1 built,
// where the seed's release.yml promotes B (TestSeedPromotesWhateverThePreviousStageRunsNow).
func TestApprovalOvertakenByNewerPush(t *testing.T) {
	h := newHarness(t)
	p := newPipeline(t, h, "default/acme-web-pipeline")
	first, next := p.releases[0].Stage, p.releases[1].Stage
	a := p.runBuild(t, buildspecs.Build)
	res, _ := p.release(t, buildspecs.Release, first, a, nil)
	mustSucceed(t, "execution 1, "+first, res)
	b := p.runBuild(t, buildspecs.Build)
	res, _ = p.release(t, buildspecs.Release, first, b, nil)
	mustSucceed(t, "execution 2, "+first, res)
	res, calls := p.release(t, buildspecs.Release, next, a, nil)
	checkStable(t, p, next, a, res, calls)
	if a == b || h.Registry.Digest(t, p.repo, first) != b {
		t.Errorf("%s is on %s; want execution 2's %s (and %s != %s)", first, h.Registry.Digest(t, p.repo, first), b, a, b)
	}
	checkRuns(t, p, first, b)
}

// TestServiceNotReady: on the first deploy the stage's service may not exist yet
// (the stage stack deploys alongside), or exist with no task that nothing starts
// (a stage stack older than its start rule). The tag moves, so the service starts
// on it; the release succeeds without waiting.
func TestServiceNotReady(t *testing.T) {
	for _, tc := range []struct {
		name    string
		service string // SERVICE_NAME, when not the template's
		ecs     string // REHEARSAL_ECS_SERVICES, with {service} for the template's
		updates int
		says    string
	}{
		{"placeholder", "placeholder", "", 0, "Service is not ready yet. Repository tagged correctly"},
		{"no name", " ", "", 0, "Service is not ready yet. Repository tagged correctly"},
		{"missing", "", "{service}=MISSING", 0, "Service is not ready yet ({service} is MISSING in "},
		{"inactive", "", "{service}=INACTIVE", 0, "Service is not ready yet ({service} is INACTIVE in "},
		{"no task", "", "{service}=ACTIVE:0", 1, "{service} has desiredCount 0 (first deploy): not waiting"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			p := newPipeline(t, h, "default/acme-web-pipeline")
			digest := p.runBuild(t, buildspecs.Build)
			first := p.releases[0].Stage
			_, service, _ := p.where(t, first)
			fill := strings.NewReplacer("{service}", service)
			res, calls := p.release(t, buildspecs.Release, first, digest, func(_ string, j *Job) {
				if tc.service != "" {
					j.Env[contract.ServiceName] = strings.TrimSpace(tc.service)
				}
				j.Settings["REHEARSAL_ECS_SERVICES"] = fill.Replace(tc.ecs)
			})
			mustSucceed(t, "release", res)
			if got := h.Registry.Digest(t, p.repo, first); got != digest {
				t.Errorf("%s is on %q, want %s", first, got, digest)
			}
			checkUpdate(t, p, first, calls, tc.updates)
			if says := fill.Replace(tc.says); !strings.Contains(res.Log, says) {
				t.Errorf("log does not say %q:\n%s", says, res.Log)
			}
			// Only asked for its count: once before deploying, six times after.
			if tc.updates > 0 && len(callsTo(calls, "aws", "ecs", "describe-services")) != 7 {
				t.Errorf("a service with no task was watched: %+v", callsTo(calls, "aws", "ecs", "describe-services"))
			}
			if tc.updates > 0 {
				// With no task to start, the deployment completed at once, on the image.
				checkRuns(t, p, first, digest)
			} else if cluster, svc, region := p.where(t, first); h.PrimaryDigest(region, cluster, svc) != "" {
				t.Errorf("a service that was not deployed runs %q", h.PrimaryDigest(region, cluster, svc))
			}
		})
	}
}

// TestFirstRelease: a stage's service waits at 0 until its first release; the forced
// deployment makes its stage stack raise it to its minimum. The default release.yml
// waits for that, deploys again and watches the new tasks like any release: a broken
// first image fails the stage, and its tag is removed again.
func TestFirstRelease(t *testing.T) {
	for _, stable := range []bool{true, false} {
		t.Run(map[bool]string{true: "healthy", false: "broken image"}[stable], func(t *testing.T) {
			h := newHarness(t)
			p := newPipeline(t, h, "default/acme-web-pipeline")
			digest := p.runBuild(t, buildspecs.Build)
			first := p.releases[0].Stage
			_, service, _ := p.where(t, first)
			res, calls := p.release(t, buildspecs.Release, first, digest, func(_ string, j *Job) {
				j.Settings["REHEARSAL_ECS_SERVICES"] = service + "=ACTIVE:0>2"
				if !stable {
					j.Settings["REHEARSAL_ECS_STABLE"] = "false"
				}
			})
			checkUpdate(t, p, first, calls, 2)
			if !strings.Contains(res.Log, service+" started at 2 task(s) (its first release): deploying again") {
				t.Errorf("log does not say the service started:\n%s", res.Log)
			}
			if stable {
				mustSucceed(t, "first release", res)
				if got := h.Registry.Digest(t, p.repo, first); got != digest {
					t.Errorf("%s is on %q, want %s", first, got, digest)
				}
				return
			}
			if res.Succeeded {
				t.Fatalf("a first release whose tasks fail succeeded:\n%s", res.Log)
			}
			if got := h.Registry.Digest(t, p.repo, first); got != "" {
				t.Errorf("after a failed first release %s is on %q, want no tag", first, got)
			}
		})
	}
}

// TestReleaseByHandFallsBack: a release project started by hand has no
// IMAGE_DIGEST; it promotes what the previous stage's tag is on, as the seed's
// release.yml does.
func TestReleaseByHandFallsBack(t *testing.T) {
	h := newHarness(t)
	p := newPipeline(t, h, "default/acme-web-pipeline")
	first, next := p.releases[0].Stage, p.releases[1].Stage
	a := p.runBuild(t, buildspecs.Build)
	res, calls := p.release(t, buildspecs.Release, first, "", nil)
	checkStable(t, p, first, a, res, calls)
	// A newer build moves :latest; by hand, the next stage takes what the first runs.
	b := p.runBuild(t, buildspecs.Build)
	res, calls = p.release(t, buildspecs.Release, next, "", nil)
	checkStable(t, p, next, a, res, calls)
	if a == b {
		t.Fatal("both builds made the same image")
	}
	for _, want := range []string{"release: IMAGE_DIGEST is empty, so promoting what :" + first + " is on now to :" + next, "release: image " + a} {
		if !strings.Contains(res.Log, want) {
			t.Errorf("log does not say %q:\n%s", want, res.Log)
		}
	}
	// A digest the repository does not hold fails before any tag moves.
	const missing = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	res, calls = p.release(t, buildspecs.Release, next, missing, nil)
	if res.Succeeded || !strings.Contains(res.Log, "has no image imageDigest="+missing) {
		t.Errorf("releasing a missing digest: succeeded %v\n%s", res.Succeeded, res.Log)
	}
	if len(callsTo(calls, "aws", "ecr", "put-image")) > 0 || len(callsTo(calls, "aws", "ecs")) > 0 {
		t.Errorf("releasing a missing digest moved a tag or deployed: %+v", calls)
	}
	checkRuns(t, p, next, a)
}

// TestRegionalCopy: a stage whose service pulls from a repository in its own
// region (REGIONAL_ECR_*) gets the image copied there and tagged, next to the
// home tag; a failed release there puts both tags back. The REGIONAL_* variables
// and the role's permissions come from the golden template.
func TestRegionalCopy(t *testing.T) {
	h, p, last, region, regional := newRegionalPipeline(t)
	// An execution to every stage; in the last one, more.
	release := func(digest string, more map[string]string) (*Result, []Call) {
		results, calls := p.execution(t, buildspecs.Release, digest, func(stage string, j *Job) {
			if stage != last.Stage {
				return
			}
			// The stacks give a regional stage its repository's endpoint and URL.
			if j.Env[contract.RegionalECREndpoint] != regional.Host || j.Env[contract.RegionalECRImageURL] != regional.Host+"/"+p.repo {
				t.Errorf("%s's release has REGIONAL_ECR_ENDPOINT %q and REGIONAL_ECR_IMAGE_URL %q, want the %s registry",
					stage, j.Env[contract.RegionalECREndpoint], j.Env[contract.RegionalECRImageURL], region)
			}
			for k, v := range more {
				j.Settings[k] = v
			}
		})
		res, ok := results[last.Stage]
		if !ok {
			t.Fatalf("the execution stopped before %s", last.Stage)
		}
		return res, calls[last.Stage]
	}

	a := p.runBuild(t, buildspecs.Build)
	res, calls := release(a, nil)
	mustSucceed(t, "regional release", res)
	// The copy went through docker, which compressed the layers anew: the
	// regional digest is not the home one, the content is.
	ra := regional.Digest(t, p.repo, last.Stage)
	if ra == "" || ra == a || regional.Content(t, p.repo, ra) != h.Registry.Content(t, p.repo, a) {
		t.Errorf("regional %s is on %q, want a copy of %s under a digest of its own", last.Stage, ra, a)
	}
	checkRuns(t, p, last.Stage, a)
	if got := h.Registry.Digest(t, p.repo, last.Stage); got != a {
		t.Errorf("home %s is on %q, want %s", last.Stage, got, a)
	}
	if got := regional.Tags(t, p.repo); !slices.Equal(got, []string{last.Stage}) {
		t.Errorf("regional tags %v, want only %s", got, last.Stage)
	}
	logins := callsTo(calls, "docker", "login")
	if len(logins) != 2 || logins[0].Args[len(logins[0].Args)-1] != h.Registry.Host || logins[1].Args[len(logins[1].Args)-1] != regional.Host {
		t.Errorf("docker logins %+v, want the home registry, then the regional one", logins)
	}
	if tokens := callsTo(calls, "aws", "ecr", "get-login-password"); len(tokens) != 2 || arg(tokens[0].Args, "--region") != "us-east-1" || arg(tokens[1].Args, "--region") != region {
		t.Errorf("get-login-password calls %+v, want one for each registry's region", tokens)
	}
	pulls, pushes := callsTo(calls, "docker", "pull"), callsTo(calls, "docker", "push")
	if len(pulls) != 1 || pulls[0].Args[1] != h.Registry.Host+"/"+p.repo+"@"+a || len(pushes) != 1 || pushes[0].Args[1] != regional.Host+"/"+p.repo+":"+last.Stage {
		t.Errorf("pulls %+v, pushes %+v; want a pull by digest from home and a push of the stage tag to the regional repository", pulls, pushes)
	}
	checkUpdate(t, p, last.Stage, calls, 1)

	// A copy that fails leaves every tag where it was, and deploys nothing.
	c := p.runBuild(t, buildspecs.Build)
	res, calls = release(c, map[string]string{"REHEARSAL_IAM_ALLOW": "ecr:GetAuthorizationToken,ecr:BatchGetImage,ecr:GetDownloadUrlForLayer,ecr:PutImage,ecs:*"})
	if res.Succeeded || !strings.Contains(res.Log, "release: the promotion failed: not deploying "+last.Stage) || !strings.Contains(res.Log, "not authorized to perform: ecr:BatchCheckLayerAvailability") {
		t.Errorf("a release whose copy was refused: succeeded %v\n%s", res.Succeeded, res.Log)
	}
	if regional.Digest(t, p.repo, last.Stage) != ra || h.Registry.Digest(t, p.repo, last.Stage) != a {
		t.Errorf("after a failed copy the %s tags moved: home %s, regional %s; want them on %s and %s", last.Stage, h.Registry.Digest(t, p.repo, last.Stage), regional.Digest(t, p.repo, last.Stage), a, ra)
	}
	checkRuns(t, p, last.Stage, a)
	checkUpdate(t, p, last.Stage, calls, 0)

}

// TestRegionalReleaseFailsBack: a release to a stage that pulls from its own
// region fails; both stage tags go back, the regional one on the regional copy
// of the previous image (its digest differs from the home one), through the
// API, and the service is redeployed on it.
func TestRegionalReleaseFailsBack(t *testing.T) {
	h, p, last, region, regional := newRegionalPipeline(t)
	a := p.runBuild(t, buildspecs.Build)
	res, _ := p.release(t, buildspecs.Release, last.Stage, a, nil)
	mustSucceed(t, "regional release", res)
	ra := regional.Digest(t, p.repo, last.Stage)
	if ra == "" || ra == a {
		t.Fatalf("regional %s is on %q, want a copy of %s under a digest of its own", last.Stage, ra, a)
	}
	b := p.runBuild(t, buildspecs.Build)
	res, calls := p.release(t, buildspecs.Release, last.Stage, b, scripted(last.Stage, map[string]string{"REHEARSAL_ECS_ROLLOUT": "IN_PROGRESS,FAILED"}, nil))
	if res.Succeeded {
		t.Fatal("the release of an unstable image succeeded")
	}
	if got := regional.Digest(t, p.repo, last.Stage); got != ra {
		t.Errorf("regional %s is on %q after the failed release, want %s", last.Stage, got, ra)
	}
	checkRuns(t, p, last.Stage, a)
	if got := h.Registry.Digest(t, p.repo, last.Stage); got != a {
		t.Errorf("home %s is on %q after the failed release, want %s", last.Stage, got, a)
	}
	checkUpdate(t, p, last.Stage, calls, 2)
	var regionalPut bool
	for _, c := range callsTo(calls, "aws", "ecr", "put-image") {
		regionalPut = regionalPut || arg(c.Args, "--region") == region && arg(c.Args, "--image-digest") == ra
	}
	if !regionalPut {
		t.Errorf("the regional tag was not put back through the API in %s: %+v", region, callsTo(calls, "aws", "ecr", "put-image"))
	}
}

// TestReleaseOfMultiPlatformImage: a build that pushes a multi-platform image
// (an OCI image index, as `docker buildx` makes) is promoted as it is: the
// stage tag lands on the index's own digest, with its media type.
func TestReleaseOfMultiPlatformImage(t *testing.T) {
	h := newHarness(t)
	p := newPipeline(t, h, "default/acme-web-pipeline")
	idx, err := random.Index(1024, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	digest := pushIndex(t, h, p.repo, idx)
	first := p.releases[0].Stage
	res, calls := p.release(t, buildspecs.Release, first, digest, nil)
	checkStable(t, p, first, digest, res, calls)
	checkAPIOnly(t, first, digest, calls)
	if mt := arg(callsTo(calls, "aws", "ecr", "put-image")[0].Args, "--image-manifest-media-type"); mt != string(types.OCIImageIndex) {
		t.Errorf("put-image media type %q, want %s", mt, types.OCIImageIndex)
	}
}

// TestRegionalCopyOfMultiPlatformImage: the regional copy goes through docker,
// which pulls the one platform of the build machine (linux/amd64) of a
// multi-platform image: the regional stage tag is that platform's image alone,
// under a digest of its own, and the regional service runs it.
func TestRegionalCopyOfMultiPlatformImage(t *testing.T) {
	h := newHarness(t)
	p := newPipeline(t, h, "monorepo/shop-web-pipeline")
	last := p.releases[len(p.releases)-1]
	_, _, region := p.where(t, last.Stage)
	regional := h.AddRegion(t, region)
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(1024, 2)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	digest := pushIndex(t, h, p.repo, idx)
	results, _ := p.execution(t, buildspecs.Release, digest, nil)
	res, ok := results[last.Stage]
	if !ok {
		t.Fatalf("the execution stopped before %s", last.Stage)
	}
	mustSucceed(t, "regional release of a multi-platform image", res)
	got := regional.Digest(t, p.repo, last.Stage)
	desc, err := remote.Get(mustTag(t, regional.Host+"/"+p.repo+":"+last.Stage))
	if err != nil {
		t.Fatal(err)
	}
	if got == digest || desc.MediaType.IsIndex() {
		t.Errorf("regional %s is %s (%s), want the linux/amd64 image alone, not the index %s", last.Stage, got, desc.MediaType, digest)
	}
	checkRuns(t, p, last.Stage, digest)
	// The home stage tags are on the index itself.
	if h.Registry.Digest(t, p.repo, last.Stage) != digest {
		t.Errorf("home %s is on %s, want the index %s", last.Stage, h.Registry.Digest(t, p.repo, last.Stage), digest)
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// pushIndex pushes idx to the home registry as repo:latest, as a multi-platform
// build does, and returns its digest.
func pushIndex(t *testing.T, h *Harness, repo string, idx v1.ImageIndex) string {
	t.Helper()
	ref, err := name.NewTag(h.Registry.Host + "/" + repo + ":" + contract.LatestTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// newRegionalPipeline is the monorepo's web pipeline whose last stage (prod) pulls
// from a repository in its own region, with that region's registry and the web
// service's Dockerfile in the source: the setting of the regional-copy scenarios.
func newRegionalPipeline(t *testing.T) (*Harness, *pipeline, Step, string, *Registry) {
	t.Helper()
	h := newHarness(t)
	p := newPipeline(t, h, "monorepo/shop-web-pipeline")
	last := p.releases[len(p.releases)-1]
	_, _, region := p.where(t, last.Stage)
	if region == "us-east-1" {
		t.Fatalf("the monorepo config's last stage is in the home region; this scenario needs one elsewhere")
	}
	regional := h.AddRegion(t, region)
	if err := os.MkdirAll(filepath.Join(h.Src, "services", "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.Src, "services", "web", "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return h, p, last, region, regional
}
