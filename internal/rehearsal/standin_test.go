package rehearsal

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/internal/buildspecs"
	"github.com/stagecoach/stagecoach/internal/contract"
)

// cli runs the stand-ins directly, as a buildspec command would: docker, and
// the real AWS CLI through the aws wrapper, against the harness's registry and
// fake ECR/ECS endpoint.
type cli struct {
	t    *testing.T
	h    *Harness
	env  []string
	dir  string
	last string // stderr of the last call
}

func newCLI(t *testing.T, h *Harness, settings ...string) *cli {
	env := append(h.Env(t), "AWS_REGION=us-east-1")
	return &cli{t: t, h: h, env: append(env, settings...), dir: h.Src}
}

// run returns stdout and the exit status.
func (c *cli) run(stdin string, args ...string) (string, int) {
	c.t.Helper()
	cmd := exec.Command(filepath.Join(c.h.bin, args[0]), args[1:]...)
	cmd.Env, cmd.Dir = c.env, c.dir
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	c.last = stderr.String()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return string(out), code
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, code := c.run("", args...)
	if code != 0 {
		c.t.Fatalf("%v: exit %d\n%s", args, code, c.last)
	}
	return out
}

// pushed builds and pushes an image as :latest through the stand-ins.
func (c *cli) pushed() string {
	c.t.Helper()
	url := c.h.Registry.Host + "/" + repo
	if _, code := c.run(LoginToken, "docker", "login", "-u", "AWS", "--password-stdin", c.h.Registry.Host); code != 0 {
		c.t.Fatalf("login: %s", c.last)
	}
	c.ok("docker", "build", "-t", "builtimage", ".")
	c.ok("docker", "tag", "builtimage", url+":latest")
	c.ok("docker", "push", url+":latest")
	return c.h.Registry.Digest(c.t, repo, "latest")
}

// TestECRRetagThroughTheAPI walks the registry-side retag the digest promotion
// will use: batch-get-image, then put-image of the same manifest.
func TestECRRetagThroughTheAPI(t *testing.T) {
	h := newHarness(t)
	c := newCLI(t, h)
	digest := c.pushed()

	manifest := c.ok("aws", "ecr", "batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=latest", "--query", "images[0].imageManifest", "--output", "text")
	mediaType := strings.TrimSpace(c.ok("aws", "ecr", "batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=latest", "--query", "images[0].imageManifestMediaType", "--output", "text"))
	if mediaType != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Errorf("media type %q", mediaType)
	}
	manifest = strings.TrimSuffix(manifest, "\n")
	out := c.ok("aws", "ecr", "put-image", "--repository-name", repo, "--image-tag", "dev", "--image-manifest", manifest, "--image-manifest-media-type", mediaType)
	var put struct {
		Image struct {
			ImageID struct{ ImageDigest, ImageTag string } `json:"imageId"`
		} `json:"image"`
	}
	if err := json.Unmarshal([]byte(out), &put); err != nil {
		t.Fatalf("put-image printed %q: %v", out, err)
	}
	if put.Image.ImageID.ImageDigest != digest || h.Registry.Digest(t, repo, "dev") != digest {
		t.Errorf("dev is on %s (put-image said %s), want %s", h.Registry.Digest(t, repo, "dev"), put.Image.ImageID.ImageDigest, digest)
	}

	// ECR refuses to put a tag where it already is.
	if _, code := c.run("", "aws", "ecr", "put-image", "--repository-name", repo, "--image-tag", "dev", "--image-manifest", manifest); code != 254 || !strings.Contains(c.last, "ImageAlreadyExistsException") {
		t.Errorf("second put-image: exit %d, %s; want 254 ImageAlreadyExistsException", code, c.last)
	}

	// describe-images groups tags by digest; the digest query reads it back.
	got := strings.TrimSpace(c.ok("aws", "ecr", "describe-images", "--repository-name", repo, "--image-ids", "imageTag=dev", "--query", "imageDetails[0].imageDigest", "--output", "text"))
	if got != digest {
		t.Errorf("describe-images digest %q, want %q", got, digest)
	}
	tags := strings.TrimSpace(c.ok("aws", "ecr", "describe-images", "--repository-name", repo, "--query", "imageDetails[0].imageTags", "--output", "text"))
	if tags != "dev\tlatest" {
		t.Errorf("describe-images tags %q, want dev<TAB>latest", tags)
	}

	// A missing tag is a failure entry, not an error, as with ECR.
	if out := c.ok("aws", "ecr", "batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=nope", "--query", "images[0].imageManifest", "--output", "text"); out != "None\n" {
		t.Errorf("missing tag printed %q, want None", out)
	}
	if out := c.ok("aws", "ecr", "batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=nope", "--query", "failures[0].failureCode", "--output", "text"); out != "ImageNotFound\n" {
		t.Errorf("missing tag failure %q, want ImageNotFound", out)
	}
	if _, code := c.run("", "aws", "ecr", "describe-images", "--repository-name", repo, "--image-ids", "imageTag=nope"); code != 254 || !strings.Contains(c.last, "ImageNotFoundException") {
		t.Errorf("describe-images of a missing tag: exit %d, %s", code, c.last)
	}
	// An existing but empty repository has no images; a missing one is an error.
	if out := c.ok("aws", "ecr", "describe-images", "--repository-name", "acme/empty", "--output", "json"); !strings.Contains(out, `"imageDetails": []`) {
		t.Errorf("describe-images of an empty repository printed %s", out)
	}
	// A repository that exists at home but not (yet) in another region.
	h.AddRegion(t, "eu-west-1")
	if _, code := c.run("", "aws", "ecr", "describe-images", "--region", "eu-west-1", "--repository-name", repo); code != 0 {
		t.Errorf("describe-images in eu-west-1: exit %d, %s", code, c.last)
	}
	missing := &cli{t: t, h: h, env: append(slices.Clone(c.env), "REHEARSAL_ECR_MISSING_EU_WEST_1="+repo), dir: h.Src}
	if _, code := missing.run("", "aws", "ecr", "describe-images", "--region", "eu-west-1", "--repository-name", repo); code != 254 || !strings.Contains(missing.last, "RepositoryNotFoundException") {
		t.Errorf("describe-images of a repository missing in eu-west-1: exit %d, %s", code, missing.last)
	}
	c.env = append(c.env, "REHEARSAL_ECR_REPOSITORIES=acme/web,acme/empty")
	if _, code := c.run("", "aws", "ecr", "batch-get-image", "--repository-name", "acme/none", "--image-ids", "imageTag=latest"); code != 254 || !strings.Contains(c.last, "RepositoryNotFoundException") {
		t.Errorf("batch-get-image of a missing repository: exit %d, %s", code, c.last)
	}
	c.ok("docker", "tag", "builtimage", c.h.Registry.Host+"/acme/none:latest")
	if _, code := c.run("", "docker", "push", c.h.Registry.Host+"/acme/none:latest"); code != 1 || !strings.Contains(c.last, "name unknown") {
		t.Errorf("push to a missing repository: exit %d, %s", code, c.last)
	}
}

