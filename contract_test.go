package main

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/constructs/stageservice"
	"github.com/stagecoach/stagecoach/internal/awsmodel/cdkcli"
	"github.com/stagecoach/stagecoach/internal/contract"
	"github.com/stagecoach/stagecoach/internal/names"
)

// These tests pin the invariants a blind `-update` of the golden files must not be
// able to bless: the build/release environment contract, the wiring between the
// pipeline and stage stacks, the pipeline's shape and what is kept on delete.

// project finds the CodeBuild project called name in a template.
func project(t *testing.T, tmpl map[string]any, name string) map[string]any {
	t.Helper()
	for _, p := range resources(tmpl, "AWS::CodeBuild::Project") {
		if p["Name"] == name {
			return p
		}
	}
	t.Fatalf("no CodeBuild project named %s", name)
	return nil
}

// variable is one CodeBuild environment variable, rendered.
type variable struct{ Value, Type string }

func variables(p map[string]any) map[string]variable {
	out := map[string]variable{}
	env := p["Environment"].(map[string]any)
	list, _ := env["EnvironmentVariables"].([]any)
	for _, v := range list {
		m := v.(map[string]any)
		out[m["Name"].(string)] = variable{Value: render(m["Value"]), Type: m["Type"].(string)}
	}
	return out
}

func forEachConfig(t *testing.T, f func(t *testing.T, s *synthesis)) {
	for _, gc := range goldenConfigs {
		t.Run(gc.name, func(t *testing.T) { f(t, synthesize(t, gc.path)) })
	}
}

// TestBuildEnvironment pins the build project's variables: exactly the seed's three,
// DOCKERFILE_PATH when configured, and the user's own.
func TestBuildEnvironment(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		cfg := s.cfg
		for _, svc := range cfg.Services {
			tmpl := s.templates[names.PipelineStack(cfg.App, svc.Name)]
			endpoint := "${AWS::AccountId}.dkr.ecr." + cfg.Region + ".${AWS::URLSuffix}"
			want := map[string]variable{
				contract.S3Bucket:    {"${" + artifactBucket(t, tmpl) + "}", "PLAINTEXT"},
				contract.ECREndpoint: {endpoint, "PLAINTEXT"},
				contract.ECRImageURL: {endpoint + "/" + names.Repository(cfg.App, svc.Name), "PLAINTEXT"},
			}
			if svc.Dockerfile != "" {
				want[contract.DockerfilePath] = variable{svc.Dockerfile, "PLAINTEXT"}
			}
			for k, v := range svc.Build.Env {
				want[k] = variable{v, "PLAINTEXT"}
			}
			for k, v := range svc.Build.Secrets {
				want[k] = secretVariable(v)
			}
			got := variables(project(t, tmpl, names.BuildProject(cfg.App, svc.Name)))
			if !maps.Equal(got, want) {
				t.Errorf("service %s build variables:\n got %v\nwant %v", svc.Name, got, want)
			}
		}
	})
}

func secretVariable(ref string) variable {
	sec, err := config.ParseSecret(ref)
	if err != nil {
		panic(err)
	}
	if sec.Kind == config.SecretsManager {
		return variable{ref, "SECRETS_MANAGER"}
	}
	return variable{sec.Name, "PARAMETER_STORE"}
}

