package main

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The files in testdata/ are outputs of the pinned `cdk diff --template … --no-color`
// for stagecoach stacks; regenerate them when the CLI is upgraded.
func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseDiff(t *testing.T) {
	type want struct {
		identical bool
		sections  []string
		security  []string
		// flagged lists "OP LOGICAL_ID IMPACT" for every replacement or removal.
		flagged   []string
		resources int
	}
	for _, tc := range []struct {
		file string
		want want
	}{
		{"no-differences.txt", want{identical: true}},
		{"update.txt", want{sections: []string{"Resources"}, resources: 2}},
		{"security-groups-and-replacement.txt", want{
			sections:  []string{"Security Group Changes", "Resources"},
			security:  []string{"Security Group Changes"},
			resources: 8,
			flagged: []string{
				"[-] SharedLoadBalancerSecurityGrouptoacmedevWebServiceSecurityGroup0F547ADD80000C75A0B6 destroy",
				"[-] WebServiceSecurityGroupfromacmedevSharedLoadBalancerSecurityGroup93DEE121800027FB3F22 destroy",
				"[~] WebTask30236CB9 replace",
				"[~] WebTarget0DAF11FC replace",
			},
		}},
		{"iam-and-removal.txt", want{
			sections:  []string{"IAM Statement Changes", "Resources"},
			security:  []string{"IAM Statement Changes"},
			resources: 20,
			flagged: []string{
				"[-] ReleaseProdLogs76B12117 orphan",
				"[-] ReleaseProdProjectRoleBE911A88 destroy",
				"[-] ReleaseProdProjectRoleDefaultPolicy009F639A destroy",
				"[-] ReleaseProdProjectD657096F destroy",
				"[-] PipelineprodApproveCodePipelineActionRole7333B0AC destroy",
				"[-] PipelineprodReleaseCodePipelineActionRole42DE8B9A destroy",
				"[-] PipelineprodReleaseCodePipelineActionRoleDefaultPolicy1188F430 destroy",
			},
		}},
		{"new-stack.txt", want{
			sections:  []string{"Template", "IAM Statement Changes", "IAM Policy Changes", "Security Group Changes", "Parameters", "Resources"},
			security:  []string{"IAM Statement Changes", "IAM Policy Changes", "Security Group Changes"},
			resources: 41,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			d, err := ParseDiff(fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var flagged []string
			for _, c := range d.Resources {
				if c.Op == OpRemove || c.Replaced() {
					flagged = append(flagged, string(c.Op)+" "+c.LogicalID+" "+c.Impact)
				}
			}
			got := want{d.Identical, d.Sections, d.Security(), flagged, len(d.Resources)}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if strings.HasPrefix(d.Text, "Stack ") || strings.Contains(d.Text, "Number of stacks") {
				t.Errorf("the CLI's header or footer is left in the text:\n%s", d.Text)
			}
		})
	}
}

func TestParseResourceLine(t *testing.T) {
	for line, want := range map[string]ResourceChange{
		"[~] AWS::ECS::TaskDefinition Web/Task WebTask30236CB9 replace": {
			Op: OpUpdate, Type: "AWS::ECS::TaskDefinition", Path: "Web/Task", LogicalID: "WebTask30236CB9", Impact: "replace"},
		"[-] AWS::EC2::SecurityGroupIngress Web/Service/SecurityGroup/from acme:8000 WebIngress1 destroy": {
			Op: OpRemove, Type: "AWS::EC2::SecurityGroupIngress", Path: "Web/Service/SecurityGroup/from acme:8000", LogicalID: "WebIngress1", Impact: "destroy"},
		"[~] AWS::ECS::Service Svc may be replaced": {
			Op: OpUpdate, Type: "AWS::ECS::Service", LogicalID: "Svc", Impact: "may be replaced"},
		"[+] AWS::S3::Bucket Logs Logs1234 (OR move from other.Logs1234 via refactoring)": {
			Op: OpAdd, Type: "AWS::S3::Bucket", Path: "Logs", LogicalID: "Logs1234"},
		"[←] AWS::S3::Bucket Imported1 import": {
			Op: OpImport, Type: "AWS::S3::Bucket", LogicalID: "Imported1", Impact: "import"},
	} {
		got, err := parseResourceLine(line)
		if err != nil {
			t.Errorf("%q: %v", line, err)
			continue
		}
		if got != want {
			t.Errorf("%q:\n got %+v\nwant %+v", line, got, want)
		}
		if got.String() != strings.Split(line, " (OR move")[0] {
			t.Errorf("%q prints back as %q", line, got.String())
		}
	}
	for _, bad := range []string{"[?] AWS::S3::Bucket B", "[+] Lonely"} {
		if _, err := parseResourceLine(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// writeAssembly writes a cloud assembly with one stack per template, in order.
func writeAssembly(t *testing.T, stacks [][2]string) string {
	t.Helper()
	dir := t.TempDir()
	var artifacts []string
	for _, st := range stacks {
		name, template := st[0], st[1]
		if err := os.WriteFile(filepath.Join(dir, name+".template.json"), []byte(template), 0o644); err != nil {
			t.Fatal(err)
		}
		artifacts = append(artifacts, `"`+name+`": {"type": "aws:cloudformation:stack", "displayName": "`+name+
			`", "properties": {"templateFile": "`+name+`.template.json"}}`)
	}
	manifest := `{"version": "55.0.0", "artifacts": {"Tree": {"type": "cdk:tree"}, ` + strings.Join(artifacts, ", ") + `}}`
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCompare(t *testing.T) {
	bucket := `{"Description": "d", "Resources": {"Logs": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
		"Metadata": {"aws:cdk:path": "s/Logs/Resource"}}, "Role": {"Type": "AWS::IAM::Role"}}}`
	base := writeAssembly(t, [][2]string{{"same", bucket}, {"changed", bucket}, {"gone", bucket}})
	cur := writeAssembly(t, [][2]string{{"zeta-new", `{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}`},
		{"changed", `{"Resources": {"Logs": {"Type": "AWS::S3::Bucket"}, "Q": {"Type": "AWS::SQS::Queue"}}}`}, {"same", bucket}})
	baseStacks, err := readAssembly(base)
	if err != nil {
		t.Fatal(err)
	}
	curStacks, err := readAssembly(cur)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"zeta-new": "Stack zeta-new\nResources\n[+] AWS::SQS::Queue Q\n",
		"changed":  "Stack changed\nResources\n[-] AWS::IAM::Role Role destroy\n[+] AWS::SQS::Queue Q\n[~] AWS::S3::Bucket Logs\n",
	}
	var asked []string
	fake := func(_ context.Context, st Stack, before string) (string, error) {
		asked = append(asked, st.Selector+"<"+filepath.Base(before))
		return outputs[st.Selector], nil
	}
	got, err := compare(context.Background(), curStacks, baseStacks, fake, 1)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, s := range got {
		statuses = append(statuses, s.Name+": "+string(s.status())+" "+flags(s))
	}
	want := []string{
		"zeta-new: new stack ",
		"changed: modified 🔴 **1 DELETED**",
		"same: no change ",
		"gone: removed stack 🔴 **STACK DELETED** · 🔴 **1 DELETED** · 🟠 1 retained, no longer managed",
	}
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	sort.Strings(asked)
	if diff := cmp.Diff([]string{"changed<changed.template.json", "zeta-new<."}, asked); diff != "" {
		t.Errorf("cdk diff runs (-want +got):\n%s", diff)
	}
	if removed := got[3].Diff.Text; !strings.Contains(removed, "[-] AWS::S3::Bucket Logs Logs orphan") {
		t.Errorf("the removed stack's resources:\n%s", removed)
	}

	// Output that misses a removal the templates show fails the report.
	outputs["changed"] = "Stack changed\nResources\n[+] AWS::SQS::Queue Q\n"
	if _, err := compare(context.Background(), curStacks, baseStacks, fake, 1); err == nil || !strings.Contains(err.Error(), "output format may have changed") {
		t.Errorf("a removal cdk diff did not report: err = %v", err)
	}
}

func TestMarkdown(t *testing.T) {
	parse := func(file string) Diff {
		d, err := ParseDiff(fixture(t, file))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	benign := Report{Base: "origin/main", BaseCommit: "0123456789abcdef", Head: "fedcba987654", BaseHasApp: true, Stacks: []StackDiff{
		{Name: "acme-staging", Status: StackModified, Diff: parse("update.txt")},
		{Name: "acme-dev", Status: StackModified, Diff: parse("no-differences.txt")},
	}}
	md := benign.Markdown(0)
	if !strings.HasPrefix(md, Marker+"\n") {
		t.Errorf("the report does not start with the marker the workflow looks for:\n%s", md)
	}
	for _, want := range []string{"(0123456789ab)", "| `acme-staging` | modified | 0 | 2 | 0 |  |", "| `acme-dev` | no change |",
		"No resource is replaced or removed, and no IAM or security group changes."} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in\n%s", want, md)
		}
	}
	if strings.Contains(md, "CAUTION") {
		t.Errorf("a benign change is flagged:\n%s", md)
	}

	loud := benign
	loud.Stacks = append([]StackDiff{
		{Name: "acme-web-pipeline", Status: StackModified, Diff: parse("iam-and-removal.txt")},
		{Name: "acme-dev", Status: StackModified, Diff: parse("security-groups-and-replacement.txt")},
		{Name: "acme-production", Status: StackNew, Diff: parse("new-stack.txt")},
	}, benign.Stacks...)
	md = loud.Markdown(0)
	for _, want := range []string{
		"> [!CAUTION]",
		"**🔴 REPLACES OR REMOVES RESOURCES** in `acme-web-pipeline`, `acme-dev`",
		"**🔐 CHANGES IAM OR SECURITY GROUPS** in `acme-web-pipeline`, `acme-dev`, `acme-production`",
		"| `acme-dev` | `Web/Task` | `AWS::ECS::TaskDefinition` | 🔴 **replaced** | a new task definition revision",
		"| `acme-web-pipeline` | `ReleaseProd/Logs` | `AWS::Logs::LogGroup` | 🟠 **removed from the stack**, retained in the account |  |",
		"| `acme-production` | **new stack** | 41 | 0 | 0 | 🔐 **IAM STATEMENT CHANGES, IAM POLICY CHANGES, SECURITY GROUP CHANGES** |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q", want)
		}
	}

	fenced := Report{Stacks: []StackDiff{{Name: "s", Status: StackModified, Diff: Diff{Text: "Resources\n     [+] \"echo ```x```\""}}}}
	if md := fenced.Markdown(0); !strings.Contains(md, "````\nResources\n") || !strings.Contains(md, "```\"\n````\n") {
		t.Errorf("backticks in cdk diff's output end its code block:\n%s", md)
	}

	for _, limit := range []int{60000, 8000, 3000} {
		short := loud.Markdown(limit)
		if len(short) > limit {
			t.Errorf("limit %d: %d bytes", limit, len(short))
		}
		if strings.Count(short, "```")%2 != 0 {
			t.Errorf("limit %d: a code block is left open", limit)
		}
		if !strings.HasPrefix(short, Marker) || !strings.Contains(short, "CAUTION") {
			t.Errorf("limit %d: the summary is cut", limit)
		}
	}
}

// TestOfflineEnv: no credential, profile or region of the caller reaches the CLI.
func TestOfflineEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_PROFILE", "prod")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	t.Setenv("CDK_DEFAULT_ACCOUNT", "111111111111")
	t.Setenv("GOFLAGS", "-mod=mod")
	env := map[string]string{}
	for _, kv := range offlineEnv("/tmp/x") {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := env[k]; dup {
			t.Errorf("%s set twice", k)
		}
		env[k] = v
	}
	for _, gone := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "CDK_DEFAULT_ACCOUNT"} {
		if v, ok := env[gone]; ok {
			t.Errorf("%s=%s reaches the CLI", gone, v)
		}
	}
	for k, v := range map[string]string{
		"AWS_EC2_METADATA_DISABLED": "true", "CDK_DISABLE_VERSION_CHECK": "1", "CDK_DISABLE_CLI_TELEMETRY": "true",
		"AWS_CONFIG_FILE": "/tmp/x/no-aws-config", "AWS_SHARED_CREDENTIALS_FILE": "/tmp/x/no-aws-config", "GOFLAGS": "-mod=mod",
	} {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
}