func TestStandinsRefuseWhatTheyDoNotDo(t *testing.T) {
	h := newHarness(t)
	c := newCLI(t, h)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		// The real CLI parses the command line: 252 for what it does not know.
		{[]string{"aws", "ecr", "put-image", "--repository-name", repo, "--image-tag", "x", "--image-manifest", "{}", "--bogus", "1"}, 252, "Unknown options: --bogus"},
		// The endpoint refuses operations it does not play, as a service error.
		{[]string{"aws", "ecr", "list-tags-for-resource", "--resource-arn", "arn:aws:ecr:us-east-1:123456789012:repository/acme/web"}, 254, "UnknownOperationException"},
		{[]string{"docker", "rmi", "builtimage"}, 125, "not supported"},
		{[]string{"docker", "push", "docker.io/library/builtimage"}, 1, "does not exist locally"},
		{[]string{"docker", "build", "-t", "x", ".", "-f", "missing/Dockerfile"}, 1, "failed to read dockerfile"},
		{[]string{"docker", "pull", h.Registry.Host + "/" + repo + ":latest"}, 1, "no basic auth credentials"},
		{[]string{"docker", "login", "-u", "AWS", "-p", "wrong", h.Registry.Host}, 1, "401 Unauthorized"},
	} {
		_, code := c.run("", tc.args...)
		if code != tc.code || !strings.Contains(c.last, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, c.last, tc.code, tc.want)
		}
	}
	// Without a region the CLI cannot call anything.
	noRegion := &cli{t: t, h: h, env: h.Env(t), dir: h.Src}
	if _, code := noRegion.run("", "aws", "ecr", "get-login-password"); code != 253 || !strings.Contains(noRegion.last, "You must specify a region") {
		t.Errorf("no region: exit %d, %s", code, noRegion.last)
	}
	// Without the endpoint the wrapper refuses rather than call AWS.
	var bare []string
	for _, kv := range h.Env(t) {
		if !strings.HasPrefix(kv, "REHEARSAL_AWS_ENDPOINT=") {
			bare = append(bare, kv)
		}
	}
	noEndpoint := &cli{t: t, h: h, env: append(bare, "AWS_REGION=us-east-1"), dir: h.Src}
	if _, code := noEndpoint.run("", "aws", "ecr", "get-login-password"); code != 255 || !strings.Contains(noEndpoint.last, "REHEARSAL_AWS_ENDPOINT is unset") {
		t.Errorf("no endpoint: exit %d, %s", code, noEndpoint.last)
	}
	// Every call, failed ones included, is recorded with its exit status.
	calls := h.Calls(t)
	if len(calls) != 9 || calls[0].Exit != 252 || calls[1].Exit != 254 || calls[7].Exit != 253 || calls[8].Exit != 255 {
		t.Errorf("recorded %d calls: %+v", len(calls), calls)
	}
}

