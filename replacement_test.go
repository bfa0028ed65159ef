package main

import (
	"testing"

	"github.com/stagecoach/stagecoach/config"
)

// statefulTypes are the resources whose replacement loses data or traffic, with the
// property that holds their physical name ("" where CloudFormation generates it).
var statefulTypes = map[string]string{
	"AWS::ECR::Repository":                      "RepositoryName",
	"AWS::S3::Bucket":                           "",
	"AWS::Logs::LogGroup":                       "LogGroupName",
	"AWS::ECS::Cluster":                         "ClusterName",
	"AWS::ECS::Service":                         "ServiceName",
	"AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
}

// TestAdditiveChangesReplaceNothing synthesizes the monorepo config and the same
// config with additive changes — a new stage in a region that has stages, one in a
// new region, a new service, a new variable, a changed scale — and fails if any
// existing repository, bucket, log group, cluster, service or load balancer changes
// its logical ID or physical name (the region stack's repositories included).
func TestAdditiveChangesReplaceNothing(t *testing.T) {
	base := synthesize(t, "testdata/configs/monorepo.yaml")
	after := variant(t, func(c *config.Config) {
		c.Stages = append(c.Stages, config.Stage{Name: "perf", Region: "eu-west-1"}, config.Stage{Name: "asia", Region: "ap-southeast-2"})
		c.Services = append(c.Services, config.Service{
			Name: "worker", Port: 9000, HealthCheck: "/ping", CPU: 256, Memory: 512,
			Route: &config.Route{Paths: []string{"/jobs/*"}, Priority: 30},
			Scale: &config.Scale{Min: 1, Max: 2, CPUTarget: 70},
		})
		c.Services[0].Env = map[string]string{"NODE_ENV": "production", "NEW_VAR": "1"}
		c.Services[1].Scale = &config.Scale{Min: 3, Max: 9, CPUTarget: 60}
	})
	for stack, tmpl := range base.templates {
		next, ok := after.templates[stack]
		if !ok {
			t.Errorf("stack %s disappeared", stack)
			continue
		}
		for typ, nameProp := range statefulTypes {
			now := resources(next, typ)
			for id, props := range resources(tmpl, typ) {
				p, ok := now[id]
				if !ok {
					t.Errorf("%s: %s %s changed its logical ID (CloudFormation would replace it)", stack, typ, id)
					continue
				}
				if nameProp != "" && render(props[nameProp]) != render(p[nameProp]) {
					t.Errorf("%s: %s %s renamed from %s to %s (a replacement)", stack, typ, id, render(props[nameProp]), render(p[nameProp]))
				}
			}
		}
	}
	// Two stage stacks, a pipeline stack and the repository stack of the new region.
	if len(after.templates) != len(base.templates)+4 {
		t.Errorf("%d stacks after adding two stages (one in a new region) and a service to %d, want 4 more", len(after.templates), len(base.templates))
	}
}
