package rehearsal

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/buildspecs"
	"github.com/stagecoach/stagecoach/contract"
)

// cli runs the stand-ins directly, as a buildspec command would.
type cli struct {
	t    *testing.T
	h    *Harness
	env  []string
	dir  string
	last string // stderr of the last call
}

func newCLI(t *testing.T, h *Harness, settings ...string) *cli {
	env := []string{
		"PATH=" + h.bin + ":" + os.Getenv("PATH"),
		"REHEARSAL_CALLS=" + h.calls,
		"REHEARSAL_STATE=" + t.TempDir(),
		"REHEARSAL_ECR_REGISTRY=" + h.Registry.Host,
		"AWS_REGION=us-east-1",
	}
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
		{[]string{"aws", "ecr", "batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=latest", "--query", "images[*].imageManifest"}, 252, "beyond what the stand-in evaluates"},
		{[]string{"aws", "ecr", "describe-repositories"}, 252, "not supported"},
		{[]string{"aws", "ecr", "put-image", "--repository-name", repo, "--image-tag", "x", "--image-manifest", "{}", "--bogus", "1"}, 252, "[--bogus] are not supported"},
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
	noRegion := &cli{t: t, h: h, env: []string{"REHEARSAL_CALLS=" + h.calls, "REHEARSAL_ECR_REGISTRY=" + h.Registry.Host}, dir: h.Src}
	if _, code := noRegion.run("", "aws", "ecr", "get-login-password"); code != 253 || !strings.Contains(noRegion.last, "You must specify a region") {
		t.Errorf("no region: exit %d, %s", code, noRegion.last)
	}
	// Every call, failed ones included, is recorded with its exit status.
	calls := h.Calls(t)
	if len(calls) != 9 || calls[0].Exit != 252 || calls[8].Exit != 253 {
		t.Errorf("recorded %d calls: %+v", len(calls), calls)
	}
}