// TestECSIsScripted: the endpoint's ECS rolls deployments out as the settings
// script them, one step per DescribeServices call, and the CLI's own
// services-stable waiter (its acceptors, no 15 s sleeps) reads them.
func TestECSIsScripted(t *testing.T) {
	h := newHarness(t)
	cluster := "arn:aws:ecs:eu-west-1:123456789012:cluster/acme-prod"
	newCLI(t, h).pushed()
	image := h.Registry.Host + "/" + repo + ":latest"
	for _, svc := range []string{"acme-prod-web", "acme-prod-api", "acme-prod-old"} {
		h.AddService("eu-west-1", cluster, svc, image, 1)
	}
	svc := func(extra ...string) []string {
		return append([]string{"aws", "ecs", "describe-services", "--cluster", cluster, "--services", "acme-prod-web", "--region", "eu-west-1"}, extra...)
	}
	update := []string{"aws", "ecs", "update-service", "--cluster", cluster, "--service", "acme-prod-web", "--force-new-deployment", "--region", "eu-west-1"}
	wait := []string{"aws", "ecs", "wait", "services-stable", "--cluster", cluster, "--services", "acme-prod-web", "--region", "eu-west-1"}
	const primary = "--query=services[0].deployments[?status=='PRIMARY'].[id, rolloutState] | [0]"

	stable := newCLI(t, h)
	if _, code := stable.run("", wait...); code != 0 {
		t.Errorf("wait services-stable: exit %d, %s", code, stable.last)
	}
	// A service that has run for a while: one deployment, completed.
	if out := stable.ok(append(svc(), primary, "--output", "text")...); !strings.HasSuffix(out, "\tCOMPLETED\n") {
		t.Errorf("a settled service's primary deployment: %q", out)
	}
	// A forced deployment follows the rollout script, one state per look.
	id := strings.TrimSpace(stable.ok(append(update, "--query", "service.deployments[?status=='PRIMARY'].id | [0]", "--output", "text")...))
	for _, want := range []string{"IN_PROGRESS", "COMPLETED", "COMPLETED"} {
		got := stable.ok(append(svc(), "--query", "services[0].deployments[?id=='"+id+"'].rolloutState | [0]", "--output", "text")...)
		if got != want+"\n" {
			t.Errorf("deployment %s: %q, want %s", id, got, want)
		}
	}
	if out := stable.ok(append(svc(), "--query", "services[0].deployments[1]", "--output", "json")...); out != "null\n" {
		t.Errorf("old deployments are still listed after the new one completed: %s", out)
	}
	// The waiter polls until its success acceptor holds: one deployment, all
	// tasks running. With the deployment in progress that takes two polls.
	stable.ok(update...)
	before := len(callsTo(h.Calls(t), "aws", "ecs"))
	if _, code := stable.run("", wait...); code != 0 {
		t.Errorf("wait services-stable during a deployment: exit %d, %s", code, stable.last)
	}
	if got := len(callsTo(h.Calls(t), "aws", "ecs")) - before; got != 1 {
		t.Errorf("%d calls recorded for one wait", got)
	}

	// A failing deployment is rolled back as the circuit breaker does: a new
	// PRIMARY completes, and the failed one says why.
	unstable := newCLI(t, h, "REHEARSAL_ECS_STABLE=false")
	id = strings.TrimSpace(unstable.ok(append(update, "--query", "service.deployments[0].id", "--output", "text")...))
	unstable.ok(svc()...) // IN_PROGRESS
	got := unstable.ok(append(svc(), "--query", "services[0].deployments[?id=='"+id+"'] | [0].[status, rolloutState, rolloutStateReason]", "--output", "text")...)
	if got != "ACTIVE\tFAILED\tECS deployment circuit breaker: tasks failed to start.\n" {
		t.Errorf("failed deployment: %q", got)
	}
	if out := unstable.ok(append(svc(), primary, "--output", "text")...); strings.HasPrefix(out, id) || !strings.HasSuffix(out, "\tCOMPLETED\n") {
		t.Errorf("after the failure the PRIMARY deployment is %q; want the rollback, completed", out)
	}
	// A deployment that never settles: the CLI's waiter gives up after its 40
	// attempts (exit 255), at once since the delays are gone.
	stuck := newCLI(t, h, "REHEARSAL_ECS_ROLLOUT=IN_PROGRESS")
	stuck.ok(update...)
	if _, code := stuck.run("", wait...); code != 255 || !strings.Contains(stuck.last, "Max attempts exceeded") {
		t.Errorf("wait on a stuck deployment: exit %d, %s; want 255 like the CLI's waiter", code, stuck.last)
	}

	// Services that are not there, or have no task.
	scripted := newCLI(t, h, "REHEARSAL_ECS_SERVICES=acme-prod-web=MISSING,acme-prod-api=ACTIVE:0,acme-prod-old=INACTIVE")
	if out := scripted.ok(append(svc(), "--query", "[services[0].status, failures[0].reason]", "--output", "text")...); out != "None\tMISSING\n" {
		t.Errorf("missing service: %q", out)
	}
	if _, code := scripted.run("", wait...); code != 255 || !strings.Contains(scripted.last, "MISSING") {
		t.Errorf("wait on a missing service: exit %d, %s; want the waiter's failure acceptor", code, scripted.last)
	}
	if _, code := scripted.run("", "aws", "ecs", "wait", "services-stable", "--cluster", cluster, "--services", "acme-prod-old", "--region", "eu-west-1"); code != 255 || !strings.Contains(scripted.last, "INACTIVE") {
		t.Errorf("wait on an inactive service: exit %d, %s; want the waiter's failure acceptor", code, scripted.last)
	}
	if _, code := scripted.run("", update...); code != 254 || !strings.Contains(scripted.last, "ServiceNotFoundException") {
		t.Errorf("update-service of a missing service: exit %d, %s", code, scripted.last)
	}
	if _, code := scripted.run("", "aws", "ecs", "update-service", "--region", "eu-west-1", "--cluster", cluster, "--service", "acme-prod-old", "--force-new-deployment"); code != 254 || !strings.Contains(scripted.last, "ServiceNotActiveException") {
		t.Errorf("update-service of an inactive service: exit %d, %s", code, scripted.last)
	}
	if out := scripted.ok("aws", "ecs", "update-service", "--region", "eu-west-1", "--cluster", cluster, "--service", "acme-prod-api", "--force-new-deployment", "--query", "service.[desiredCount, deployments[0].rolloutState]", "--output", "text"); out != "0\tCOMPLETED\n" {
		t.Errorf("a service with no task deploys at once: %q", out)
	}
	for _, bad := range []string{"REHEARSAL_ECS_SERVICES=acme-prod-web=GONE", "REHEARSAL_ECS_SERVICES=acme-prod-web", "REHEARSAL_ECS_ROLLOUT=DONE"} {
		c := newCLI(t, h, bad)
		if _, code := c.run("", svc()...); code != 254 || !strings.Contains(c.last, strings.SplitN(bad, "=", 2)[0]) {
			t.Errorf("%s: exit %d, %s; want a clear refusal", bad, code, c.last)
		}
	}
	failing := newCLI(t, h, "REHEARSAL_ECS_UPDATE_FAILS=true")
	if _, code := failing.run("", update...); code != 254 {
		t.Errorf("failing update-service: exit %d", code)
	}
	calls := callsTo(h.Calls(t), "aws", "ecs", "update-service")
	if len(calls) < 2 || calls[0].Env["AWS_REGION"] != "us-east-1" || arg(calls[0].Args, "--region") != "eu-west-1" {
		t.Errorf("update-service calls %+v", calls)
	}
}

