package main

import (
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/config"
)

// nameLimits are the AWS length limits of the physical names stagecoach sets, by
// resource type and property.
var nameLimits = map[string]map[string]int{
	"AWS::ECR::Repository":                      {"RepositoryName": 256},
	"AWS::ECS::Cluster":                         {"ClusterName": 255},
	"AWS::ECS::Service":                         {"ServiceName": 255},
	"AWS::ECS::TaskDefinition":                  {"Family": 255},
	"AWS::ElasticLoadBalancingV2::LoadBalancer": {"Name": 32},
	"AWS::ElasticLoadBalancingV2::TargetGroup":  {"Name": 32},
	"AWS::CodeBuild::Project":                   {"Name": 255},
	"AWS::CodePipeline::Pipeline":               {"Name": 100},
	"AWS::CodeStarConnections::Connection":      {"ConnectionName": 32},
	"AWS::Logs::LogGroup":                       {"LogGroupName": 512},
	"AWS::IAM::Role":                            {"RoleName": 64},
	"AWS::Lambda::Function":                     {"FunctionName": 64},
}

// TestNamesAtLimits synthesizes a config whose app, stage and service names have the
// longest lengths config accepts, and checks every physical name against its AWS
// limit, and every stack name against CloudFormation's.
func TestNamesAtLimits(t *testing.T) {
	app := strings.Repeat("a", config.MaxAppName)
	stage := func(c byte) string { return strings.Repeat(string(c), config.MaxStageName) }
	service := func(c byte) string { return strings.Repeat(string(c), config.MaxServiceName) }
	cfg := &config.Config{
		App: app, Region: "ap-southeast-2",
		Source: config.Source{Repository: "acme/shop"},
		Stages: []config.Stage{{Name: stage('d')}, {Name: stage('p'), Region: "eu-central-1", Approval: true}},
		Services: []config.Service{
			{Name: service('w')},
			{Name: service('x'), Route: &config.Route{Paths: []string{"/x/*"}}},
		},
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the longest names are invalid: %v", err)
	}
	s := synthesizeConfig(t, "limits", cfg, false)
	if len(s.errors) > 0 {
		t.Errorf("findings at the longest names: %v", s.errors)
	}
	for stack, tmpl := range s.templates {
		if len(stack) > 128 {
			t.Errorf("stack name %s is longer than 128", stack)
		}
		for typ, props := range nameLimits {
			for id, p := range resources(tmpl, typ) {
				for prop, limit := range props {
					name, ok := p[prop].(string)
					if ok && len(name) > limit {
						t.Errorf("%s/%s %s %q has %d characters, limit %d", stack, id, prop, name, len(name), limit)
					}
				}
			}
		}
	}
}
