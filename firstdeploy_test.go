package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/awsmodel/ecsdeploy"
	"github.com/stagecoach/stagecoach/internal/names"
)

// TestFirstDeployAndConfigEdits drives the synthesized stage stacks of the monorepo
// config through the ECS model (awsmodel/ecsdeploy), with the DesiredCount function
// the templates carry: every stage stack created before any release, then config
// edits synthesized from the config (a runtime variable, a new scale), then the first
// release of each stage, then another edit. No deploy may wait on an image that does
// not exist, the release must start every service at its minimum, and a later deploy
// must keep a scaled-out count.
func TestFirstDeployAndConfigEdits(t *testing.T) {
	lambda, err := ecsdeploy.Node(t.TempDir())
	if err != nil {
		t.Skip("node is not installed")
	}
	base := synthesize(t, "testdata/configs/monorepo.yaml")
	edited := variant(t, func(c *config.Config) {
		for i := range c.Services {
			c.Services[i].Env = map[string]string{"EDITED": "1"}
		}
	})
	rescaled := variant(t, func(c *config.Config) {
		for i := range c.Services {
			c.Services[i].Env = map[string]string{"EDITED": "2"}
			c.Services[i].Scale = &config.Scale{Min: 2, Max: 5, CPUTarget: 60}
		}
	})
	again := variant(t, func(c *config.Config) {
		for i := range c.Services {
			c.Services[i].Env = map[string]string{"EDITED": "3"}
			c.Services[i].Scale = &config.Scale{Min: 2, Max: 5, CPUTarget: 60}
		}
	})
	cfg := rescaled.cfg
	a := ecsdeploy.NewAccount(lambda)
	deploy := func(s *synthesis, i int, what string) {
		t.Helper()
		stack := names.StageStack(cfg.App, cfg.Stages[i].Name)
		if err := a.Deploy(stack, cfg.StageRegion(i), s.templates[stack]); err != nil {
			var wait *ecsdeploy.WaitError
			if errors.As(err, &wait) {
				t.Fatalf("%s: %v\n%s", what, err, strings.Join(a.Log, "\n"))
			}
			t.Fatalf("%s: %v", what, err)
		}
	}
	for i := range cfg.Stages {
		deploy(base, i, "create before any release")
		deploy(edited, i, "runtime variable edit before any release")
		deploy(rescaled, i, "scale edit before any release")
	}
	for i, st := range cfg.Stages {
		// A release, whichever release.yml: the stage tag, then a forced deployment.
		region := cfg.Region
		if cfg.PullsRegionally(i) {
			region = cfg.StageRegion(i)
		}
		for _, svc := range cfg.Services {
			a.Push(region, names.Repository(cfg.App, svc.Name), st.Name)
			if err := a.ForceNewDeployment(names.Cluster(cfg.App, st.Name), names.Service(cfg.App, st.Name, svc.Name)); err != nil {
				t.Fatal(err)
			}
		}
		for j, svc := range cfg.Services {
			scale := cfg.Deployment(j, i).Scale
			s := a.Service(names.Cluster(cfg.App, st.Name), names.Service(cfg.App, st.Name, svc.Name))
			if s.Desired != scale.Min || s.Running != scale.Min || s.Target == nil || *s.Target != (ecsdeploy.Target{Min: scale.Min, Max: scale.Max}) {
				t.Errorf("%s after its first release: %+v, target %+v; want %d running within [%d, %d]\n%s",
					s.Name, s, s.Target, scale.Min, scale.Min, scale.Max, strings.Join(a.Log, "\n"))
			}
		}
		web := names.Service(cfg.App, st.Name, cfg.Services[0].Name)
		top := cfg.Deployment(0, i).Scale.Max
		a.Scale(names.Cluster(cfg.App, st.Name), web, top)
		deploy(again, i, "edit after the first release")
		if s := a.Service(names.Cluster(cfg.App, st.Name), web); s.Desired != top || s.Running != top {
			t.Errorf("%s: a deploy changed a scaled-out count of %d to %d", web, top, s.Desired)
		}
	}
}