// TestReleaseEnvironment pins every release project's variables, including the
// PREVIOUS_STAGE_NAME chain, and checks that CLUSTER_ARN and SERVICE_NAME name the
// cluster and service the stage stack really creates.
func TestReleaseEnvironment(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		cfg := s.cfg
		for _, svc := range cfg.Services {
			tmpl := s.templates[names.PipelineStack(cfg.App, svc.Name)]
			endpoint := "${AWS::AccountId}.dkr.ecr." + cfg.Region + ".${AWS::URLSuffix}"
			previous := contract.LatestTag
			for i, stage := range cfg.Stages {
				region := cfg.StageRegion(i)
				stageTmpl := s.templates[names.StageStack(cfg.App, stage.Name)]
				clusterName, serviceName := stageService(t, stageTmpl, svc.Name)
				want := map[string]variable{
					contract.S3Bucket:          {"${" + artifactBucket(t, tmpl) + "}", "PLAINTEXT"},
					contract.StageName:         {stage.Name, "PLAINTEXT"},
					contract.ECREndpoint:       {endpoint, "PLAINTEXT"},
					contract.ECRImageURL:       {endpoint + "/" + names.Repository(cfg.App, svc.Name), "PLAINTEXT"},
					contract.PreviousStageName: {previous, "PLAINTEXT"},
					contract.ClusterARN:        {"arn:${AWS::Partition}:ecs:" + region + ":${AWS::AccountId}:cluster/" + clusterName, "PLAINTEXT"},
					contract.ServiceName:       {serviceName, "PLAINTEXT"},
					contract.StageRegion:       {region, "PLAINTEXT"},
					contract.TaskRoleARN:       {"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + taskRoleName(t, stageTmpl, serviceName), "PLAINTEXT"},
				}
				if cfg.PullsRegionally(i) {
					// The stage pulls from its region's copy, which the release fills.
					regionalEndpoint := "${AWS::AccountId}.dkr.ecr." + region + ".${AWS::URLSuffix}"
					want[contract.RegionalECREndpoint] = variable{regionalEndpoint, "PLAINTEXT"}
					want[contract.RegionalECRImageURL] = variable{regionalEndpoint + "/" + names.Repository(cfg.App, svc.Name), "PLAINTEXT"}
				}
				for k, v := range svc.Release.Env {
					want[k] = variable{v, "PLAINTEXT"}
				}
				got := variables(project(t, tmpl, names.ReleaseProject(cfg.App, svc.Name, stage.Name)))
				// TinyStacks' later release.yml takes its Lambda path when these are set.
				for _, n := range contract.NeverSet {
					if _, ok := got[n]; ok {
						t.Errorf("service %s stage %s: release sets %s; stagecoach stages are ECS services", svc.Name, stage.Name, n)
					}
				}
				if !maps.Equal(got, want) {
					t.Errorf("service %s stage %s release variables:\n got %v\nwant %v", svc.Name, stage.Name, got, want)
				}
				if r := s.region(names.StageStack(cfg.App, stage.Name)); r != region {
					t.Errorf("stage stack %s deploys to %s, its release says %s", stage.Name, r, region)
				}
				previous = stage.Name
			}
		}
	})
}

// stageService returns the cluster name and service name of service svc in a stage
// template, failing unless the service runs in that cluster.
func stageService(t *testing.T, tmpl map[string]any, svc string) (cluster, service string) {
	t.Helper()
	clusters := resources(tmpl, "AWS::ECS::Cluster")
	if len(clusters) != 1 {
		t.Fatalf("stage stack has %d clusters, want 1", len(clusters))
	}
	var clusterID string
	for id, c := range clusters {
		clusterID, cluster = id, c["ClusterName"].(string)
	}
	for id, s := range resources(tmpl, "AWS::ECS::Service") {
		name := s["ServiceName"].(string)
		if len(name) < len(svc) || name[len(name)-len(svc):] != svc {
			continue
		}
		if render(s["Cluster"]) != "${"+clusterID+"}" {
			t.Errorf("service %s (%s) runs in %s, not the stage cluster %s", name, id, render(s["Cluster"]), clusterID)
		}
		return cluster, name
	}
	t.Fatalf("no ECS service for %s", svc)
	return "", ""
}

// taskRoleName returns the physical name of the task role of the ECS service called
// service in a stage template: what TASK_ROLE_ARN must name.
func taskRoleName(t *testing.T, tmpl map[string]any, service string) string {
	t.Helper()
	for _, s := range resources(tmpl, "AWS::ECS::Service") {
		if s["ServiceName"] != service {
			continue
		}
		td := resources(tmpl, "AWS::ECS::TaskDefinition")[stripRef(render(s["TaskDefinition"]))]
		roleID, _, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(render(td["TaskRoleArn"]), "${"), "}"), ".")
		name, ok := resources(tmpl, "AWS::IAM::Role")[roleID]["RoleName"].(string)
		if !ok {
			t.Fatalf("service %s: task role %s has no fixed RoleName, so no release can name it", service, roleID)
		}
		return name
	}
	t.Fatalf("no ECS service %s", service)
	return ""
}

