package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
)

// TestMain closes the jsii runtime (one Node process for this package) once.
func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// TestDefine synthesizes the example once, with the repository's cdk.json context
// (feature flags and the CloudFormation validation `cdk synth` applies), and checks
// the stack holds the cluster and the service the constructs promise.
func TestDefine(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cdkJSON struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &cdkJSON); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &cdkJSON.Context, Outdir: jsii.String(t.TempDir())})
	demo := define(app)
	if demo.Cluster.LoadBalancer == nil || demo.Service.Service == nil || demo.Service.TargetGroup == nil {
		t.Fatal("define does not expose the constructs it composes")
	}
	var assembly cxapi.CloudAssembly
	func() {
		defer func() { // jsii reports a failed synth as a panic
			if r := recover(); r != nil {
				t.Fatalf("synth: %v", r)
			}
		}()
		assembly = app.Synth(nil)
	}()
	st := assembly.GetStackByName(jsii.String("shop-demo"))
	for _, m := range *st.Messages() {
		if m.Level == cxapi.SynthesisMessageLevel_ERROR {
			t.Errorf("%s: %v", *m.Id, m.Entry.Data)
		}
	}
	raw, err := json.Marshal(st.Template())
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Description string
		Resources   map[string]struct {
			Type           string
			DeletionPolicy string
			Properties     map[string]any
		}
	}
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	if tmpl.Description == "" {
		t.Error("the stack has no Description")
	}

	// one returns the properties of the only resource of a type, as JSON.
	one := func(typ string) string {
		t.Helper()
		var found []string
		for _, r := range tmpl.Resources {
			if r.Type == typ {
				b, _ := json.Marshal(r)
				found = append(found, string(b))
			}
		}
		if len(found) != 1 {
			t.Errorf("%d resources of type %s, want 1", len(found), typ)
			return ""
		}
		return found[0]
	}
	for typ, wants := range map[string][]string{
		"AWS::EC2::VPC":     {},
		"AWS::ECS::Cluster": {`"ClusterName":"shop-demo"`},
		"AWS::ElasticLoadBalancingV2::LoadBalancer":   {`"Name":"shop-demo"`, `"Scheme":"internet-facing"`},
		"AWS::ElasticLoadBalancingV2::Listener":       {`"Port":80`, `"Type":"forward"`},
		"AWS::ElasticLoadBalancingV2::TargetGroup":    {`"Port":8080`, `"HealthCheckPath":"/healthz"`, `"HealthCheckIntervalSeconds":5`},
		"AWS::ECS::TaskDefinition":                    {`"Family":"shop-demo-web"`, `/shop/web:demo"`, `"ContainerPort":8080`},
		"AWS::ECS::Service":                           {`"ServiceName":"shop-demo-web"`, `"LaunchType":"FARGATE"`, `"Rollback":true`, `"DesiredCount":{"Fn::GetAtt"`},
		"Custom::DesiredCount":                        {`"Tag":"demo"`, `"Service":"shop-demo-web"`, `"Cluster":"shop-demo"`},
		"AWS::ApplicationAutoScaling::ScalableTarget": {`"MinCapacity":{"Fn::GetAtt":[`, `"MinCapacity"]}`, `"MaxCapacity":2`},
	} {
		got := one(typ)
		for _, want := range wants {
			if got != "" && !strings.Contains(got, want) {
				t.Errorf("%s lacks %s:\n%s", typ, want, got)
			}
		}
	}
	// Container logs outlive the stack.
	for id, r := range tmpl.Resources {
		if r.Type == "AWS::Logs::LogGroup" && r.Properties["LogGroupName"] == "/shop/demo/web" && r.DeletionPolicy != "Retain" {
			t.Errorf("log group %s is deleted with the stack", id)
		}
	}
}
