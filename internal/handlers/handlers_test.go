package handlers

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runNode runs script with the handler source saved as handler.js beside it, and
// returns what the script printed. The script drives exports.run with fakes.
func runNode(t *testing.T, source, script string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed (it is needed for the CDK anyway)")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "handler.js"), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test.js"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, filepath.Join(dir, "test.js")).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestInlineSize(t *testing.T) {
	for name, src := range map[string]string{"imagetags.js": ImageTags, "desiredcount.js": DesiredCount, "stagerecord.js": StageRecord, "tagguard.js": TagGuard} {
		if len(src) > MaxInlineSize {
			t.Errorf("%s has %d bytes; inline Lambda code is limited to %d", name, len(src), MaxInlineSize)
		}
	}
}

// imageTagsResult is what the fake pipeline API saw.
type imageTagsResult struct {
	Succeeded map[string]string `json:"succeeded"`
	Failed    string            `json:"failed"`
}

func TestImageTags(t *testing.T) {
	const a, b, c = "sha256:aaa", "sha256:bbb", "sha256:ccc"
	tests := []struct {
		name       string
		mode       string
		before     string            // snapshot JSON given to record mode
		tags       map[string]string // registry state when the step runs
		wantOK     map[string]string
		wantFailed string
	}{
		{name: "snapshot of a new repository", mode: "snapshot", tags: map[string]string{},
			wantOK: map[string]string{"TAGS": "latest=,dev=,prod="}},
		{name: "snapshot", mode: "snapshot", tags: map[string]string{"latest": a, "dev": a, "abc123": a},
			wantOK: map[string]string{"TAGS": "latest=sha256:aaa,dev=sha256:aaa,prod="}},
		{name: "first build", mode: "record", before: "latest=,dev=,prod=",
			tags: map[string]string{"latest": b, "abc": b}, wantOK: map[string]string{"IMAGE_DIGEST": b}},
		{name: "later build", mode: "record", before: "latest=sha256:aaa,dev=sha256:aaa,prod=sha256:ccc",
			tags: map[string]string{"latest": b, "dev": a, "prod": c}, wantOK: map[string]string{"IMAGE_DIGEST": b}},
		{name: "no latest", mode: "record", before: "latest=,dev=,prod=",
			tags: map[string]string{"abc": b}, wantFailed: "did not push acme/web:latest"},
		{name: "latest not moved", mode: "record", before: "latest=sha256:aaa,dev=,prod=",
			tags: map[string]string{"latest": a}, wantFailed: "still points to sha256:aaa"},
		{name: "stage tag moved", mode: "record", before: "latest=sha256:aaa,dev=sha256:aaa,prod=",
			tags: map[string]string{"latest": b, "dev": b, "prod": b}, wantFailed: "moved the stage tag(s) dev, prod"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params, _ := json.Marshal(map[string]any{"mode": tc.mode, "repository": "acme/web", "stages": []string{"dev", "prod"}, "before": tc.before, "records": "/stagecoach/acme/web"})
			event, _ := json.Marshal(map[string]any{"CodePipeline.job": map[string]any{"id": "job-1", "data": map[string]any{
				"actionConfiguration": map[string]any{"configuration": map[string]any{"UserParameters": string(params)}}}}})
			tags, _ := json.Marshal(tc.tags)
			out := runNode(t, ImageTags, `
const h = require('./handler.js');
const seen = {};
h.run({
  tags: async (repo) => { if (repo !== 'acme/web') throw new Error('wrong repo ' + repo); return `+string(tags)+`; },
  getParam: async (name) => null,
  succeed: async (id, vars) => { if (id !== 'job-1') throw new Error('job'); seen.succeeded = vars; },
  fail: async (id, msg) => { seen.failed = msg; },
}, `+string(event)+`).then(() => console.log(JSON.stringify(seen)));
`)
			var got imageTagsResult
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if tc.wantFailed != "" {
				if got.Succeeded != nil || !strings.Contains(got.Failed, tc.wantFailed) {
					t.Errorf("got %+v, want a failure containing %q", got, tc.wantFailed)
				}
				return
			}
			if got.Failed != "" || len(got.Succeeded) != len(tc.wantOK) {
				t.Fatalf("got %+v, want success %v", got, tc.wantOK)
			}
			for k, v := range tc.wantOK {
				if got.Succeeded[k] != v {
					t.Errorf("%s = %q, want %q", k, got.Succeeded[k], v)
				}
			}
		})
	}
}