// artifactBucket is the logical ID of the pipeline's artifact bucket, which is also
// the bucket S3_BUCKET names.
func artifactBucket(t *testing.T, tmpl map[string]any) string {
	t.Helper()
	p := resources(tmpl, "AWS::CodePipeline::Pipeline")[onlyID(t, tmpl, "AWS::CodePipeline::Pipeline")]
	return stripRef(render(p["ArtifactStore"].(map[string]any)["Location"]))
}

func onlyID(t *testing.T, tmpl map[string]any, typ string) string {
	t.Helper()
	rs := resources(tmpl, typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), typ)
	}
	for id := range rs {
		return id
	}
	return ""
}

// TestPipelineShape pins the pipeline: V2, Source → Build → each stage in config
// order, an approval exactly where configured, the release action running that
// stage's project, a full-clone source and a push trigger on the branch and paths.
func TestPipelineShape(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		cfg := s.cfg
		for _, svc := range cfg.Services {
			tmpl := s.templates[names.PipelineStack(cfg.App, svc.Name)]
			p := resources(tmpl, "AWS::CodePipeline::Pipeline")[onlyID(t, tmpl, "AWS::CodePipeline::Pipeline")]
			if p["PipelineType"] != "V2" || p["Name"] != names.Pipeline(cfg.App, svc.Name) {
				t.Errorf("pipeline type %v name %v", p["PipelineType"], p["Name"])
			}
			projectIDs := map[string]string{} // logical ID → project name
			for id, pr := range resources(tmpl, "AWS::CodeBuild::Project") {
				projectIDs[id] = pr["Name"].(string)
			}
			var got []string
			for _, st := range p["Stages"].([]any) {
				stage := st.(map[string]any)
				name := stage["Name"].(string)
				var actions []string
				for _, a := range stage["Actions"].([]any) {
					action := a.(map[string]any)
					typeID := action["ActionTypeId"].(map[string]any)
					desc := fmt.Sprintf("%s:%s", action["Name"], typeID["Provider"])
					if cfgMap, ok := action["Configuration"].(map[string]any); ok && typeID["Provider"] == "CodeBuild" {
						desc += "(" + projectIDs[stripRef(render(cfgMap["ProjectName"]))] + ")"
					}
					if action["Name"] == "Release" {
						// Each release promotes the digest this execution built.
						env := action["Configuration"].(map[string]any)["EnvironmentVariables"]
						if env != `[{"name":"IMAGE_DIGEST","type":"PLAINTEXT","value":"#{Image.IMAGE_DIGEST}"}]` {
							t.Errorf("stage %s release overrides %v", name, env)
						}
					}
					if typeID["Provider"] == "CodeStarSourceConnection" {
						c := action["Configuration"].(map[string]any)
						if c["OutputArtifactFormat"] != "CODEBUILD_CLONE_REF" || c["FullRepositoryId"] != cfg.Source.Repository || c["BranchName"] != cfg.Source.Branch {
							t.Errorf("source action configuration %v", c)
						}
						if cfg.Source.Connection != "" && c["ConnectionArn"] != cfg.Source.Connection {
							t.Errorf("source uses connection %v, config names %s", c["ConnectionArn"], cfg.Source.Connection)
						}
					}
					actions = append(actions, desc)
				}
				// The record is written after the approval and before the release moves
				// the tag; the tag is verified after it.
				order := map[string]float64{}
				for _, a := range stage["Actions"].([]any) {
					action := a.(map[string]any)
					if n, ok := action["RunOrder"].(float64); ok {
						order[action["Name"].(string)] = n
					}
				}
				if _, ok := order["Authorize"]; ok && !(order["Approve"] < order["Authorize"] && order["Authorize"] < order["Release"] && order["Release"] < order["Verify"]) {
					t.Errorf("stage %s runs its actions in the order %v; want Approve, Authorize, Release, Verify", name, order)
				}
				slices.Sort(actions)
				got = append(got, name+"["+strings.Join(actions, " ")+"]")
			}
			want := []string{"Source[Source:CodeStarSourceConnection]", "Build[Build:CodeBuild(" + names.BuildProject(cfg.App, svc.Name) + ") ImageDigest:Lambda TagsBefore:Lambda]"}
			for _, st := range cfg.Stages {
				// Authorize records the stage's approval before the release; Verify
				// checks the stage tag after it (see handlers.StageRecord).
				release := "Authorize:Lambda Release:CodeBuild(" + names.ReleaseProject(cfg.App, svc.Name, st.Name) + ") Verify:Lambda"
				if st.Approval {
					want = append(want, st.Name+"[Approve:Manual "+release+"]")
				} else {
					want = append(want, st.Name+"["+release+"]")
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("service %s pipeline stages:\n got %v\nwant %v", svc.Name, got, want)
			}

			triggers := p["Triggers"].([]any)
			if len(triggers) != 1 {
				t.Fatalf("%d triggers, want 1", len(triggers))
			}
			trig := triggers[0].(map[string]any)
			git := trig["GitConfiguration"].(map[string]any)
			push := git["Push"].([]any)[0].(map[string]any)
			branches := push["Branches"].(map[string]any)["Includes"]
			if trig["ProviderType"] != "CodeStarSourceConnection" || git["SourceActionName"] != "Source" || render(branches) != render([]any{cfg.Source.Branch}) {
				t.Errorf("trigger %v", trig)
			}
			paths, hasPaths := push["FilePaths"].(map[string]any)
			switch {
			case len(svc.Paths) == 0 && hasPaths:
				t.Errorf("service %s has no paths but its trigger filters %v", svc.Name, paths)
			case len(svc.Paths) > 0 && render(paths["Includes"]) != render(toAny(svc.Paths)):
				t.Errorf("service %s trigger paths %v, want %v", svc.Name, paths, svc.Paths)
			}
		}
	})
}