// TestECSClustersAndRegions: clusters exist in one region; a cluster ARN of
// another region than the call's is refused, as is a cluster that does not exist.
func TestECSClustersAndRegions(t *testing.T) {
	h := newHarness(t)
	cluster := "arn:aws:ecs:eu-west-1:123456789012:cluster/acme-prod"
	h.AddService("eu-west-1", cluster, "acme-prod-web", h.Registry.Host+"/"+repo+":prod", 1)
	c := newCLI(t, h)
	c.ok("aws", "ecs", "describe-services", "--region", "eu-west-1", "--cluster", cluster, "--services", "acme-prod-web")
	c.ok("aws", "ecs", "describe-services", "--region", "eu-west-1", "--cluster", "acme-prod", "--services", "acme-prod-web")
	for _, tc := range []struct {
		args []string
		want string
	}{
		// AWS_REGION is us-east-1: the ARN's region is not the call's.
		{[]string{"aws", "ecs", "update-service", "--cluster", cluster, "--service", "acme-prod-web", "--force-new-deployment"}, "(InvalidParameterException) when calling the UpdateService operation: Invalid Region in ARN"},
		{[]string{"aws", "ecs", "describe-services", "--cluster", cluster, "--services", "acme-prod-web"}, "Invalid Region in ARN"},
		// By name, the cluster is looked up in the call's region, where it is not.
		{[]string{"aws", "ecs", "update-service", "--cluster", "acme-prod", "--service", "acme-prod-web", "--force-new-deployment"}, "(ClusterNotFoundException) when calling the UpdateService operation: Cluster not found."},
		{[]string{"aws", "ecs", "describe-services", "--region", "eu-west-1", "--cluster", "acme-staging", "--services", "acme-prod-web"}, "ClusterNotFoundException"},
	} {
		if _, code := c.run("", tc.args...); code != 254 || !strings.Contains(c.last, tc.want) {
			t.Errorf("%v: exit %d, %s; want 254 and %q", tc.args, code, c.last, tc.want)
		}
	}
}

