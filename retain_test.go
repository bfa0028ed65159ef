package main

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/awsmodel/cfnretain"
)

// These tests deploy the synthesized stacks into a model of an account's named
// resources (awsmodel/cfnretain) across destroys, renames and removals, the way
// `cdk deploy --all` and `cdk destroy` would, and check that no deploy trips over a
// name a stack left behind.

// stackNames are a synthesis' stacks in the order the app defines them, which is the
// order `cdk deploy --all` deploys stacks that do not depend on each other.
func stackNames(s *synthesis) []string {
	var out []string
	for _, st := range s.app.Pipelines {
		out = append(out, *st.StackName())
	}
	for _, st := range s.app.Stages {
		out = append(out, *st.StackName())
	}
	for _, st := range s.app.Regions {
		out = append(out, *st.StackName())
	}
	return out
}

// deployAll is `cdk deploy --all`: every stack of s, created or updated.
func deployAll(a *cfnretain.Account, s *synthesis, opt cfnretain.Options) error {
	var errs []error
	for _, name := range stackNames(s) {
		if err := a.Deploy(name, s.region(name), s.templates[name], opt); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// TestRedeployAfterDestroy: `cdk destroy --all` keeps the repositories and the named
// log groups; a plain `cdk deploy --all` then fails on exactly those, and
// `cdk deploy --all --import-existing-resources` adopts them.
func TestRedeployAfterDestroy(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		a := cfnretain.NewAccount()
		if err := deployAll(a, s, cfnretain.Options{}); err != nil {
			t.Fatalf("first deploy: %v", err)
		}
		for _, name := range stackNames(s) {
			a.Delete(name)
		}
		err := deployAll(a, s, cfnretain.Options{})
		var blocked []string
		for _, line := range strings.Split(errString(err), "\n") {
			if line != "" {
				blocked = append(blocked, line[strings.Index(line, ": ")+2:strings.Index(line, " (")])
			}
		}
		var retained []string
		for _, name := range stackNames(s) {
			for _, r := range cfnretain.Named(s.templates[name]) {
				if r.Policy == "Retain" {
					retained = append(retained, r.Type+" "+r.Name)
				}
			}
		}
		if len(blocked) == 0 || len(retained) == 0 {
			t.Fatalf("re-deploy without import: %v; retained named resources %v", err, retained)
		}
		// Each stack stops at its first existing name; every one it names is retained.
		for _, b := range blocked {
			if !slices.Contains(retained, b) {
				t.Errorf("the re-deploy failed on %s, which is not a retained named resource", b)
			}
		}
		if err := deployAll(a, s, cfnretain.Options{ImportExisting: true}); err != nil {
			t.Errorf("cdk deploy --all --import-existing-resources after cdk destroy --all: %v", err)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestRenameOrRemoveStage: renaming the stage in eu-west-1, or removing the first of
// two stages there, deploys without tripping over the regional repositories, whether
// the old stage's stack still exists (cdk deploy does not delete stacks that left the
// app) or was deleted since.
func TestRenameOrRemoveStage(t *testing.T) {
	withPerf := variant(t, func(c *config.Config) {
		c.Stages = append(c.Stages, config.Stage{Name: "perf", Region: "eu-west-1"})
	})
	renamed := variant(t, func(c *config.Config) {
		c.Stages[3].Name = "live"
		c.Services[0].Stages["live"] = c.Services[0].Stages["prod"]
		delete(c.Services[0].Stages, "prod")
	})
	removed := variant(t, func(c *config.Config) {
		c.Stages = append(c.Stages[:3], config.Stage{Name: "perf", Region: "eu-west-1"})
		delete(c.Services[0].Stages, "prod")
	})
	base := synthesize(t, "testdata/configs/monorepo.yaml")
	for _, tc := range []struct {
		name          string
		before, after *synthesis
		gone          string // the stage stack that left the app
	}{
		{"rename", base, renamed, "shop-prod"},
		{"remove the first stage of a region", withPerf, removed, "shop-prod"},
	} {
		for _, deleteOld := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "", true: " after deleting its stack"}[deleteOld], func(t *testing.T) {
				a := cfnretain.NewAccount()
				if err := deployAll(a, tc.before, cfnretain.Options{}); err != nil {
					t.Fatalf("first deploy: %v", err)
				}
				if deleteOld {
					a.Delete(tc.gone)
				}
				if err := deployAll(a, tc.after, cfnretain.Options{}); err != nil {
					t.Errorf("cdk deploy --all: %v", err)
				}
				if _, ok := tc.after.templates[tc.gone]; ok {
					t.Fatalf("%s is still in the app", tc.gone)
				}
				for _, svc := range []string{"shop/web", "shop/api"} {
					if owner, ok := a.Exists("eu-west-1", "AWS::ECR::Repository", svc); !ok || owner == "" || owner == tc.gone {
						t.Errorf("repository %s in eu-west-1: managed by %q (exists %v), want a stack of the app", svc, owner, ok)
					}
				}
			})
		}
	}
}

// TestUpgradeMovesRegionalRepositories: an app deployed when the first stage stack of
// a region held that region's repositories (the same resources, under the same logical
// IDs, in shop-prod) moves them to the repository stack, as README says: shop-prod
// first, which releases them (retained), then everything; the repository stack adopts
// them with --import-existing-resources, and fails on them without it, touching
// nothing else. Created first, the repository stack fails: shop-prod still holds them.
func TestUpgradeMovesRegionalRepositories(t *testing.T) {
	s := synthesize(t, "testdata/configs/monorepo.yaml")
	regionStack := *s.app.Regions[0].StackName()
	// The earlier layout: shop-prod with the repositories in it.
	old := map[string]any{}
	for k, v := range s.templates["shop-prod"] {
		old[k] = v
	}
	resources := map[string]any{}
	for id, r := range s.templates["shop-prod"]["Resources"].(map[string]any) {
		resources[id] = r
	}
	for _, r := range cfnretain.Named(s.templates[regionStack]) {
		resources[r.LogicalID] = s.templates[regionStack]["Resources"].(map[string]any)[r.LogicalID]
	}
	old["Resources"] = resources
	for _, opt := range []cfnretain.Options{{}, {ImportExisting: true}} {
		a := cfnretain.NewAccount()
		for _, name := range stackNames(s) {
			tmpl := s.templates[name]
			if name == regionStack {
				continue
			}
			if name == "shop-prod" {
				tmpl = old
			}
			if err := a.Deploy(name, s.region(name), tmpl, cfnretain.Options{}); err != nil {
				t.Fatalf("the earlier layout: %v", err)
			}
		}
		// The repository stack before shop-prod lets go: refused even with import.
		var owned *cfnretain.ExistsError
		if err := a.Deploy(regionStack, s.region(regionStack), s.templates[regionStack], cfnretain.Options{ImportExisting: true}); !errors.As(err, &owned) || owned.Owner != "shop-prod" {
			t.Errorf("the repository stack created while shop-prod holds the repositories: %v", err)
		}
		// cdk deploy shop-prod --exclusively, then cdk deploy --all.
		if err := a.Deploy("shop-prod", s.region("shop-prod"), s.templates["shop-prod"], opt); err != nil {
			t.Fatal(err)
		}
		err := deployAll(a, s, opt)
		var exists *cfnretain.ExistsError
		switch {
		case opt.ImportExisting && err != nil:
			t.Errorf("cdk deploy --all --import-existing-resources: %v", err)
		case !opt.ImportExisting && (!errors.As(err, &exists) || exists.Stack != regionStack || exists.Owner != ""):
			t.Errorf("cdk deploy --all without import: %v; want %s to stop on a retained repository", err, regionStack)
		}
	}
}