func stripRef(s string) string {
	if len(s) > 3 && s[:2] == "${" {
		return s[2 : len(s)-1]
	}
	return s
}

func toAny(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// TestStatefulResourcesRetained pins that deleting a stack never deletes images,
// artifacts or logs.
func TestStatefulResourcesRetained(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		for stack, tmpl := range s.templates {
			for id, r := range tmpl["Resources"].(map[string]any) {
				res := r.(map[string]any)
				switch res["Type"] {
				case "AWS::ECR::Repository", "AWS::S3::Bucket", "AWS::Logs::LogGroup":
					if res["DeletionPolicy"] != "Retain" || res["UpdateReplacePolicy"] != "Retain" {
						t.Errorf("%s/%s (%s) is not retained", stack, id, res["Type"])
					}
				}
			}
		}
	})
}

// TestServicesKeepTheirCount pins the ECS services' safety settings: DesiredCount
// only ever from the custom resource that answers the current count (a literal would
// reset autoscaling on every update), and the circuit breaker with rollback.
func TestServicesKeepTheirCount(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		for stack, tmpl := range s.templates {
			counts := resources(tmpl, "Custom::DesiredCount")
			for id, svc := range resources(tmpl, "AWS::ECS::Service") {
				att, _ := svc["DesiredCount"].(map[string]any)["Fn::GetAtt"].([]any)
				if len(att) != 2 || att[1] != "DesiredCount" || counts[att[0].(string)] == nil {
					t.Errorf("%s/%s DesiredCount is %v, want the DesiredCount custom resource", stack, id, svc["DesiredCount"])
				} else if cr := counts[att[0].(string)]; cr["Service"] != svc["ServiceName"] || render(cr["Tag"]) == "" {
					t.Errorf("%s/%s takes its count from the custom resource of %v", stack, id, cr["Service"])
				}
				// The scalable target's minimum follows the same answer: a literal minimum
				// above 0 would start tasks of a stage that was never released.
				for tid, target := range resources(tmpl, "AWS::ApplicationAutoScaling::ScalableTarget") {
					if !strings.Contains(render(target["ResourceId"]), `"`+id+`"`) {
						continue
					}
					att, _ := target["MinCapacity"].(map[string]any)["Fn::GetAtt"].([]any)
					if len(att) != 2 || att[1] != "MinCapacity" || counts[att[0].(string)] == nil {
						t.Errorf("%s/%s MinCapacity is %v, want the DesiredCount custom resource's", stack, tid, target["MinCapacity"])
					}
				}
				dc := svc["DeploymentConfiguration"].(map[string]any)
				cb := dc["DeploymentCircuitBreaker"].(map[string]any)
				if cb["Enable"] != true || cb["Rollback"] != true {
					t.Errorf("%s/%s circuit breaker %v", stack, id, cb)
				}
			}
		}
	})
}