// TestDeploymentResolvesTheTagWhenCreated: ECS resolves a task definition's
// image tag to a digest when it creates a deployment, and the deployment keeps
// that digest: moving the tag afterwards changes nothing until the next
// deployment, and the circuit breaker's rollback runs what the last completed
// deployment ran, not what the tag names by then.
func TestDeploymentResolvesTheTagWhenCreated(t *testing.T) {
	h := newHarness(t)
	c := newCLI(t, h)
	a := c.pushed()
	c.ok("docker", "build", "-t", "builtimage", ".", "--build-arg", "V=2")
	c.ok("docker", "tag", "builtimage", h.Registry.Host+"/"+repo+":latest")
	c.ok("docker", "push", h.Registry.Host+"/"+repo+":latest")
	b := h.Registry.Digest(t, repo, "latest")
	if a == b {
		t.Fatal("two builds made the same image")
	}
	tag := func(digest string) {
		manifest := strings.TrimSuffix(c.ok("aws", "ecr", "batch-get-image", "--repository-name", repo, "--image-ids", "imageDigest="+digest, "--query", "images[0].imageManifest", "--output", "text"), "\n")
		if _, code := c.run("", "aws", "ecr", "put-image", "--repository-name", repo, "--image-tag", "dev", "--image-manifest", manifest); code != 0 && !strings.Contains(c.last, "ImageAlreadyExistsException") {
			t.Fatalf("put-image: %s", c.last)
		}
	}
	tag(a)
	const cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/acme-dev"
	h.AddService("us-east-1", cluster, "acme-dev-web", h.Registry.Host+"/"+repo+":dev", 1)
	if got := h.PrimaryDigest("us-east-1", cluster, "acme-dev-web"); got != a {
		t.Fatalf("the service's first deployment runs %q, want %s", got, a)
	}
	deploy := func(c *cli) {
		c.ok("aws", "ecs", "update-service", "--cluster", cluster, "--service", "acme-dev-web", "--force-new-deployment")
		c.ok("aws", "ecs", "describe-services", "--cluster", cluster, "--services", "acme-dev-web")
		c.ok("aws", "ecs", "describe-services", "--cluster", cluster, "--services", "acme-dev-web")
	}
	// The tag moves after the deployment was created: the deployment keeps a.
	c.ok("aws", "ecs", "update-service", "--cluster", cluster, "--service", "acme-dev-web", "--force-new-deployment")
	tag(b)
	c.ok("aws", "ecs", "describe-services", "--cluster", cluster, "--services", "acme-dev-web")
	c.ok("aws", "ecs", "describe-services", "--cluster", cluster, "--services", "acme-dev-web")
	if got := h.PrimaryDigest("us-east-1", cluster, "acme-dev-web"); got != a {
		t.Errorf("after the tag moved to b under a running deployment, the service runs %q, want a (%s)", got, a)
	}
	// The next deployment resolves the tag afresh.
	deploy(c)
	if got := h.PrimaryDigest("us-east-1", cluster, "acme-dev-web"); got != b {
		t.Errorf("a new deployment runs %q, want b (%s)", got, b)
	}
	// A failed deployment rolls back to what the last completed one ran (b),
	// even though the tag is on a again.
	tag(a)
	deploy(newCLI(t, h, "REHEARSAL_ECS_ROLLOUT=IN_PROGRESS,FAILED"))
	deps := h.Deployments("us-east-1", cluster, "acme-dev-web")
	if len(deps) == 0 || deps[0].RolloutState != "COMPLETED" || deps[0].Images[0].Digest != b {
		t.Errorf("after the circuit breaker's rollback the deployments are %+v; want a completed PRIMARY on b (%s)", deps, b)
	}
	// A tag that names no image: the deployment's tasks cannot pull, it fails.
	h.Registry.Untag(t, repo, "dev")
	c.ok("aws", "ecs", "update-service", "--cluster", cluster, "--service", "acme-dev-web", "--force-new-deployment")
	c.ok("aws", "ecs", "describe-services", "--cluster", cluster, "--services", "acme-dev-web")
	out := c.ok("aws", "ecs", "describe-services", "--cluster", cluster, "--services", "acme-dev-web", "--query", "services[0].deployments[?status=='ACTIVE'].rolloutStateReason | [0]", "--output", "text")
	if !strings.Contains(out, "CannotPullContainerError") {
		t.Errorf("a deployment of a missing tag: %q, want it failed with CannotPullContainerError", out)
	}
}

