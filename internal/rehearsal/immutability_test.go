package rehearsal

import (
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/internal/buildspecs"
	"github.com/stagecoach/stagecoach/internal/contract"
	"github.com/stagecoach/stagecoach/internal/imagetags"
)

// TestStandinsRefuseMovingImmutableTags: with the repository's tag mutability, the
// stand-ins refuse what ECR refuses (awsmodel/ecrtags): a docker push of an
// immutable tag that exists, even of the same image, and a put-image that would
// move one; excluded tags move freely, and without a setting every tag does.
func TestStandinsRefuseMovingImmutableTags(t *testing.T) {
	h := newHarness(t)
	const commit = "0123456789abcdef0123456789abcdef01234567"
	url := h.Registry.Host + "/" + repo
	c := newCLI(t, h, "REHEARSAL_ECR_TAG_MUTABILITY=IMMUTABLE_WITH_EXCLUSION:latest,dev")
	first := c.pushed()
	c.ok("docker", "tag", "builtimage", url+":"+commit)
	c.ok("docker", "push", url+":"+commit)

	// Pushing the commit tag again, of the same image or of a rebuild, is refused.
	for _, rebuild := range []bool{false, true} {
		if rebuild {
			c.ok("docker", "build", "-t", "builtimage", ".")
			c.ok("docker", "tag", "builtimage", url+":"+commit)
		}
		_, code := c.run("", "docker", "push", url+":"+commit)
		want := "tag invalid: The image tag '" + commit + "' already exists in the '" + repo + "' repository and cannot be overwritten because the tag is immutable."
		if code != 1 || !strings.Contains(c.last, want) {
			t.Errorf("push of an existing immutable tag (rebuilt: %v): exit %d, %q; want 1 and %q", rebuild, code, c.last, want)
		}
	}
	if got := h.Registry.Digest(t, repo, commit); got != first {
		t.Errorf("the commit tag moved to %s, want it on %s", got, first)
	}
	// :latest is excluded: it moves.
	c.ok("docker", "tag", "builtimage", url+":latest")
	c.ok("docker", "push", url+":latest")
	second := h.Registry.Digest(t, repo, "latest")
	if second == first {
		t.Fatal("the rebuild has the first build's digest")
	}

	// put-image: moving the commit tag is ImageTagAlreadyExistsException (exit 254),
	// moving dev (excluded) works, putting a tag where it is already is
	// ImageAlreadyExistsException.
	manifest := strings.TrimSuffix(c.ok("aws", "ecr", "batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=latest", "--query", "images[0].imageManifest", "--output", "text"), "\n")
	if _, code := c.run("", "aws", "ecr", "put-image", "--repository-name", repo, "--image-tag", commit, "--image-manifest", manifest); code != 254 ||
		!strings.Contains(c.last, "An error occurred (ImageTagAlreadyExistsException) when calling the PutImage operation: The image with tag '"+commit+"' already exists in the repository with name '"+repo+"' and cannot be overwritten because the tag is immutable.") {
		t.Errorf("put-image moving an immutable tag: exit %d, %q", code, c.last)
	}
	c.ok("aws", "ecr", "put-image", "--repository-name", repo, "--image-tag", "dev", "--image-manifest", manifest)
	if _, code := c.run("", "aws", "ecr", "put-image", "--repository-name", repo, "--image-tag", "dev", "--image-manifest", manifest); code != 254 || !strings.Contains(c.last, "ImageAlreadyExistsException") {
		t.Errorf("put-image of a tag where it is: exit %d, %q", code, c.last)
	}
	// A new immutable tag is fine.
	c.ok("aws", "ecr", "put-image", "--repository-name", repo, "--image-tag", "v1", "--image-manifest", manifest)
	if got := h.Registry.Digest(t, repo, commit); got != first {
		t.Errorf("the commit tag moved to %s, want it on %s", got, first)
	}

	// ECR's default, MUTABLE, moves anything.
	mutable := newCLI(t, h)
	mutable.ok("aws", "ecr", "put-image", "--repository-name", repo, "--image-tag", commit, "--image-manifest", manifest)
	if got := h.Registry.Digest(t, repo, commit); got != second {
		t.Errorf("a mutable commit tag is on %s, want %s", got, second)
	}
	bad := newCLI(t, h, "REHEARSAL_ECR_TAG_MUTABILITY=IMMUTABLE_WITH_EXCLUSION")
	if _, code := bad.run("", "aws", "ecr", "put-image", "--repository-name", repo, "--image-tag", "x", "--image-manifest", manifest); code != 254 || !strings.Contains(bad.last, "exclusion filters") {
		t.Errorf("a setting ECR would refuse: exit %d, %q", code, bad.last)
	}
}