// TestStacksDeleteIndependently: no stack depends on another and none exports or
// imports values, so `cdk destroy STACK` deletes STACK and nothing else, as the CDK CLI
// selects stacks (awsmodel/cdkcli, reading the synthesized manifest.json), and stacks
// deploy in any order.
func TestStacksDeleteIndependently(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		m, err := cdkcli.Read(s.manifest)
		if err != nil {
			t.Fatal(err)
		}
		stacks := m.Stacks()
		if len(stacks) != len(s.templates) {
			t.Fatalf("the manifest lists stacks %v, the assembly has %d templates", stacks, len(s.templates))
		}
		for _, stack := range stacks {
			got, err := m.Destroy([]string{stack}, false)
			if err != nil || !slices.Equal(got, []string{stack}) {
				t.Errorf("cdk destroy %s would delete %v (%v); want it alone", stack, got, err)
			}
			if deps := m.DependsOn(stack); len(deps) > 0 {
				t.Errorf("%s depends on %v", stack, deps)
			}
		}
		for stack, raw := range s.raw {
			for _, word := range []string{"Fn::ImportValue", `"Export"`} {
				if contains(raw, word) {
					t.Errorf("%s uses %s: stacks must not share exports", stack, word)
				}
			}
		}
	})
}

func contains(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }

// TestNoUnsuppressedFindings fails on any error annotation, cdk-nag's AwsSolutions
// findings included: each accepted finding carries a reason where it is suppressed.
func TestNoUnsuppressedFindings(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		for _, e := range s.errors {
			t.Error(e)
		}
	})
}

// TestStageWiring pins that every service in every stage runs its own image tag, from
// the repository in its own region, in its stage's cluster, and that the regional
// repositories are in their region's repository stack, never in a stage stack.
func TestStageWiring(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		cfg := s.cfg
		for i, stage := range cfg.Stages {
			region := cfg.StageRegion(i)
			stack := names.StageStack(cfg.App, stage.Name)
			tmpl := s.templates[stack]
			if got := s.region(stack); got != region {
				t.Errorf("%s deploys to %s, want %s", stack, got, region)
			}
			for _, svc := range cfg.Services {
				image := ""
				for _, td := range resources(tmpl, "AWS::ECS::TaskDefinition") {
					if td["Family"] == names.Service(cfg.App, stage.Name, svc.Name) {
						image = render(td["ContainerDefinitions"].([]any)[0].(map[string]any)["Image"])
					}
				}
				pullRegion := cfg.Region
				if cfg.PullsRegionally(i) {
					pullRegion = region
				}
				want := "${AWS::AccountId}.dkr.ecr." + pullRegion + ".${AWS::URLSuffix}/" + names.Repository(cfg.App, svc.Name) + ":" + stage.Name
				if image != want {
					t.Errorf("%s/%s runs %q, want %q", stage.Name, svc.Name, image, want)
				}
				stageService(t, tmpl, svc.Name) // fails unless the service runs in the stage cluster
				// Stage stacks create no repository: a stage can be renamed or removed
				// without moving one (the region's repository stack holds them).
				if ownedRepositoryID(tmpl, names.Repository(cfg.App, svc.Name)) != "" {
					t.Errorf("%s creates a repository", stack)
				}
			}
		}
		for i := range cfg.Stages {
			if r := cfg.StageRegion(i); cfg.PullsRegionally(i) {
				stack := names.RegionStack(cfg.App, r)
				if s.region(stack) != r {
					t.Errorf("%s deploys to %q, want %s", stack, s.region(stack), r)
				}
				for _, svc := range cfg.Services {
					if ownedRepositoryID(s.templates[stack], names.Repository(cfg.App, svc.Name)) == "" {
						t.Errorf("%s does not create %s", stack, names.Repository(cfg.App, svc.Name))
					}
				}
			}
		}
	})
}