// TestBuildspecReview: the report carries the buildspec check's findings when the
// config names a buildspec file the repository holds, before the per-stack details.
func TestBuildspecReview(t *testing.T) {
	repo := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cdk.json", `{"app": "go run .", "context": {"stagecoach:config": "deploy/app.yaml"}}`)
	write("deploy/app.yaml", "app: acme\nregion: us-east-1\nsource:\n  repository: acme/shop\nstages:\n  - name: dev\nservices:\n  - name: web\n    build:\n      buildspec: ci/build.yml\n")
	if md, err := reviewBuildspecs(repo); err != nil || md != "" {
		t.Errorf("ci/build.yml is not in the repository: %q, %v; want no section", md, err)
	}
	write("ci/build.yml", "version: 0.2\nphases:\n  build:\n    commands:\n      - docker build -t builtimage .\n")
	md, err := reviewBuildspecs(repo)
	if err != nil {
		t.Fatal(err)
	}
	r := Report{Base: "main", BaseCommit: "0123456789abcdef", Head: "x", BaseHasApp: true, Buildspecs: md}
	out := r.Markdown(0)
	i, j := strings.Index(out, "`ci/build.yml` (build.yml of `web`)"), strings.Index(out, detailsMarker)
	if i < 0 || !strings.Contains(out, "file, error `no-latest`") || i > j {
		t.Errorf("the report lacks the review of ci/build.yml before the details:\n%s", out)
	}
}

// TestCheckRevision: a base git could read as an option, or that no revision
// could be, is refused before git sees it.
func TestCheckRevision(t *testing.T) {
	for base, ok := range map[string]bool{
		"origin/main": true, "v1.2.3": true, "HEAD~1": true, "0123abc": true, "feature/a@b": true,
		"--output=/tmp/x": false, "-n": false, "main; rm -rf /": false, "a\nb": false, "tab\tbed": false,
	} {
		if err := checkRevision(base); (err == nil) != ok {
			t.Errorf("checkRevision(%q) = %v, want ok %v", base, err, ok)
		}
	}
}
