package ecsdeploy

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// golden reads a synthesized stage template, e.g. "default/acme-prod".
func golden(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "golden", name+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(b, &tmpl); err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// withEnv is tmpl after a config edit that adds a runtime variable to every service
// of the stage: each task definition changes (a new revision), and with it everything
// that refers to it.
func withEnv(t *testing.T, tmpl map[string]any, name, value string) map[string]any {
	t.Helper()
	b, _ := json.Marshal(tmpl)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	n := 0
	for _, r := range resourcesOf(out) {
		if r["Type"] != "AWS::ECS::TaskDefinition" {
			continue
		}
		for _, d := range r["Properties"].(map[string]any)["ContainerDefinitions"].([]any) {
			c := d.(map[string]any)
			env, _ := c["Environment"].([]any)
			c["Environment"] = append(env, map[string]any{"Name": name, "Value": value})
			n++
		}
	}
	if n == 0 {
		t.Fatal("the template has no task definition")
	}
	return out
}

func account(t *testing.T) *Account {
	t.Helper()
	lambda, err := Node(t.TempDir())
	if err != nil {
		t.Skip("node is not installed (it is needed for the CDK anyway)")
	}
	return NewAccount(lambda)
}

// stage is one stage stack of a golden config and its services' names.
type stage struct {
	golden, stack, region, cluster, repoRegion string
	services                                   map[string]int // service name → configured min
	tag                                        string
}

var prod = stage{golden: "default/acme-prod", stack: "acme-prod", region: "us-east-1", cluster: "acme-prod",
	repoRegion: "us-east-1", tag: "prod", services: map[string]int{"acme-prod-web": 2}}

var monorepoProd = stage{golden: "monorepo/shop-prod", stack: "shop-prod", region: "eu-west-1", cluster: "shop-prod",
	repoRegion: "eu-west-1", tag: "prod", services: map[string]int{"shop-prod-web": 2, "shop-prod-api": 1}}

func (s stage) release(t *testing.T, a *Account) {
	t.Helper()
	for svc := range s.services {
		// The service acme-prod-web runs acme/web; stage and app names have no "-" here.
		app, rest, _ := strings.Cut(svc, "-")
		_, service, _ := strings.Cut(rest, "-")
		a.Push(s.repoRegion, app+"/"+service, s.tag)
		if err := a.ForceNewDeployment(s.cluster, svc); err != nil {
			t.Fatal(err)
		}
	}
}

func (s stage) deploy(t *testing.T, a *Account, tmpl map[string]any, what string) {
	t.Helper()
	if err := a.Deploy(s.stack, s.region, tmpl); err != nil {
		var wait *WaitError
		if errors.As(err, &wait) {
			t.Fatalf("%s: %v\n%s", what, err, strings.Join(a.Log, "\n"))
		}
		t.Fatalf("%s: %v", what, err)
	}
}

// TestConfigEditBeforeFirstRelease: a stage stack created before its stage was ever
// released, then a config edit deployed, then the first release. No deploy may wait
// on an image that does not exist, and the release must leave the service running its
// configured minimum.
func TestConfigEditBeforeFirstRelease(t *testing.T) {
	for _, s := range []stage{prod, monorepoProd} {
		t.Run(s.stack, func(t *testing.T) {
			a := account(t)
			tmpl := golden(t, s.golden)
			s.deploy(t, a, tmpl, "create before the first release")
			s.deploy(t, a, withEnv(t, tmpl, "NEW_FLAG", "1"), "config edit before the first release")
			s.deploy(t, a, withEnv(t, tmpl, "NEW_FLAG", "2"), "second config edit before the first release")
			s.release(t, a)
			for name, min := range s.services {
				if svc := a.Service(s.cluster, name); svc.Desired < min || svc.Running != svc.Desired {
					t.Errorf("after the first release %s runs %d of %d task(s), want at least %d\n%s", name, svc.Running, svc.Desired, min, strings.Join(a.Log, "\n"))
				}
			}
			// A later edit deploys onto the released image and keeps the count.
			s.deploy(t, a, withEnv(t, tmpl, "NEW_FLAG", "3"), "config edit after the first release")
			for name, min := range s.services {
				if svc := a.Service(s.cluster, name); svc.Desired < min || svc.Target == nil || svc.Target.Min != min {
					t.Errorf("after an edit %s has desired %d and target %+v, want at least %d and min %d", name, svc.Desired, svc.Target, min, min)
				}
			}
		})
	}
}

// TestCreateAfterRelease: a stage stack created when its tag exists (re-created, or
// deployed after the pipeline released to it) starts at its minimum at once.
func TestCreateAfterRelease(t *testing.T) {
	a := account(t)
	a.Push("us-east-1", "acme/web", "prod")
	prod.deploy(t, a, golden(t, prod.golden), "create after a release")
	if svc := a.Service("acme-prod", "acme-prod-web"); svc.Desired != 2 || svc.Running != 2 || svc.Target.Min != 2 {
		t.Errorf("service %+v, target %+v; want 2 running with min 2", svc, svc.Target)
	}
}

// TestDeployNeverScalesDown: a released, scaled-out service keeps its count through
// config edits, and a deploy that changes nothing invokes nothing.
func TestDeployNeverScalesDown(t *testing.T) {
	a := account(t)
	tmpl := golden(t, prod.golden)
	prod.deploy(t, a, tmpl, "create")
	prod.release(t, a)
	a.Scale("acme-prod", "acme-prod-web", 4)
	prod.deploy(t, a, withEnv(t, tmpl, "X", "1"), "edit")
	if svc := a.Service("acme-prod", "acme-prod-web"); svc.Desired != 4 || svc.Running != 4 {
		t.Errorf("a deploy scaled the service from 4 to %d\n%s", svc.Desired, strings.Join(a.Log, "\n"))
	}
	deployments := a.Service("acme-prod", "acme-prod-web").Deployments
	prod.deploy(t, a, withEnv(t, tmpl, "X", "1"), "the same template again")
	if svc := a.Service("acme-prod", "acme-prod-web"); svc.Deployments != deployments || svc.Desired != 4 {
		t.Errorf("an unchanged template deployed the service again: %+v", svc)
	}
	// Scaling in stays within the range, which the deploy left at [2, 4].
	a.Scale("acme-prod", "acme-prod-web", 1)
	if svc := a.Service("acme-prod", "acme-prod-web"); svc.Desired != 2 {
		t.Errorf("scaled in to %d, want the minimum 2", svc.Desired)
	}
}

// TestModelRules pins the model's own rules on a hand-written template, so a failure
// of the scenarios above is about the templates, not the model.
func TestModelRules(t *testing.T) {
	tmpl := map[string]any{"Resources": map[string]any{
		"Cluster": map[string]any{"Type": "AWS::ECS::Cluster", "Properties": map[string]any{"ClusterName": "c"}},
		"Task": map[string]any{"Type": "AWS::ECS::TaskDefinition", "Properties": map[string]any{"ContainerDefinitions": []any{
			map[string]any{"Image": map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Ref": "AWS::AccountId"}, ".dkr.ecr.us-east-1.", map[string]any{"Ref": "AWS::URLSuffix"}, "/a/s:dev"}}}}}}},
		"Service": map[string]any{"Type": "AWS::ECS::Service", "Properties": map[string]any{
			"Cluster": map[string]any{"Ref": "Cluster"}, "ServiceName": "s", "TaskDefinition": map[string]any{"Ref": "Task"}}},
		"Target": map[string]any{"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": map[string]any{
			"MinCapacity": 1.0, "MaxCapacity": 3.0,
			"ResourceId": map[string]any{"Fn::Join": []any{"", []any{"service/", map[string]any{"Ref": "Cluster"}, "/", map[string]any{"Fn::GetAtt": []any{"Service", "Name"}}}}}}},
	}}
	a := NewAccount(func(string, map[string]any, *API) error { return errors.New("no functions here") })
	// DesiredCount omitted on create is 1: CloudFormation waits on an image that is not there.
	var wait *WaitError
	if err := a.Deploy("st", "us-east-1", tmpl); !errors.As(err, &wait) || wait.Image != "us-east-1/a/s:dev" {
		t.Fatalf("create without the image: %v", err)
	}
	if a.Service("c", "s") != nil {
		t.Error("the failed create was not rolled back")
	}
	a.Push("us-east-1", "a/s", "dev")
	if err := a.Deploy("st", "us-east-1", tmpl); err != nil {
		t.Fatal(err)
	}
	svc := a.Service("c", "s")
	if svc.Desired != 1 || svc.Running != 1 || svc.Target == nil || *svc.Target != (Target{1, 3}) {
		t.Fatalf("after create: %+v %+v", svc, svc.Target)
	}
	a.Scale("c", "s", 9)
	if svc.Desired != 3 {
		t.Errorf("scaled to %d, want the maximum 3", svc.Desired)
	}
	// Omitted on update keeps the count; a raised minimum moves capacity at once.
	res := tmpl["Resources"].(map[string]any)
	res["Target"].(map[string]any)["Properties"].(map[string]any)["MinCapacity"] = 3.0
	a.Scale("c", "s", 1)
	if err := a.Deploy("st", "us-east-1", tmpl); err != nil {
		t.Fatal(err)
	}
	if svc = a.Service("c", "s"); svc.Desired != 3 || svc.Deployments != 1 {
		t.Errorf("raising the minimum: desired %d after %d deployment(s), want 3 after 1", svc.Desired, svc.Deployments)
	}
}

// TestFailedFirstRelease: the default release.yml removes the stage tag when the first
// release fails. The service was raised to its minimum and cannot start; the next
// config edit must not wait on it, and the next release starts it again.
func TestFailedFirstRelease(t *testing.T) {
	a := account(t)
	tmpl := golden(t, prod.golden)
	prod.deploy(t, a, tmpl, "create before the first release")
	prod.release(t, a)
	delete(a.Images, "us-east-1/acme/web:prod") // the failed release removes :prod
	a.Scale("acme-prod", "acme-prod-web", 2)
	if svc := a.Service("acme-prod", "acme-prod-web"); svc.Desired != 2 || svc.Running != 0 {
		t.Fatalf("after the failed first release: %+v", svc)
	}
	prod.deploy(t, a, withEnv(t, tmpl, "FIX", "1"), "config edit after a failed first release")
	// The service is back at 0. Its target keeps the minimum the start set (CloudFormation
	// last registered 0 and the answer is 0 again, so it registers nothing): harmless, as no
	// policy scales a service with no task, and the next start sets the same minimum.
	if svc := a.Service("acme-prod", "acme-prod-web"); svc.Desired != 0 {
		t.Errorf("the edit left the service at %d, want 0", svc.Desired)
	}
	prod.release(t, a)
	if svc := a.Service("acme-prod", "acme-prod-web"); svc.Desired != 2 || svc.Running != 2 {
		t.Errorf("the next release left the service at %d running %d, want 2", svc.Desired, svc.Running)
	}
}