func TestECSIsScripted(t *testing.T) {
	h := newHarness(t)
	cluster := "arn:aws:ecs:eu-west-1:123456789012:cluster/acme-prod"
	svc := func(c *cli, extra ...string) []string {
		return append([]string{"aws", "ecs", "describe-services", "--cluster", cluster, "--services", "acme-prod-web", "--region", "eu-west-1"}, extra...)
	}
	update := []string{"aws", "ecs", "update-service", "--cluster", cluster, "--service", "acme-prod-web", "--force-new-deployment", "--region", "eu-west-1"}
	const primary = "--query=services[0].deployments[?status=='PRIMARY'].[id, rolloutState] | [0]"

	stable := newCLI(t, h)
	if _, code := stable.run("", "aws", "ecs", "wait", "services-stable", "--cluster", cluster, "--services", "acme-prod-web", "--region", "eu-west-1"); code != 0 {
		t.Errorf("wait services-stable: exit %d, %s", code, stable.last)
	}
	// A service that has run for a while: one deployment, completed.
	if out := stable.ok(append(svc(stable), primary, "--output", "text")...); !strings.HasSuffix(out, "\tCOMPLETED\n") {
		t.Errorf("a settled service's primary deployment: %q", out)
	}
	// A forced deployment follows the rollout script, one state per look.
	id := strings.TrimSpace(stable.ok(append(update, "--query", "service.deployments[?status=='PRIMARY'].id | [0]", "--output", "text")...))
	for _, want := range []string{"IN_PROGRESS", "COMPLETED", "COMPLETED"} {
		got := stable.ok(append(svc(stable), "--query", "services[0].deployments[?id=='"+id+"'].rolloutState | [0]", "--output", "text")...)
		if got != want+"\n" {
			t.Errorf("deployment %s: %q, want %s", id, got, want)
		}
	}
	if out := stable.ok(append(svc(stable), "--query", "services[0].deployments[1]", "--output", "json")...); out != "null\n" {
		t.Errorf("old deployments are still listed after the new one completed: %s", out)
	}

	// A failing deployment is rolled back as the circuit breaker does: a new
	// PRIMARY completes, and the failed one says why.
	unstable := newCLI(t, h, "REHEARSAL_ECS_STABLE=false")
	if _, code := unstable.run("", "aws", "ecs", "wait", "services-stable", "--cluster", cluster, "--services", "acme-prod-web"); code != 255 || !strings.Contains(unstable.last, "Max attempts exceeded") {
		t.Errorf("unstable wait: exit %d, %s; want 255 like the CLI's waiter", code, unstable.last)
	}
	id = strings.TrimSpace(unstable.ok(append(update, "--query", "service.deployments[0].id", "--output", "text")...))
	unstable.ok(svc(unstable)...) // IN_PROGRESS
	got := unstable.ok(append(svc(unstable), "--query", "services[0].deployments[?id=='"+id+"'] | [0].[status, rolloutState, rolloutStateReason]", "--output", "text")...)
	if got != "ACTIVE\tFAILED\tECS deployment circuit breaker: tasks failed to start.\n" {
		t.Errorf("failed deployment: %q", got)
	}
	if out := unstable.ok(append(svc(unstable), primary, "--output", "text")...); strings.HasPrefix(out, id) || !strings.HasSuffix(out, "\tCOMPLETED\n") {
		t.Errorf("after the failure the PRIMARY deployment is %q; want the rollback, completed", out)
	}

	// Services that are not there, or have no task.
	scripted := newCLI(t, h, "REHEARSAL_ECS_SERVICES=acme-prod-web=MISSING,acme-prod-api=ACTIVE:0,acme-prod-old=INACTIVE")
	if out := scripted.ok(append(svc(scripted), "--query", "[services[0].status, failures[0].reason]", "--output", "text")...); out != "None\tMISSING\n" {
		t.Errorf("missing service: %q", out)
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
		if _, code := c.run("", svc(c)...); code != 255 || !strings.Contains(c.last, strings.SplitN(bad, "=", 2)[0]) {
			t.Errorf("%s: exit %d, %s; want a clear refusal", bad, code, c.last)
		}
	}
	failing := newCLI(t, h, "REHEARSAL_ECS_UPDATE_FAILS=true")
	if _, code := failing.run("", "aws", "ecs", "update-service", "--cluster", cluster, "--service", "x"); code != 254 {
		t.Errorf("failing update-service: exit %d", code)
	}
	calls := callsTo(h.Calls(t), "aws", "ecs", "update-service")
	if len(calls) < 2 || calls[0].Env["AWS_REGION"] != "us-east-1" || arg(calls[0].Args, "--region") != "eu-west-1" {
		t.Errorf("update-service calls %+v", calls)
	}
}

// TestECRBatchDeleteImage removes tags as ECR does: the image stays while
// another tag is on it, and goes with its last tag.
func TestECRBatchDeleteImage(t *testing.T) {
	h := newHarness(t)
	c := newCLI(t, h, "REHEARSAL_REGISTRY_STORAGE="+h.Registry.Host+"="+h.Registry.Storage())
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
	// Without the registry's storage the stand-in cannot remove a tag, and says so.
	bare := newCLI(t, h)
	if _, code := bare.run("", "aws", "ecr", "batch-delete-image", "--repository-name", repo, "--image-ids", "imageTag=x"); code != 255 || !strings.Contains(bare.last, "REHEARSAL_REGISTRY_STORAGE") {
		t.Errorf("delete without storage: exit %d, %s", code, bare.last)
	}
}

// TestIAMIsEnforced: with REHEARSAL_IAM_ALLOW set, calls the role may not make
// fail as they do in CodeBuild, for the CLI and for docker.
func TestIAMIsEnforced(t *testing.T) {
	h := newHarness(t)
	c := newCLI(t, h)
	c.pushed()
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
}
