package rehearsal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stagecoach/stagecoach/internal/awsmodel/ecrtags"
	"github.com/stagecoach/stagecoach/internal/contract"
	"github.com/stagecoach/stagecoach/internal/rehearsal/internal/fakeaws"
	"github.com/stagecoach/stagecoach/internal/rehearsal/internal/standin"
)

// RunTimeout bounds one rehearsed build: every rehearsal is local and small.
const RunTimeout = 2 * time.Minute

// Harness wires a registry, the stand-ins and a source checkout together to
// rehearse the builds and releases of one service. Each Run is a fresh CodeBuild
// container: nothing but the registry (and the source) survives from one run
// to the next, so a release cannot lean on an image its build left behind.
type Harness struct {
	// Registry plays ECR in the home region (Region).
	Registry *Registry
	// Regional holds the registries that play ECR in other regions (see AddRegion).
	Regional map[string]*Registry
	// Src is the checked-out source each run starts in; it holds a Dockerfile.
	Src string
	// Region is the region the builds run in. Default: us-east-1.
	Region string
	// Sh is what /bin/sh is in the build image (see Options.Sh). Default: dash,
	// as in the Ubuntu standard images stagecoach's projects use.
	Sh string
	// Settings are REHEARSAL_* variables for the stand-ins and the fake ECR/ECS
	// endpoint (see the package docs of internal/standin and internal/fakeaws),
	// e.g. REHEARSAL_ECS_STABLE=false.
	Settings map[string]string
	// Log, when set, receives every run's log.
	Log func(string)

	bin   string
	calls string
	aws   *fakeaws.Server
}

// Deployment is an ECS deployment as the rehearsal's endpoint keeps it: its ID,
// status, rolloutState, task definition and, per container, the image and the
// digest ECS resolved it to when the deployment was created.
type Deployment = fakeaws.Deployment

// Job is one CodeBuild run: a buildspec and the environment its project and the
// action that starts it define.
type Job struct {
	// Spec is the buildspec's text.
	Spec string
	// Env holds the project's environment variables.
	Env map[string]string
	// Overrides holds the starting action's variables (start-build overrides),
	// e.g. a release's IMAGE_DIGEST.
	Overrides map[string]string
	// Settings are REHEARSAL_* variables for this run only, over Harness.Settings.
	Settings map[string]string
}

// NewHarness starts a registry and the fake ECR/ECS endpoint the real AWS CLI
// talks to, and builds the stand-ins for t. It skips t when the registry binary
// is missing (see StartRegistry).
func NewHarness(t testing.TB) *Harness {
	t.Helper()
	if _, err := os.Stat(standin.DefaultAWSCLI); err != nil {
		msg := fmt.Sprintf("the AWS CLI is missing at %s (apt-get install awscli): %v", standin.DefaultAWSCLI, err)
		if os.Getenv(RequireRegistryEnv) == "1" {
			t.Fatalf("%s, and %s=1 requires it", msg, RequireRegistryEnv)
		}
		t.Skip(msg)
	}
	reg := StartRegistry(t)
	bin, err := BuildStandins()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fakeaws.Start("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &Harness{
		Registry: reg,
		Regional: map[string]*Registry{},
		Src:      src,
		Settings: map[string]string{},
		bin:      bin,
		calls:    filepath.Join(t.TempDir(), "calls.jsonl"),
		aws:      srv,
	}
}

func (h *Harness) region() string {
	if h.Region == "" {
		return "us-east-1"
	}
	return h.Region
}

// Env is the environment the stand-ins need, before any setting: PATH with the
// stand-ins first, the call log, a fresh Docker state, and where the registries
// and the fake ECR/ECS endpoint are. RunJob starts every build from it.
func (h *Harness) Env(t testing.TB) []string {
	t.Helper()
	h.aws.SetRegistry(h.region(), h.Registry.Host, h.Registry.Storage())
	base := []string{
		"PATH=" + h.bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"REHEARSAL_CALLS=" + h.calls,
		"REHEARSAL_STATE=" + t.TempDir(), // a fresh Docker daemon per build
		"REHEARSAL_AWS_ENDPOINT=" + h.aws.URL,
		"REHEARSAL_AWS_WARM=" + warmCLI(h.bin),
		"REHEARSAL_ECR_REGISTRY=" + h.Registry.Host,
		regionKey(h.region()) + "=" + h.Registry.Host,
	}
	for region, reg := range h.Regional {
		base = append(base, regionKey(region)+"="+reg.Host)
	}
	return base
}