// TestSameCommitBuiltTwice: a second build of a commit (a re-run after a
// configuration change) cannot move the commit tag, which the golden template's
// repository keeps immutable; the default build.yml's "already exists" branch keeps
// the first image under it, and the build still moves :latest to the new image.
func TestSameCommitBuiltTwice(t *testing.T) {
	h := newHarness(t)
	p := newPipeline(t, h, "default/acme-web-pipeline")
	if h.Settings["REHEARSAL_ECR_TAG_MUTABILITY"] == "" || !strings.HasPrefix(h.Settings["REHEARSAL_ECR_TAG_MUTABILITY"], "IMMUTABLE") {
		t.Fatalf("the golden repository's tag mutability is %q; this scenario needs immutable commit tags", h.Settings["REHEARSAL_ECR_TAG_MUTABILITY"])
	}
	commit := h.GitInit(t)
	first := p.runBuild(t, buildspecs.Build)
	if got := h.Registry.Digest(t, p.repo, commit); got != first {
		t.Fatalf("the first build left the commit tag on %q, want %s", got, first)
	}

	res, calls := p.h.RunJob(t, p.job(t, p.build, buildspecs.Build, ""))
	mustSucceed(t, "second build of the commit", res)
	second := h.Registry.Digest(t, p.repo, contract.LatestTag)
	if second == first {
		t.Fatal("the second build pushed the first build's digest; the scenario needs a new image")
	}
	if got := h.Registry.Digest(t, p.repo, commit); got != first {
		t.Errorf("the commit tag is on %s after the second build, want the first image %s", got, first)
	}
	if !strings.Contains(res.Log, "The tag "+commit+" already exists and is immutable: keeping the image first built from this commit.") {
		t.Errorf("build.yml did not take its already-exists branch:\n%s", res.Log)
	}
	var refused bool
	for _, c := range callsTo(calls, "docker", "push") {
		if strings.HasSuffix(c.Args[1], ":"+commit) {
			refused = c.Exit == 1 && strings.Contains(c.Error, "cannot be overwritten because the tag is immutable")
		}
	}
	if !refused {
		t.Errorf("the registry did not refuse the commit tag's second push: %+v", callsTo(calls, "docker", "push"))
	}
}

// TestReleaseLeavesRollbackTag: each release leaves the stage's rollback tag on the
// image the stage ran before, at home and in the regional repository, so the
// lifecycle policy keeps it; a re-run of the same release moves nothing.
func TestReleaseLeavesRollbackTag(t *testing.T) {
	h, p, last, _, regional := newRegionalPipeline(t)
	execution := func(digest string) {
		results, _ := p.execution(t, buildspecs.Release, digest, nil)
		for _, s := range p.releases {
			if res, ok := results[s.Stage]; !ok || !res.Succeeded {
				t.Fatalf("release to %s did not succeed", s.Stage)
			}
		}
	}
	a := p.runBuild(t, buildspecs.Build)
	execution(a)
	for _, s := range p.releases {
		if got := h.Registry.Digest(t, p.repo, imagetags.Rollback(s.Stage)); got != "" {
			t.Errorf("after the first release %s has a rollback tag on %s", s.Stage, got)
		}
	}
	regionalA := regional.Digest(t, p.repo, last.Stage)
	b := p.runBuild(t, buildspecs.Build)
	execution(b)
	check := func(when string) {
		for _, s := range p.releases {
			if got := h.Registry.Digest(t, p.repo, imagetags.Rollback(s.Stage)); got != a {
				t.Errorf("%s: :%s is on %q, want the image %s ran before, %s", when, imagetags.Rollback(s.Stage), got, s.Stage, a)
			}
			if got := h.Registry.Digest(t, p.repo, s.Stage); got != b {
				t.Errorf("%s: :%s is on %q, want %s", when, s.Stage, got, b)
			}
		}
		if got := regional.Digest(t, p.repo, imagetags.Rollback(last.Stage)); got != regionalA {
			t.Errorf("%s: regional :%s is on %q, want %s", when, imagetags.Rollback(last.Stage), got, regionalA)
		}
	}
	check("after the second release")
	// A re-run of the second release leaves the rollback tags on the first image.
	res, _ := p.release(t, buildspecs.Release, last.Stage, b, nil)
	mustSucceed(t, "re-run", res)
	check("after a re-run")
}