// TestECRBatchDeleteImage removes tags as ECR does: the image stays while
// another tag is on it, and goes with its last tag.
func TestECRBatchDeleteImage(t *testing.T) {
	h := newHarness(t)
	c := newCLI(t, h)
	digest := c.pushed()
	manifest := strings.TrimSuffix(c.ok("aws", "ecr", "batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=latest", "--query", "images[0].imageManifest", "--output", "text"), "\n")
	c.ok("aws", "ecr", "put-image", "--repository-name", repo, "--image-tag", "dev", "--image-manifest", manifest)

	del := func(id string) string {
		return c.ok("aws", "ecr", "batch-delete-image", "--repository-name", repo, "--image-ids", id, "--query", "[imageIds[0].imageDigest, failures[0].failureCode]", "--output", "text")
	}
	if out := del("imageTag=dev"); out != digest+"\tNone\n" {
		t.Errorf("delete dev: %q", out)
	}
	if got := sorted(h.Registry.Tags(t, repo)); !slices.Equal(got, []string{"latest"}) || h.Registry.Digest(t, repo, "latest") != digest {
		t.Errorf("after removing dev: tags %v; the image must stay under latest", got)
	}
	if out := del("imageTag=dev"); out != "None\tImageNotFound\n" {
		t.Errorf("delete a missing tag: %q, want an ImageNotFound failure", out)
	}
	if out := del("imageTag=latest,imageDigest=sha256:0000000000000000000000000000000000000000000000000000000000000000"); out != "None\tImageTagDoesNotMatchDigest\n" {
		t.Errorf("delete with a wrong digest: %q", out)
	}
	if out := del("imageTag=latest"); out != digest+"\tNone\n" {
		t.Errorf("delete latest: %q", out)
	}
	if out := c.ok("aws", "ecr", "batch-get-image", "--repository-name", repo, "--image-ids", "imageDigest="+digest, "--query", "failures[0].failureCode", "--output", "text"); out != "ImageNotFound\n" {
		t.Errorf("the image outlived its last tag: %q", out)
	}
}

// TestIAMIsEnforced: with REHEARSAL_IAM_ALLOW set, calls the role may not make
// fail as they do in CodeBuild, for the CLI and for docker.
func TestIAMIsEnforced(t *testing.T) {
	h := newHarness(t)
	c := newCLI(t, h)
	c.pushed()
	h.AddService("us-east-1", "c", "s", h.Registry.Host+"/"+repo+":dev", 1)
	limited := newCLI(t, h, "REHEARSAL_IAM_ALLOW=ecr:GetAuthorizationToken,ecr:Batch*,ECS:describeservices")
	limited.ok("aws", "ecr", "batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=latest")
	limited.ok("aws", "ecs", "describe-services", "--cluster", "c", "--services", "s")
	for _, tc := range []struct {
		args   []string
		code   int
		action string
	}{
		{[]string{"aws", "ecr", "put-image", "--repository-name", repo, "--image-tag", "x", "--image-manifest", "{}"}, 254, "ecr:PutImage on resource: arn:aws:ecr:us-east-1:123456789012:repository/acme/web"},
		{[]string{"aws", "ecr", "describe-images", "--repository-name", repo}, 254, "ecr:DescribeImages"},
		{[]string{"aws", "ecs", "update-service", "--cluster", "c", "--service", "s", "--force-new-deployment"}, 254, "ecs:UpdateService on resource: arn:aws:ecs:us-east-1:123456789012:service/c/s"},
	} {
		if _, code := limited.run("", tc.args...); code != tc.code || !strings.Contains(limited.last, "AccessDeniedException") || !strings.Contains(limited.last, "not authorized to perform: "+tc.action) {
			t.Errorf("%v: exit %d, %s; want AccessDeniedException for %s", tc.args, code, limited.last, tc.action)
		}
	}
	if _, code := limited.run(LoginToken, "docker", "login", "-u", "AWS", "--password-stdin", h.Registry.Host); code != 0 {
		t.Fatalf("login: %s", limited.last)
	}
	if _, code := limited.run("", "docker", "pull", h.Registry.Host+"/"+repo+":latest"); code != 1 || !strings.Contains(limited.last, "denied: ") || !strings.Contains(limited.last, "ecr:GetDownloadUrlForLayer") {
		t.Errorf("pull without ecr:GetDownloadUrlForLayer: exit %d, %s", code, limited.last)
	}
}