// SetTagMutability sets the tag mutability of the ECR repository repo, in every
// region (default: MUTABLE). put-image and docker push then refuse what ECR
// refuses.
func (h *Harness) SetTagMutability(repo string, p ecrtags.Policy) {
	h.aws.SetRepository(repo, p)
}

// ReposFromTemplate sets the tag mutability of every AWS::ECR::Repository of a
// synthesized template, by its RepositoryName (see awsmodel/ecrtags). A Harness
// without an endpoint (one a test builds to read a pipeline only) has nothing to set.
func (h *Harness) ReposFromTemplate(template map[string]any) {
	if h.aws == nil {
		return
	}
	resources, _ := template["Resources"].(map[string]any)
	for _, r := range resources {
		r, _ := r.(map[string]any)
		if r["Type"] != "AWS::ECR::Repository" {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		if n, ok := props["RepositoryName"].(string); ok {
			h.aws.SetRepository(n, ecrtags.FromTemplate(props))
		}
	}
}

// AddService registers an ECS service in region's cluster (a name or an ARN)
// whose one container runs image, with desired tasks; its first deployment has
// completed and runs what image names now. RunJob registers the stage service
// of a release this way by itself (see registerStage).
func (h *Harness) AddService(region, cluster, service, image string, desired int) {
	h.aws.AddService(region, cluster[strings.LastIndex(cluster, "/")+1:], service, image, desired)
}

// AddStageService registers an ECS service in region's cluster (a name or an
// ARN) as its stage stack creates it: from its task definition (as
// describe-task-definition prints it, without ARN and revision), launched on
// launchType, with one task. It returns the task definition's ARN.
func (h *Harness) AddStageService(region, cluster, service string, td map[string]any, launchType string) string {
	return h.aws.AddStageService(region, cluster[strings.LastIndex(cluster, "/")+1:], service, td, launchType, 1)
}

// TaskDefinition returns a task definition the endpoint knows in region, by
// family, family:revision or ARN.
func (h *Harness) TaskDefinition(region, ref string) (map[string]any, bool) {
	return h.aws.TaskDefinition(region, ref)
}

// Deployments returns the deployments of a service, PRIMARY first, with the
// digests ECS resolved for each; nil when the service was never registered.
func (h *Harness) Deployments(region, cluster, service string) []Deployment {
	d, _ := h.aws.Deployments(region, cluster[strings.LastIndex(cluster, "/")+1:], service)
	return d
}

// PrimaryDigest is the image digest the PRIMARY deployment of a service runs
// (of its first container): what the service's tasks run once it is stable,
// whatever its tag says by then. "" when the service has none.
func (h *Harness) PrimaryDigest(region, cluster, service string) string {
	for _, d := range h.Deployments(region, cluster, service) {
		if d.Status == "PRIMARY" && len(d.Images) > 0 {
			return d.Images[0].Digest
		}
	}
	return ""
}

// registerStage registers the stage cluster and service a release project
// names (the contract's CLUSTER_ARN, SERVICE_NAME, STAGE_NAME, STAGE_REGION),
// as its stage stack defines them (see TestStageServicesRunTheStageTag): the
// cluster, and, unless SERVICE_NAME is empty or "placeholder", the service with
// one container running the stage tag of the repository it pulls from
// (REGIONAL_ECR_IMAGE_URL in a regional stage, else ECR_IMAGE_URL). A service
// that is registered already is left as it is.
func (h *Harness) registerStage(env map[string]string) {
	cluster, svc, stage := env[contract.ClusterARN], strings.TrimSpace(env[contract.ServiceName]), env[contract.StageName]
	image := env[contract.RegionalECRImageURL]
	if image == "" {
		image = env[contract.ECRImageURL]
	}
	if cluster == "" {
		return
	}
	region := env[contract.StageRegion]
	if parts := strings.SplitN(cluster, ":", 6); len(parts) == 6 && parts[3] != "" {
		region = parts[3]
	}
	if region == "" {
		region = h.region()
	}
	// The stage stack creates the cluster whether or not its service is ready.
	h.aws.AddCluster(region, cluster[strings.LastIndex(cluster, "/")+1:])
	if svc == "" || svc == "placeholder" || stage == "" || image == "" {
		return
	}
	h.AddService(region, cluster, svc, image+":"+stage, 1)
}

// AddRegion starts a second registry to play ECR in region, as the stage's
// regional repository. LocalECR then points that region's ECR hosts at it.
func (h *Harness) AddRegion(t testing.TB, region string) *Registry {
	t.Helper()
	reg := StartRegistry(t)
	h.Regional[region] = reg
	h.aws.SetRegistry(region, reg.Host, reg.Storage())
	return reg
}

// Run rehearses one build of spec with env as the project's environment
// variables. It returns the result and the stand-in calls the run made.
func (h *Harness) Run(t testing.TB, spec string, env map[string]string) (*Result, []Call) {
	t.Helper()
	return h.RunJob(t, Job{Spec: spec, Env: env})
}

// RunJob rehearses one build. It returns the result and the stand-in calls the
// run made.
func (h *Harness) RunJob(t testing.TB, j Job) (*Result, []Call) {
	t.Helper()
	parsed, err := Parse(j.Spec)
	if err != nil {
		t.Fatal(err)
	}
	before, err := ReadCalls(h.calls)
	if err != nil {
		t.Fatal(err)
	}
	base := h.Env(t)
	env := map[string]string{}
	for _, layer := range []map[string]string{j.Env, j.Overrides} {
		for k, v := range layer {
			env[k] = v
		}
	}
	h.registerStage(env)
	for _, settings := range []map[string]string{h.Settings, j.Settings} {
		for k, v := range settings {
			base = append(base, k+"="+v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), RunTimeout)
	defer cancel()
	res, err := Run(ctx, parsed, Options{Dir: h.Src, Region: h.Region, Sh: h.Sh, BaseEnv: base, Env: j.Env, Overrides: j.Overrides})
	if h.Log != nil && res != nil {
		h.Log(res.Log)
	}
	if err != nil {
		t.Fatalf("rehearsal stopped: %v", err)
	}
	after, err := ReadCalls(h.calls)
	if err != nil {
		t.Fatal(err)
	}
	return res, after[len(before):]
}

// Calls returns every stand-in call made through the harness so far.
func (h *Harness) Calls(t testing.TB) []Call {
	t.Helper()
	calls, err := ReadCalls(h.calls)
	if err != nil {
		t.Fatal(err)
	}
	return calls
}

// GitInit makes Src a git repository with one commit of its files, as the
// pipeline's full clone is, and returns the commit ID.
func (h *Harness) GitInit(t testing.TB) string {
	t.Helper()
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = h.Src
		cmd.Env = append(os.Environ(),
			"GIT_AUTHOR_NAME=rehearsal", "GIT_AUTHOR_EMAIL=rehearsal@example.com",
			"GIT_COMMITTER_NAME=rehearsal", "GIT_COMMITTER_EMAIL=rehearsal@example.com",
			"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "rehearsal")
	return git("rev-parse", "HEAD")
}

// regionKey is the stand-ins' variable naming the registry of region.
func regionKey(region string) string {
	return "REHEARSAL_ECR_REGISTRY_" + strings.ToUpper(strings.ReplaceAll(region, "-", "_"))
}

// ecrHost matches an ECR registry host, ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn].
var ecrHost = regexp.MustCompile(`\b[0-9]{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\b`)

// LocalECR returns env with every ECR registry host (as a template resolves
// it) replaced by a local registry: the one AddRegion started for the host's
// region, else the home one. A project's environment taken from a template
// then reaches the registries that play ECR.
func (h *Harness) LocalECR(env map[string]string) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = ecrHost.ReplaceAllStringFunc(v, func(host string) string {
			if reg, ok := h.Regional[ecrHost.FindStringSubmatch(host)[1]]; ok {
				return reg.Host
			}
			return h.Registry.Host
		})
	}
	return out
}