// TestListenerRouting pins each stage's load balancer: the default service is the
// listener's only default action, every other service has a rule with its route, and
// with a certificate HTTP redirects to an HTTPS listener that serves the services.
func TestListenerRouting(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		cfg := s.cfg
		for _, stage := range cfg.Stages {
			stack := names.StageStack(cfg.App, stage.Name)
			tmpl := s.templates[stack]
			listeners := map[float64]map[string]any{} // port → properties
			ids := map[float64]string{}
			for id, l := range resources(tmpl, "AWS::ElasticLoadBalancingV2::Listener") {
				listeners[l["Port"].(float64)] = l
				ids[l["Port"].(float64)] = id
			}
			serving := 80.0
			if stage.Certificate != "" {
				serving = 443
				https := listeners[443]
				if https == nil || https["Protocol"] != "HTTPS" || !strings.Contains(render(https["Certificates"]), stage.Certificate) {
					t.Errorf("%s: no HTTPS listener with %s: %v", stack, stage.Certificate, https)
				}
				redirect := listeners[80]["DefaultActions"].([]any)[0].(map[string]any)
				if redirect["Type"] != "redirect" || !strings.Contains(render(redirect["RedirectConfig"]), `"Port":"443"`) {
					t.Errorf("%s: HTTP does not redirect to HTTPS: %v", stack, redirect)
				}
			} else if len(listeners) != 1 {
				t.Errorf("%s: %d listeners without a certificate, want HTTP only", stack, len(listeners))
			}
			actions := listeners[serving]["DefaultActions"].([]any)
			if len(actions) != 1 || actions[0].(map[string]any)["Type"] != "forward" {
				t.Errorf("%s: default actions %v, want one forward", stack, actions)
			}
			rules := resources(tmpl, "AWS::ElasticLoadBalancingV2::ListenerRule")
			routed := 0
			for _, svc := range cfg.Services {
				if svc.Route != nil {
					routed++
				}
			}
			if len(rules) != routed {
				t.Errorf("%s: %d listener rules for %d routed services", stack, len(rules), routed)
			}
			for id, r := range rules {
				if render(r["ListenerArn"]) != "${"+ids[serving]+"}" {
					t.Errorf("%s: rule %s is on %s, not the serving listener", stack, id, render(r["ListenerArn"]))
				}
			}
		}
	})
}

// TestRolloutDefaultsAgree keeps the construct's own default (for library users, see
// examples/) equal to the config's: both document the same one-minute rollout.
func TestRolloutDefaultsAgree(t *testing.T) {
	c, s := config.DefaultRollout, stageservice.DefaultRollout
	want := stageservice.Rollout{
		HealthCheckIntervalSeconds: c.HealthCheckInterval, HealthyThreshold: c.HealthyThreshold,
		UnhealthyThreshold: c.UnhealthyThreshold, DeregistrationDelaySeconds: c.DeregistrationDelay,
		GracePeriodSeconds: c.GracePeriod, StopTimeoutSeconds: c.StopTimeout,
		MinHealthyPercent: c.MinHealthyPercent, MaxHealthyPercent: c.MaxPercent,
	}
	if s != want {
		t.Errorf("stageservice.DefaultRollout = %+v, config.DefaultRollout gives %+v", s, want)
	}
}