// TestIAMDecidesByResource: with the role's statements (REHEARSAL_IAM_POLICY,
// as PipelineFromTemplate reads them from the template), an action is allowed
// on the resources its statement names only: another repository, the same
// repository in another region, another service are refused.
func TestIAMDecidesByResource(t *testing.T) {
	h := newHarness(t)
	eu := h.AddRegion(t, "eu-west-1")
	c := newCLI(t, h)
	c.pushed()
	h.AddService("us-east-1", "acme-dev", "acme-dev-web", h.Registry.Host+"/"+repo+":dev", 1)
	h.AddService("us-east-1", "acme-dev", "acme-dev-api", h.Registry.Host+"/acme/api:dev", 1)
	policy := `[{"Action":["ecr:BatchGetImage","ecr:PutImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability","ecr:InitiateLayerUpload","ecr:UploadLayerPart","ecr:CompleteLayerUpload"],"Resource":["arn:aws:ecr:us-east-1:123456789012:repository/acme/web"]},` +
		`{"Action":["ecr:GetAuthorizationToken"],"Resource":["*"]},` +
		`{"Action":["ecs:DescribeServices","ecs:UpdateService"],"Resource":["arn:aws:ecs:us-east-1:123456789012:service/acme-dev/acme-dev-web"]}]`
	role := &cli{t: t, h: h, env: append(slices.Clone(c.env), "REHEARSAL_IAM_POLICY="+policy), dir: h.Src}
	role.ok("aws", "ecr", "batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=latest")
	role.ok("aws", "ecs", "update-service", "--cluster", "acme-dev", "--service", "acme-dev-web", "--force-new-deployment")
	for _, tc := range []struct {
		args     []string
		resource string
	}{
		{[]string{"aws", "ecr", "batch-get-image", "--repository-name", "acme/api", "--image-ids", "imageTag=latest"}, "ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:123456789012:repository/acme/api"},
		{[]string{"aws", "ecr", "batch-get-image", "--region", "eu-west-1", "--repository-name", repo, "--image-ids", "imageTag=latest"}, "ecr:BatchGetImage on resource: arn:aws:ecr:eu-west-1:123456789012:repository/acme/web"},
		{[]string{"aws", "ecs", "update-service", "--cluster", "acme-dev", "--service", "acme-dev-api", "--force-new-deployment"}, "ecs:UpdateService on resource: arn:aws:ecs:us-east-1:123456789012:service/acme-dev/acme-dev-api"},
	} {
		if _, code := role.run("", tc.args...); code != 254 || !strings.Contains(role.last, "AccessDeniedException") || !strings.Contains(role.last, tc.resource) {
			t.Errorf("%v: exit %d, %s; want AccessDeniedException for %s", tc.args, code, role.last, tc.resource)
		}
	}
	// docker is refused by resource as well: a push to the same repository in
	// a region the statements do not name.
	token := strings.TrimSpace(role.ok("aws", "ecr", "get-login-password", "--region", "eu-west-1"))
	if _, code := role.run(token, "docker", "login", "-u", "AWS", "--password-stdin", eu.Host); code != 0 {
		t.Fatalf("login to eu-west-1: %s", role.last)
	}
	role.ok("docker", "tag", "builtimage", eu.Host+"/"+repo+":prod")
	if _, code := role.run("", "docker", "push", eu.Host+"/"+repo+":prod"); code != 1 || !strings.Contains(role.last, "on resource: arn:aws:ecr:eu-west-1:123456789012:repository/acme/web") {
		t.Errorf("push to eu-west-1 without a statement for it: exit %d, %s", code, role.last)
	}
}

// TestLoginTokensArePerRegion: get-login-password gives a token for the
// registry of its region; docker login to another region's registry with it
// fails, as it does with ECR.
func TestLoginTokensArePerRegion(t *testing.T) {
	h := newHarness(t)
	eu := h.AddRegion(t, "eu-west-1")
	c := newCLI(t, h)
	home := strings.TrimSpace(c.ok("aws", "ecr", "get-login-password"))
	other := strings.TrimSpace(c.ok("aws", "ecr", "get-login-password", "--region", "eu-west-1"))
	if home != LoginToken || other != LoginTokenFor("eu-west-1") || home == other {
		t.Fatalf("tokens %q (us-east-1) and %q (eu-west-1)", home, other)
	}
	if _, code := c.run(home, "docker", "login", "-u", "AWS", "--password-stdin", eu.Host); code != 1 || !strings.Contains(c.last, "401 Unauthorized") {
		t.Errorf("login to eu-west-1 with a us-east-1 token: exit %d, %s", code, c.last)
	}
	if _, code := c.run(other, "docker", "login", "-u", "AWS", "--password-stdin", h.Registry.Host); code != 1 {
		t.Errorf("login to us-east-1 with a eu-west-1 token: exit %d, %s", code, c.last)
	}
	if _, code := c.run(other, "docker", "login", "-u", "AWS", "--password-stdin", eu.Host); code != 0 {
		t.Errorf("login to eu-west-1 with its token: exit %d, %s", code, c.last)
	}
}

