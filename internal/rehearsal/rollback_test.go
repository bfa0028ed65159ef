package rehearsal

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stagecoach/stagecoach/internal/buildspecs"
)

// awsCLI is the AWS CLI v2 the README's commands are run with. (A pyenv shim may put
// another `aws` first on PATH.)
const awsCLI = "/usr/bin/aws"

// fakeAWS answers the AWS calls of the README's rollback commands from a rehearsal's
// state: Parameter Store from the pipeline's records, and it notes the CodeBuild and
// CodePipeline calls it gets. The real CLI talks to it over its JSON protocol.
type fakeAWS struct {
	mu        sync.Mutex
	l         *lambdas
	builds    []map[string]string // StartBuild: environment overrides
	rollbacks []map[string]string // RollbackStage requests
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var req map[string]any
	body, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(body, &req)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	reply := func(v any) { _ = json.NewEncoder(w).Encode(v) }
	switch r.Header.Get("X-Amz-Target") {
	case "AmazonSSM.GetParameterHistory":
		name, _ := req["Name"].(string)
		var out []map[string]any
		for i, v := range f.l.params[name] {
			out = append(out, map[string]any{"Name": name, "Type": "String", "Value": v, "Version": i + 1})
		}
		if out == nil {
			w.WriteHeader(400)
			reply(map[string]string{"__type": "ParameterNotFound", "message": name})
			return
		}
		reply(map[string]any{"Parameters": out})
	case "AmazonSSM.PutParameter":
		name, _ := req["Name"].(string)
		value, _ := req["Value"].(string)
		if req["Overwrite"] != true && len(f.l.params[name]) > 0 {
			w.WriteHeader(400)
			reply(map[string]string{"__type": "ParameterAlreadyExists", "message": name})
			return
		}
		f.l.params[name] = append(f.l.params[name], value)
		reply(map[string]any{"Version": len(f.l.params[name]), "Tier": "Standard"})
	case "CodeBuild_20161006.StartBuild":
		env := map[string]string{"projectName": req["projectName"].(string)}
		overrides, _ := req["environmentVariablesOverride"].([]any)
		for _, o := range overrides {
			o := o.(map[string]any)
			env[o["name"].(string)] = o["value"].(string)
		}
		f.builds = append(f.builds, env)
		reply(map[string]any{"build": map[string]any{"id": env["projectName"] + ":1", "buildStatus": "IN_PROGRESS"}})
	case "CodePipeline_20150709.RollbackStage":
		m := map[string]string{}
		for k, v := range req {
			m[k], _ = v.(string)
		}
		f.rollbacks = append(f.rollbacks, m)
		reply(map[string]string{"pipelineExecutionId": "11111111-1111-1111-1111-111111111111"})
	default:
		w.WriteHeader(400)
		reply(map[string]string{"__type": "UnknownOperationException", "message": r.Header.Get("X-Amz-Target")})
	}
}

// rollbackBlocks returns the shell blocks of the README's "Rolling back" section.
func rollbackBlocks(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(b)
	i := strings.Index(section, "### Rolling back\n")
	if i < 0 {
		t.Fatal("README.md has no \"### Rolling back\" section")
	}
	section = section[i+len("### Rolling back\n"):]
	if end := strings.Index(section, "\n#"+"## "); end >= 0 {
		section = section[:end]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		blocks = append(blocks, m[1])
	}
	if len(blocks) != 3 {
		t.Fatalf("the Rolling back section has %d sh blocks, want 3 (find the release; by hand: record and start; mark released)", len(blocks))
	}
	return blocks
}

// runREADME runs a README block, placeholders replaced, with the real AWS CLI pointed
// at f. It returns what the block printed.
func runREADME(t *testing.T, f *fakeAWS, block string, values map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(f)
	defer srv.Close()
	for k, v := range values {
		block = regexp.MustCompile(`\b`+k+`\b`).ReplaceAllLiteralString(block, v)
	}
	var code []string
	for _, line := range strings.Split(block, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			code = append(code, line)
		}
	}
	if m := regexp.MustCompile(`\b[A-Z][A-Z_]*[A-Z]\b`).FindAllString(strings.Join(code, "\n"), -1); len(m) > 0 {
		for _, p := range m {
			if _, ok := values[p]; !ok && strings.Contains(p, "_") && p != "IMAGE_DIGEST" && p != "PLAINTEXT" {
				t.Fatalf("the README block has a placeholder %s the test does not fill:\n%s", p, block)
			}
		}
	}
	script := `set -euo pipefail
aws() { "` + awsCLI + `" --endpoint-url "` + srv.URL + `" "$@"; }
` + block
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=rehearsal", "AWS_SECRET_ACCESS_KEY=rehearsal",
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's commands failed: %v\n%s\n%s", err, block, out)
	}
	return string(out)
}

