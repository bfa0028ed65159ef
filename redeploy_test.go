package main

import (
	"encoding/json"
	"testing"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/buildspecs"
	"github.com/stagecoach/stagecoach/internal/names"
)

// These tests synthesize a config and a variant of it and compare the templates:
// configuration changes must reach what runs, and only what they concern.

// variant loads the monorepo config and applies change to it.
func variant(t *testing.T, change func(*config.Config)) *synthesis {
	t.Helper()
	cfg, err := config.Load("testdata/configs/monorepo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	change(cfg)
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("variant is invalid: %v", err)
	}
	return synthesizeConfig(t, "variant", cfg, false)
}

// resourcesOfType renders the resources of one type, by logical ID, for comparison.
func resourcesOfType(tmpl map[string]any, typ string) map[string]string {
	out := map[string]string{}
	for id, props := range resources(tmpl, typ) {
		b, _ := json.Marshal(props)
		out[id] = string(b)
	}
	return out
}

func changed(before, after map[string]map[string]any, stack, typ string) []string {
	b, a := resourcesOfType(before[stack], typ), resourcesOfType(after[stack], typ)
	var ids []string
	for id := range a {
		if b[id] != a[id] {
			ids = append(ids, id)
		}
	}
	for id := range b {
		if _, ok := a[id]; !ok {
			ids = append(ids, id+" (removed)")
		}
	}
	return ids
}

// TestBuildVariableRerunsPipeline: adding a build variable changes the build project
// and the re-run custom resource of that service only, so `cdk deploy` starts its
// pipeline once and no other.
func TestBuildVariableRerunsPipeline(t *testing.T) {
	base := synthesize(t, "testdata/configs/monorepo.yaml")
	after := variant(t, func(c *config.Config) {
		c.Services[0].Build.Env = map[string]string{"NPM_FLAGS": "--omit=dev", "FEATURE_X": "on"}
	})
	web := names.PipelineStack(base.cfg.App, "web")
	api := names.PipelineStack(base.cfg.App, "api")
	if got := changed(base.templates, after.templates, web, "Custom::RerunOnBuildChange"); len(got) != 1 {
		t.Errorf("web's re-run resource changed %v, want exactly one change", got)
	}
	if got := changed(base.templates, after.templates, web, "AWS::CodeBuild::Project"); len(got) != 1 {
		t.Errorf("web's projects changed: %v, want only the build project", got)
	}
	if got := changed(base.templates, after.templates, api, "Custom::RerunOnBuildChange"); len(got) != 0 {
		t.Errorf("api's pipeline would re-run too: %v", got)
	}
	for _, st := range base.cfg.Stages {
		stack := names.StageStack(base.cfg.App, st.Name)
		if string(mustJSON(base.templates[stack])) != string(mustJSON(after.templates[stack])) {
			t.Errorf("a build variable changed the %s stage stack", st.Name)
		}
	}
}

// TestRuntimeVariableRollsService: a runtime variable added in one stage changes that
// stage's task definition (a new revision, so ECS rolls the service) and nothing in
// the other stages or the pipelines.
func TestRuntimeVariableRollsService(t *testing.T) {
	base := synthesize(t, "testdata/configs/monorepo.yaml")
	after := variant(t, func(c *config.Config) {
		o := c.Services[0].Stages["staging"]
		o.Env = map[string]string{"NEW_FLAG": "1"}
		c.Services[0].Stages["staging"] = o
	})
	for _, st := range base.cfg.Stages {
		stack := names.StageStack(base.cfg.App, st.Name)
		tasks := changed(base.templates, after.templates, stack, "AWS::ECS::TaskDefinition")
		counts := changed(base.templates, after.templates, stack, "Custom::DesiredCount")
		if st.Name == "staging" {
			if len(tasks) != 1 || len(counts) != 1 {
				t.Errorf("staging: task definitions changed %v, desired counts %v; want web's of each", tasks, counts)
			}
			// The service keeps its logical ID: an update, never a replacement.
			if _, ok := resources(after.templates[stack], "AWS::ECS::Service")[serviceID(t, base.templates[stack], "web")]; !ok {
				t.Error("web's ECS service changed its logical ID")
			}
			continue
		}
		if len(tasks)+len(counts) != 0 {
			t.Errorf("%s changed although only staging's variables did: %v %v", st.Name, tasks, counts)
		}
	}
	for _, svc := range base.cfg.Services {
		stack := names.PipelineStack(base.cfg.App, svc.Name)
		if string(mustJSON(base.templates[stack])) != string(mustJSON(after.templates[stack])) {
			t.Errorf("a runtime variable changed %s", stack)
		}
	}
}

func serviceID(t *testing.T, tmpl map[string]any, svc string) string {
	t.Helper()
	for id, s := range resources(tmpl, "AWS::ECS::Service") {
		if n := s["ServiceName"].(string); len(n) >= len(svc) && n[len(n)-len(svc):] == svc {
			return id
		}
	}
	t.Fatalf("no service %s", svc)
	return ""
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestDefaultBuildspecChangeRerunsPipeline: a new version of stagecoach's own
// build.yml re-runs the pipelines of the services that use it, once, after `cdk
// deploy`, and not those that run a build.yml of their own.
func TestDefaultBuildspecChangeRerunsPipeline(t *testing.T) {
	base := synthesize(t, "testdata/configs/monorepo.yaml")
	saved := buildspecs.Build
	buildspecs.Build += "# a later stagecoach's build.yml\n"
	defer func() { buildspecs.Build = saved }()
	after := variant(t, func(*config.Config) {})
	web := names.PipelineStack(base.cfg.App, "web") // stagecoach's build.yml
	api := names.PipelineStack(base.cfg.App, "api") // services/api/build.yml
	if got := changed(base.templates, after.templates, web, "Custom::RerunOnBuildChange"); len(got) != 1 {
		t.Errorf("web's re-run resource changed %v, want exactly one change", got)
	}
	if got := changed(base.templates, after.templates, api, "Custom::RerunOnBuildChange"); len(got) != 0 {
		t.Errorf("api runs its own build.yml, yet its pipeline would re-run: %v", got)
	}
}