// TestReleaseWithTemplateEnvironment runs the seed's release.yml with the
// environment a (hand-written, CDK-shaped) release project defines, resolved
// from the template and pointed at the local registry.
func TestReleaseWithTemplateEnvironment(t *testing.T) {
	h := newHarness(t)
	res, _ := h.Run(t, buildspecs.SeedBuild, buildEnv(h, nil))
	mustSucceed(t, "build", res)
	tmpl := parseTemplate(t, `{"Resources": {
	  "Repo": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": "acme/web"}},
	  "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "acme-web-artifacts"}},
	  "ReleaseDev": {"Type": "AWS::CodeBuild::Project", "Properties": {"Name": "acme-web-release-dev", "Environment": {"EnvironmentVariables": [
	    {"Name": "S3_BUCKET", "Type": "PLAINTEXT", "Value": {"Ref": "Bucket"}},
	    {"Name": "STAGE_NAME", "Type": "PLAINTEXT", "Value": "dev"},
	    {"Name": "ECR_ENDPOINT", "Type": "PLAINTEXT", "Value": {"Fn::Select": [0, {"Fn::Split": ["/", {"Fn::GetAtt": ["Repo", "RepositoryUri"]}]}]}},
	    {"Name": "ECR_IMAGE_URL", "Type": "PLAINTEXT", "Value": {"Fn::GetAtt": ["Repo", "RepositoryUri"]}},
	    {"Name": "PREVIOUS_STAGE_NAME", "Type": "PLAINTEXT", "Value": "latest"},
	    {"Name": "CLUSTER_ARN", "Type": "PLAINTEXT", "Value": {"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:cluster/acme-dev"}},
	    {"Name": "SERVICE_NAME", "Type": "PLAINTEXT", "Value": "acme-dev-web"},
	    {"Name": "STAGE_REGION", "Type": "PLAINTEXT", "Value": {"Ref": "AWS::Region"}}
	  ]}}}}}`)
	vars, err := EnvFromTemplate(tmpl, ByName("acme-web-release-dev"), Resolver{})
	if err != nil {
		t.Fatal(err)
	}
	env, err := PlaintextEnv(vars)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range contract.ReleaseVariables {
		if _, ok := env[name]; !ok {
			t.Errorf("the release project does not set %s", name)
		}
	}
	env = h.LocalECR(env)
	if env[contract.ECRImageURL] != h.Registry.Host+"/acme/web" {
		t.Fatalf("ECR_IMAGE_URL %q was not pointed at the local registry", env[contract.ECRImageURL])
	}
	res, calls := h.Run(t, buildspecs.SeedRelease, env)
	mustSucceed(t, "release to dev", res)
	if h.Registry.Digest(t, repo, "dev") != h.Registry.Digest(t, repo, "latest") {
		t.Error("dev is not on the built image")
	}
	u := callsTo(calls, "aws", "ecs", "update-service")
	if len(u) != 1 || arg(u[0].Args, "--cluster") != "arn:aws:ecs:us-east-1:123456789012:cluster/acme-dev" {
		t.Errorf("update-service calls %+v", u)
	}
	if got, want := h.PrimaryDigest("us-east-1", "acme-dev", "acme-dev-web"), h.Registry.Digest(t, repo, "latest"); got != want {
		t.Errorf("the service runs %q, want the built %s", got, want)
	}
}

// TestPutImageHonoursTheTemplatesTagMutability: put-image refuses to move a tag
// the repository keeps immutable (the golden template's
// IMMUTABLE_WITH_EXCLUSION: every tag but latest and the stage names), and
// moves an excluded one.
func TestPutImageHonoursTheTemplatesTagMutability(t *testing.T) {
	h := newHarness(t)
	b, err := os.ReadFile(filepath.Join(goldenDir, "default", "acme-web-pipeline.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	h.ReposFromTemplate(parseTemplate(t, string(b)))
	c := newCLI(t, h)
	first := c.pushed()
	c.ok("docker", "build", "-t", "builtimage", ".")
	c.ok("docker", "push", h.Registry.Host+"/"+repo+":latest") // still the first build's tag
	c.ok("docker", "tag", "builtimage", h.Registry.Host+"/"+repo+":latest")
	c.ok("docker", "push", h.Registry.Host+"/"+repo+":latest")
	second := h.Registry.Digest(t, repo, "latest")
	manifest := func(d string) string {
		return strings.TrimSuffix(c.ok("aws", "ecr", "batch-get-image", "--repository-name", repo, "--image-ids", "imageDigest="+d, "--query", "images[0].imageManifest", "--output", "text"), "\n")
	}
	put := func(tag, d string) (int, string) {
		_, code := c.run("", "aws", "ecr", "put-image", "--repository-name", repo, "--image-tag", tag, "--image-manifest", manifest(d))
		return code, c.last
	}
	const commit = "0123456789abcdef0123456789abcdef01234567"
	if code, out := put(commit, first); code != 0 {
		t.Fatalf("put-image of a new commit tag: exit %d, %s", code, out)
	}
	if code, out := put(commit, second); code != 254 || !strings.Contains(out, "(ImageTagAlreadyExistsException) when calling the PutImage operation") || !strings.Contains(out, "cannot be overwritten because the tag is immutable") {
		t.Errorf("moving an immutable commit tag: exit %d, %s; want 254 ImageTagAlreadyExistsException", code, out)
	}
	if got := h.Registry.Digest(t, repo, commit); got != first {
		t.Errorf("the commit tag moved to %s", got)
	}
	if code, out := put(commit, first); code != 254 || !strings.Contains(out, "ImageAlreadyExistsException") {
		t.Errorf("putting an immutable tag where it is: exit %d, %s; want ImageAlreadyExistsException", code, out)
	}
	// Stage tags are excluded from immutability: releases move them.
	for _, d := range []string{first, second} {
		if code, out := put("dev", d); code != 0 {
			t.Errorf("moving dev to %s: exit %d, %s", d, code, out)
		}
	}
	if out := c.ok("aws", "ecr", "describe-repositories", "--repository-names", repo, "--query", "repositories[0].imageTagMutability", "--output", "text"); out != "IMMUTABLE_WITH_EXCLUSION\n" {
		t.Errorf("describe-repositories says %q", out)
	}
}