func TestDesiredCount(t *testing.T) {
	tests := []struct {
		name      string
		request   string
		current   string // the service as DescribeServices shows it, "undefined" when there is none
		tagExists bool
		want      string // DesiredCount/MinCapacity in the response, "" for none
		status    string
	}{
		{"create before the first release", "Create", "undefined", false, "0/0", "SUCCESS"},
		{"create after a release", "Create", "undefined", true, "2/2", "SUCCESS"},
		{"update keeps the autoscaled count", "Update", "{desiredCount: 5, runningCount: 5}", true, "5/2", "SUCCESS"},
		{"update of a never released service at its minimum", "Update", "{desiredCount: 2, runningCount: 0}", false, "0/0", "SUCCESS"},
		{"update keeps a count of zero before the first release", "Update", "{desiredCount: 0, runningCount: 0}", false, "0/0", "SUCCESS"},
		{"update after the first release raises a count of zero", "Update", "{desiredCount: 0, runningCount: 0}", true, "2/2", "SUCCESS"},
		{"update never stops running tasks whose tag vanished", "Update", "{desiredCount: 3, runningCount: 3}", false, "3/2", "SUCCESS"},
		{"update of a service that is gone", "Update", "undefined", true, "2/2", "SUCCESS"},
		{"delete", "Delete", "undefined", false, "", "SUCCESS"},
		{"AWS error", "Create", "undefined", false, "", "FAILED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tagExists := "async () => " + map[bool]string{true: "true", false: "false"}[tc.tagExists]
			if tc.status == "FAILED" {
				tagExists = "async () => { throw new Error('AccessDenied') }"
			}
			out := runNode(t, DesiredCount, `
const h = require('./handler.js');
h.run({
  service: async (cluster, service) => { if (cluster !== 'acme-dev' || service !== 'acme-dev-web') throw new Error('wrong service'); return `+tc.current+`; },
  tagExists: `+tagExists+`,
  registerScalableTarget: async () => { throw new Error('CloudFormation requests register nothing') },
  respond: async (url, body) => { if (url !== 'https://cfn.example/r') throw new Error('url'); console.log(body); },
}, {RequestType: '`+tc.request+`', ResponseURL: 'https://cfn.example/r', StackId: 's', RequestId: 'r', LogicalResourceId: 'l',
    ResourceProperties: {Cluster: 'acme-dev', Service: 'acme-dev-web', Repository: 'acme/web', RepositoryRegion: 'us-east-1', Tag: 'dev', Min: '2'}});
`)
			var got struct {
				Status, PhysicalResourceId, Reason string
				Data                               map[string]string
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			answer := ""
			if got.Data["DesiredCount"] != "" || got.Data["MinCapacity"] != "" {
				answer = got.Data["DesiredCount"] + "/" + got.Data["MinCapacity"]
			}
			if got.Status != tc.status || answer != tc.want || got.PhysicalResourceId != "acme-dev/acme-dev-web" {
				t.Errorf("got %+v, want status %s count/min %q", got, tc.status, tc.want)
			}
		})
	}
}

// TestDesiredCountStart: the deployment events of a service reach the same function,
// which raises the scalable target's minimum of a service at 0 once its tag exists,
// and leaves every other service alone.
func TestDesiredCountStart(t *testing.T) {
	tests := []struct {
		name      string
		current   string
		tagExists bool
		want      string // what the function registered, "" for nothing
	}{
		{"first release", "{desiredCount: 0, runningCount: 0}", true, "acme-dev/acme-dev-web min 2"},
		{"a deployment before the first release", "{desiredCount: 0, runningCount: 0}", false, ""},
		{"a running service", "{desiredCount: 3, runningCount: 3}", true, ""},
		{"a service that is gone", "undefined", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := runNode(t, DesiredCount, `
const h = require('./handler.js');
const seen = [];
h.run({
  service: async () => (`+tc.current+`),
  tagExists: async (region, repo, tag) => { if (region !== 'us-east-1' || repo !== 'acme/web' || tag !== 'dev') throw new Error('wrong tag'); return `+map[bool]string{true: "true", false: "false"}[tc.tagExists]+`; },
  registerScalableTarget: async (cluster, service, min) => { seen.push(cluster + '/' + service + ' min ' + min); },
  respond: async () => { throw new Error('an event is not a CloudFormation request') },
}, {Start: {Cluster: 'acme-dev', Service: 'acme-dev-web', Repository: 'acme/web', RepositoryRegion: 'us-east-1', Tag: 'dev', Min: 2}})
  .then(() => console.log('REGISTERED [' + seen.join(',') + ']'));
`)
			got := out[strings.LastIndex(out, "REGISTERED ")+len("REGISTERED "):]
			if got != "["+tc.want+"]" {
				t.Errorf("registered %q, want %q (output %s)", got, tc.want, out)
			}
		})
	}
}