// TestRollBackByRecordedDigest runs the README's rollback: find prod's release of an
// earlier commit in prod's record, and release that execution's digest again. The
// digest comes from the record, which only the pipeline writes, never from a commit
// tag, which any build can push first (a build below squats the next commit's tag).
func TestRollBackByRecordedDigest(t *testing.T) {
	if _, err := os.Stat(awsCLI); err != nil {
		// CI installs it (.ci/run) and sets STAGECOACH_REQUIRE_REGISTRY: fail there.
		if os.Getenv(RequireRegistryEnv) == "1" {
			t.Fatalf("%s (AWS CLI v2, Debian's awscli) is not installed: %v", awsCLI, err)
		}
		t.Skipf("%s (AWS CLI v2, Debian's awscli) is not installed: %v", awsCLI, err)
	}
	g := newGuardedPipeline(t)
	a, _ := g.build(t, buildspecs.Build, false)
	g.execution(t, buildspecs.Release, a, "prod")
	b, _ := g.build(t, buildspecs.Build, false)
	g.execution(t, buildspecs.Release, b, "prod")
	// A hostile build pushes its own image as :SHA of the first commit (in ECR, commit
	// tags are immutable: whoever pushes a commit's tag first keeps it).
	c, failed := g.build(t, hostileBuild(t, a["Source.CommitId"]), false)
	if failed != "" || c["Image.IMAGE_DIGEST"] == "" {
		t.Fatalf("the squatting build: %q", failed)
	}

	blocks := rollbackBlocks(t)
	f := &fakeAWS{l: g.l}
	out := runREADME(t, f, strings.SplitN(blocks[0], "aws codepipeline", 2)[0], map[string]string{"COMMIT_SHA": a["Source.CommitId"]})
	fields := map[string]string{}
	for _, kv := range strings.Fields(out) {
		k, v, _ := strings.Cut(kv, "=")
		fields[k] = v
	}
	if fields["digest"] != a["Image.IMAGE_DIGEST"] || fields["execution"] != a["codepipeline.PipelineExecutionId"] {
		t.Fatalf("the README's lookup printed %q; want the first execution %s and its digest %s", out, a["codepipeline.PipelineExecutionId"], a["Image.IMAGE_DIGEST"])
	}
	if squatted := g.h.Registry.Digest(t, g.repo, a["Source.CommitId"]); squatted == fields["digest"] {
		t.Fatal("the squatting build did not squat the commit tag; the test proves nothing")
	}

	// rollback-stage (AWS CLI 2.15 and later) starts prod again with that execution's
	// variables: Authorize, the release and Verify run with its IMAGE_DIGEST.
	if exec.Command(awsCLI, "codepipeline", "rollback-stage", "help").Run() == nil {
		runREADME(t, f, "aws codepipeline"+strings.SplitN(blocks[0], "aws codepipeline", 2)[1], map[string]string{"EXECUTION_ID": fields["execution"]})
		if len(f.rollbacks) != 1 || f.rollbacks[0]["targetPipelineExecutionId"] != fields["execution"] || f.rollbacks[0]["stageName"] != "prod" {
			t.Errorf("rollback-stage calls %v, want prod to %s", f.rollbacks, fields["execution"])
		}
	} else {
		t.Logf("%s has no rollback-stage; running what CodePipeline does for it", awsCLI)
	}
	if failed := g.stage(t, "prod", buildspecs.Release, a); failed != "" {
		t.Fatalf("the rollback of prod failed: %s", failed)
	}
	g.checkProd(t, a["Image.IMAGE_DIGEST"], "")

	// By hand (an administrator): record, then start prod's release with that digest.
	// Here, forward again to the second commit's image.
	runREADME(t, f, blocks[1], map[string]string{"DIGEST": b["Image.IMAGE_DIGEST"], "CURRENT_DIGEST": a["Image.IMAGE_DIGEST"], "COMMIT_SHA": b["Source.CommitId"]})
	if len(f.builds) != 1 || f.builds[0]["IMAGE_DIGEST"] != b["Image.IMAGE_DIGEST"] {
		t.Fatalf("start-build calls %v, want one with IMAGE_DIGEST %s", f.builds, b["Image.IMAGE_DIGEST"])
	}
	res, calls := g.release(t, buildspecs.Release, "prod", f.builds[0]["IMAGE_DIGEST"], g.l.deployments(t))
	g.l.deployed(t)
	g.l.events(t, calls)
	mustSucceed(t, "the release started by hand", res)
	g.checkProd(t, b["Image.IMAGE_DIGEST"], "")
	if len(g.l.Guarded) > 0 {
		t.Errorf("the guard undid a recorded rollback: %v", g.l.Guarded)
	}
	runREADME(t, f, blocks[2], map[string]string{"DIGEST": b["Image.IMAGE_DIGEST"], "CURRENT_DIGEST": a["Image.IMAGE_DIGEST"], "COMMIT_SHA": b["Source.CommitId"]})
	if _, failed := g.l.action(t, "prod", "Verify", b); failed != "" {
		t.Errorf("after the rollback by hand, prod's Verify of %s fails: %s", b["Image.IMAGE_DIGEST"], failed)
	}

	// A release by hand without the record is undone: only a recorded digest stands.
	res, calls = g.release(t, buildspecs.Release, "prod", c["Image.IMAGE_DIGEST"], g.l.deployments(t))
	g.l.deployed(t)
	g.l.events(t, calls)
	if got := g.h.Registry.Digest(t, g.repo, "prod"); got != b["Image.IMAGE_DIGEST"] || len(g.l.Guarded) != 1 {
		t.Errorf("an unrecorded release left :prod on %s (the guard did %v); want it back on %s", got, g.l.Guarded, b["Image.IMAGE_DIGEST"])
	}
}
